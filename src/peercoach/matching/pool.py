"""Who can be matched right now, and what matching knows about them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Count, IntegerField, Q, QuerySet, Value
from django.db.models.functions import Coalesce

from peercoach.people.lifecycle import CoachStatus, PatientStatus
from peercoach.people.models import Coach, Patient
from peercoach.programs.models import Program
from peercoach.training.readiness import ready_q, with_readiness

from .models import Match
from .scoring import Person

PAIRABLE_PATIENT_STATUSES = (PatientStatus.ENROLLED, PatientStatus.ACTIVE)


def waiting_patients(program: Program) -> QuerySet[Patient]:
    """Enrolled or active patients of the program with no current coach.

    Patients randomized to a study arm without a coach (a control arm) never wait for one,
    and while the program recruits for a study nobody is paired before randomization
    (coaching first would give away, or undo, the allocation).
    """
    from peercoach.research.models import Study, StudyStatus

    current = Match.objects.filter(ended_on__isnull=True, patient__program=program)
    waiting = (Patient.objects.filter(program=program, status__in=PAIRABLE_PATIENT_STATUSES)
               .exclude(pk__in=current.values("patient_id"))
               .exclude(allocation__arm__gets_coach=False))
    if Study.objects.filter(program=program, status=StudyStatus.RECRUITING).exists():
        waiting = waiting.filter(allocation__isnull=False)
    return waiting.order_by("id")


def coaches_with_load(program: Program) -> QuerySet[Coach]:
    """Active coaches of the program with readiness, capacity and current load annotated."""
    qs = with_readiness(Coach.objects.filter(program=program, status=CoachStatus.ACTIVE))
    return qs.annotate(
        load=Count("matches", filter=Q(matches__ended_on__isnull=True)),
        slots=Coalesce("capacity", Value(program.default_caseload),
                       output_field=IntegerField()),
    ).order_by("id")


def available_coaches(program: Program) -> list[Coach]:
    """Ready, active coaches with at least one free place (`free` set on each)."""
    coaches = []
    for coach in coaches_with_load(program).filter(ready_q()):
        coach.free = coach.slots - coach.load  # type: ignore[attr-defined]
        if coach.free > 0:  # type: ignore[attr-defined]
            coaches.append(coach)
    return coaches


def as_person(record: Any, today: dt.date) -> Person:
    """A patient or coach as the pure scoring model sees them."""
    return Person(
        key=record.pk,
        age=record.age_on(today),
        service_era=record.service_era,
        gender=record.gender,
        gender_preference=getattr(record, "coach_gender_preference", ""),
        language=record.language,
        pain=frozenset(record.pain_conditions),
        challenges=frozenset(record.life_challenges),
        modes=frozenset(record.preferred_contact_modes),
        times=frozenset(record.preferred_contact_times),
        zip_code=record.zip_code or "",
    )


def is_same_person(patient: Patient, coach: Coach) -> bool:
    """Nobody coaches themselves: same login, or the coach was this patient."""
    same_login = coach.user_id is not None and coach.user_id == patient.user_id
    return same_login or coach.former_patient_id == patient.pk
