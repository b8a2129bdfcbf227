"""Reads for the questionnaire pages, scoped by the policy, with their joins in one place.

Lookups of one assessment answer 404 for "does not exist" and "not yours" alike, like
`policy.get_patient`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.http import Http404
from django.utils import timezone

from peercoach.core import audit
from peercoach.core.policy import Perm, get_patient, is_id, patients_for, programs_for
from peercoach.people.models import Patient

from . import instruments
from .instruments import Licence
from .models import (
    OPEN_STATUSES,
    Assessment,
    AssessmentLink,
    AssessmentStatus,
    ExternalScore,
    InstrumentText,
    Mode,
    ResponseVersion,
    TimePoint,
)


def today() -> dt.date:
    return timezone.localdate()


# --- Instruments ----------------------------------------------------------------------


def loaded_codes(codes: Iterable[str] | None = None) -> set[str]:
    """Licensed instruments whose text this site has loaded (no query when none of
    `codes` is licensed)."""
    licensed = {c for c in (codes if codes is not None else instruments.REGISTRY)
                if c in instruments.REGISTRY
                and instruments.REGISTRY[c].licence == Licence.LICENSED}
    if not licensed:
        return set()
    return set(InstrumentText.objects.filter(code__in=licensed).values_list("code", flat=True))


def answerable(code: str, loaded: set[str]) -> bool:
    """May this questionnaire be answered here (licensed text loaded where needed)?"""
    instrument = instruments.REGISTRY.get(code)
    if instrument is None or instrument.licence == Licence.EXTERNAL_SCORE:
        return False
    return instrument.licence == Licence.FREE or code in loaded


@dataclass(frozen=True)
class InstrumentRow:
    instrument: instruments.Instrument
    why_not: str | None
    text: InstrumentText | None


def instrument_rows() -> list[InstrumentRow]:
    """Every instrument in the registry, with its licence and whether it can be given."""
    from . import services

    texts = {t.code: t for t in InstrumentText.objects.select_related("loaded_by")}
    rows = []
    for code, instrument in instruments.REGISTRY.items():
        why = None
        if instrument.licence == Licence.EXTERNAL_SCORE or (
                instrument.licence == Licence.LICENSED and code not in texts):
            why = services.why_not_administrable(code)
        rows.append(InstrumentRow(instrument=instrument, why_not=why, text=texts.get(code)))
    return rows


# --- One assessment ---------------------------------------------------------------------


def _assessments() -> Any:
    return Assessment.objects.select_related("patient__program__site", "time_point")


def assessment_for(user: Any, pk: Any, perm: Perm) -> Assessment:
    """One assessment of a patient the user may `perm`; 404 for missing and forbidden."""
    if not is_id(pk):
        raise Http404("No such questionnaire.")
    found = _assessments().filter(pk=pk, patient__in=patients_for(user, perm)).first()
    if found is None:
        raise Http404("No such questionnaire.")
    return found


def assessment_for_patient(patient_id: int, pk: Any) -> Assessment:
    """One assessment of the patient a secure link was opened for; 404 otherwise."""
    if not is_id(pk):
        raise Http404("No such questionnaire.")
    found = _assessments().filter(pk=pk, patient_id=patient_id).first()
    if found is None:
        raise Http404("No such questionnaire.")
    return found


def patient_for_assessments(user: Any, pk: Any, perm: Perm = Perm.ASSESSMENT_VIEW) -> Patient:
    """The patient of an assessments page (identified flag set); the view is audited."""
    patient = get_patient(user, pk, perm)
    audit.record_view(user, patient, page="assessments",
                      identified=bool(getattr(patient, "identified", False)))
    return patient


# --- What a patient is asked ------------------------------------------------------------


def _ask_order(a: Assessment) -> tuple[Any, ...]:
    position = 99
    if a.time_point is not None and a.instrument in a.time_point.instruments:
        position = a.time_point.instruments.index(a.instrument)
    return (a.due_on, a.time_point.day if a.time_point else 0, position, a.pk)


def open_for_patient(patient_id: int, *, on: dt.date | None = None) -> list[Assessment]:
    """The patient's questionnaires they can answer now: open, window opened, and
    administrable here. In the order they are asked (the time point's order)."""
    on = on or today()
    rows = list(Assessment.objects.filter(patient_id=patient_id, status__in=OPEN_STATUSES,
                                          opens_on__lte=on).select_related("time_point"))
    loaded = loaded_codes({a.instrument for a in rows})
    return sorted((a for a in rows if answerable(a.instrument, loaded)), key=_ask_order)


def next_open_after(patient_id: int, current: Assessment) -> Assessment | None:
    return next((a for a in open_for_patient(patient_id) if a.pk != current.pk), None)


# --- The staff page of one patient's questionnaires --------------------------------------


def status_of(a: Assessment, on: dt.date) -> str:
    """due, not yet open, overdue, started, done, missed or cancelled: what staff read."""
    if a.status == AssessmentStatus.SUBMITTED:
        return "done"
    if a.status == AssessmentStatus.MISSED:
        return "missed"
    if a.status == AssessmentStatus.CANCELLED:
        return "cancelled"
    if on < a.opens_on:
        return "not yet open"
    if on > a.closes_on:
        return "overdue"
    return "started" if a.status == AssessmentStatus.IN_PROGRESS else "due"


@dataclass
class AssessmentRow:
    assessment: Assessment
    instrument: instruments.Instrument
    status: str
    why_not: str | None
    answered: int

    @property
    def is_open(self) -> bool:
        return self.assessment.is_open


@dataclass
class TimePointGroup:
    label: str
    time_point: TimePoint | None
    rows: list[AssessmentRow]


def patient_assessments(patient: Patient) -> list[TimePointGroup]:
    """Every questionnaire of the patient, grouped by time point, in the order asked."""
    from . import services

    on = today()
    rows = sorted(Assessment.objects.filter(patient=patient).select_related("time_point"),
                  key=_ask_order)
    loaded = loaded_codes({a.instrument for a in rows})
    groups: dict[Any, TimePointGroup] = {}
    reasons: dict[str, str | None] = {}  # one look-up per instrument, not per row
    for a in rows:
        key = a.time_point_id
        if key not in groups:
            label = a.time_point.label if a.time_point else "On their own"
            groups[key] = TimePointGroup(label=label, time_point=a.time_point, rows=[])
        instrument = instruments.get(a.instrument)
        why_not = None
        if a.is_open and not answerable(a.instrument, loaded):
            if a.instrument not in reasons:
                reasons[a.instrument] = services.why_not_administrable(a.instrument)
            why_not = reasons[a.instrument]
        groups[key].rows.append(AssessmentRow(
            assessment=a, instrument=instrument, status=status_of(a, on), why_not=why_not,
            answered=len(a.draft)))
    return list(groups.values())


def versions_of(assessment: Assessment) -> list[ResponseVersion]:
    return list(assessment.versions.select_related("submitted_by").order_by("number"))


def live_links(patient: Patient) -> list[AssessmentLink]:
    """The patient's links that still work: unused and unexpired, or opened and perhaps
    still being answered (for `services.LINK_SESSION` after opening)."""
    from .services import LINK_SESSION

    now = timezone.now()
    return list(AssessmentLink.objects.filter(patient=patient, revoked_at__isnull=True).filter(
        Q(used_at__isnull=True, expires_at__gt=now) | Q(used_at__gt=now - LINK_SESSION))
        .select_related("created_by"))


def external_scores(patient: Patient) -> list[ExternalScore]:
    return list(ExternalScore.objects.filter(patient=patient)
                .select_related("time_point", "recorded_by").order_by("measured_on", "id"))


def mode_label(mode: str) -> str:
    return dict(Mode.choices).get(mode, mode)


# --- Programs --------------------------------------------------------------------------


def program_for(user: Any, pk: Any, perm: Perm = Perm.ASSESSMENT_MANAGE) -> Any:
    program = programs_for(user, perm).filter(pk=pk).first() if is_id(pk) else None
    if program is None:
        raise Http404("No such program.")
    return program


def time_point_for(user: Any, pk: Any, perm: Perm = Perm.ASSESSMENT_MANAGE) -> TimePoint:
    found = (TimePoint.objects.select_related("program__site")
             .filter(pk=pk, program__in=programs_for(user, perm)).first()
             if is_id(pk) else None)
    if found is None:
        raise Http404("No such time point.")
    return found
