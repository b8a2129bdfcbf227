"""Staff pages: one patient's questionnaires, versions, corrections, missed, PAM scores,
time points and the instrument list, with who may open what."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from peercoach.assessments import services
from peercoach.assessments.licensed_text import parse_licensed_text, sample_file
from peercoach.assessments.models import Assessment, AssessmentStatus, ExternalScore, TimePoint
from peercoach.core.models import AuditEvent

from ..factories import answer_all, open_assessment, time_point

PEG = {1: 6, 2: 5, 3: 7}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def history(world: Any) -> dict[str, Any]:
    """Baseline done (then corrected), 4 months due, one overdue, one missed, a BPI."""
    base = time_point(world.program_a, "baseline", 0, ("peg", "phq9"))
    follow = time_point(world.program_a, "4mo", 120, ("peg", "phq9", "bpi_interference"))
    world.patient.enrolled_on = timezone.localdate() - dt.timedelta(days=118)
    world.patient.save()
    peg0 = answer_all(open_assessment(world.patient, "peg", point=base), PEG,
                      by=world.patient_user)
    services.correct(assessment=peg0, answers={1: 5, 2: 5, 3: 7}, by=world.coordinator,
                     mode="phone", reason="Pain was 5, not 6")
    phq0 = open_assessment(world.patient, "phq9", point=base, opened_days_ago=40)
    Assessment.objects.filter(pk=phq0.pk).update(closes_on=timezone.localdate()
                                                 - dt.timedelta(days=20))
    services.mark_missed(assessment=Assessment.objects.get(pk=phq0.pk), by=world.coordinator,
                         reason="No answer")
    peg4 = open_assessment(world.patient, "peg", point=follow)
    phq4 = open_assessment(world.patient, "phq9", point=follow, opened_days_ago=30)
    Assessment.objects.filter(pk=phq4.pk).update(closes_on=timezone.localdate()
                                                 - dt.timedelta(days=2))
    bpi = open_assessment(world.patient, "bpi_interference", point=follow)
    return {"peg0": peg0, "phq0": phq0, "peg4": peg4, "phq4": phq4, "bpi": bpi}


def test_the_patients_questionnaires_page(world: Any, history: dict[str, Any]) -> None:
    response = _client(world.coordinator).get(f"/assessments/patients/{world.patient.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert world.patient.display_name in body
    for label in ("Baseline", "4 months"):
        assert f"<h2>{label}</h2>" in body
    for status in ("done", "missed", "due", "overdue"):
        assert f'<span class="badge">{status}</span>' in body
    assert "6 (" not in body and "5.67" in body  # the corrected score, version 2
    assert f"/assessments/{history['peg4'].pk}/fill/" in body
    assert f"/assessments/{history['peg0'].pk}/correct/" in body
    assert "Cannot be given: BPI interference is licensed" in body
    assert f"/assessments/{history['bpi'].pk}/fill/" not in body
    assert AuditEvent.objects.filter(actor=world.coordinator, action="view",
                                     target_type="patient", details__page="assessments").exists()


def test_researchers_read_de_identified_and_cannot_change(world: Any,
                                                          history: dict[str, Any]) -> None:
    client = _client(world.researcher)
    body = client.get(f"/assessments/patients/{world.patient.pk}/").content.decode()
    assert world.patient.study_id in body
    assert world.patient.last_name not in body and world.patient.phone_display not in body
    assert "day 125" in body  # days since enrollment, not dates
    assert "/fill/" not in body and "/correct/" not in body and "Mark as missed" not in body
    detail = client.get(f"/assessments/{history['peg0'].pk}/").content.decode()
    assert "Version 2 (current)" in detail and "Pain was 5, not 6" in detail
    assert world.patient.last_name not in detail
    peg4, peg0 = history["peg4"], history["peg0"]
    assert client.get(f"/assessments/{peg4.pk}/fill/").status_code == 403
    assert client.post(f"/assessments/{peg4.pk}/fill/question/?mode=phone",
                       {"q": 1, "answer": 3}).status_code == 403
    assert client.get(f"/assessments/{peg0.pk}/correct/").status_code == 403
    assert Assessment.objects.get(pk=peg4.pk).draft == {}


def test_a_coach_cannot_open_answers_or_corrections(world: Any,
                                                    history: dict[str, Any]) -> None:
    client = _client(world.coach_user)  # the patient's own coach
    peg4, peg0 = history["peg4"], history["peg0"]
    for url in (f"/assessments/patients/{world.patient.pk}/", f"/assessments/{peg0.pk}/",
                f"/assessments/{peg4.pk}/fill/", f"/assessments/{peg4.pk}/fill/question/",
                f"/assessments/{peg0.pk}/correct/", f"/assessments/me/{peg4.pk}/"):
        assert client.get(url).status_code == 403, url
    assert client.post(f"/assessments/{peg0.pk}/correct/", {
        "item_1": "0", "mode": "phone", "reason": "x"}).status_code == 403
    assert Assessment.objects.get(pk=peg0.pk).version == 2


def test_a_clinician_reads_their_referred_patient_only(world: Any,
                                                       history: dict[str, Any]) -> None:
    client = _client(world.clinician)
    assert client.get(f"/assessments/patients/{world.patient.pk}/").status_code == 200
    assert client.get(f"/assessments/{history['peg0'].pk}/").status_code == 200
    other = open_assessment(world.other_patient)
    assert client.get(f"/assessments/patients/{world.other_patient.pk}/").status_code == 404
    assert client.get(f"/assessments/{other.pk}/").status_code == 404
    assert client.get(f"/assessments/{history['peg4'].pk}/fill/").status_code == 403


def test_staff_of_another_site_get_not_found(world: Any) -> None:
    theirs = open_assessment(world.patient_b)
    client = _client(world.coordinator)
    for url in (f"/assessments/patients/{world.patient_b.pk}/", f"/assessments/{theirs.pk}/",
                f"/assessments/{theirs.pk}/fill/", f"/assessments/{theirs.pk}/correct/"):
        assert client.get(url).status_code == 404, url


def test_versions_show_who_when_how_and_why(world: Any, history: dict[str, Any]) -> None:
    body = _client(world.supervisor).get(f"/assessments/{history['peg0'].pk}/").content.decode()
    assert "Version 2 (current)" in body and "Version 1" in body
    assert "Corrected by" in body and "With staff, on the phone" in body
    assert "Sent in by" in body and "By the patient, signed in" in body
    assert "Why: Pain was 5, not 6" in body
    assert AuditEvent.objects.filter(actor=world.supervisor, action="view",
                                     target_type="assessment").exists()


def test_correcting_on_one_form_needs_a_reason(world: Any, history: dict[str, Any]) -> None:
    peg0 = history["peg0"]
    client = _client(world.coordinator)
    url = f"/assessments/{peg0.pk}/correct/"
    form = client.get(url).content.decode()
    assert form.count("<select") == 3 and "Why are the answers being corrected?" in form
    refused = client.post(url, {"item_1": "4", "item_2": "5", "item_3": "7", "mode": "phone",
                                "reason": ""})
    assert refused.status_code == 200 and "This field is required" in refused.content.decode()
    assert Assessment.objects.get(pk=peg0.pk).version == 2
    saved = client.post(url, {"item_1": "4", "item_2": "5", "item_3": "7",
                              "mode": "in_person", "reason": "Re-checked at the clinic"})
    assert saved["Location"] == f"/assessments/{peg0.pk}/"
    peg0.refresh_from_db()
    assert peg0.version == 3 and peg0.total == pytest.approx(16 / 3)
    assert [v.answers["1"] for v in peg0.versions.order_by("number")] == [6, 5, 4]
    assert "Saved as version 3" in client.get(saved["Location"]).content.decode()


def test_only_a_submitted_questionnaire_is_corrected(world: Any,
                                                     history: dict[str, Any]) -> None:
    client = _client(world.coordinator)
    response = client.get(f"/assessments/{history['peg4'].pk}/correct/")
    assert response["Location"] == f"/assessments/{history['peg4'].pk}/"


def test_mark_missed_from_the_page(world: Any, history: dict[str, Any]) -> None:
    client = _client(world.coordinator)
    phq4 = history["phq4"]
    url = f"/assessments/{phq4.pk}/missed/"
    assert client.get(url).status_code == 405
    client.post(url, {"reason": ""})
    assert Assessment.objects.get(pk=phq4.pk).status != AssessmentStatus.MISSED
    response = client.post(url, {"reason": "Could not reach in the window"})
    assert response["Location"] == f"/assessments/patients/{world.patient.pk}/"
    assert Assessment.objects.get(pk=phq4.pk).status == AssessmentStatus.MISSED


def test_record_a_pam_score(world: Any, history: dict[str, Any]) -> None:
    client = _client(world.coordinator)
    url = f"/assessments/patients/{world.patient.pk}/pam/"
    assert "never holds its questions" in client.get(url).content.decode()
    bad = client.post(url, {"score": "140", "level": "3", "measured_on": "2026-03-01",
                            "source": "Vendor"})
    assert bad.status_code == 200 and not ExternalScore.objects.exists()
    point = TimePoint.objects.get(program=world.program_a, key="4mo")
    ok = client.post(url, {"score": "61.5", "level": "3", "measured_on": "2026-03-01",
                           "source": "Vendor portal", "time_point": str(point.pk)})
    assert ok.status_code == 302
    row = ExternalScore.objects.get()
    assert row.score == 61.5 and row.level == 3 and row.time_point == point
    page = client.get(ok["Location"]).content.decode()
    assert "score 61.5, level 3" in page


# --- Time points and instruments ---------------------------------------------------------------


def test_time_points_page_explains_phq8_and_saves(world: Any) -> None:
    client = _client(world.coordinator)
    url = f"/assessments/programs/{world.program_a.pk}/time-points/"
    page = client.get(url).content.decode()
    assert "PHQ-8 leaves out the question about self-harm thoughts" in page
    assert "licensed, text not loaded: cannot be given yet" in page
    assert "PAM" not in page.split("Add a time point", 1)[1]  # never scheduled
    made = client.post(url, {"action": "defaults"})
    assert made.status_code == 302
    assert list(TimePoint.objects.filter(program=world.program_a)
                .values_list("key", flat=True)) == ["baseline", "4mo"]
    both = client.post(url, {"key": "6mo", "label": "6 months", "day": "180",
                             "window_before_days": "14", "window_after_days": "14",
                             "instruments": ["phq9", "phq8"]})
    assert both.status_code == 200 and "Choose PHQ-9 or PHQ-8" in both.content.decode()
    added = client.post(url, {"key": "6mo", "label": "6 months", "day": "180",
                              "window_before_days": "14", "window_after_days": "21",
                              "instruments": ["peg", "phq8", "bpi_severity"]})
    assert added.status_code == 302
    point = TimePoint.objects.get(program=world.program_a, key="6mo")
    assert point.instruments == ["peg", "phq8", "bpi_severity"]
    listing = client.get(url).content.decode()
    assert "Cannot be given yet (licensed text not loaded): BPI severity" in listing
    duplicate = client.post(url, {"key": "6mo", "label": "Again", "day": "200",
                                  "window_before_days": "14", "window_after_days": "14",
                                  "instruments": ["peg"]})
    assert duplicate.status_code == 200
    edit = client.post(f"/assessments/time-points/{point.pk}/", {
        "key": "6mo", "label": "Six months", "day": "180", "window_before_days": "7",
        "window_after_days": "21", "instruments": ["peg", "phq8"]})
    assert edit.status_code == 302
    point.refresh_from_db()
    assert point.label == "Six months" and point.window_before_days == 7
    assert point.instruments == ["peg", "phq8"]  # kept in the order they were asked


def test_time_points_are_for_those_who_manage(world: Any) -> None:
    url = f"/assessments/programs/{world.program_a.pk}/time-points/"
    assert _client(world.supervisor).get(url).status_code == 403
    assert _client(world.researcher).get(url).status_code == 403
    other = f"/assessments/programs/{world.program_b.pk}/time-points/"
    assert _client(world.coordinator).get(other).status_code == 404


def test_instrument_list_shows_licences_and_why_not(world: Any) -> None:
    client = _client(world.researcher)
    page = client.get("/assessments/instruments/").content.decode()
    for name in ("PHQ-9", "PHQ-8", "GAD-7", "PEG", "PGIC", "BPI severity", "PROMIS PI 4a",
                 "PSEQ-10", "MOS-SSS", "PAM"):
        assert f"{name}:" in page, name
    assert "No permission required" in page  # the Pfizer copyright line
    assert "Krebs EE" in page  # the PEG's citation
    assert "No: BPI interference is licensed" in page
    assert "No: PAM is scored by its licensed vendor" in page
    licensed = parse_licensed_text(sample_file("bpi_interference"))
    services.instrument_text_load(licensed=licensed, by=world.admin)
    page = client.get("/assessments/instruments/").content.decode()
    assert "No: BPI interference is licensed" not in page
    assert "placeholder example text: not for real patients" in page


def test_patient_page_links_to_questionnaires_for_staff_only(world: Any) -> None:
    url = f"/people/patients/{world.patient.pk}/"
    link = f'href="/assessments/patients/{world.patient.pk}/"'
    assert link in _client(world.coordinator).get(url).content.decode()
    assert link in _client(world.researcher).get(url).content.decode()
    assert link not in _client(world.coach_user).get(url).content.decode()
    assert link not in _client(world.patient_user).get(url).content.decode()
