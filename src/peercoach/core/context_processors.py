"""Navigation built from the policy, so a menu never offers what a role cannot open."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from .models import Role
from .policy import Perm, actor_for

#: The menu in order: (label, URL name, the permission that shows it; None: everyone).
MENU: tuple[tuple[str, str, Perm | None], ...] = (
    ("Supervision", "supervision:dashboard", Perm.SAFETY_VIEW),
    ("My caseload", "coaching:caseload", Perm.CASELOAD_VIEW),
    ("My questionnaires", "assessments:my_list", Perm.ASSESSMENT_SELF),
    ("My progress", "assessments:my_trajectory", Perm.ASSESSMENT_SELF),
    ("Patients", "people:patient_list", Perm.PATIENT_LIST),
    ("Coaches", "people:coach_list", Perm.COACH_LIST),
    ("Refer a patient", "people:referral_create", Perm.PATIENT_REFER),
    ("Import referrals", "people:referral_import", Perm.PATIENT_IMPORT),
    ("Supervision calls", "supervision:sessions", Perm.SUPERVISION_JOIN),
    ("Tips from coaches", "supervision:tips", Perm.SUPERVISION_JOIN),
    ("My wellbeing", "supervision:wellbeing", Perm.WELLBEING_CHECK),
    ("Ask for help", "supervision:help", Perm.HELP_REQUEST),
    ("Pairs", "coaching:pairs", Perm.PAIR_OVERVIEW),
    ("Manual", "curriculum:index", None),
    ("Matching", "matching:home", Perm.MATCH_VIEW),
    ("Training", "training:home", Perm.TRAINING_MANAGE),
    ("Programs", "programs:program_list", Perm.PROGRAM_VIEW),
    ("Studies", "research:study_list", Perm.ALLOCATION_VIEW),
    ("Outcomes", "assessments:outcomes", Perm.OUTCOME_REPORT),
    ("Exports", "research:export_list", Perm.EXPORT_DATA),
    ("Staff", "staff_list", Perm.STAFF_MANAGE),
    ("Audit trail", "audit_list", Perm.AUDIT_VIEW),
)


def navigation(request: HttpRequest) -> dict[str, Any]:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_links": [], "my_roles": [], "my_perms": frozenset()}
    actor = actor_for(user)
    role_labels = sorted(role.label for role in actor.roles)
    if actor.roles == {Role.PATIENT}:
        # A patient's own short menu: their page, the manual, their record.
        assert actor.patient_id is not None
        return {"my_roles": role_labels, "my_perms": actor.perms(), "nav_links": [
            ("Home", reverse("home")), ("The manual", reverse("curriculum:index")),
            ("My record", reverse("people:patient_detail", args=[actor.patient_id]))]}
    perms = actor.perms()
    # A coach's patients are on their caseload; the plain patient list is for staff.
    hidden = {"people:patient_list"} if actor.roles <= {Role.COACH, Role.PATIENT} else set()
    links = [("Home", reverse("home"))] + [
        (label, reverse(name)) for label, name, perm in MENU
        if (perm is None or perm in perms) and name not in hidden]
    # `my_perms` lets a template offer a link only to those it is for (the page itself
    # still asks the policy, with the record's scope).
    return {"nav_links": links, "my_roles": role_labels, "my_perms": perms}
