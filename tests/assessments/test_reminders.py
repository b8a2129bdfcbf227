"""Reminders when questionnaires open: once per time point, through a login or the
patient's record, never with health information, and not for those who opted out."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.utils import timezone

from peercoach.assessments import services
from peercoach.assessments.reminders import questionnaire_reminders_send
from peercoach.notifications.models import Notification, PatientPreference


def _enrolled(patient: Any, days_ago: int = 0) -> Any:
    patient.enrolled_on = timezone.localdate() - dt.timedelta(days=days_ago)
    patient.save()
    services.schedule_patient(patient)
    return patient


def test_a_patient_who_signs_in_is_reminded_once_per_time_point(world: Any) -> None:
    world.patient_user.email = "patient@example.org"
    world.patient_user.save()
    patient = _enrolled(world.patient)
    assert questionnaire_reminders_send() == 1  # baseline's three questionnaires: one message
    assert questionnaire_reminders_send() == 0
    row = Notification.objects.get(recipient=world.patient_user)
    assert "questions" in row.body.lower()
    for word in ("PEG", "PHQ", "depress", "pain score", patient.first_name):
        assert word.lower() not in (row.body + row.subject).lower()


def test_a_patient_without_a_login_hears_the_program_will_call(world: Any) -> None:
    patient = _enrolled(world.other_patient)
    assert patient.user_id is None
    assert questionnaire_reminders_send() == 1
    row = Notification.objects.get(patient=patient)
    assert row.channel == "sms" and row.address == patient.phone
    assert "call" in row.body and "http" not in row.body  # no link kept in the outbox


def test_no_reminder_before_the_window_opens_or_after_opting_out(world: Any) -> None:
    patient = world.other_patient
    patient.enrolled_on = timezone.localdate() - dt.timedelta(days=40)
    patient.save()
    services.schedule_patient(patient)
    # Baseline closed long ago (overdue: staff are alerted instead); 4 months not open yet.
    assert questionnaire_reminders_send() == 0
    _enrolled(world.patient)
    PatientPreference.objects.create(patient=world.patient, reminders_enabled=False)
    assert questionnaire_reminders_send() == 0
    assert not Notification.objects.exists()
