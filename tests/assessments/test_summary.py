"""The clinician summary: one printable page and a PDF with the same facts."""

from __future__ import annotations

import datetime as dt
import zlib
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from peercoach.assessments import summary
from peercoach.coaching.models import Contact, Goal, PlannedContact
from peercoach.coaching.plans import plan_for_pair
from peercoach.core.models import AuditEvent, Role
from peercoach.matching.models import Match
from peercoach.supervision.models import SafetyEvent

from ..factories import staff, submitted_assessment, time_point


@pytest.fixture
def history(world: Any) -> Any:
    """The world's patient: enrolled, a plan, contacts, goals, questionnaires and events."""
    patient = world.patient
    patient.enrolled_on = dt.date(2026, 2, 1)
    patient.save(update_fields=["enrolled_on"])
    world.coach.first_name, world.coach.last_name = "Casey", "Coachman"
    world.coach.save(update_fields=["first_name", "last_name"])
    plan = plan_for_pair(patient=patient, started_on=dt.date(2026, 2, 1), by=world.coordinator)
    match = Match.objects.get(patient=patient, ended_on__isnull=True)
    contacts = [Contact.objects.create(
        patient=patient, coach=world.coach, match=match, mode="phone", outcome=outcome,
        occurred_at=timezone.now() - dt.timedelta(days=30 - i), logged_by=world.coach_user)
        for i, outcome in enumerate(["reached", "no_answer", "reached", "reached"])]
    for planned, contact in zip(plan.planned.order_by("number")[:2], contacts[::2],
                                strict=True):
        PlannedContact.objects.filter(pk=planned.pk).update(status="done", contact=contact)
    goal = {"section": "activity-pacing", "what": "w", "how_much": "h", "when": "w",
            "how_often": "o", "confidence": 7, "created_by": world.coach_user}
    Goal.objects.create(patient=patient, text="Walk to the mailbox", status="revised", **goal)
    Goal.objects.create(patient=patient, text="Walk around the block daily",
                        status="achieved", **goal)
    Goal.objects.create(patient=patient, text="Stretch before bed", **goal)
    base, four = time_point(world.program_a, "baseline", 0), time_point(world.program_a,
                                                                         "4mo", 120)
    submitted_assessment(patient, "peg", 7.0, point=base,
                         at=dt.datetime(2026, 1, 30, 15, tzinfo=dt.UTC))
    submitted_assessment(patient, "peg", 16 / 3, point=four,
                         at=dt.datetime(2026, 6, 1, 15, tzinfo=dt.UTC))
    submitted_assessment(patient, "phq9", 12, point=base, band="Moderate",
                         at=dt.datetime(2026, 1, 30, 15, tzinfo=dt.UTC))
    submitted_assessment(patient, "phq9", 11, point=four, band="Moderate",
                         at=dt.datetime(2026, 6, 1, 15, tzinfo=dt.UTC))
    handler = staff(Role.SUPERVISOR, world.site_a, first_name="Sam", last_name="Rivera")
    now = timezone.now()
    event = {"patient": patient, "site": world.site_a, "raised_by": world.coach_user}
    SafetyEvent.objects.create(source="contact", summary="Said they feel hopeless",
                               raised_at=now - dt.timedelta(days=2), status="acknowledged",
                               acknowledged_by=handler, acknowledged_at=now, **event)
    SafetyEvent.objects.create(source="assessment", summary="PHQ-9 question 9 above 0",
                               raised_at=now - dt.timedelta(hours=1), **event)
    SafetyEvent.objects.create(source="note", summary="Old worry, dealt with", status="closed",
                               follow_up="Called; safe", raised_at=now - dt.timedelta(days=9),
                               **event)
    return world


def _get(user: Any, name: str, patient: Any) -> Any:
    client = Client()
    client.force_login(user)
    return client.get(reverse(f"assessments:{name}", args=[patient.pk]))


def test_summary_facts(history: Any) -> None:
    w = history
    found = summary.build(w.patient)
    assert found.identified is False  # not fetched through the policy: no identity
    assert found.coach_first_name == w.coach.first_name
    due = PlannedContact.objects.filter(plan__patient=w.patient,
                                        due_on__lte=timezone.localdate()).count()
    assert (found.planned, found.planned_done, found.planned_due) == (8, 2, due)
    assert (found.contacts_reached, found.contact_attempts) == (3, 4)
    assert found.contacts_sentence.startswith("2 of 8 planned contacts completed")
    assert found.goals == [("Walk around the block daily", "Achieved"),
                           ("Stretch before bed", "Active")]
    peg, phq = found.outcomes
    assert (peg.name, peg.baseline, round(peg.latest or 0, 2), peg.important) == (
        "PEG", 7.0, 5.33, True)
    assert (phq.name, phq.baseline, phq.latest, phq.important) == ("PHQ-9", 12, 11, False)
    assert phq.baseline_band == "Moderate" and phq.baseline_when.startswith("Baseline, Jan 30")
    assert [e.summary for e in found.safety] == ["Said they feel hopeless",
                                                 "PHQ-9 question 9 above 0"]


