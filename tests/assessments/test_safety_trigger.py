"""PHQ-9 question 9 above 0 opens a safety event whatever the total, and whoever was
filling it in sees the crisis steps at once; a PHQ-8 program never asks question 9."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client

from peercoach.assessments import services
from peercoach.assessments.models import TimePoint
from peercoach.supervision.models import SafetyEvent

from ..factories import answer_all, open_assessment, time_point

#: A low total (1, "Minimal") with question 9 answered "Several days".
LOW_WITH_ITEM9 = {**dict.fromkeys(range(1, 9), 0), 9: 1, 10: 0}
NONE = dict.fromkeys(range(1, 11), 0)
CRISIS = ("988", "838255", "911")


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    cache.clear()
    yield
    cache.clear()


def _fill(client: Client, base: str, answers: dict[int, int], **extra: str) -> Any:
    for q, value in answers.items():
        response = client.post(base, {"q": q, "answer": value, **extra})
        assert response.status_code == 302, response.content.decode()[:500]
    return response


def test_item_9_with_a_low_total_raises_an_event_and_shows_the_steps(world: Any) -> None:
    phq9 = open_assessment(world.patient, "phq9")
    client = Client()
    client.force_login(world.patient_user)
    _fill(client, f"/assessments/me/{phq9.pk}/", LOW_WITH_ITEM9)
    done = client.post(f"/assessments/me/{phq9.pk}/review/")
    phq9.refresh_from_db()
    assert phq9.total == 1 and phq9.band == "Minimal"
    assert services.ITEM9_FLAG in phq9.flags
    event = SafetyEvent.objects.get()
    assert event.source == "assessment" and event.patient == world.patient
    assert event.raised_by == world.patient_user and event.crisis_steps_shown_at is not None
    page = client.get(done["Location"]).content.decode()
    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    for number in CRISIS:
        assert number in main
    assert main.index('role="alert"') < main.index("<h1>")  # the steps come first
    assert "You do not have to face this alone" in main
    assert "Score" not in main and "Minimal" not in main


def test_through_a_link_too(world: Any) -> None:
    phq9 = open_assessment(world.patient, "phq9")
    _, token = services.link_create(patient=world.patient, by=world.coordinator)
    client = Client()
    client.post(f"/assessments/q/{token}/")  # press Start
    _fill(client, f"/assessments/link/{phq9.pk}/", LOW_WITH_ITEM9)
    done = client.post(f"/assessments/link/{phq9.pk}/review/")
    event = SafetyEvent.objects.get()
    assert event.source == "assessment" and event.raised_by is None
    page = client.get(done["Location"]).content.decode()
    for number in CRISIS:
        assert number in page
    assert "You do not have to face this alone" in page


def test_staff_see_the_crisis_steps_and_that_the_supervisor_was_told(world: Any) -> None:
    phq9 = open_assessment(world.patient, "phq9")
    client = Client()
    client.force_login(world.coordinator)
    _fill(client, f"/assessments/{phq9.pk}/fill/question/", LOW_WITH_ITEM9, mode="phone")
    done = client.post(f"/assessments/{phq9.pk}/fill/review/", {"mode": "phone"})
    page = client.get(done["Location"]).content.decode()
    assert "The supervisor has been told" in page
    assert "Safety comes first" in page
    for number in CRISIS:
        assert number in page
    assert SafetyEvent.objects.get().raised_by == world.coordinator


def test_no_event_and_no_crisis_box_when_question_9_is_0(world: Any) -> None:
    phq9 = open_assessment(world.patient, "phq9")
    client = Client()
    client.force_login(world.patient_user)
    _fill(client, f"/assessments/me/{phq9.pk}/", NONE)
    done = client.post(f"/assessments/me/{phq9.pk}/review/")
    page = client.get(done["Location"]).content.decode()
    assert not SafetyEvent.objects.exists()
    assert 'class="crisis-box"' not in page
    assert "Need help now?" in page  # the small link is on every questionnaire page


def test_a_correction_that_adds_item_9_raises_an_event_at_once(world: Any) -> None:
    phq9 = answer_all(open_assessment(world.patient, "phq9"), NONE, by=world.patient_user)
    client = Client()
    client.force_login(world.coordinator)
    data = {f"item_{i}": str(v) for i, v in LOW_WITH_ITEM9.items()}
    response = client.post(f"/assessments/{phq9.pk}/correct/", {
        **data, "mode": "phone", "reason": "Patient said question 9 was misheard"})
    assert response["Location"] == f"/assessments/{phq9.pk}/fill/done/"
    assert SafetyEvent.objects.get().source == "assessment"
    page = client.get(response["Location"]).content.decode()
    assert "The supervisor has been told" in page and "838255" in page
    # Corrected again, still above 0: no second event.
    services.correct(assessment=phq9, answers={**LOW_WITH_ITEM9, 9: 2}, by=world.coordinator,
                     mode="phone", reason="Checked again")
    assert SafetyEvent.objects.count() == 1


def test_a_phq8_program_never_asks_question_9(world: Any) -> None:
    point = time_point(world.program_a, "4mo", 120, ("peg", "phq8"))
    phq8 = open_assessment(world.patient, "phq8", point=point)
    client = Client()
    client.force_login(world.patient_user)
    url = f"/assessments/me/{phq8.pk}/"
    screens = []
    for q in range(1, 9):
        page = client.get(url, {"q": q}).content.decode()
        assert f"Question {q} of 8" in page
        screens.append(page)
        client.post(url, {"q": q, "answer": 3})
    # There is no question 9 to ask for: the first unanswered (none: the review) instead.
    assert client.get(url, {"q": 9})["Location"] == f"/assessments/me/{phq8.pk}/review/"
    review = client.get(f"/assessments/me/{phq8.pk}/review/").content.decode()
    for text in [*screens, review]:
        assert "better off dead" not in text and "hurting yourself in some way" not in text
    client.post(f"/assessments/me/{phq8.pk}/review/")
    phq8.refresh_from_db()
    assert phq8.total == 24 and phq8.flags == []
    assert not SafetyEvent.objects.exists()


def test_a_time_point_has_phq9_or_phq8_not_both(world: Any) -> None:
    point = TimePoint(program=world.program_a, key="x", label="X", day=30,
                      instruments=["phq9", "phq8"])
    with pytest.raises(ValidationError, match="PHQ-9 or PHQ-8"):
        services.time_point_save(time_point=point, by=world.coordinator)
