"""How a study changes pairing and scheduling elsewhere in the program."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from peercoach.assessments.models import Assessment, TimePoint
from peercoach.assessments.services import ensure_time_points
from peercoach.matching.pool import waiting_patients
from peercoach.matching.services import match_create
from peercoach.research.services import randomize
from peercoach.research.strata import baseline_peg

from ..factories import CoachFactory, eligible_patient, submitted_assessment, two_arm_study


def _study_and_patients(world: Any, n: int = 6) -> tuple[Any, list[Any]]:
    study = two_arm_study(world.program_a, world.coordinator, block_sizes=(2,))
    patients = [eligible_patient(world.program_a, enrolled_on=timezone.localdate())
                for _ in range(n)]
    return study, patients


def test_nobody_is_paired_before_randomization_while_a_study_recruits(world: Any) -> None:
    study, patients = _study_and_patients(world, 2)
    assert not set(waiting_patients(world.program_a)) & set(patients)
    coach = CoachFactory(program=world.program_a)
    with pytest.raises(ValidationError, match="randomize the patient before pairing"):
        match_create(patient=patients[0], coach=coach, by=world.coordinator)
    allocations = [randomize(patient=p, by=world.coordinator) for p in patients]
    coached = [a.patient for a in allocations if a.arm.gets_coach]
    control = [a.patient for a in allocations if not a.arm.gets_coach]
    assert len(coached) == len(control) == 1  # one block of 2
    waiting = set(waiting_patients(world.program_a))
    assert coached[0] in waiting and control[0] not in waiting
    with pytest.raises(ValidationError, match="does not include a coach"):
        match_create(patient=control[0], coach=coach, by=world.coordinator)
    match_create(patient=coached[0], coach=coach, by=world.coordinator)


def test_randomization_schedules_the_arms_time_points(world: Any) -> None:
    ensure_time_points(world.program_a)
    TimePoint.objects.create(program=world.program_a, key="6mo", label="6 months", day=180,
                             instruments=["peg"], arms=["coaching"])
    _, patients = _study_and_patients(world, 2)
    for patient in patients:
        allocation = randomize(patient=patient, by=world.coordinator)
        has_6mo = Assessment.objects.filter(patient=patient, time_point__key="6mo").exists()
        assert has_6mo == (allocation.arm.code == "coaching")


def test_the_baseline_questionnaire_sets_the_pain_stratum(world: Any) -> None:
    patient = eligible_patient(world.program_a)
    assert baseline_peg(patient) is None
    point = TimePoint.objects.create(program=world.program_a, key="baseline", label="Baseline",
                                     day=0, instruments=["peg"])
    submitted_assessment(patient, "peg", 7.3, point=point,
                         at=timezone.now() - dt.timedelta(days=1))
    assert baseline_peg(patient) == pytest.approx(7.3)
    assert baseline_peg(patient, on=timezone.now() - dt.timedelta(days=3)) is None
