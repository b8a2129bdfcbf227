"""The authorization matrix: every URL in the project, every role, against the policy.

For each URL pattern (walked recursively from the root resolver, DRF router routes and
the schema views included) we check that

* the view declares a rule (`view_rule` for pages, `policy_perms` for DRF views), and
* every role in the `world` fixture, plus an anonymous visitor, gets the answer the
  policy predicts: login redirect (pages) or 401/403 (API) for anonymous visitors,
  403 without the permission, 404 with the permission but outside the user's scope,
  and 200 (302 for POST views and redirecting pages) with permission and scope.

The expected answer is computed from the policy (`has_perm` and the scoped querysets),
not from a hand-kept table; a small hand-written table at the end pins the key
expectations so the matrix cannot pass by the policy and the views agreeing on nonsense.

A new URL name fails `test_every_url_name_has_a_fill_entry` until it gets an entry in
`URL_FILL` saying how to fill its kwargs.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from django.utils import timezone

from peercoach.coaching.models import ContactPlan
from peercoach.core.models import Role, RoleAssignment
from peercoach.core.policy import (
    AUTHENTICATED,
    PUBLIC,
    Perm,
    actor_for,
    coaches_for,
    has_perm,
    patients_for,
    programs_for,
    required_api_perm,
    view_rule,
)
from peercoach.matching.models import Match
from peercoach.research.selectors import sequence_sites as _sequence_sites
from peercoach.supervision.sessions import sessions_for as _sessions_for

from ..factories import CoachFactory, PatientFactory, eligible_patient, pair, staff, two_arm_study

LOGIN_URL = "/accounts/login/"
ANONYMOUS = "anonymous"

# --- Walking the URL tree -------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    name: str  # namespaced, e.g. "people:patient_detail"
    route: str  # the full pattern text, for messages and test ids
    callback: Any
    kwargs: tuple[str, ...]

    @property
    def is_api(self) -> bool:
        return getattr(self.callback, "cls", None) is not None


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "",
          kwargs: tuple[str, ...] = ()) -> Iterator[Route]:
    for entry in patterns:
        here = tuple(entry.pattern.regex.groupindex)
        if isinstance(entry, URLResolver):
            ns = namespace
            if entry.namespace:
                ns = f"{namespace}{entry.namespace}:"
            yield from _walk(entry.url_patterns, prefix + str(entry.pattern), ns,
                             kwargs + here)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else ""
            yield Route(name=name, route=prefix + str(entry.pattern),
                        callback=entry.callback, kwargs=kwargs + here)


def all_routes(patterns: list[Any] | None = None) -> list[Route]:
    return list(_walk(get_resolver().url_patterns if patterns is None else patterns))


# --- Which rule does a view declare? --------------------------------------------------


def api_methods(callback: Any) -> dict[str, str]:
    """HTTP method -> the action `PolicyPermission` asks about, for one DRF route."""
    cls = callback.cls
    allowed = [m for m in cls.http_method_names if m not in ("head", "options")]
    actions = getattr(callback, "actions", None)
    if actions:  # a viewset route: the action name
        return {m: action for m, action in actions.items() if m in allowed}
    # A plain APIView: the lower-case method name (the view has no `action`).
    return {m: m for m in allowed if hasattr(cls, m)}


def api_perm(callback: Any, method: str) -> str | None:
    """The rule `PolicyPermission` applies to `method` on this route; None if none."""
    action = api_methods(callback).get(method)
    if action is None:
        return None
    try:
        return required_api_perm(callback.cls, action, method)
    except PermissionDenied:
        return None


def undeclared(routes: list[Route]) -> list[str]:
    """Patterns whose view declares no rule (for some action, for DRF views)."""
    missing: list[str] = []
    for r in routes:
        if r.is_api:
            methods = api_methods(r.callback)
            bare = [key for m, key in methods.items() if api_perm(r.callback, m) is None]
            if not methods or bare:
                missing.append(f"{r.route} ({r.name}): no policy_perms for {bare or 'any'}")
        elif view_rule(r.callback) is None:
            missing.append(f"{r.route} ({r.name}): no @rule/@authenticated/@public")
    return missing


# --- How to fill each URL ---------------------------------------------------------------


def _patients(w: Any) -> list[Any]:
    return [w.patient, w.other_patient, w.patient_b]


def _coaches(w: Any) -> list[Any]:
    return [w.coach, w.other_coach, w.coach_b]


def _matches(w: Any) -> list[Any]:
    # Current pairs of world.patient (site A, coach), other_patient (site A) and
    # patient_b (site B; the `matrix_world` fixture pairs them).
    return [Match.objects.get(patient=p, ended_on__isnull=True) for p in _patients(w)]


def _programs(w: Any) -> list[Any]:
    return [w.program_a, w.program_b]


def _role_assignments(w: Any) -> list[Any]:
    # Roles of two spare staff users (made by `matrix_world`), at site A and at site B:
    # ending them changes nobody the matrix signs in as.
    return list(RoleAssignment.objects.filter(user__username__in=["spare_a", "spare_b"])
                .order_by("user__username"))


def _reaches_role(user: Any, perm: Perm, assignment: Any) -> bool:
    return assignment.site_id in actor_for(user).sites_with(perm)


# Matching proposals and training sessions are made on first use, so that the shared
# `world` stays free of them.


def _proposals(w: Any) -> list[Any]:
    from peercoach.matching.models import Proposal, ProposalStatus, ProposedPair

    found = []
    for program in _programs(w):
        proposal = Proposal.objects.filter(program=program, status=ProposalStatus.OPEN).first()
        if proposal is None:
            proposal = Proposal.objects.create(program=program, created_by=w.coordinator,
                                               created_at=timezone.now())
            ProposedPair.objects.create(
                proposal=proposal, patient=PatientFactory(program=program),
                coach=CoachFactory(program=program), score=0.5, explanation="sample")
        found.append(proposal)
    return found


def _proposed_pairs(w: Any) -> list[Any]:
    return [proposal.pairs.first() for proposal in _proposals(w)]


def _training_sessions(w: Any) -> list[Any]:
    from peercoach.training.models import SessionKind, TrainingSession

    return [TrainingSession.objects.get_or_create(
        program=program, defaults={"kind": SessionKind.INITIAL, "held_on": dt.date(2026, 3, 2),
                                   "trainer": "Sample Trainer", "topics": "Listening",
                                   "hours": 2, "created_by": w.coordinator})[0]
        for program in _programs(w)]


def _contacts(w: Any) -> list[Any]:
    """A contact per patient, logged by that patient's coach (or staff for site B)."""
    from peercoach.coaching.models import Contact

    found = []
    for patient in _patients(w):
        match = Match.objects.get(patient=patient, ended_on__isnull=True)
        logged_by = match.coach.user or w.coordinator
        contact = Contact.objects.filter(patient=patient).first() or Contact.objects.create(
            patient=patient, coach=match.coach, match=match, occurred_at=timezone.now(),
            mode="phone", outcome="no_answer", logged_by=logged_by)
        found.append(contact)
    return found


