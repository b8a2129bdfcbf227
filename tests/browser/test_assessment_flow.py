"""On a phone-sized screen (375 x 740) a patient signs in, fills in the 4-month PEG and
PHQ-9 one question per screen (stopping half-way and coming back), and sees their pain
scores over time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import expect

from peercoach.assessments.models import OPEN_STATUSES, Assessment, AssessmentStatus
from peercoach.people.models import Patient

from .conftest import RESULTS_DIR, login

pytestmark = pytest.mark.browser

SMALL_PHONE = {"width": 375, "height": 740}


def _four_months_due(patient: Patient) -> tuple[Assessment, Assessment]:
    """Make the demo patient's 4-month PEG and PHQ-9 due today, and nothing else open."""
    today = timezone.localdate()
    rows = Assessment.objects.filter(patient=patient, time_point__key="4mo",
                                     instrument__in=["peg", "phq9"])
    assert rows.count() == 2, "the demo schedules the 4-month questionnaires"
    rows.update(opens_on=today - dt.timedelta(days=3), due_on=today + dt.timedelta(days=4),
                closes_on=today + dt.timedelta(days=14), status=AssessmentStatus.DUE,
                draft={})
    (Assessment.objects.filter(patient=patient, status__in=OPEN_STATUSES)
     .exclude(pk__in=rows.values("pk"))
     .update(opens_on=today + dt.timedelta(days=30), due_on=today + dt.timedelta(days=40),
             closes_on=today + dt.timedelta(days=50)))
    return rows.get(instrument="peg"), rows.get(instrument="phq9")


def _fits(page: Any) -> None:
    assert page.evaluate("document.scrollingElement.scrollWidth") <= SMALL_PHONE["width"]


def _answer(page: Any, number: int, count: int, choice: str) -> None:
    expect(page.get_by_text(f"Question {number} of {count}", exact=True)).to_be_visible()
    option = page.get_by_role("radio", name=choice, exact=True)
    option.check()
    page.get_by_role("button", name="Next", exact=False).first.click()


def test_patient_fills_in_peg_and_phq9_on_a_phone_and_sees_progress(new_page: Any) -> None:
    # Load the URL map here, not in the live server's first request: its imports (charts,
    # statistics) take longer than a page may under load.
    reverse("assessments:my_list")
    patient = Patient.objects.select_related("user").get(user__username="patient1")
    peg, phq9 = _four_months_due(patient)

    page = new_page(viewport=SMALL_PHONE)
    login(page, "patient1")
    home = page.locator("section.q-home")
    expect(home.get_by_role("heading", name="Questionnaires to fill in")).to_be_visible()
    start = home.get_by_role("link", name="Fill in my questionnaires")
    box = start.bounding_box()
    assert box is not None and box["height"] >= 60 and box["width"] >= 280  # full width
    page.screenshot(path=str(RESULTS_DIR / "questionnaire-home-375.png"), full_page=True)
    start.click()

    # PEG: three questions, one per screen, with big full-width answers.
    expect(page.get_by_text("In the past week", exact=False).first).to_be_visible()
    first = page.locator("label.q-option").first
    box = first.bounding_box()
    assert box is not None and box["height"] >= 48 and box["width"] >= 280
    _fits(page)
    page.screenshot(path=str(RESULTS_DIR / "questionnaire-question-375.png"), full_page=True)
    _answer(page, 1, 3, "4")
    _answer(page, 2, 3, "3")
    # Back to question 2: the answer given is still chosen.
    page.get_by_role("button", name="Back").click()
    expect(page.get_by_text("Question 2 of 3", exact=True)).to_be_visible()
    expect(page.get_by_role("radio", name="3", exact=True)).to_be_checked()
    page.get_by_role("button", name="Next", exact=True).click()
    _answer(page, 3, 3, "5")
    expect(page.get_by_role("heading", name="Check your answers")).to_be_visible()
    page.get_by_role("button", name="Send in my answers").click()
    expect(page.get_by_role("heading", name="Thank you. Your answers are sent in.")).to_be_visible()
    page.get_by_role("link", name="Next questionnaire").click()

    # PHQ-9: stop after four questions, come back, and carry on where it stopped.
    for number in range(1, 5):
        _answer(page, number, 10, "Not at all")
    page.get_by_role("button", name="Save and finish later").click()
    expect(page.get_by_text("Your answers are saved")).to_be_visible()
    page.get_by_role("link", name="Carry on").click()
    expect(page.get_by_text("Question 5 of 10", exact=True)).to_be_visible()
    for number in range(5, 10):
        _answer(page, number, 10, "Not at all")
    _fits(page)
    _answer(page, 10, 10, "Not difficult at all")
    page.get_by_role("button", name="Send in my answers").click()
    expect(page.get_by_text("That was the last one for now.")).to_be_visible()
    expect(page.locator(".crisis-box")).to_have_count(0)
    page.screenshot(path=str(RESULTS_DIR / "questionnaire-done-375.png"), full_page=True)

    peg.refresh_from_db()
    phq9.refresh_from_db()
    assert peg.status == phq9.status == AssessmentStatus.SUBMITTED
    assert peg.total == pytest.approx(4.0) and phq9.total == 0
    assert {v.mode for a in (peg, phq9) for v in a.versions.all()} == {"self"}

    page.get_by_role("link", name="See my progress").click()
    expect(page.get_by_role("heading", name="Your pain scores over time")).to_be_visible()
    expect(page.locator("table").first).to_contain_text(
        f"{timezone.localdate():%b} {timezone.localdate().day}, {timezone.localdate().year}")
    _fits(page)
    page.screenshot(path=str(RESULTS_DIR / "questionnaire-trajectory-375.png"), full_page=True)
