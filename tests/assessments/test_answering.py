"""Answering one question per screen: the patient signed in, and staff with the patient on
the phone. Plain forms and redirects, as a browser without JavaScript would use them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from peercoach.assessments import services
from peercoach.assessments.models import Assessment, AssessmentStatus
from peercoach.core.models import AuditEvent

from ..factories import open_assessment, time_point


@pytest.fixture
def four_months(world: Any) -> Any:
    """The 4-month PEG and PHQ-9 of the world's patient, in the order they are asked."""
    point = time_point(world.program_a, "4mo", 120, ("peg", "phq9"))
    return (open_assessment(world.patient, "peg", point=point),
            open_assessment(world.patient, "phq9", point=point))


@pytest.fixture
def patient_client(world: Any) -> Client:
    client = Client()
    client.force_login(world.patient_user)
    return client


def _post(client: Client, url: str, q: int, answer: int | None = None,
          action: str = "next", **extra: str) -> Any:
    data = {"q": str(q), "action": action, **extra}
    if answer is not None:
        data["answer"] = str(answer)
    return client.post(url, data)


def test_home_page_puts_due_questionnaires_first(world: Any, four_months: Any,
                                                 patient_client: Client) -> None:
    peg, _ = four_months
    open_assessment(world.other_patient, "gad7")  # someone else's: never shown
    later = open_assessment(world.patient, "gad7", opened_days_ago=-3)  # opens in 3 days
    body = patient_client.get("/").content.decode()
    block = body.index("Questionnaires to fill in")
    assert block < body.index("My coach")
    assert f'href="/assessments/me/{peg.pk}/"' in body
    assert "2 questionnaires are" in body
    listing = patient_client.get("/assessments/me/").content.decode()
    assert "Pain, Enjoyment of life and General activity scale" in listing
    assert "Patient Health Questionnaire-9" in listing
    assert "Generalized Anxiety" not in listing
    assert patient_client.get(f"/assessments/me/{later.pk}/").status_code == 404