def _reaches_contact(user: Any, perm: Perm, contact: Any) -> bool:
    # Only the person who logged a contact corrects it, and only while it is their patient.
    return (patients_for(user, perm).filter(pk=contact.patient_id).exists()
            and contact.logged_by_id == user.pk)


def _goals(w: Any) -> list[Any]:
    from peercoach.coaching.models import Goal

    return [Goal.objects.get_or_create(
        patient=patient, defaults={"text": "Walk", "section": "activity-pacing", "what": "Walk",
                                   "how_much": "10 min", "when": "Noon", "how_often": "Daily",
                                   "confidence": 8, "created_by": w.coordinator})[0]
        for patient in _patients(w)]


def _safety_events(w: Any) -> list[Any]:
    from peercoach.supervision.models import SafetyEvent

    return [SafetyEvent.objects.get_or_create(
        patient=p, defaults={"site_id": p.program.site_id, "source": "contact",
                             "summary": "sample", "raised_by": w.coordinator,
                             "raised_at": timezone.now()})[0] for p in (w.patient, w.patient_b)]


def _alerts(w: Any) -> list[Any]:
    from peercoach.supervision.models import Alert

    return [Alert.objects.get_or_create(
        cause=f"sample:{p.pk}", defaults={"kind": "no_goal", "severity": 1,
                                           "site_id": p.program.site_id, "patient": p,
                                           "summary": "sample", "raised_at": timezone.now()})[0]
            for p in (w.patient, w.patient_b)]


def _schedules(w: Any) -> list[Any]:
    from peercoach.supervision.models import GroupSchedule

    return [GroupSchedule.objects.get_or_create(
        program=program, defaults={"weekday": 1, "time": dt.time(18, 0),
                                   "starts_on": dt.date(2026, 3, 3), "supervisor": w.supervisor,
                                   "dial_in": "+1 317 555 0100, code 1234",
                                   "created_by": w.supervisor})[0]
        for program in _programs(w)]


def _supervision_sessions(w: Any) -> list[Any]:
    """A group call at each site, and check-ins of the world's coach and another coach."""
    from peercoach.supervision.models import SupervisionSession

    when = timezone.now() - dt.timedelta(days=3)
    found = []
    for program, coach in ((w.program_a, None), (w.program_a, w.coach),
                           (w.program_a, w.other_coach), (w.program_b, None)):
        found.append(SupervisionSession.objects.get_or_create(
            program=program, coach=coach,
            defaults={"kind": "individual" if coach else "group", "starts_at": when,
                      "supervisor": w.supervisor, "created_by": w.supervisor})[0])
    return found


def _studies(w: Any) -> list[Any]:
    """A recruiting two-arm study at each site (made on first use)."""
    from peercoach.research.models import Study

    return [Study.objects.filter(program=program).first()
            or two_arm_study(program, w.coordinator) for program in _programs(w)]


def _study_arms(w: Any) -> list[Any]:
    return [study.arms.order_by("id").first() for study in _studies(w)]


def _allocations(w: Any) -> list[Any]:
    from peercoach.research.models import Allocation
    from peercoach.research.services import randomize

    return [Allocation.objects.filter(study=study).first()
            or randomize(patient=eligible_patient(study.program), by=w.coordinator, study=study)
            for study in _studies(w)]


def _reaches_study_site(site_id: Callable[[Any], int]) -> Callable[[Any, Perm, Any], bool]:
    """Study records are reached through the site of the study's program."""

    def reaches(user: Any, perm: Perm, obj: Any) -> bool:
        return site_id(obj) in actor_for(user).sites_with(perm)

    return reaches


def _assessments(w: Any) -> list[Any]:
    """An open questionnaire of each patient, its window opened (made on first use)."""
    from peercoach.assessments.models import Assessment

    today = timezone.localdate()
    return [Assessment.objects.filter(patient=p, time_point__isnull=True).first()
            or Assessment.objects.create(
                patient=p, instrument="peg", opens_on=today - dt.timedelta(days=2),
                due_on=today + dt.timedelta(days=5), closes_on=today + dt.timedelta(days=14))
            for p in _patients(w)]


def _time_points(w: Any) -> list[Any]:
    from peercoach.assessments.services import ensure_time_points

    return [ensure_time_points(program)[0] for program in _programs(w)]


def _instruments(w: Any) -> list[Any]:
    """Instruments are data, reached by their code (anyone signed in reads the registry)."""
    from types import SimpleNamespace

    return [SimpleNamespace(pk="peg")]


def _sites(w: Any) -> list[Any]:
    return [w.site_a, w.site_b]


