"""The one authorization policy. Every page and API endpoint asks it.

Two questions, always in this order:
1. May this user do this kind of thing at all? (`has_perm`: roles -> permissions)
2. Which records may they do it to? (`patients_for`, `coaches_for`: scoped querysets)

Scoping rules:
- staff (site administrator, coordinator, supervisor, researcher) see their own sites;
- a referring clinician sees only the patients they referred;
- a coach sees only the patients currently matched to them;
- a patient sees only their own record;
- a researcher sees patients and coaches de-identified: `identified_patients` excludes
  everything a researcher can reach only through the researcher role.

Lookups of one record go through `get_patient` / `get_coach`, which answer 404 for
both "does not exist" and "not yours", so nobody can probe for ids.

Views declare their rule with `@rule(Perm.X)`, `@authenticated` or `@public`; the
authorization matrix test walks every URL and fails on a view without one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import wraps
from typing import Any, TypeVar

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet, Value
from django.http import Http404, HttpRequest
from django.http.response import HttpResponseBase
from rest_framework.permissions import BasePermission

from .models import Role, RoleAssignment


class Perm(StrEnum):
    PATIENT_LIST = "patient.list"
    PATIENT_VIEW = "patient.view"
    #: Names, contact details, exact dates: everything a researcher must not see.
    PATIENT_VIEW_IDENTIFIED = "patient.view_identified"
    PATIENT_REFER = "patient.refer"
    PATIENT_EDIT = "patient.edit"
    PATIENT_SCREEN = "patient.screen"
    PATIENT_CONSENT = "patient.consent"
    PATIENT_TRANSITION = "patient.transition"
    PATIENT_IMPORT = "patient.import"
    COACH_LIST = "coach.list"
    COACH_VIEW = "coach.view"
    COACH_VIEW_IDENTIFIED = "coach.view_identified"
    COACH_CREATE = "coach.create"
    COACH_EDIT = "coach.edit"
    COACH_SCREEN = "coach.screen"
    COACH_TRANSITION = "coach.transition"
    MATCH_MANAGE = "match.manage"
    MATCH_VIEW = "match.view"
    TRAINING_MANAGE = "training.manage"
    PROGRAM_VIEW = "program.view"
    PROGRAM_MANAGE = "program.manage"
    SAFETY_VIEW = "safety.view"
    SAFETY_MANAGE = "safety.manage"
    HELP_REQUEST = "help.request"
    AUDIT_VIEW = "audit.view"
    STAFF_MANAGE = "staff.manage"
    CONTACT_LOG = "contact.log"
    CONTACT_VIEW = "contact.view"
    PLAN_MANAGE = "plan.manage"
    GOAL_MANAGE = "goal.manage"
    GOAL_VIEW = "goal.view"
    CASELOAD_VIEW = "caseload.view"
    PAIR_OVERVIEW = "pair.overview"
    COACH_GUIDE_VIEW = "manual.coach_guide"
    PAIN_CHECK_IN = "pain.check_in"
    LOGIN_CREATE = "login.create"
    #: Take part in supervision: read calls, their notes and the tips board; share tips.
    SUPERVISION_JOIN = "supervision.join"
    #: Run supervision: schedules, sessions, attendance, notes and follow-ups.
    SUPERVISION_MANAGE = "supervision.manage"
    #: A coach's wellbeing checks (a coach reaches their own, a supervisor their sites').
    WELLBEING_VIEW = "wellbeing.view"
    WELLBEING_CHECK = "wellbeing.check"
    #: Questionnaire answers and scores of the patients in scope (PHQ-9 item 9 included).
    ASSESSMENT_VIEW = "assessment.view"
    #: Fill in a questionnaire with a patient (on the phone or in person) and correct it.
    ASSESSMENT_ADMINISTER = "assessment.administer"
    #: A patient filling in their own questionnaires.
    ASSESSMENT_SELF = "assessment.self"
    #: Time points, licensed instrument text, secure links.
    ASSESSMENT_MANAGE = "assessment.manage"
    #: The pain trajectory (PEG and pain check-ins): what a coach needs to encourage.
    TRAJECTORY_VIEW = "trajectory.view"
    #: Program, site and coach outcome reports (de-identified for researchers).
    OUTCOME_REPORT = "outcome.report"
    #: The one-page summary for the referring clinician.
    CLINICIAN_SUMMARY = "clinician.summary"
    #: Set up studies and their arms, start and close recruiting.
    STUDY_MANAGE = "study.manage"
    #: Randomize an enrolled, eligible patient (takes the next concealed slot).
    STUDY_RANDOMIZE = "study.randomize"
    #: See studies and who was allocated to which arm (researchers: de-identified).
    ALLOCATION_VIEW = "allocation.view"
    #: Read the concealed randomization sequence: unblinding (statistician only, audited).
    SEQUENCE_VIEW = "sequence.view"
    #: A study's reports: fidelity, CONSORT flow, RE-AIM, outcome analysis (researchers
    #: and statisticians de-identified; arm-level figures need ALLOCATION_VIEW too).
    STUDY_REPORT = "study.report"
    #: Export data for analysis (CSV, REDCap, FHIR): de-identified, always audited.
    EXPORT_DATA = "data.export"
    #: Exports with names, contact details and real dates (roles that may see identities).
    EXPORT_IDENTIFIED = "data.export_identified"


P = Perm
_PERSON_WORK = {
    P.PATIENT_LIST, P.PATIENT_VIEW, P.PATIENT_VIEW_IDENTIFIED, P.PATIENT_REFER, P.PATIENT_EDIT,
    P.PATIENT_SCREEN, P.PATIENT_CONSENT, P.PATIENT_TRANSITION, P.PATIENT_IMPORT,
    P.COACH_LIST, P.COACH_VIEW, P.COACH_VIEW_IDENTIFIED, P.COACH_CREATE, P.COACH_EDIT,
    P.COACH_SCREEN, P.COACH_TRANSITION, P.MATCH_MANAGE, P.MATCH_VIEW, P.PROGRAM_VIEW,
    P.TRAINING_MANAGE, P.CONTACT_VIEW, P.PLAN_MANAGE, P.GOAL_MANAGE, P.GOAL_VIEW,
    P.PAIR_OVERVIEW, P.COACH_GUIDE_VIEW,
    P.ASSESSMENT_VIEW, P.ASSESSMENT_ADMINISTER, P.ASSESSMENT_MANAGE, P.TRAJECTORY_VIEW,
    P.OUTCOME_REPORT, P.CLINICIAN_SUMMARY,
}

#: Running a randomized study (research app). Nobody who randomizes reads the sequence.
_STUDY_WORK = {P.STUDY_MANAGE, P.STUDY_RANDOMIZE, P.ALLOCATION_VIEW, P.STUDY_REPORT}

#: Exports for analysts. Researchers and statisticians only ever get de-identified data.
_EXPORT_WORK = {P.EXPORT_DATA, P.EXPORT_IDENTIFIED}

#: What each role may do. The scope (which records) is decided by the role too.
ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    Role.SITE_ADMIN: frozenset(_PERSON_WORK | _STUDY_WORK | _EXPORT_WORK | {
        P.PROGRAM_MANAGE, P.AUDIT_VIEW, P.SAFETY_VIEW, P.SAFETY_MANAGE, P.STAFF_MANAGE,
        P.LOGIN_CREATE, P.SUPERVISION_JOIN, P.SUPERVISION_MANAGE}),
    Role.COORDINATOR: frozenset(_PERSON_WORK | _STUDY_WORK | _EXPORT_WORK | {
        P.SAFETY_VIEW, P.SAFETY_MANAGE, P.LOGIN_CREATE, P.SUPERVISION_JOIN,
        P.SUPERVISION_MANAGE}),
    Role.SUPERVISOR: frozenset({
        P.PATIENT_LIST, P.PATIENT_VIEW, P.PATIENT_VIEW_IDENTIFIED, P.PATIENT_SCREEN,
        P.COACH_LIST, P.COACH_VIEW, P.COACH_VIEW_IDENTIFIED, P.COACH_SCREEN,
        P.COACH_TRANSITION, P.PROGRAM_VIEW, P.SAFETY_VIEW, P.MATCH_VIEW, P.TRAINING_MANAGE,
        P.CONTACT_VIEW, P.PAIR_OVERVIEW, P.COACH_GUIDE_VIEW, P.GOAL_VIEW, P.SAFETY_MANAGE,
        P.SUPERVISION_JOIN, P.SUPERVISION_MANAGE, P.WELLBEING_VIEW, P.ALLOCATION_VIEW,
        P.STUDY_REPORT,
        P.ASSESSMENT_VIEW, P.ASSESSMENT_ADMINISTER, P.TRAJECTORY_VIEW, P.OUTCOME_REPORT,
        P.CLINICIAN_SUMMARY,
    }),
    Role.CLINICIAN: frozenset({
        P.PATIENT_LIST, P.PATIENT_VIEW, P.PATIENT_VIEW_IDENTIFIED, P.PATIENT_REFER,
        P.ASSESSMENT_VIEW, P.TRAJECTORY_VIEW, P.CLINICIAN_SUMMARY,
    }),
    Role.RESEARCHER: frozenset({
        P.PATIENT_LIST, P.PATIENT_VIEW, P.COACH_LIST, P.COACH_VIEW, P.PROGRAM_VIEW,
        P.ASSESSMENT_VIEW, P.TRAJECTORY_VIEW, P.OUTCOME_REPORT, P.ALLOCATION_VIEW,
        P.EXPORT_DATA, P.STUDY_REPORT,
    }),
    # The statistician holds the sequence (unblinding) and sees allocations de-identified.
    Role.STATISTICIAN: frozenset({P.SEQUENCE_VIEW, P.ALLOCATION_VIEW, P.PROGRAM_VIEW,
                                  P.EXPORT_DATA, P.STUDY_REPORT}),
    # A coach sees their matched patients, and their own coach record (readiness, training).
    Role.COACH: frozenset({P.PATIENT_LIST, P.PATIENT_VIEW, P.PATIENT_VIEW_IDENTIFIED,
                           P.COACH_VIEW, P.COACH_VIEW_IDENTIFIED, P.CONTACT_LOG, P.CONTACT_VIEW,
                           P.PLAN_MANAGE, P.GOAL_MANAGE, P.GOAL_VIEW, P.CASELOAD_VIEW,
                           P.COACH_GUIDE_VIEW, P.HELP_REQUEST, P.SUPERVISION_JOIN,
                           P.WELLBEING_VIEW, P.WELLBEING_CHECK, P.TRAJECTORY_VIEW}),
    Role.PATIENT: frozenset({P.PATIENT_VIEW, P.PATIENT_VIEW_IDENTIFIED, P.PAIN_CHECK_IN,
                             P.GOAL_VIEW, P.ASSESSMENT_SELF, P.TRAJECTORY_VIEW}),
}

SITE_SCOPED_ROLES = (Role.SITE_ADMIN, Role.COORDINATOR, Role.SUPERVISOR, Role.RESEARCHER,
                     Role.STATISTICIAN)


@dataclass
class Actor:
    """What the policy knows about one user, loaded once per request."""

    user_id: int | None
    #: Site ids per staff role (clinicians' sites say where they may refer to).
    sites: dict[Role, frozenset[int]] = field(default_factory=dict)
    coach_id: int | None = None
    patient_id: int | None = None

    @property
    def roles(self) -> set[Role]:
        roles = {role for role, sites in self.sites.items() if sites}
        if self.coach_id is not None:
            roles.add(Role.COACH)
        if self.patient_id is not None:
            roles.add(Role.PATIENT)
        return roles

    def perms(self) -> frozenset[Perm]:
        granted: set[Perm] = set()
        for role in self.roles:
            granted |= ROLE_PERMS[role]
        return frozenset(granted)

    def sites_with(self, perm: Perm) -> frozenset[int]:
        """Sites where a site-scoped role grants `perm`."""
        found: set[int] = set()
        for role in SITE_SCOPED_ROLES:
            if perm in ROLE_PERMS[role]:
                found |= self.sites.get(role, frozenset())
        return frozenset(found)

    def roles_with(self, perm: Perm) -> set[Role]:
        return {role for role in self.roles if perm in ROLE_PERMS[role]}


_ACTOR_CACHE_ATTR = "_peercoach_actor"


def actor_for(user: Any) -> Actor:
    """The policy's view of `user`, cached on the user object for the request."""
    if user is None or not user.is_authenticated:
        return Actor(user_id=None)
    cached = getattr(user, _ACTOR_CACHE_ATTR, None)
    if cached is not None:
        return cached
    from peercoach.people.lifecycle import CoachStatus, PatientStatus
    from peercoach.people.models import Coach, Patient
    from peercoach.programs.models import Site

    sites: dict[Role, set[int]] = {}
    for role, site_id in RoleAssignment.objects.filter(
        user=user, ended_at__isnull=True, site__is_active=True
    ).values_list("role", "site_id"):
        sites.setdefault(Role(role), set()).add(site_id)
    if user.is_superuser:
        sites[Role.SITE_ADMIN] = set(
            Site.objects.filter(is_active=True).values_list("id", flat=True))
    # A retired coach or a withdrawn patient keeps the account but loses the role.
    coach_id = (
        Coach.objects.filter(user=user)
        .exclude(status=CoachStatus.RETIRED)
        .values_list("id", flat=True)
        .first()
    )
    patient_id = (
        Patient.objects.filter(user=user)
        .exclude(status=PatientStatus.WITHDRAWN)
        .values_list("id", flat=True)
        .first()
    )
    actor = Actor(
        user_id=user.pk,
        sites={role: frozenset(ids) for role, ids in sites.items()},
        coach_id=coach_id,
        patient_id=patient_id,
    )
    setattr(user, _ACTOR_CACHE_ATTR, actor)
    return actor


