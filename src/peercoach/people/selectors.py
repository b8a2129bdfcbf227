"""Reads for pages and the API, scoped by the policy, with their joins in one place."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery

from peercoach.core import audit
from peercoach.core.policy import (
    Perm,
    coach_scope_q,
    coaches_for,
    get_coach,
    get_patient,
    patient_scope_q,
    patients_for,
)
from peercoach.core.policy import with_identified_flag as _flag
from peercoach.matching.models import Match

from .models import Coach, Patient


def _current_coach_subquery(field: str) -> Subquery:
    current = Match.objects.filter(patient=OuterRef("pk"), ended_on__isnull=True)
    return Subquery(current.values(field)[:1])


def patient_list(
    *,
    user: Any,
    search: str = "",
    status: str = "",
    site_id: int | None = None,
    program_id: int | None = None,
) -> QuerySet[Patient]:
    """Patients the user may list, filtered, with everything a list row shows."""
    qs = patients_for(user, Perm.PATIENT_LIST).select_related("program__site")
    qs = _flag(qs, user).annotate(
        current_coach_id=_current_coach_subquery("coach_id"),
        current_coach_first=_current_coach_subquery("coach__first_name"),
        current_coach_last=_current_coach_subquery("coach__last_name"),
    )
    return _filtered(qs, status=status, site_id=site_id, program_id=program_id, search=search,
                     identified=lambda: patient_scope_q(user, Perm.PATIENT_VIEW_IDENTIFIED))


def _filtered(qs: QuerySet[Any], *, status: str, site_id: int | None, program_id: int | None,
              search: str, identified: Callable[[], Q | None]) -> QuerySet[Any]:
    """A person list's filters and order; `identified` scopes the name search (it is asked
    only when there is a search)."""
    if status:
        qs = qs.filter(status=status)
    if site_id:
        qs = qs.filter(program__site_id=site_id)
    if program_id:
        qs = qs.filter(program_id=program_id)
    if search:
        qs = qs.filter(_search_q(search, identified()))
    return qs.order_by("last_name", "first_name", "id")


STUDY_ID = re.compile(r"[PC]-[A-Z2-9]{8}", re.IGNORECASE)


def _search_q(search: str, identified: Q | None) -> Q:
    """Search names only among records whose names the user may see (no probing by name).

    Study ids are generated upper-case, so an exact match on the upper-cased term finds
    them through the unique index; a term shaped like a study id searches ids only.
    """
    term = search.strip()
    by_code = Q(study_id=term.upper())
    if STUDY_ID.fullmatch(term) or identified is None:
        return by_code
    by_name = Q()
    for word in term.split():
        by_name &= (Q(first_name__icontains=word) | Q(last_name__icontains=word)
                    | Q(preferred_name__icontains=word))
    return by_code | (by_name & identified)


def coach_list(
    *, user: Any, search: str = "", status: str = "", site_id: int | None = None,
    program_id: int | None = None,
) -> QuerySet[Coach]:
    from django.db.models import Count

    qs = coaches_for(user, Perm.COACH_LIST).select_related("program__site")
    qs = _flag(qs, user, kind="coach").annotate(
        current_patients=Count("matches", filter=Q(matches__ended_on__isnull=True)),
    )
    return _filtered(qs, status=status, site_id=site_id, program_id=program_id, search=search,
                     identified=lambda: coach_scope_q(user, Perm.COACH_VIEW_IDENTIFIED))


def patient_for_view(*, user: Any, pk: Any, perm: Perm = Perm.PATIENT_VIEW) -> Patient:
    """One patient for a detail page or API detail; the view is audited."""
    patient = get_patient(user, pk, perm)
    audit.record_view(user, patient, identified=bool(getattr(patient, "identified", False)))
    return patient


def coach_for_view(*, user: Any, pk: Any, perm: Perm = Perm.COACH_VIEW) -> Coach:
    coach = get_coach(user, pk, perm)
    audit.record_view(user, coach, identified=bool(getattr(coach, "identified", False)))
    return coach


def patient_history(patient: Patient) -> dict[str, Any]:
    """Status changes, screenings, consents and pairs for a detail page."""
    return {
        "status_changes": list(patient.statuschanges.select_related("changed_by")),
        "screenings": list(patient.screenings.select_related("screened_by")),
        "consents": list(patient.consents.select_related("recorded_by")),
        "matches": list(patient.matches.select_related("coach", "created_by", "ended_by")),
        "safety_events": list(patient.safetyevents.all()),
    }


def coach_history(coach: Coach) -> dict[str, Any]:
    return {
        "status_changes": list(coach.statuschanges.select_related("changed_by")),
        "screenings": list(coach.screenings.select_related("screened_by")),
        "consents": list(coach.consents.select_related("recorded_by")),
        "matches": list(coach.matches.select_related("patient", "created_by", "ended_by")),
        "safety_events": list(coach.safetyevents.all()),
    }