def _audit_events(w: Any) -> list[Any]:
    """One trail event at each site (a view of each site's patient)."""
    from peercoach.core import audit
    from peercoach.core.models import AuditEvent

    return [AuditEvent.objects.filter(site_id=p.program.site_id).first()
            or audit.record_view(w.coordinator, p) for p in (w.patient, w.patient_b)]


def _external_scores(w: Any) -> list[Any]:
    from peercoach.assessments.models import ExternalScore

    return [ExternalScore.objects.get_or_create(
        patient=p, defaults={"instrument": "pam", "score": 55.0, "level": 3,
                             "measured_on": dt.date(2026, 3, 1), "source": "Vendor",
                             "recorded_by": w.coordinator})[0] for p in _patients(w)]


def _response_versions(w: Any) -> list[Any]:
    """A submitted PEG (version 1) of each patient, outside any time point."""
    from peercoach.assessments.models import Assessment, ResponseVersion

    found = []
    for p in _patients(w):
        version = ResponseVersion.objects.filter(assessment__patient=p).first()
        if version is None:
            today = timezone.localdate()
            done = Assessment.objects.create(
                patient=p, instrument="peg", opens_on=today, due_on=today, closes_on=today,
                status="submitted", submitted_at=timezone.now(), version=1, total=5.0)
            version = ResponseVersion.objects.create(
                assessment=done, number=1, answers={"1": 5, "2": 5, "3": 5}, total=5.0,
                complete=True, mode="phone", submitted_by=w.coordinator,
                submitted_at=timezone.now())
        found.append(version)
    return found


def _export_jobs(w: Any) -> list[Any]:
    """A finished export of the coordinator's and one of the researcher's, with files."""
    from peercoach.research.exports.jobs import export_dir
    from peercoach.research.exports.models import ExportJob

    found = []
    for user in (w.coordinator, w.researcher):
        job = ExportJob.objects.filter(requested_by=user).first()
        if job is None:
            name = f"export-sample-{user.pk}.zip"
            (export_dir() / name).write_bytes(b"PK\x05\x06" + b"\x00" * 18)
            job = ExportJob.objects.create(format="csv", requested_by=user, status="done",
                                           file_name=name, site_ids=[w.site_a.pk],
                                           finished_at=timezone.now())
        found.append(job)
    return found


def _reaches_export_job(user: Any, perm: Perm, job: Any) -> bool:
    # Only the requester downloads, and only while they may export those sites' data.
    return job.requested_by_id == user.pk and set(job.site_ids) <= actor_for(user).sites_with(
        Perm.EXPORT_IDENTIFIED if job.identified else Perm.EXPORT_DATA)


def _deliveries(w: Any) -> list[Any]:
    """A message that failed for good at each site (the retry buttons' rows)."""
    from peercoach.notifications.models import Notification

    return [Notification.objects.get_or_create(
        idempotency_key=f"matrix:{site.pk}",
        defaults={"recipient": w.coordinator, "site": site, "channel": "email",
                  "address": "c@example.org", "template_key": "coach_contact_due",
                  "body": "sample", "status": "failed", "due_at": timezone.now()})[0]
        for site in (w.site_a, w.site_b)]


def _reaches_site_of(user: Any, perm: Perm, obj: Any) -> bool:
    return obj.site_id in actor_for(user).sites_with(perm)


def _reaches_program_of(program_id: Callable[[Any], int]) -> Callable[[Any, Perm, Any], bool]:
    """Records reached through their program (matching and training pages)."""

    def reaches(user: Any, perm: Perm, obj: Any) -> bool:
        return programs_for(user, perm).filter(pk=program_id(obj)).exists()

    return reaches


#: kind -> (sample objects, does `user` reach `obj` under `perm`?)
KINDS: dict[str, tuple[Callable[[Any], list[Any]], Callable[[Any, Perm, Any], bool]]] = {
    "patient": (_patients, lambda u, p, o: patients_for(u, p).filter(pk=o.pk).exists()),
    "coach": (_coaches, lambda u, p, o: coaches_for(u, p).filter(pk=o.pk).exists()),
    "match": (_matches, lambda u, p, o: patients_for(u, p).filter(pk=o.patient_id).exists()),
    "program": (_programs, lambda u, p, o: programs_for(u, p).filter(pk=o.pk).exists()),
    "role": (_role_assignments, _reaches_role),
    "proposal": (_proposals, _reaches_program_of(lambda o: o.program_id)),
    "proposed_pair": (_proposed_pairs, _reaches_program_of(lambda o: o.proposal.program_id)),
    "training_session": (_training_sessions, _reaches_program_of(lambda o: o.program_id)),
    "contact": (_contacts, _reaches_contact),
    # Reading a contact through the API needs only the patient in scope.
    "contact_read": (_contacts,
                     lambda u, p, o: patients_for(u, p).filter(pk=o.patient_id).exists()),
    "plan": (lambda w: [ContactPlan.objects.get(patient=p) for p in _patients(w)],
             lambda u, p, o: patients_for(u, p).filter(pk=o.patient_id).exists()),
    "goal": (_goals, lambda u, p, o: patients_for(u, p).filter(pk=o.patient_id).exists()),
    "safety_event": (_safety_events, _reaches_site_of),
    "alert": (_alerts, _reaches_site_of),
    "delivery": (_deliveries, _reaches_site_of),
    "schedule": (_schedules, _reaches_program_of(lambda o: o.program_id)),
    # Staff: their sites' calls; a coach: their program's group calls and own check-ins.
    "supervision_session": (_supervision_sessions, lambda u, p, o: _sessions_for(u, p)
                            .filter(pk=o.pk).exists()),
    # Manual sections: every signed-in user reads the patient sections.
    "section": (lambda w: ["activity-pacing"], lambda u, p, o: True),
    # Questionnaires are reached through their patient (a patient: only their own).
    "assessment": (_assessments,
                   lambda u, p, o: patients_for(u, p).filter(pk=o.patient_id).exists()),
    "time_point": (_time_points, _reaches_program_of(lambda o: o.program_id)),
    "instrument": (_instruments, lambda u, p, o: True),
    "site": (_sites, lambda u, p, o: o.pk in actor_for(u).sites_with(p)),
    "audit_event": (_audit_events, lambda u, p, o: o.site_id in actor_for(u).sites_with(p)),
    "external_score": (_external_scores,
                       lambda u, p, o: patients_for(u, p).filter(pk=o.patient_id).exists()),
    "response_version": (_response_versions, lambda u, p, o: patients_for(u, p).filter(
        pk=o.assessment.patient_id).exists()),
    "study": (_studies, _reaches_study_site(lambda o: o.program.site_id)),
    # The sequence: statistician at the site, and never someone who randomizes there.
    "study_sequence": (_studies, lambda u, p, o: o.program.site_id in _sequence_sites(u)),
    "study_arm": (_study_arms, _reaches_study_site(lambda o: o.study.program.site_id)),
    "allocation": (_allocations, _reaches_study_site(lambda o: o.study.program.site_id)),
    "export_job": (_export_jobs, _reaches_export_job),
}


