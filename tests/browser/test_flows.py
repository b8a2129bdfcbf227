"""Whole flows in a real browser, against the demo program on a live server."""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from peercoach.people.lifecycle import PatientStatus
from peercoach.people.models import Patient
from peercoach.people.selectors import patient_list

from .conftest import PHONE, RESULTS_DIR, login

pytestmark = pytest.mark.browser

SCREENING_QUESTIONS = [
    "serious_medical_condition",
    "recent_psychiatric_hospitalization",
    "active_suicidal_ideation",
    "severe_hearing_or_speech_impairment",
    "back_surgery",
]


def _expect_status(page: Any, label: str) -> None:
    """The status badge in the profile says `label`."""
    badge = page.locator("dl.facts").filter(has_text="Study ID").locator(".badge")
    expect(badge).to_have_text(label)


def _open_referred_patient(page: Any) -> str:
    """From the patient list, filter to Referred and open the first one. Returns its name."""
    page.get_by_role("link", name="Patients", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients")
    with page.expect_response(re.compile(r"/people/patients/\?.*status=referred")):
        page.get_by_label("Status").select_option(label="Referred")
    results = page.locator("#results")
    expect(results.locator("tbody tr").first.locator(".badge")).to_have_text("Referred")
    expect(results.locator(".badge").filter(has_not_text="Referred")).to_have_count(0)
    link = results.locator("tbody tr").first.get_by_role("link")
    name = link.inner_text().strip()
    link.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(name)
    _expect_status(page, "Referred")
    return name


def _answer_screening(page: Any, yes: Collection[str] = ()) -> None:
    for question in SCREENING_QUESTIONS:
        answer = "yes" if question in yes else "no"
        page.locator(f'input[name="{question}"][value="{answer}"]').check()
    page.get_by_role("button", name="Save screening").click()


def test_coordinator_screens_consents_and_enrolls_a_referred_patient(new_page: Any) -> None:
    page = new_page()
    login(page, "coordinator")
    name = _open_referred_patient(page)
    patient = Patient.objects.get(pk=int(page.url.rstrip("/").rsplit("/", 1)[-1]))
    assert patient.status == PatientStatus.REFERRED

    page.get_by_role("link", name="Screen").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Screening: {name}")
    _answer_screening(page)
    expect(page.locator(".messages")).to_contain_text("Screening saved: eligible.")
    _expect_status(page, "Screened: eligible")

    page.get_by_role("link", name="Record consent").click()
    page.get_by_label("Date of consent").fill(timezone.localdate().isoformat())
    page.get_by_label("Consent form version").fill("patient-v1")
    page.get_by_role("button", name="Save consent").click()
    expect(page.locator(".messages")).to_contain_text("Consent recorded.")
    _expect_status(page, "Consented")

    page.get_by_label("New status").select_option(label="Enrolled")
    page.get_by_label("Why").fill("Came to the orientation class")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator(".messages")).to_contain_text("Status changed.")
    _expect_status(page, "Enrolled")
    expect(page.locator("dl.facts dt", has_text="Enrolled")).to_be_visible()
    # The history on the page and the database agree.
    expect(page.locator("table").filter(has_text="consented → enrolled")).to_be_visible()
    patient.refresh_from_db()
    assert patient.status == PatientStatus.ENROLLED


def test_coach_sees_own_patient_but_not_another_coachs(new_page: Any) -> None:
    mine = Patient.objects.filter(
        matches__coach__user__username="coach1", matches__ended_on__isnull=True
    )
    own = mine.order_by("pk").first()
    other = (
        Patient.objects.exclude(pk__in=mine.values("pk"))
        .filter(matches__ended_on__isnull=True)  # paired, but with another coach
        .order_by("pk")
        .first()
    )
    assert own is not None and other is not None

    page = new_page()
    login(page, "coach1")
    response = page.goto(f"/people/patients/{other.pk}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")
    expect(page.get_by_text(other.last_name)).to_have_count(0)

    response = page.goto(f"/people/patients/{own.pk}/")
    assert response is not None and response.status == 200
    expect(page.get_by_role("heading", level=1)).to_have_text(own.display_name)

    # The coach's caseload offers their patients and nobody else's.
    page.get_by_role("link", name="My caseload").click()
    expect(page.locator("section.caseload")).to_have_count(mine.count())
    expect(page.locator("main").get_by_text(other.display_name)).to_have_count(0)