def forget_actor(user: Any) -> None:
    """Drop the cached actor (after a role or status change in the same request)."""
    if hasattr(user, _ACTOR_CACHE_ATTR):
        delattr(user, _ACTOR_CACHE_ATTR)


def has_perm(user: Any, perm: Perm) -> bool:
    return perm in actor_for(user).perms()


# --- Scoped querysets ---------------------------------------------------------------


def _patient_scope(actor: Actor, perm: Perm) -> Q | None:
    from peercoach.matching.models import Match

    clauses: list[Q] = []
    site_ids = actor.sites_with(perm)
    if site_ids:
        clauses.append(Q(program__site_id__in=site_ids))
    roles = actor.roles_with(perm)
    if Role.CLINICIAN in roles:
        clauses.append(Q(referred_by_id=actor.user_id))
    if Role.COACH in roles and actor.coach_id is not None:
        current = Match.objects.filter(coach_id=actor.coach_id, ended_on__isnull=True)
        clauses.append(Q(pk__in=current.values("patient_id")))
    if Role.PATIENT in roles and actor.patient_id is not None:
        clauses.append(Q(pk=actor.patient_id))
    if not clauses:
        return None
    combined = clauses[0]
    for clause in clauses[1:]:
        combined |= clause
    return combined


def _coach_scope(actor: Actor, perm: Perm) -> Q | None:
    clauses: list[Q] = []
    site_ids = actor.sites_with(perm)
    if site_ids:
        clauses.append(Q(program__site_id__in=site_ids))
    if Role.COACH in actor.roles_with(perm):
        clauses.append(Q(pk=actor.coach_id))
    if not clauses:
        return None
    combined = clauses[0]
    for clause in clauses[1:]:
        combined |= clause
    return combined