Ok = int | tuple[int, ...]


@dataclass(frozen=True)
class Fill:
    #: Which kind of record `pk` names; its scope decides 200 versus 404.
    kind: str | None = None
    #: "post" for POST-only views: posted with empty data (GET must answer 405 on pages).
    method: str = "get"
    #: The answer for a signed-in user who may (permission and scope).
    ok: Ok = 200
    #: Public views only: the answer for an anonymous visitor.
    anonymous_ok: int = 200
    #: More methods the route answers, each sent with empty data: (method, ok).
    also: tuple[tuple[str, Ok], ...] = ()

    def probes(self) -> tuple[tuple[str, Ok], ...]:
        return ((self.method, self.ok), *self.also)


#: Every URL name in the project. A new URL fails the test below until it is added here.
URL_FILL: dict[str, Fill] = {
    "home": Fill(),
    "health": Fill(),
    "login": Fill(ok=302),  # redirect_authenticated_user: signed-in users go home
    "logout": Fill(method="post", ok=302, anonymous_ok=302),
    "password_change": Fill(),
    "password_change_done": Fill(),
    "audit_list": Fill(),
    "crisis_steps": Fill(),
    "staff_list": Fill(),
    "staff_grant": Fill(method="post", ok=302),
    "staff_end_role": Fill(kind="role", method="post", ok=302),
    "people:patient_list": Fill(),
    "people:referral_create": Fill(),
    "people:referral_import": Fill(),
    "people:referral_import_template": Fill(),
    "people:patient_detail": Fill(kind="patient"),
    "people:patient_edit": Fill(kind="patient"),
    "people:patient_screen": Fill(kind="patient"),
    "people:patient_consent": Fill(kind="patient"),
    "people:patient_transition": Fill(kind="patient", method="post", ok=302),
    "people:patient_pair": Fill(kind="patient", method="post", ok=302),
    "people:patient_login_create": Fill(kind="patient", method="post", ok=302),
    "people:match_end": Fill(kind="match", method="post", ok=302),
    "people:coach_list": Fill(),
    "people:coach_create": Fill(),
    "people:coach_detail": Fill(kind="coach"),
    "people:coach_edit": Fill(kind="coach"),
    "people:coach_screen": Fill(kind="coach"),
    "people:coach_consent": Fill(kind="coach"),
    "people:coach_transition": Fill(kind="coach", method="post", ok=302),
    "people:coach_login_create": Fill(kind="coach", method="post", ok=302),
    "programs:program_list": Fill(),
    "programs:program_create": Fill(),
    "programs:program_detail": Fill(kind="program"),
    # Every site-scoped user of the world has one program, so the home page redirects to it.
    "matching:home": Fill(ok=302),
    "matching:program": Fill(kind="program"),
    "matching:propose": Fill(kind="program", method="post", ok=302),
    "matching:do_not_pair": Fill(kind="program", method="post", ok=302),
    "matching:pair_state": Fill(kind="proposed_pair", method="post", ok=302),
    "matching:confirm": Fill(kind="proposal", method="post", ok=302),
    "training:home": Fill(),
    "training:session": Fill(kind="training_session"),
    "training:guide_read": Fill(kind="coach", method="post", ok=302),
    "patient-list": Fill(),
    "patient-detail": Fill(kind="patient"),
    "coach-list": Fill(),
    "coach-detail": Fill(kind="coach"),
    # Writes through the API are sent empty: an allowed user gets the validation error.
    "coach-capacity": Fill(kind="coach", also=(("put", 400),)),
    "match-list": Fill(),
    "match-detail": Fill(kind="match"),
    "match-proposal-list": Fill(also=(("post", 400),)),
    "match-proposal-detail": Fill(kind="proposal"),
    # The first allowed user confirms (200); the next is told it is closed (400).
    "match-proposal-confirm": Fill(kind="proposal", method="post", ok=(200, 400)),
    "proposed-pair-detail": Fill(kind="proposed_pair", also=(("patch", 400),)),
    "api-schema": Fill(),
    "api-docs": Fill(),
    "coaching:caseload": Fill(),
    "coaching:pairs": Fill(),
    "coaching:plan": Fill(kind="patient"),
    "coaching:contact_log": Fill(kind="patient"),
    "coaching:contact_draft": Fill(kind="patient", method="post"),
    # Posted empty: the form is refused and the page redirects back to the plan.
    "coaching:plan_change": Fill(kind="patient", method="post", ok=302),
    "coaching:contact_edit": Fill(kind="contact"),
    "coaching:goal_status": Fill(kind="goal", method="post", ok=302),
    "coaching:calendar": Fill(),
    "coaching:calendar_download": Fill(),
    "coaching:calendar_renew": Fill(method="post", ok=302),
    "coaching:calendar_revoke": Fill(method="post", ok=302),
    # The token is the key: an unknown one is "not found" for everybody.
    "calendar_feed": Fill(ok=404, anonymous_ok=404),
    "pain_check_in": Fill(method="post", ok=302),
    "curriculum:index": Fill(),
    "curriculum:manual_pdf": Fill(),
    "curriculum:section": Fill(kind="section"),
    "curriculum:section_pdf": Fill(kind="section"),
    "contact-plan-list": Fill(),
    "contact-plan-detail": Fill(kind="plan"),
    "contact-plan-change": Fill(kind="plan", method="post", ok=400),
    "contact-list": Fill(also=(("post", 400),)),
    # Detail reads need the patient in scope; a PATCH also needs to be the one who logged it.
    "contact-detail": Fill(kind="contact_read", also=(("patch", 400),)),
    "goal-list": Fill(also=(("post", 400),)),
    "goal-detail": Fill(kind="goal"),
    "goal-set-status": Fill(kind="goal", method="post", ok=400),
    "manual-progress-list": Fill(),
    # Everyone's own settings; an empty PUT is refused as invalid.
    "notification-preferences-me": Fill(also=(("put", 400),)),
    "supervision:dashboard": Fill(),
    "supervision:event": Fill(kind="safety_event"),
    # Acknowledge an open event: 302 back to it (the next user finds it acknowledged: 302).
    "supervision:event_action": Fill(kind="safety_event", method="post", ok=302),
    "supervision:alert_action": Fill(kind="alert", method="post", ok=302),
    "supervision:help": Fill(),
    "supervision:schedules": Fill(),
    "supervision:schedule_generate": Fill(kind="schedule", method="post", ok=302),
    # The first allowed user ends it; the next is told it has ended (302 either way).
    "supervision:schedule_end": Fill(kind="schedule", method="post", ok=302),
    "supervision:sessions": Fill(),
    "supervision:session_create": Fill(),
    "supervision:session": Fill(kind="supervision_session"),
    "supervision:session_attendance": Fill(kind="supervision_session", method="post", ok=302),
    "supervision:session_notes": Fill(kind="supervision_session", method="post", ok=302),
    "supervision:tips": Fill(),
    "supervision:wellbeing": Fill(),
    # Posted empty: the form comes back with its errors.
    "supervision:wellbeing_record": Fill(method="post", ok=200),
    "alert-list": Fill(),
    "alert-detail": Fill(kind="alert"),
    # The first allowed user acknowledges (200); the next is told it is not open (400).
    "alert-acknowledge": Fill(kind="alert", method="post", ok=(200, 400)),
    "alert-resolve": Fill(kind="alert", method="post", ok=400),
    "safety-event-list": Fill(),
    "safety-event-detail": Fill(kind="safety_event"),
    "safety-event-acknowledge": Fill(kind="safety_event", method="post", ok=(200, 400)),
    "safety-event-follow-up": Fill(kind="safety_event", method="post", ok=400),
    "safety-event-close": Fill(kind="safety_event", method="post", ok=400),
    "supervision-session-list": Fill(also=(("post", 400),)),
    "supervision-session-detail": Fill(kind="supervision_session"),
    "tip-list": Fill(also=(("post", 400),)),
    "wellbeing-check-list": Fill(also=(("post", 400),)),
    "notifications:preferences": Fill(),
    "notifications:failed": Fill(),
    # The first allowed user re-queues it; the next is told it is not failed (302 both).
    "notifications:retry": Fill(kind="delivery", method="post", ok=302),
    "notifications:retry_shown": Fill(method="post", ok=302),
    # Posted empty: the form comes back with its errors.
    "notifications:patient_reminders": Fill(kind="patient", also=(("post", 200),)),
    # Questionnaires: the patient signed in (their own, window opened).
    "instrument-list": Fill(),
    "instrument-detail": Fill(kind="instrument"),
    # Empty writes are refused as invalid (400) for everyone allowed.
    "time-point-list": Fill(also=(("post", 400),)),
    "time-point-detail": Fill(kind="time_point", also=(("put", 400), ("patch", 200))),
    "assessment-list": Fill(),
    "assessment-detail": Fill(kind="assessment"),
    "assessment-answers": Fill(kind="assessment", method="post", ok=400),
    # Nothing saved yet: refused (400); if an earlier probe saved answers, it is sent (200).
    "assessment-submit": Fill(kind="assessment", method="post", ok=(200, 400)),
    "assessment-correct": Fill(kind="assessment", method="post", ok=400),
    "assessment-response-list": Fill(),
    "assessment-response-detail": Fill(kind="response_version"),
    "external-score-list": Fill(also=(("post", 400),)),
    "external-score-detail": Fill(kind="external_score"),
    "site-list": Fill(),
    "site-detail": Fill(kind="site"),
    "program-list": Fill(),
    "program-detail": Fill(kind="program"),
    "training-session-list": Fill(),
    "training-session-detail": Fill(kind="training_session"),
    "audit-event-list": Fill(),
    "delivery-list": Fill(),
    "export-job-list": Fill(),
    "export-job-detail": Fill(kind="export_job"),
    "supervision-schedule-list": Fill(),
    "supervision-schedule-detail": Fill(kind="schedule"),
    "delivery-detail": Fill(kind="delivery"),
    "audit-event-detail": Fill(kind="audit_event"),
    "assessments:my_list": Fill(),
    "assessments:my_question": Fill(kind="assessment"),
    # Posted empty: nothing answered yet, so sending in is refused (back to the review).
    "assessments:my_review": Fill(kind="assessment", also=(("post", 302),)),
    # Not sent in yet: the thank-you page leads back to the questions.
    "assessments:my_done": Fill(kind="assessment", ok=302),
    # Secure links: public. An unknown token is "not found" for everybody; the link's
    # pages need the session that opening a link makes ("forbidden" without one).
    "assessments:link_open": Fill(ok=404, anonymous_ok=404),
    "assessments:link_home": Fill(ok=403, anonymous_ok=403),
    "assessments:link_question": Fill(kind="assessment", ok=403, anonymous_ok=403),
    "assessments:link_review": Fill(kind="assessment", ok=403, anonymous_ok=403),
    "assessments:link_done": Fill(kind="assessment", ok=403, anonymous_ok=403),
    "assessments:link_finish": Fill(method="post", ok=200, anonymous_ok=200),
    # Staff.
    "assessments:patient_assessments": Fill(kind="patient"),
    "assessments:link_create": Fill(kind="patient"),
    "assessments:link_revoke": Fill(kind="patient", method="post", ok=302),
    "assessments:external_score": Fill(kind="patient"),
    "assessments:assessment_detail": Fill(kind="assessment"),
    # Posted empty: the mode is missing, the form comes back with its error.
    "assessments:staff_start": Fill(kind="assessment", also=(("post", 200),)),
    # Without a mode (phone or in person) the questions send staff to the start page.
    "assessments:staff_question": Fill(kind="assessment", ok=302),
    "assessments:staff_review": Fill(kind="assessment", ok=302),
    "assessments:staff_done": Fill(kind="assessment", ok=302),
    # Not sent in yet: nothing to correct, back to the questionnaire.
    "assessments:correct": Fill(kind="assessment", ok=302),
    "assessments:mark_missed": Fill(kind="assessment", method="post", ok=302),
    "assessments:time_points": Fill(kind="program"),
    "assessments:time_point_edit": Fill(kind="time_point"),
    "assessments:instrument_list": Fill(),
    # Results: trajectories, outcome reports, the clinician summary.
    "assessments:trajectory": Fill(kind="patient"),
    "assessments:trajectory_svg": Fill(kind="patient"),
    "assessments:trajectory_csv": Fill(kind="patient"),
    "assessments:my_trajectory": Fill(),
    "assessments:outcomes": Fill(),
    "assessments:outcomes_csv": Fill(),
    "assessments:outcomes_svg": Fill(),
    "assessments:summary": Fill(kind="patient"),
    "assessments:summary_pdf": Fill(kind="patient"),
    "research:study_list": Fill(),
    "research:study_create": Fill(),
    "research:study_detail": Fill(kind="study"),
    "research:study_edit": Fill(kind="study"),
    # The sample studies are recruiting: starting again is refused with a message (302).
    "research:study_start": Fill(kind="study", method="post", ok=302),
    "research:study_close": Fill(kind="study", method="post", ok=302),
    # Arms are fixed once recruiting: back to the study with a message.
    "research:arm_create": Fill(kind="study", ok=302),
    "research:arm_edit": Fill(kind="study_arm"),
    "research:enrolment": Fill(kind="study"),
    # No patient named: back to the enrolment list (GET), or refused with a message (POST).
    "research:randomize": Fill(kind="study", ok=302, also=(("post", 302),)),
    "research:allocation_list": Fill(kind="study"),
    "research:sequence": Fill(kind="study_sequence"),
    # A study's reports (research/urls_reports.py): the study's site decides.
    "research:reports": Fill(kind="study"),
    "research:report_fidelity": Fill(kind="study"),
    "research:report_fidelity_csv": Fill(kind="study"),
    "research:report_consort": Fill(kind="study"),
    "research:report_consort_svg": Fill(kind="study"),
    "research:report_consort_pdf": Fill(kind="study"),
    "research:report_consort_csv": Fill(kind="study"),
    "research:report_reaim": Fill(kind="study"),
    "research:report_reaim_csv": Fill(kind="study"),
    "research:report_outcomes": Fill(kind="study"),
    "research:report_outcomes_csv": Fill(kind="study"),
    "study-list": Fill(),
    "study-detail": Fill(kind="study"),
    "study-randomize": Fill(kind="study", method="post", ok=400),
    "study-sequence": Fill(kind="study_sequence"),
    "study-arm-list": Fill(),
    "study-arm-detail": Fill(kind="study_arm"),
    "allocation-list": Fill(),
    "allocation-detail": Fill(kind="allocation"),
    # Posted empty: the form comes back with its errors.
    "research:export_list": Fill(also=(("post", 200),)),
    "research:export_rows": Fill(),
    "research:export_download": Fill(kind="export_job"),
}

