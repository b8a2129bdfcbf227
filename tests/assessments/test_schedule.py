"""Time points, windows, scheduling on enrollment, and the overdue alert."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from peercoach.assessments import services
from peercoach.assessments.models import Assessment, AssessmentStatus, Mode, TimePoint
from peercoach.assessments.windows import is_overdue, window_for
from peercoach.people.lifecycle import PatientStatus
from peercoach.supervision.alerts import scan
from peercoach.supervision.models import Alert, AlertKind, AlertStatus

D = dt.date


def test_follow_up_window_is_centred_on_the_due_day() -> None:
    w = window_for(enrolled_on=D(2026, 1, 1), day=120, before=14, after=14)
    assert (w.opens_on, w.due_on, w.closes_on) == (D(2026, 4, 17), D(2026, 5, 1), D(2026, 5, 15))


def test_baseline_closes_at_the_first_contact_when_that_is_sooner() -> None:
    w = window_for(enrolled_on=D(2026, 1, 1), day=0, before=0, after=21,
                   before_first_contact=True, first_contact_on=D(2026, 1, 8))
    assert (w.opens_on, w.due_on, w.closes_on) == (D(2026, 1, 1), D(2026, 1, 1), D(2026, 1, 8))
    later = window_for(enrolled_on=D(2026, 1, 1), day=0, before=0, after=21,
                       before_first_contact=True, first_contact_on=D(2026, 3, 1))
    assert later.closes_on == D(2026, 1, 22)


def test_nothing_opens_before_enrollment() -> None:
    w = window_for(enrolled_on=D(2026, 1, 1), day=7, before=14, after=7)
    assert w.opens_on == D(2026, 1, 1)


def test_overdue_only_after_the_window_closes() -> None:
    assert not is_overdue(D(2026, 1, 8), D(2026, 1, 8))
    assert is_overdue(D(2026, 1, 8), D(2026, 1, 9))


def _enrolled(world: Any, days_ago: int = 0) -> Any:
    patient = world.patient
    patient.enrolled_on = timezone.localdate() - dt.timedelta(days=days_ago)
    patient.status = PatientStatus.ENROLLED
    patient.save()
    return patient


def test_default_time_points_come_from_the_program(world: Any) -> None:
    points = services.ensure_time_points(world.program_a)
    assert [(p.key, p.day) for p in points] == [("baseline", 0), ("4mo", 120)]
    assert points[0].before_first_contact and "pgic" not in points[0].instruments
    assert "pgic" in points[1].instruments
    assert services.ensure_time_points(world.program_a) == points  # made once


def test_scheduling_is_idempotent_and_follows_the_enrollment_date(world: Any) -> None:
    patient = _enrolled(world, days_ago=10)
    made = services.schedule_patient(patient)
    assert made == 7  # baseline PEG, PHQ-9, GAD-7 + 4 months PEG, PHQ-9, GAD-7, PGIC
    assert services.schedule_patient(patient) == 0
    four = Assessment.objects.get(patient=patient, time_point__key="4mo", instrument="peg")
    assert four.due_on == patient.enrolled_on + dt.timedelta(days=120)
    patient.enrolled_on -= dt.timedelta(days=5)
    patient.save()
    services.schedule_patient(patient)
    four.refresh_from_db()
    assert four.due_on == patient.enrolled_on + dt.timedelta(days=120)


def test_a_submitted_assessment_keeps_its_window(world: Any) -> None:
    patient = _enrolled(world)
    services.schedule_patient(patient)
    peg = Assessment.objects.get(patient=patient, time_point__key="baseline", instrument="peg")
    services.answer_save(assessment=peg, answers={1: 5, 2: 5, 3: 5}, by=world.coordinator,
                         mode=Mode.PHONE)
    services.submit(assessment=peg, by=world.coordinator, mode=Mode.PHONE)
    before = (peg.opens_on, peg.closes_on)
    patient.enrolled_on -= dt.timedelta(days=30)
    patient.save()
    services.schedule_patient(patient)
    peg.refresh_from_db()
    assert (peg.opens_on, peg.closes_on) == before


def test_enrolling_through_the_lifecycle_schedules(world: Any) -> None:
    from peercoach.people import services as people
    from peercoach.people.models import Consent

    from ..factories import PatientFactory

    patient = PatientFactory(program=world.program_a, status=PatientStatus.CONSENTED)
    Consent.objects.create(patient=patient, consented_on=timezone.localdate(),
                           form_version="v1", recorded_by=world.coordinator,
                           recorded_at=timezone.now())
    people.patient_transition(patient=patient, to=PatientStatus.ENROLLED, by=world.coordinator)
    assert Assessment.objects.filter(patient=patient, status=AssessmentStatus.DUE).count() == 7
    people.patient_transition(patient=patient, to=PatientStatus.WITHDRAWN,
                              by=world.coordinator, reason="Moved away")
    assert not Assessment.objects.filter(patient=patient,
                                         status__in=("due", "in_progress")).exists()


def test_arm_specific_time_points_skip_other_arms(world: Any) -> None:
    patient = _enrolled(world)
    TimePoint.objects.create(program=world.program_a, key="6mo", label="6 months", day=180,
                             instruments=["peg"], arms=["coaching"])
    services.ensure_time_points(world.program_a)
    services.schedule_patient(patient)  # no allocation: not in the "coaching" arm
    assert not Assessment.objects.filter(patient=patient, time_point__key="6mo").exists()


@pytest.mark.parametrize(("codes", "message"), [
    ([], "at least one"),
    (["nope"], "Unknown questionnaires: nope"),
    (["peg", "peg"], "listed twice"),
    (["phq9", "phq8"], "PHQ-9 or PHQ-8"),
    (["pam"], "licensed scorer"),
])
def test_time_point_refuses_bad_instrument_lists(world: Any, codes: list[str],
                                                 message: str) -> None:
    point = TimePoint(program=world.program_a, key="x", label="X", day=30, instruments=codes)
    with pytest.raises(ValidationError, match=message):
        services.time_point_save(time_point=point, by=world.admin)
    assert not TimePoint.objects.filter(key="x").exists()


def test_overdue_questionnaire_raises_an_alert_that_clears_itself(world: Any) -> None:
    patient = _enrolled(world, days_ago=40)  # baseline window (21 days) closed 19 days ago
    services.schedule_patient(patient)
    scan()
    alert = Alert.objects.get(kind=AlertKind.ASSESSMENT_OVERDUE, patient=patient)
    assert alert.status == AlertStatus.OPEN and "questionnaire" in alert.summary
    scan()  # raised once per cause
    assert Alert.objects.filter(kind=AlertKind.ASSESSMENT_OVERDUE, patient=patient).count() == 1
    for row in Assessment.objects.filter(patient=patient, time_point__key="baseline"):
        services.mark_missed(assessment=row, by=world.coordinator,
                             reason="No answer to three calls")
    scan()
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED


def test_overdue_threshold_is_a_program_setting(world: Any) -> None:
    patient = _enrolled(world, days_ago=40)
    services.schedule_patient(patient)
    world.program_a.alert_settings = {"assessment_days": 30}
    world.program_a.save()
    scan()
    assert not Alert.objects.filter(kind=AlertKind.ASSESSMENT_OVERDUE).exists()


def test_mark_missed_needs_a_reason_and_an_open_questionnaire(world: Any) -> None:
    patient = _enrolled(world)
    services.schedule_patient(patient)
    row = Assessment.objects.filter(patient=patient).first()
    with pytest.raises(ValidationError, match="why"):
        services.mark_missed(assessment=row, by=world.coordinator, reason=" ")
    services.mark_missed(assessment=row, by=world.coordinator, reason="Declined")
    with pytest.raises(ValidationError, match="still due"):
        services.mark_missed(assessment=row, by=world.coordinator, reason="Again")