def test_screening_with_suicidal_ideation_shows_the_crisis_steps(new_page: Any) -> None:
    page = new_page()
    login(page, "coordinator")
    name = _open_referred_patient(page)
    pk = int(page.url.rstrip("/").rsplit("/", 1)[-1])
    page.get_by_role("link", name="Screen").click()
    _answer_screening(page, yes={"active_suicidal_ideation"})

    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{name} needs help now")
    # The steps in the page body, not just the footer line every page carries.
    box = page.locator("main").get_by_role("alert")
    expect(box).to_be_visible()
    expect(box).to_contain_text("988 then press 1")
    expect(box).to_contain_text("838255")
    expect(box).to_contain_text("911")
    expect(box.locator('a[href="tel:988"]')).to_be_visible()
    expect(box.locator('a[href="sms:838255"]')).to_be_visible()
    expect(box.locator('a[href="tel:911"]')).to_be_visible()
    expect(box).to_be_in_viewport()

    # Saved as not eligible, with an open safety event for the supervisor.
    patient = Patient.objects.get(pk=pk)
    assert patient.status == PatientStatus.NOT_ELIGIBLE
    assert patient.safetyevents.count() == 1


def _no_horizontal_scroll(page: Any) -> None:
    widths = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"page scrolls sideways: scrollWidth, innerWidth = {widths}"


def test_patient_list_works_on_a_phone(new_page: Any) -> None:
    target = Patient.objects.order_by("pk")[6]
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    login(page, "coordinator")
    page.goto("/people/patients/")
    rows = page.locator("#results tbody tr")
    coordinator = get_user_model().objects.get(username="coordinator")
    per_page = settings.PEERCOACH_PAGE_SIZE
    assert patient_list(user=coordinator).count() > per_page  # the demo fills two pages
    expect(rows).to_have_count(per_page)
    _no_horizontal_scroll(page)

    # Typing in the search box asks the server (HTMX) and swaps in the results only.
    with page.expect_response(
        lambda r: (
            "/people/patients/?" in r.url
            and "q=" in r.url
            and r.request.headers.get("hx-request") == "true"
        )
    ):
        page.get_by_label("Search by name or study ID").fill(target.last_name)
    expect(rows.first).to_contain_text(target.display_name)
    expected = patient_list(user=coordinator, search=target.last_name).count()
    assert 0 < expected < per_page
    expect(rows).to_have_count(expected)
    expect(page.get_by_role("heading", level=1)).to_have_text("Patients")
    expect(page).to_have_url(re.compile(r"\?q="))  # pushed, so Back and reload work
    _no_horizontal_scroll(page)
    RESULTS_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS_DIR / "patient-list-phone-search.png"))

    with page.expect_response(lambda r: "q=zzzz-nobody" in r.url):
        page.get_by_label("Search by name or study ID").fill("zzzz-nobody")
    expect(page.locator("#results")).to_contain_text("No patients match.")


def test_patient_detail_on_a_phone_screenshot(new_page: Any) -> None:
    """A picture of the busiest page at phone size, for a human to look at."""
    patient = (
        Patient.objects.filter(status=PatientStatus.ACTIVE, matches__ended_on__isnull=True)
        .order_by("pk")
        .first()
    )
    assert patient is not None
    page = new_page(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    login(page, "coordinator")
    page.goto(f"/people/patients/{patient.pk}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(patient.display_name)
    _no_horizontal_scroll(page)
    RESULTS_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS_DIR / "patient-detail-phone.png"), full_page=True)
    page.screenshot(path=str(RESULTS_DIR / "patient-detail-phone-top.png"))