ROUTES = all_routes()


def test_every_url_name_has_a_fill_entry() -> None:
    names = {r.name for r in ROUTES}
    unnamed = sorted(r.route for r in ROUTES if not r.name)
    assert not unnamed, f"URL patterns without a name (give them one): {unnamed}"
    new = sorted(names - set(URL_FILL))
    assert not new, f"New URL names: add them to URL_FILL in {__file__}: {new}"
    stale = sorted(set(URL_FILL) - names)
    assert not stale, f"URL_FILL names no longer in the URLconf: {stale}"


def test_every_view_declares_a_rule() -> None:
    missing = undeclared(ROUTES)
    assert not missing, "Views without an authorization rule:\n" + "\n".join(missing)


def test_the_rule_check_catches_an_undeclared_view() -> None:
    """The check above must be able to fail: feed it views without rules."""
    from django.urls import path
    from rest_framework import viewsets
    from rest_framework.response import Response
    from rest_framework.routers import SimpleRouter

    def bare_view(request: Any) -> Any:
        raise AssertionError("never called")

    class HalfCovered(viewsets.ViewSet):
        policy_perms = {"list": Perm.PATIENT_LIST}  # no rule for "retrieve"

        def list(self, request: Any) -> Response:
            return Response([])

        def retrieve(self, request: Any, pk: Any = None) -> Response:
            return Response({})

    router = SimpleRouter()
    router.register("half", HalfCovered, basename="half")
    fake = [path("bare/", bare_view, name="bare"), *router.urls]
    found = undeclared(all_routes(fake))
    assert any("bare/" in line for line in found)
    assert any("half-detail" in line and "retrieve" in line for line in found)
    assert not any("half-list" in line for line in found)