def patients_for(user: Any, perm: Perm = Perm.PATIENT_VIEW) -> QuerySet[Any]:
    """Every patient `user` may `perm`, as a queryset to filter further."""
    from peercoach.people.models import Patient

    scope = _patient_scope(actor_for(user), perm)
    return Patient.objects.none() if scope is None else Patient.objects.filter(scope)


def coaches_for(user: Any, perm: Perm = Perm.COACH_VIEW) -> QuerySet[Any]:
    from peercoach.people.models import Coach

    scope = _coach_scope(actor_for(user), perm)
    return Coach.objects.none() if scope is None else Coach.objects.filter(scope)


def patient_scope_q(user: Any, perm: Perm) -> Q | None:
    """The policy's scope for patients as a filter on the row (None: nothing in scope)."""
    return _patient_scope(actor_for(user), perm)


def coach_scope_q(user: Any, perm: Perm) -> Q | None:
    return _coach_scope(actor_for(user), perm)


def with_identified_flag(qs: QuerySet[Any], user: Any, kind: str = "patient") -> QuerySet[Any]:
    """Annotate `identified`: may this user see the person's identity?

    The identified scope is tested on the row itself rather than with a second scan of
    the table: at national scale that is the difference between ~20 ms and ~120 ms a page.
    """
    scope = (patient_scope_q(user, Perm.PATIENT_VIEW_IDENTIFIED) if kind == "patient"
             else coach_scope_q(user, Perm.COACH_VIEW_IDENTIFIED))
    if scope is None:
        return qs.annotate(identified=Value(False, output_field=BooleanField()))
    return qs.annotate(identified=ExpressionWrapper(scope, output_field=BooleanField()))