def test_one_question_per_screen_with_labels(four_months: Any, patient_client: Client) -> None:
    _, phq9 = four_months
    response = patient_client.get(f"/assessments/me/{phq9.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "Question 1 of 10" in body
    assert "Over the last 2 weeks" in body
    assert "<legend>Little interest or pleasure in doing things</legend>" in body
    assert body.count('type="radio"') == 4
    assert '<label class="q-option" for="id_answer_0">' in body
    assert "Not at all" in body and "Nearly every day" in body
    for button in ("Next", "Back", "Save and finish later"):
        assert f">{button}<" in body
    assert "Need help now?" in body and "838255" in body


def test_answers_are_saved_at_once_and_resume_at_the_first_unanswered(
        four_months: Any, patient_client: Client) -> None:
    _, phq9 = four_months
    url = f"/assessments/me/{phq9.pk}/"
    response = _post(patient_client, url, 1, 1)
    assert response.status_code == 302 and response["Location"] == f"{url}?q=2"
    assert services.draft_answers(Assessment.objects.get(pk=phq9.pk)) == {1: 1}
    _post(patient_client, url, 2, 0)
    later = _post(patient_client, url, 3, 2, action="later")
    assert later["Location"] == "/assessments/me/"
    assert "Your answers are saved" in patient_client.get("/assessments/me/").content.decode()
    phq9.refresh_from_db()
    assert phq9.status == AssessmentStatus.IN_PROGRESS
    assert services.draft_answers(phq9) == {1: 1, 2: 0, 3: 2}
    # Coming back (a new visit): the first question not answered.
    resumed = patient_client.get(url).content.decode()
    assert "Question 4 of 10" in resumed


def test_next_without_an_answer_asks_for_one(four_months: Any, patient_client: Client) -> None:
    peg, _ = four_months
    response = _post(patient_client, f"/assessments/me/{peg.pk}/", 1)
    assert response.status_code == 200
    assert "Choose an answer" in response.content.decode()
    skipped = _post(patient_client, f"/assessments/me/{peg.pk}/", 1, action="skip")
    assert skipped["Location"].endswith("?q=2")


def test_back_goes_to_the_previous_question_with_its_answer(four_months: Any,
                                                            patient_client: Client) -> None:
    peg, _ = four_months
    url = f"/assessments/me/{peg.pk}/"
    _post(patient_client, url, 1, 7)
    back = _post(patient_client, url, 2, 4, action="back")
    assert back["Location"] == f"{url}?q=1"
    body = patient_client.get(back["Location"]).content.decode()
    assert 'value="7" id="id_answer_7" checked' in body or 'value="7" checked' in body
    assert services.draft_answers(Assessment.objects.get(pk=peg.pk)) == {1: 7, 2: 4}
    first = _post(patient_client, url, 1, 7, action="back")
    assert first["Location"] == "/assessments/me/"


def test_review_change_and_submit(four_months: Any, patient_client: Client,
                                  world: Any) -> None:
    peg, phq9 = four_months
    url = f"/assessments/me/{peg.pk}/"
    for q, value in ((1, 6), (2, 5)):
        _post(patient_client, url, q, value)
    last = _post(patient_client, url, 3, 7)
    assert last["Location"] == f"/assessments/me/{peg.pk}/review/"
    review = patient_client.get(last["Location"]).content.decode()
    assert "Check your answers" in review and "Your answer: <strong>6" in review
    change = f"/assessments/me/{peg.pk}/?q=2&amp;from=review"
    assert change in review
    changed = _post(patient_client, url, 2, 3, **{"from": "review"})
    assert changed["Location"] == f"/assessments/me/{peg.pk}/review/"
    done = patient_client.post(f"/assessments/me/{peg.pk}/review/")
    assert done["Location"] == f"/assessments/me/{peg.pk}/done/"
    peg.refresh_from_db()
    version = peg.versions.get()
    assert version.number == 1 and version.answers == {"1": 6, "2": 3, "3": 7}
    assert version.mode == "self" and version.submitted_by == world.patient_user
    page = patient_client.get(done["Location"]).content.decode()
    assert "Your answers are sent in" in page
    assert f'href="/assessments/me/{phq9.pk}/"' in page  # the next questionnaire
    assert "Score" not in page  # patients see kind words, not scores
    # Sent in: the question pages lead to the thank-you page, not to a second submission.
    assert patient_client.get(url)["Location"] == f"/assessments/me/{peg.pk}/done/"


def test_a_patient_cannot_reach_another_patients_questionnaire(world: Any,
                                                               patient_client: Client) -> None:
    theirs = open_assessment(world.other_patient, "peg")
    for path in ("", "review/", "done/"):
        assert patient_client.get(f"/assessments/me/{theirs.pk}/{path}").status_code == 404
    assert _post(patient_client, f"/assessments/me/{theirs.pk}/", 1, 3).status_code == 404
    assert patient_client.post(f"/assessments/me/{theirs.pk}/review/").status_code == 404
    assert Assessment.objects.get(pk=theirs.pk).draft == {}


def test_a_closed_window_is_still_answerable_until_marked_missed(world: Any,
                                                                patient_client: Client) -> None:
    a = open_assessment(world.patient, "peg", opened_days_ago=30)
    Assessment.objects.filter(pk=a.pk).update(closes_on=timezone.localdate()
                                              - dt.timedelta(days=1))
    assert patient_client.get(f"/assessments/me/{a.pk}/").status_code == 200
    services.mark_missed(assessment=a, by=world.coordinator, reason="window closed")
    assert patient_client.get(f"/assessments/me/{a.pk}/")["Location"] == "/assessments/me/"


# --- Staff with the patient --------------------------------------------------------------


def test_staff_fill_in_on_the_phone(world: Any, four_months: Any) -> None:
    peg, _ = four_months
    client = Client()
    client.force_login(world.coordinator)
    start = client.get(f"/assessments/{peg.pk}/fill/").content.decode()
    assert "Read each question aloud" in start and world.patient.phone_display in start
    response = client.post(f"/assessments/{peg.pk}/fill/", {"mode": "phone"})
    url = f"/assessments/{peg.pk}/fill/question/"
    assert response["Location"] == f"{url}?mode=phone"
    screen = client.get(response["Location"]).content.decode()
    assert "Read this aloud" in screen and "Question 1 of 3" in screen
    for q, value in ((1, 4), (2, 4), (3, 4)):
        _post(client, url, q, value, mode="phone")
    done = client.post(f"/assessments/{peg.pk}/fill/review/", {"mode": "phone"})
    assert done["Location"].startswith(f"/assessments/{peg.pk}/fill/done/")
    version = Assessment.objects.get(pk=peg.pk).versions.get()
    assert version.mode == "phone" and version.submitted_by == world.coordinator
    page = client.get(done["Location"]).content.decode()
    assert "Score: <strong>4</strong>" in page
    assert AuditEvent.objects.filter(actor=world.coordinator, action="view",
                                     target_type="assessment").exists()


def test_staff_question_pages_need_a_mode(world: Any, four_months: Any) -> None:
    peg, _ = four_months
    client = Client()
    client.force_login(world.supervisor)
    response = client.get(f"/assessments/{peg.pk}/fill/question/")
    assert response["Location"] == f"/assessments/{peg.pk}/fill/"
    in_person = client.get(f"/assessments/{peg.pk}/fill/question/?mode=in_person")
    assert in_person.status_code == 200 and "in person" in in_person.content.decode()


def test_a_licensed_questionnaire_says_why_it_cannot_be_given(world: Any) -> None:
    bpi = open_assessment(world.patient, "bpi_severity")
    client = Client()
    client.force_login(world.coordinator)
    body = client.get(f"/assessments/{bpi.pk}/fill/").content.decode()
    assert "cannot be given here" in body and "load-instrument" in body
    assert "<form" not in body.split("<main", 1)[1].split("</main>", 1)[0]