# --- What the policy predicts -----------------------------------------------------------

LOGIN = "login redirect"
API_DENIED = "401 or 403"


def _perm_of(route: Route, method: str) -> str:
    found = api_perm(route.callback, method) if route.is_api else view_rule(route.callback)
    assert found is not None, f"{route.route} declares no rule"
    return found


def expected(route: Route, fill: Fill, user: Any, sample: Any,
             probe: tuple[str, Ok] | None = None) -> Ok | str:
    """The answer the policy predicts for `user` (None: anonymous) on `route`."""
    method, ok = probe or (fill.method, fill.ok)
    perm = _perm_of(route, method)
    if perm == PUBLIC:
        return fill.anonymous_ok if user is None else ok
    if user is None:
        return API_DENIED if route.is_api else LOGIN
    if perm == AUTHENTICATED:
        return ok
    if not has_perm(user, Perm(perm)):
        return 403
    if fill.kind is not None:
        _, reaches = KINDS[fill.kind]
        if not reaches(user, Perm(perm), sample):
            return 404
    return ok


def _kwargs(route: Route, sample: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in route.kwargs:
        if name in ("pk", "patient_id"):  # patient_id: assessments' results pages
            values[name] = sample.pk
        elif name == "format":
            values["format"] = "json"
        elif name == "state":  # matching:pair_state
            values["state"] = "locked"
        elif name == "action":  # coaching:plan_change, supervision actions
            values["action"] = "pause" if route.name.startswith("coaching:") else "acknowledge"
        elif name == "token":  # calendar_feed: a well-formed token nobody has
            values["token"] = "unknown-token-" + "x" * 30
        elif name == "key":  # curriculum:section
            values["key"] = sample
        else:  # pragma: no cover - a new kwarg needs a rule here
            raise AssertionError(f"{route.route}: no way to fill kwarg {name!r}")
    return values


def _url(route: Route, sample: Any) -> str:
    url = reverse(route.name, kwargs=_kwargs(route, sample))
    # reverse() may pick a sibling pattern with the same name; make sure it is this one.
    match = resolve(url)
    assert match.func is route.callback, f"{url} resolves elsewhere than {route.route}"
    return url


def _request(user: Any, method: str, url: str) -> Any:
    # A crash is one more disagreement in the report (500), not the end of the walk.
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    if method == "get":
        return client.get(url)
    if method == "post":
        return client.post(url, data={})
    return client.generic(method.upper(), url, "{}", content_type="application/json")


def _agrees(response: Any, want: Ok | str, user: Any, guarded: bool = True) -> bool:
    if want == LOGIN:
        return (response.status_code == 302
                and response["Location"].startswith(f"{LOGIN_URL}?next="))
    if want == API_DENIED:
        return response.status_code in (401, 403)
    if response.status_code not in (want if isinstance(want, tuple) else (want,)):
        return False
    if response.status_code == 302 and user is not None and guarded:
        # An allowed action redirects somewhere useful, never back to the login page
        # (logging out, a public view, is the one place where that is the point).
        return not response["Location"].startswith(LOGIN_URL)
    return True


@pytest.fixture(autouse=True)
def _export_files_in_tmp(settings: Any, tmp_path: Any) -> None:
    """Export files (of the export job samples) go to a temporary data directory."""
    settings.DATA_DIR = tmp_path


@pytest.fixture
def matrix_world(world: Any) -> Any:
    pair(world.patient_b, world.coach_b, world.coordinator)  # gives site B a match too
    from peercoach.coaching.plans import plan_for_pair

    for patient in (world.patient, world.other_patient, world.patient_b):
        plan_for_pair(patient=patient, started_on=dt.date(2026, 2, 1), by=world.coordinator)
    staff(Role.SUPERVISOR, world.site_a, username="spare_a")
    staff(Role.SUPERVISOR, world.site_b, username="spare_b")
    world.statistician = staff(Role.STATISTICIAN, world.site_a, username="statistician")
    return world


def _users(world: Any) -> dict[str, Any]:
    return {ANONYMOUS: None, **world.users(), "statistician": world.statistician}


def _samples(fill: Fill, world: Any) -> list[Any]:
    if fill.kind is None:
        return [None]
    samples, _ = KINDS[fill.kind]
    return samples(world)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.name}[{r.route}]")
