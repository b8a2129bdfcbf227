"""The pain trajectory: questionnaires, check-ins and contacts in date order; who sees what."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from peercoach.assessments import scoring, trajectories
from peercoach.assessments.trajectories import PAIN, PEG, Source
from peercoach.coaching.models import Contact, PainCheckIn
from peercoach.core.models import AuditEvent
from peercoach.matching.models import Match

from ..factories import submitted_assessment, time_point

UTC = dt.UTC


def at(day: int, hour: int = 15) -> dt.datetime:
    return dt.datetime(2026, 2, 1, hour, tzinfo=UTC) + dt.timedelta(days=day)


def _history(world: Any) -> Any:
    """Baseline PEG 19/3, a check-in, a contact, a follow-up PEG 14/3, and a PHQ-9."""
    patient = world.patient
    patient.enrolled_on = dt.date(2026, 2, 1)
    patient.save(update_fields=["enrolled_on"])
    base = time_point(world.program_a, "baseline", 0)
    four = time_point(world.program_a, "4mo", 120)
    match = Match.objects.get(patient=patient, ended_on__isnull=True)
    # Saved out of order on purpose: the trajectory sorts by date.
    submitted_assessment(patient, "peg", 14 / 3, point=four, at=at(120))
    Contact.objects.create(patient=patient, coach=world.coach, match=match,
                           occurred_at=at(15), mode="phone", outcome="reached", pain_today=4,
                           logged_by=world.coach_user)
    Contact.objects.create(patient=patient, coach=world.coach, match=match,
                           occurred_at=at(20), mode="phone", outcome="no_answer",
                           logged_by=world.coach_user)  # no pain rating: not a point
    PainCheckIn.objects.create(patient=patient, at=at(10), pain=6, peg_pain=6,
                               peg_enjoyment=5, peg_activity=4)
    submitted_assessment(patient, "peg", 19 / 3, point=base, at=at(1))
    submitted_assessment(patient, "phq9", 12, point=base, at=at(1), band="Moderate")
    return patient


def _get(user: Any, name: str, patient: Any) -> Any:
    client = Client()
    client.force_login(user)
    return client.get(reverse(f"assessments:{name}", args=[patient.pk]))


def test_trajectory_combines_questionnaires_check_ins_and_contacts_in_date_order(
        world: Any) -> None:
    patient = _history(world)
    found = trajectories.build(patient, include_other=False, dated=True)
    assert [(p.measure, p.source, round(p.value, 2), p.day) for p in found.points] == [
        (PEG, Source.QUESTIONNAIRE, 6.33, 1),
        (PEG, Source.CHECK_IN, 5.0, 10),  # (6 + 5 + 4) / 3
        (PAIN, Source.CHECK_IN, 6.0, 10),
        (PAIN, Source.CONTACT, 4.0, 15),
        (PEG, Source.QUESTIONNAIRE, 4.67, 120),
    ]
    assert found.baseline is not None and found.baseline.detail == "Baseline"
    assert found.latest is not None and found.latest.day == 120
    assert found.change == scoring.change("peg", 19 / 3, 14 / 3)
    assert found.change.important_improvement
    assert found.threshold == pytest.approx(19 / 3 - 1, abs=1e-6)
    assert not found.others  # not asked for


def test_baseline_is_the_baseline_questionnaire_even_when_a_check_in_came_first(
        world: Any) -> None:
    patient = world.patient
    PainCheckIn.objects.create(patient=patient, at=at(0, 9), pain=8, peg_pain=8,
                               peg_enjoyment=8, peg_activity=8)
    submitted_assessment(patient, "peg", 6.0, point=time_point(world.program_a), at=at(2))
    found = trajectories.build(patient, include_other=False, dated=True)
    assert found.baseline is not None
    assert (found.baseline.source, found.baseline.value) == (Source.QUESTIONNAIRE, 6.0)


def test_without_a_questionnaire_the_first_check_in_is_the_baseline(world: Any) -> None:
    patient = world.patient
    for day, score in ((3, 7), (30, 5)):
        PainCheckIn.objects.create(patient=patient, at=at(day), pain=score, peg_pain=score,
                                   peg_enjoyment=score, peg_activity=score)
    found = trajectories.build(patient, include_other=False, dated=True)
    assert found.baseline is not None and found.baseline.source == Source.CHECK_IN
    assert found.change is not None and found.change.difference == -2
    assert "first pain check-in" in trajectories.baseline_words(found)


@pytest.mark.parametrize("baseline", [1.0, 10 / 3, 6.3, 10.0])
def test_the_shaded_threshold_follows_the_scoring_rule(baseline: float) -> None:
    threshold = trajectories.improvement_threshold("peg", baseline)
    assert threshold is not None
    assert scoring.change("peg", baseline, threshold).important_improvement
    assert not scoring.change("peg", baseline, min(10, threshold + 0.001)).important_improvement


def test_no_threshold_when_no_score_could_be_an_important_improvement() -> None:
    assert trajectories.improvement_threshold("peg", 0.5) is None


def test_plain_sentence_for_the_patient(world: Any) -> None:
    patient = _history(world)
    found = trajectories.build(patient, include_other=False, dated=True)
    assert trajectories.plain_summary(found) == (
        "Your PEG score went from 6.3 to 4.7 \u2014 a drop of 1.6 points, which counts as a "
        "real improvement.")


def test_coach_sees_pain_but_never_phq9(world: Any) -> None:
    patient = _history(world)
    response = _get(world.coach_user, "trajectory", patient)
    assert response.status_code == 200
    body = response.content.decode()
    assert "PEG" in body and "Pain today" in body
    assert "PHQ-9" not in body and "Moderate" not in body
    assert response.context["trajectory"].shows_others is False
    csv_body = _get(world.coach_user, "trajectory_csv", patient).content.decode()
    assert "PHQ" not in csv_body and "Pain today" in csv_body


def test_staff_with_assessment_view_see_other_questionnaires(world: Any) -> None:
    patient = _history(world)
    response = _get(world.coordinator, "trajectory", patient)
    body = response.content.decode()
    assert "Other questionnaires" in body and "PHQ-9" in body and "Moderate" in body
    rows = list(csv.DictReader(io.StringIO(
        _get(world.coordinator, "trajectory_csv", patient).content.decode())))
    assert {"date": "2026-02-02", "measure": "PHQ-9", "value": "12.00", "band": "Moderate",
            "source": "Questionnaire", "time_point": "Baseline"} in rows


def test_page_has_a_figure_with_caption_and_the_same_numbers_in_a_table(world: Any) -> None:
    patient = _history(world)
    body = _get(world.coordinator, "trajectory", patient).content.decode()
    assert "<figure" in body and "<figcaption" in body
    assert 'role="img"' in body and "<title id=" in body
    assert "<caption>The numbers in the chart" in body
    assert "Rule: Improvement: a fall of at least 1 point" in body
    assert "An important improvement." in body


def test_researcher_sees_days_not_dates_and_no_name(world: Any) -> None:
    patient = _history(world)
    response = _get(world.researcher, "trajectory", patient)
    body = response.content.decode()
    assert response.status_code == 200
    assert patient.study_id in body
    assert patient.last_name not in body and patient.first_name not in body
    assert "Feb 2, 2026" not in body and "Days since enrollment" in body
    rows = list(csv.DictReader(io.StringIO(
        _get(world.researcher, "trajectory_csv", patient).content.decode())))
    assert "date" not in rows[0] and rows[0]["day_since_enrollment"] == "1"


def test_views_and_exports_are_audited(world: Any) -> None:
    patient = _history(world)
    _get(world.coach_user, "trajectory", patient)
    _get(world.coach_user, "trajectory_csv", patient)
    _get(world.coach_user, "trajectory_svg", patient)
    events = list(AuditEvent.objects.filter(actor=world.coach_user, subject_id=str(patient.pk))
                  .order_by("id").values_list("action", "details"))
    assert [action for action, _ in events] == ["view", "export", "view"]
    assert events[1][1]["format"] == "csv"


def test_patient_sees_their_own_trajectory_in_plain_words(world: Any) -> None:
    _history(world)
    client = Client()
    client.force_login(world.patient_user)
    response = client.get(reverse("assessments:my_trajectory"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "Your pain scores over time" in body
    assert "a drop of 1.6 points, which counts as a real improvement" in body
    assert "PHQ" not in body


def test_my_trajectory_is_for_patients_only(world: Any) -> None:
    client = Client()
    client.force_login(world.coordinator)
    assert client.get(reverse("assessments:my_trajectory")).status_code == 403


def test_other_sites_and_other_coaches_patients_are_not_found(world: Any) -> None:
    assert _get(world.coach_user, "trajectory", world.other_patient).status_code == 404
    assert _get(world.coordinator, "trajectory", world.patient_b).status_code == 404
    assert _get(world.patient_user, "trajectory", world.other_patient).status_code == 404


def test_empty_trajectory_says_so(world: Any) -> None:
    response = _get(world.coordinator, "trajectory", world.other_patient)
    assert response.status_code == 200
    assert "No PEG scores or pain ratings yet" in response.content.decode()