def is_id(value: Any) -> bool:
    """A database id: ASCII digits only ("²".isdigit() is True, but int("²") fails)."""
    text = str(value)
    return text.isascii() and text.isdigit() and len(text) <= 18


def get_patient(user: Any, pk: Any, perm: Perm = Perm.PATIENT_VIEW) -> Any:
    """Fetch one patient the user may `perm`; 404 for missing and forbidden alike."""
    qs = with_identified_flag(
        patients_for(user, perm).select_related("program__site", "referred_by"), user
    )
    patient = qs.filter(pk=pk).first() if is_id(pk) else None
    if patient is None:
        raise Http404("No such patient.")
    return patient


def get_coach(user: Any, pk: Any, perm: Perm = Perm.COACH_VIEW) -> Any:
    qs = with_identified_flag(
        coaches_for(user, perm).select_related("program__site"), user, kind="coach"
    )
    coach = qs.filter(pk=pk).first() if is_id(pk) else None
    if coach is None:
        raise Http404("No such coach.")
    return coach


def programs_for(user: Any, perm: Perm) -> QuerySet[Any]:
    """Programs at the sites where the user may `perm` (clinicians: where they refer)."""
    from peercoach.programs.models import Program

    actor = actor_for(user)
    site_ids = set(actor.sites_with(perm))
    if perm in ROLE_PERMS[Role.CLINICIAN] and Role.CLINICIAN in actor.roles:
        site_ids |= actor.sites.get(Role.CLINICIAN, frozenset())
    return Program.objects.filter(site_id__in=site_ids, is_active=True).select_related("site")