def test_matrix(route: Route, matrix_world: Any) -> None:
    fill = URL_FILL[route.name]
    disagreements: list[str] = []
    for role, user in _users(matrix_world).items():
        for sample in _samples(fill, matrix_world):
            url = _url(route, sample)
            for method, ok in fill.probes():
                want = expected(route, fill, user, sample, (method, ok))
                response = _request(user, method, url)
                guarded = _perm_of(route, method) != PUBLIC
                if not _agrees(response, want, user, guarded=guarded):
                    where = response.get("Location", "")
                    disagreements.append(
                        f"{role:12} {method.upper()} {url}: expected {want}, "
                        f"got {response.status_code} {where}".rstrip())
            if fill.method == "post" and not route.is_api:
                # POST-only page: a GET is refused for everybody, before any other check.
                got = _request(user, "get", url).status_code
                if got != 405:
                    disagreements.append(f"{role:12} GET {url}: expected 405, got {got}")
    assert not disagreements, "\n".join(disagreements)


def test_every_api_method_is_probed() -> None:
    """A new action on an API route (say PUT) must be added to its Fill to be tested."""
    unprobed = []
    for route in ROUTES:
        if route.is_api:
            probed = {method for method, _ in URL_FILL[route.name].probes()}
            missing = sorted(set(api_methods(route.callback)) - probed)
            if missing:
                unprobed.append(f"{route.name} [{route.route}]: {missing}")
    assert not unprobed, "API methods the matrix does not send:\n" + "\n".join(unprobed)