def test_html_page_for_the_referring_clinician(history: Any) -> None:
    w = history
    response = _get(w.clinician, "summary", w.patient)
    assert response.status_code == 200
    body = response.content.decode()
    assert w.patient.display_name in body and "May 17, 1960" in body
    assert w.patient.study_id in body
    assert w.coach.first_name in body and w.coach.last_name not in body
    assert "2 of 8 planned contacts completed" in body
    assert "Walk around the block daily" in body and "Achieved" in body
    assert "Walk to the mailbox" not in body  # revised: replaced by a newer goal
    assert "Improvement: a fall of at least 1 point" in body
    # Open events, and who handles them; the closed one is not shown.
    assert "Said they feel hopeless" in body
    assert "Sam Rivera, who acknowledged it" in body
    assert "PHQ-9 question 9 above 0" in body
    assert "Not acknowledged yet; the site&#x27;s supervisors have been alerted" in body
    assert "Old worry" not in body
    assert "988" in body and "838255" in body
    assert "not a medical device" in body and "Generated" in body
    assert "@media print" in body


def test_pdf(history: Any) -> None:
    w = history
    response = _get(w.coordinator, "summary_pdf", w.patient)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == (
        f'attachment; filename="summary-{w.patient.study_id}.pdf"')
    pdf = response.content
    assert pdf.startswith(b"%PDF")
    assert w.patient.study_id.encode() in pdf
    # One page: the PDF's page objects, not counting the page tree.
    assert pdf.count(b"/Type /Page") - pdf.count(b"/Type /Pages") == 1


def test_pdf_prints_names_outside_latin1(history: Any) -> None:
    w = history
    w.patient.first_name, w.patient.last_name = "Nguy\u1ec5n", "\u0141ukasz"
    w.patient.save(update_fields=["first_name", "last_name"])
    from peercoach.assessments.summary_pdf import summary_pdf

    found = summary.build(w.patient)
    found.identified, found.name = True, w.patient.display_name
    pdf = summary_pdf(found)
    assert pdf.startswith(b"%PDF") and b"DejaVu" in pdf
    # A font subset with the glyphs, not question marks, in the page stream.
    assert all(b"Nguy?n" not in zlib.decompress(chunk) for chunk in _streams(pdf))


def _streams(pdf: bytes) -> list[bytes]:
    out = []
    for part in pdf.split(b"stream\n")[1:]:
        body = part.split(b"\nendstream")[0]
        try:
            zlib.decompress(body)
        except zlib.error:
            continue
        out.append(body)
    return out


def test_views_are_audited_as_view_and_export(history: Any) -> None:
    w = history
    _get(w.clinician, "summary", w.patient)
    _get(w.clinician, "summary_pdf", w.patient)
    assert list(AuditEvent.objects.filter(actor=w.clinician, subject_id=str(w.patient.pk))
                .order_by("id").values_list("action", flat=True)) == ["view", "export"]


@pytest.mark.parametrize(("role", "attr", "status"), [
    ("clinician", "patient", 200),
    ("clinician", "other_patient", 404),  # not referred by them
    ("coordinator", "patient", 200),
    ("supervisor", "patient", 200),
    ("site_admin", "patient", 200),
    ("coordinator", "patient_b", 404),
    ("coach", "patient", 403),
    ("patient", "patient", 403),
    ("researcher", "patient", 403),
])
def test_who_may_read_the_summary(world: Any, role: str, attr: str, status: int) -> None:
    user = world.users()[role]
    for name in ("summary", "summary_pdf"):
        assert _get(user, name, getattr(world, attr)).status_code == status


def test_summary_without_plan_goals_or_questionnaires(world: Any) -> None:
    response = _get(world.coordinator, "summary", world.other_patient)
    body = response.content.decode()
    assert "No contact plan yet" in body and "No goals set yet" in body
    assert "No questionnaires sent in yet" in body and "None open" in body
    assert _get(world.coordinator, "summary_pdf", world.other_patient).content[:4] == b"%PDF"