def sites_for(user: Any, perm: Perm) -> QuerySet[Any]:
    from peercoach.programs.models import Site

    return Site.objects.filter(id__in=actor_for(user).sites_with(perm))


# --- View rules ---------------------------------------------------------------------

#: Rule markers for views that need no permission beyond logging in, or not even that.
PUBLIC = "public"
AUTHENTICATED = "authenticated"

ViewFunc = TypeVar("ViewFunc", bound=Callable[..., HttpResponseBase])


def _mark(view: Any, value: str) -> None:
    view.policy_rule = value


def rule(perm: Perm) -> Callable[[ViewFunc], ViewFunc]:
    """Protect a page: anonymous users go to the login page, others need `perm`."""

    def decorator(view: ViewFunc) -> ViewFunc:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not has_perm(request.user, perm):
                raise PermissionDenied(f"Your role does not allow this ({perm}).")
            return view(request, *args, **kwargs)

        _mark(wrapped, str(perm))
        return wrapped  # type: ignore[return-value]

    return decorator


def authenticated(view: ViewFunc) -> ViewFunc:
    @wraps(view)
    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return view(request, *args, **kwargs)

    _mark(wrapped, AUTHENTICATED)
    return wrapped  # type: ignore[return-value]


def public(view: ViewFunc) -> ViewFunc:
    _mark(view, PUBLIC)
    return view


def view_rule(view: Any) -> str | None:
    """The rule a resolved view declares (for the authorization matrix test)."""
    for candidate in (view, getattr(view, "view_class", None), getattr(view, "cls", None)):
        if candidate is None:
            continue
        found = getattr(candidate, "policy_rule", None)
        if found:
            return str(found)
    return None


class PolicyPermission(BasePermission):
    """DRF permission from the same policy. Views set `policy_perms` per action."""

    def has_permission(self, request: Any, view: Any) -> bool:
        method = request.method.lower()
        perm = required_api_perm(view, getattr(view, "action", None) or method, method)
        if perm == PUBLIC:
            return True
        if not request.user or not request.user.is_authenticated:
            return False
        if perm == AUTHENTICATED:
            return True
        return has_perm(request.user, Perm(perm))


def required_api_perm(view: Any, action: str, method: str = "") -> str:
    """The rule for an API action; "action:method" keys win (one action, GET and PUT)."""
    perms: dict[str, str] = getattr(view, "policy_perms", {})
    if method and f"{action}:{method}" in perms:
        return str(perms[f"{action}:{method}"])
    if action in perms:
        return str(perms[action])
    if "*" in perms:
        return str(perms["*"])
    # A view with no rule is refused outright rather than left open.
    raise PermissionDenied("This endpoint has no authorization rule.")