def test_matrix_exercises_every_kind_of_answer(matrix_world: Any) -> None:
    """Guard against a vacuous matrix: each kind of answer is predicted somewhere."""
    seen: Counter[Any] = Counter()
    for route in ROUTES:
        fill = URL_FILL[route.name]
        for user in _users(matrix_world).values():
            for sample in _samples(fill, matrix_world):
                for probe in fill.probes():
                    seen[(route.is_api, expected(route, fill, user, sample, probe))] += 1
    for kind in [(False, LOGIN), (False, 403), (False, 404), (False, 200), (False, 302),
                 (True, API_DENIED), (True, 403), (True, 404), (True, 200), (True, 400)]:
        assert seen[kind] > 0, f"the matrix never predicts {kind}: {dict(seen)}"


# --- Key expectations, written out by hand -------------------------------------------

#: (role, URL name, sample attribute on world or None, expected answer)
KEY_EXPECTATIONS: list[tuple[str, str, str | None, int | str]] = [
    ("coach", "people:patient_detail", "patient", 200),
    ("coach", "people:patient_detail", "other_patient", 404),
    ("coach", "patient-detail", "other_patient", 404),
    ("coach", "people:coach_list", None, 403),
    ("coach", "people:patient_edit", "patient", 403),
    ("patient", "people:patient_detail", "patient", 200),
    ("patient", "people:patient_detail", "other_patient", 404),
    ("patient", "people:patient_list", None, 403),
    ("patient", "patient-list", None, 403),
    ("clinician", "people:patient_detail", "patient", 200),
    ("clinician", "people:patient_detail", "other_patient", 404),
    ("clinician", "people:referral_create", None, 200),
    ("clinician", "programs:program_list", None, 403),
    ("clinician", "people:coach_list", None, 403),
    ("coordinator", "people:patient_detail", "patient_b", 404),
    ("coordinator", "people:coach_detail", "coach_b", 404),
    ("coordinator", "patient-detail", "patient_b", 404),
    ("coordinator", "people:patient_detail", "other_patient", 200),
    ("coordinator", "audit_list", None, 403),
    ("coordinator", "programs:program_create", None, 403),
    ("site_admin", "audit_list", None, 200),
    ("site_admin", "staff_list", None, 200),
    ("coordinator", "staff_list", None, 403),
    ("site_admin", "programs:program_create", None, 200),
    ("site_admin", "programs:program_detail", "program_b", 404),
    ("supervisor", "people:patient_pair", "patient", 403),
    ("supervisor", "people:coach_transition", "coach", 302),
    ("supervisor", "people:patient_edit", "patient", 403),
    ("researcher", "people:patient_detail", "patient", 200),
    ("researcher", "people:patient_detail", "patient_b", 404),
    ("researcher", "people:patient_edit", "patient", 403),
    ("researcher", "people:referral_create", None, 403),
    ("researcher", "programs:program_detail", "program_a", 200),
    (ANONYMOUS, "people:patient_list", None, LOGIN),
    (ANONYMOUS, "people:patient_detail", "patient", LOGIN),
    (ANONYMOUS, "patient-list", None, API_DENIED),
    (ANONYMOUS, "crisis_steps", None, 200),
    (ANONYMOUS, "health", None, 200),
    (ANONYMOUS, "api-schema", None, 200),
    ("coordinator", "research:study_create", None, 200),
    ("researcher", "research:export_list", None, 200),
    ("statistician", "research:export_list", None, 200),
    ("supervisor", "research:export_list", None, 403),
    ("supervisor", "research:study_create", None, 403),
    ("researcher", "research:study_list", None, 200),
    ("statistician", "research:study_list", None, 200),
    ("statistician", "people:patient_list", None, 403),
    ("coach", "research:study_list", None, 403),
    ("clinician", "allocation-list", None, 403),
    ("researcher", "allocation-list", None, 200),
    (ANONYMOUS, "study-list", None, API_DENIED),
]


def _route_named(name: str) -> Route:
    return next(r for r in ROUTES if r.name == name and "format" not in r.kwargs)


@pytest.mark.parametrize(("role", "name", "attr", "want"), KEY_EXPECTATIONS,
                         ids=[f"{r}-{n}-{a}" for r, n, a, _ in KEY_EXPECTATIONS])
def test_key_expectation(matrix_world: Any, role: str, name: str, attr: str | None,
                         want: int | str) -> None:
    route = _route_named(name)
    fill = URL_FILL[name]
    user = _users(matrix_world)[role]
    sample = getattr(matrix_world, attr) if attr else None
    # The policy-derived prediction agrees with the hand-written table...
    assert expected(route, fill, user, sample) == want
    # ...and so does the running application.
    response = _request(user, fill.method, _url(route, sample))
    assert _agrees(response, want, user), (response.status_code, response.get("Location"))


def test_researcher_sees_patient_detail_de_identified(matrix_world: Any) -> None:
    w = matrix_world
    client = Client()
    client.force_login(w.researcher)
    response = client.get(reverse("people:patient_detail", args=[w.patient.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert w.patient.study_id in body
    for secret in (w.patient.first_name, w.patient.last_name, w.patient.email,
                   w.patient.phone, w.coach.last_name, w.clinician.last_name):
        assert secret not in body, f"{secret!r} shown to a researcher"
    assert response.context["patient"].identified is False


def test_coordinator_sees_patient_detail_identified(matrix_world: Any) -> None:
    """The counterpart of the test above, so that one cannot pass on an empty page."""
    w = matrix_world
    client = Client()
    client.force_login(w.coordinator)
    body = client.get(reverse("people:patient_detail", args=[w.patient.pk])).content.decode()
    assert w.patient.last_name in body
    assert w.patient.email in body


def test_clinician_lists_only_patients_they_referred(matrix_world: Any) -> None:
    w = matrix_world
    client = Client()
    client.force_login(w.clinician)
    response = client.get(reverse("people:patient_list"))
    assert response.status_code == 200
    assert [p.pk for p in response.context["page"]] == [w.patient.pk]
