"""Reminders for patients without a login: through the phone or e-mail on their record."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from peercoach.coaching.models import PlannedContact
from peercoach.coaching.plans import plan_for_pair
from peercoach.core.models import AuditEvent
from peercoach.notifications import services
from peercoach.notifications.models import Notification, PatientPreference, Status
from peercoach.people.models import Patient

NY = ZoneInfo("America/New_York")


@pytest.fixture
def planned(world: Any) -> Any:
    """The second planned contact of `other_patient` (site A, no login, paired)."""
    assert world.other_patient.user_id is None
    world.other_coach_user.email = "othercoach@example.org"
    world.other_coach_user.save()
    plan_for_pair(patient=world.other_patient, started_on=dt.date(2026, 3, 2),
                  by=world.coordinator)
    return PlannedContact.objects.filter(plan__patient=world.other_patient).order_by(
        "number")[1]


def _due(planned: Any) -> dt.datetime:
    return dt.datetime.combine(planned.due_on, dt.time(9), tzinfo=NY)


def _patient_rows(world: Any) -> list[Notification]:
    return list(Notification.objects.filter(patient=world.other_patient))


def _set(patient: Any, **fields: Any) -> None:
    Patient.objects.filter(pk=patient.pk).update(**fields)
    patient.refresh_from_db()


def test_a_patient_without_a_login_gets_one_text_message(
        world: Any, planned: Any, sms_outbox: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    due = _due(planned)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reminders_send(now=due - dt.timedelta(hours=30)) == 0
        services.reminders_send(now=due - dt.timedelta(hours=20))
        # Two more scans, 15 minutes apart: nothing new.
        services.reminders_send(now=due - dt.timedelta(hours=19, minutes=45))
        services.reminders_send(now=due - dt.timedelta(hours=19, minutes=30))
    [row] = _patient_rows(world)
    assert row.recipient is None and row.channel == "sms"
    assert row.address == world.other_patient.phone and row.site == world.site_a
    assert row.status == Status.SENT and row.attempts == 1
    assert row.idempotency_key == (f"reminder:patient:{planned.pk}:{planned.due_on}:"
                                   f"patient{world.other_patient.pk}")
    [text] = [m for m in sms_outbox if m["to"] == world.other_patient.phone]
    assert text["body"] == "PeerCoach: your coach plans to be in touch tomorrow."
    for secret in (world.other_patient.first_name, world.other_patient.last_name,
                   world.other_coach.last_name, "pain"):
        assert secret not in text["body"]


def test_e_mail_when_there_is_no_mobile_number(world: Any, planned: Any, sms_outbox: Any,
                                               django_capture_on_commit_callbacks: Any
                                               ) -> None:
    _set(world.other_patient, phone="+18005551212")  # toll-free: no texts
    with django_capture_on_commit_callbacks(execute=True):
        services.reminders_send(now=_due(planned) - dt.timedelta(hours=20))
    [row] = _patient_rows(world)
    assert row.channel == "email" and row.status == Status.SENT
    assert [m.to for m in mail.outbox if m.to == [world.other_patient.email]]
    assert not [m for m in sms_outbox if m["to"] == "+18005551212"]


def test_no_phone_and_no_e_mail_sends_nothing_and_says_why(
        world: Any, planned: Any, sms_outbox: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    _set(world.other_patient, phone="", email="")
    due = _due(planned)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.reminders_send(now=due - dt.timedelta(hours=20)) == 1  # the coach
        services.reminders_send(now=due - dt.timedelta(hours=19))
    [row] = _patient_rows(world)
    assert row.status == Status.NOT_SENT and row.channel == "" and row.address == ""
    assert "no mobile phone number" in row.last_error and "no e-mail address" in row.last_error
    assert row.attempts == 0 and not sms_outbox
    # Staff see why: on the failed-deliveries page and on the patient's reminder page.
    client = Client()
    client.force_login(world.coordinator)
    failed = client.get(reverse("notifications:failed")).content.decode()
    assert "Not sent" in failed and "no mobile phone number" in failed
    assert world.other_patient.display_name in failed
    page = client.get(reverse("notifications:patient_reminders",
                              args=[world.other_patient.pk])).content.decode()
    assert "no mobile phone number" in page and "Not sent" in page
    # Retry is not the way out: a phone number on the record is, and then it goes once.
    assert client.post(reverse("notifications:retry", args=[row.pk]),
                       follow=True).content.decode().count("could not be sent at all") == 1
    _set(world.other_patient, phone="+13175550177")
    with django_capture_on_commit_callbacks(execute=True):
        services.reminders_send(now=due - dt.timedelta(hours=18))
        services.reminders_send(now=due - dt.timedelta(hours=17))
    [row] = _patient_rows(world)
    assert row.status == Status.SENT and row.channel == "sms" and row.last_error == ""
    assert [m["to"] for m in sms_outbox] == ["+13175550177"]


def test_an_opted_out_patient_gets_no_reminder(world: Any, planned: Any, sms_outbox: Any,
                                               django_capture_on_commit_callbacks: Any
                                               ) -> None:
    services.patient_preference_update(patient=world.other_patient, by=world.coordinator,
                                       reminders_enabled=False, channel="auto",
                                       quiet_start=None, quiet_end=None)
    assert AuditEvent.objects.filter(target_type="patientpreference",
                                     subject_id=str(world.other_patient.pk)).exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.reminders_send(now=_due(planned) - dt.timedelta(hours=20))
    assert _patient_rows(world) == [] and not sms_outbox
    # The coach is still reminded to call.
    assert Notification.objects.filter(template_key="coach_contact_due").count() == 1


def test_opting_out_stops_reminders_for_a_patient_with_a_login_too(
        world: Any, django_capture_on_commit_callbacks: Any) -> None:
    plan_for_pair(patient=world.patient, started_on=dt.date(2026, 3, 2), by=world.coordinator)
    contact = PlannedContact.objects.filter(plan__patient=world.patient).order_by("number")[1]
    world.patient_user.email = "patient@example.org"
    world.patient_user.save()
    services.patient_preference_update(patient=world.patient, by=world.coordinator,
                                       reminders_enabled=False, channel="auto",
                                       quiet_start=None, quiet_end=None)
    with django_capture_on_commit_callbacks(execute=True):
        services.reminders_send(now=_due(contact) - dt.timedelta(hours=20))
    assert not Notification.objects.filter(template_key="patient_contact_planned").exists()


def test_quiet_hours_hold_a_reminder_until_morning(world: Any, planned: Any, sms_outbox: Any,
                                                   django_capture_on_commit_callbacks: Any
                                                   ) -> None:
    # 21:30 the evening before, inside the default quiet hours (20:00 to 09:00, site time).
    evening = dt.datetime.combine(planned.due_on - dt.timedelta(days=1), dt.time(21, 30),
                                  tzinfo=NY)
    with django_capture_on_commit_callbacks(execute=True):
        services.reminders_send(now=evening)
    [row] = _patient_rows(world)
    assert row.status == Status.QUEUED and not sms_outbox
    assert row.due_at == dt.datetime.combine(planned.due_on, dt.time(9), tzinfo=NY)
    assert row.body.endswith("in touch today.")  # worded for the morning it goes out
    assert services.notifications_sweep(now=evening + dt.timedelta(hours=2)) == 0
    assert services.notifications_sweep(now=row.due_at + dt.timedelta(minutes=1)) == 1
    row.refresh_from_db()
    assert row.status == Status.SENT and len(sms_outbox) == 1


def test_a_patients_own_quiet_hours_replace_the_default(
        world: Any, planned: Any, sms_outbox: Any,
        django_capture_on_commit_callbacks: Any) -> None:
    services.patient_preference_update(patient=world.other_patient, by=world.coordinator,
                                       reminders_enabled=True, channel="sms",
                                       quiet_start=dt.time(12), quiet_end=dt.time(14))
    evening = dt.datetime.combine(planned.due_on - dt.timedelta(days=1), dt.time(21, 30),
                                  tzinfo=NY)
    with django_capture_on_commit_callbacks(execute=True):
        services.reminders_send(now=evening)
    [row] = _patient_rows(world)
    assert row.status == Status.SENT and row.body.endswith("tomorrow.")


def test_quiet_hours_follow_the_sites_time_zone(world: Any, planned: Any,
                                                django_capture_on_commit_callbacks: Any
                                                ) -> None:
    world.site_a.timezone = "America/Los_Angeles"
    world.site_a.save()
    # 18:30 in Los Angeles is 21:30 in New York: not quiet at the site.
    moment = dt.datetime.combine(planned.due_on - dt.timedelta(days=1), dt.time(18, 30),
                                 tzinfo=ZoneInfo("America/Los_Angeles"))
    with django_capture_on_commit_callbacks(execute=True):
        services.reminders_send(now=moment)
    [row] = _patient_rows(world)
    assert row.status == Status.SENT


@pytest.mark.parametrize(("phone", "expected"), [
    ("+13175550101", "+13175550101"),
    ("(317) 555-0101", "+13175550101"),
    ("+18005551212", ""),  # toll-free
    ("+442079460000", ""),  # a UK landline
    ("555-0101", ""),
    ("", ""),
])
def test_sms_number(phone: str, expected: str) -> None:
    assert services.sms_number(phone) == expected


def test_route_follows_the_channel_chosen(world: Any) -> None:
    patient = world.other_patient
    pref = PatientPreference(patient=patient, channel="email")
    assert services.patient_route(patient, pref).channel == "email"
    _set(patient, email="")
    route = services.patient_route(patient, pref)
    assert not route.reachable and "e-mail only was chosen" in route.reason
    assert services.patient_route(patient).channel == "sms"


def test_staff_keep_a_patients_reminder_settings(world: Any,
                                                 django_assert_num_queries: Any) -> None:
    url = reverse("notifications:patient_reminders", args=[world.other_patient.pk])
    client = Client()
    client.force_login(world.coordinator)
    page = client.get(url)
    assert page.status_code == 200 and "By text message to" in page.content.decode()
    response = client.post(url, {"channel": "email", "quiet_start": "19:00",
                                 "quiet_end": "10:00"})
    assert response.status_code == 302
    pref = PatientPreference.objects.get(patient=world.other_patient)
    assert not pref.reminders_enabled  # the box was not ticked
    assert pref.channel == "email" and pref.quiet_start == dt.time(19)
    assert pref.updated_by == world.coordinator
    half = client.post(url, {"reminders_enabled": "on", "channel": "auto",
                             "quiet_start": "19:00"})
    assert half.status_code == 200 and "quiet hours" in half.content.decode()
    assert "No reminders" in client.get(url).content.decode()
    for n in (2, 6):
        for i in range(n):
            Notification.objects.create(
                patient=world.other_patient, site=world.site_a, channel="sms",
                address="+13175550101", template_key="patient_contact_planned", body="x",
                idempotency_key=f"page:{n}:{i}", due_at=dt.datetime(2026, 3, 2, tzinfo=NY))
        # session, user, roles x2 (actor), patient, preference, reminders; + nav
        with django_assert_num_queries(8):
            assert client.get(url).status_code == 200


@pytest.mark.parametrize("role", ["supervisor", "researcher", "clinician", "coach", "patient"])
def test_reminder_settings_need_patient_edit(world: Any, role: str) -> None:
    client = Client()
    client.force_login(world.users()[role])
    url = reverse("notifications:patient_reminders", args=[world.other_patient.pk])
    assert client.get(url).status_code == 403
    assert client.post(url, {"channel": "auto"}).status_code == 403
    assert not PatientPreference.objects.exists()


def test_reminder_settings_are_404_outside_the_users_sites(world: Any) -> None:
    client = Client()
    client.force_login(world.coordinator)
    url = reverse("notifications:patient_reminders", args=[world.patient_b.pk])
    assert client.get(url).status_code == 404
