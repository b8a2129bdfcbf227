"""/api/v1/ for instruments, time points, assessments and response versions."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from peercoach.assessments import services
from peercoach.assessments.models import Assessment, ResponseVersion
from peercoach.supervision.models import SafetyEvent


def _client(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def scheduled(world: Any) -> Any:
    patient = world.patient
    patient.enrolled_on = timezone.localdate() - dt.timedelta(days=2)
    patient.save()
    services.schedule_patient(patient)
    return patient


def _baseline(patient: Any, code: str) -> Assessment:
    return Assessment.objects.get(patient=patient, time_point__key="baseline", instrument=code)


def test_instrument_list_says_what_can_be_given_here(world: Any) -> None:
    body = _client(world.coach_user).get("/api/v1/instruments/").json()
    by_code = {row["code"]: row for row in body}
    assert by_code["phq9"]["administrable"] is True
    assert by_code["phq9"]["loinc_panel"] == "44249-1"
    assert by_code["bpi_interference"]["administrable"] is False
    assert "load-instrument" in by_code["bpi_interference"]["not_administrable_because"]
    assert all(item["text"] is None for item in by_code["bpi_interference"]["items"])
    assert _client(world.coach_user).get("/api/v1/instruments/nope/").status_code == 404


def test_staff_answer_and_submit_on_the_phone(world: Any, scheduled: Any) -> None:
    peg = _baseline(scheduled, "peg")
    client = _client(world.coordinator)
    url = f"/api/v1/assessments/{peg.pk}/"
    saved = client.post(url + "answers/", {"answers": {"1": 6, "2": 5}, "mode": "phone"},
                        format="json")
    assert saved.status_code == 200 and saved.json()["status"] == "in_progress"
    client.post(url + "answers/", {"answers": {"3": 7}, "mode": "phone"}, format="json")
    sent = client.post(url + "submit/")
    assert sent.status_code == 200, sent.content
    assert sent.json()["total"] == pytest.approx(6.0) and sent.json()["mode"] == "phone"
    assert "crisis_steps" not in sent.json()
    assert client.post(url + "submit/").status_code == 400  # sent in already


def test_out_of_range_answer_is_refused_and_nothing_saved(world: Any, scheduled: Any) -> None:
    peg = _baseline(scheduled, "peg")
    response = _client(world.coordinator).post(
        f"/api/v1/assessments/{peg.pk}/answers/", {"answers": {"1": 11}, "mode": "phone"},
        format="json")
    assert response.status_code == 400
    assert "11" in str(response.json())
    peg.refresh_from_db()
    assert peg.draft == {} and peg.status == "due"


def test_staff_must_say_how_they_asked(world: Any, scheduled: Any) -> None:
    peg = _baseline(scheduled, "peg")
    response = _client(world.coordinator).post(
        f"/api/v1/assessments/{peg.pk}/answers/", {"answers": {"1": 3}}, format="json")
    assert response.status_code == 400 and "mode" in response.json()


def test_item9_through_the_api_raises_a_safety_event_and_returns_crisis_steps(
        world: Any, scheduled: Any) -> None:
    phq = _baseline(scheduled, "phq9")
    client = _client(world.supervisor)
    answers = {str(i): 0 for i in range(1, 9)} | {"9": 1}
    assert client.post(f"/api/v1/assessments/{phq.pk}/answers/",
                       {"answers": answers, "mode": "phone"}, format="json").status_code == 200
    sent = client.post(f"/api/v1/assessments/{phq.pk}/submit/").json()
    assert sent["mode"] == "phone" and sent["total"] == 1
    assert "item9_positive" in sent["flags"]
    assert sent["crisis_steps"]["text"] == "838255"
    event = SafetyEvent.objects.get(patient=scheduled)
    assert event.source == "assessment" and event.raised_by == world.supervisor


def test_readers_cannot_answer_and_coaches_cannot_read(world: Any, scheduled: Any) -> None:
    peg = _baseline(scheduled, "peg")
    services.answer_save(assessment=peg, answers={1: 1, 2: 1, 3: 1}, by=world.coordinator,
                         mode="phone")
    services.submit(assessment=peg, by=world.coordinator, mode="phone")
    for reader in (world.researcher, world.clinician, world.patient_user):
        refused = _client(reader).post(
            f"/api/v1/assessments/{peg.pk}/correct/",
            {"answers": {"1": 9, "2": 9, "3": 9}, "reason": "x", "mode": "phone"},
            format="json")
        assert refused.status_code == 403
    assert _client(world.clinician).get(f"/api/v1/assessments/{peg.pk}/").status_code == 200
    coach = _client(world.coach_user)  # a lay coach sees the trajectory, not the answers
    assert coach.get("/api/v1/assessments/").status_code == 403
    assert coach.get("/api/v1/assessment-responses/").status_code == 403
    peg.refresh_from_db()
    assert peg.version == 1


def test_correction_makes_a_new_version_and_keeps_the_old(world: Any, scheduled: Any) -> None:
    peg = _baseline(scheduled, "peg")
    services.answer_save(assessment=peg, answers={1: 1, 2: 1, 3: 1}, by=world.coordinator,
                         mode="phone")
    services.submit(assessment=peg, by=world.coordinator, mode="phone")
    client = _client(world.supervisor)
    missing_reason = client.post(f"/api/v1/assessments/{peg.pk}/correct/",
                                 {"answers": {"1": 4, "2": 1, "3": 1}, "mode": "phone"},
                                 format="json")
    assert missing_reason.status_code == 400
    done = client.post(f"/api/v1/assessments/{peg.pk}/correct/",
                       {"answers": {"1": 4, "2": 1, "3": 1}, "mode": "phone",
                        "reason": "Misheard the first answer"}, format="json")
    assert done.status_code == 200 and done.json()["number"] == 2
    versions = client.get(f"/api/v1/assessment-responses/?assessment={peg.pk}").json()
    assert [v["total"] for v in versions["results"]] == [1.0, 2.0]
    assert ResponseVersion.objects.filter(assessment=peg).count() == 2


def test_other_sites_are_out_of_reach(world: Any, scheduled: Any) -> None:
    from peercoach.core.models import Role

    from ..factories import staff

    peg = _baseline(scheduled, "peg")
    outsider = staff(Role.COORDINATOR, world.site_b)
    client = _client(outsider)
    assert client.get(f"/api/v1/assessments/{peg.pk}/").status_code == 404
    assert client.post(f"/api/v1/assessments/{peg.pk}/answers/",
                       {"answers": {"1": 1}, "mode": "phone"}, format="json").status_code == 404


def test_time_points_are_read_by_program_staff_and_managed_by_coordinators(
        world: Any) -> None:
    services.ensure_time_points(world.program_a)
    coordinator = _client(world.coordinator)
    listed = coordinator.get(f"/api/v1/time-points/?program={world.program_a.pk}").json()
    assert [p["key"] for p in listed["results"]] == ["baseline", "4mo"]
    bad = coordinator.post("/api/v1/time-points/", {
        "program": world.program_a.pk, "key": "6mo", "label": "6 months", "day": 180,
        "instruments": ["phq9", "phq8"]}, format="json")
    assert bad.status_code == 400 and "PHQ-8" in str(bad.json())
    made = coordinator.post("/api/v1/time-points/", {
        "program": world.program_a.pk, "key": "6mo", "label": "6 months", "day": 180,
        "instruments": ["peg", "phq8"]}, format="json")
    assert made.status_code == 201, made.content
    other = coordinator.post("/api/v1/time-points/", {
        "program": world.program_b.pk, "key": "6mo", "label": "6 months", "day": 180,
        "instruments": ["peg"]}, format="json")
    assert other.status_code == 400
    supervisor = _client(world.supervisor)
    assert supervisor.post("/api/v1/time-points/", {
        "program": world.program_a.pk, "key": "9mo", "label": "9 months", "day": 270,
        "instruments": ["peg"]}, format="json").status_code == 403


def test_instrument_list_reads_the_site_texts_in_one_query(world: Any) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from peercoach.assessments.licensed_text import parse_licensed_text, sample_file

    client = _client(world.coordinator)
    with CaptureQueriesContext(connection) as before:
        assert client.get("/api/v1/instruments/").status_code == 200
    for code in ("bpi_interference", "bpi_severity"):
        services.instrument_text_load(
            licensed=parse_licensed_text(sample_file(code)), by=world.admin)
    with CaptureQueriesContext(connection) as after:
        body = client.get("/api/v1/instruments/").json()
    assert len(after) == len(before)
    loaded = {row["code"]: row for row in body}["bpi_interference"]
    assert loaded["administrable"] is True and loaded["items"][0]["text"]


def test_delivery_log_shows_status_not_text(world: Any) -> None:
    from peercoach.notifications.models import Notification

    for site, status in ((world.site_a, "failed"), (world.site_a, "sent"),
                         (world.site_b, "failed")):
        Notification.objects.create(
            recipient=world.coach_user, site=site, channel="email", address="c@example.org",
            template_key="coach_contact_due", body="secret text", status=status,
            idempotency_key=f"k:{site.pk}:{status}", due_at=timezone.now())
    client = _client(world.supervisor)
    rows = client.get("/api/v1/deliveries/?status=failed").json()["results"]
    assert [r["site"] for r in rows] == [world.site_a.pk]
    assert "body" not in rows[0] and "address" not in rows[0]
    assert client.get("/api/v1/deliveries/?status=nope").status_code == 400
    assert _client(world.coach_user).get("/api/v1/deliveries/").status_code == 403
