"""The demo's ECLIPSE-style study: a coordinator enrolls and randomizes a patient, and the
CONSORT diagram, counted from live data, shows one more randomized patient."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from playwright.sync_api import expect

from peercoach.demo.study import SCREEN_OK, STUDY_SITE_CODE
from peercoach.people import services as people
from peercoach.research.models import Allocation, Study

from .conftest import RESULTS_DIR, login

pytestmark = pytest.mark.browser


def _box(label: str, n: int) -> re.Pattern[str]:
    # The diagram keeps "n = 3" together with no-break spaces.
    return re.compile(rf"{label} \(n\s=\s{n}\)")


def test_coordinator_enrolls_and_randomizes_and_the_consort_diagram_updates(
        new_page: Any) -> None:
    coordinator = get_user_model().objects.get(username="study_coordinator")
    study = Study.objects.select_related("program").get(program__site__code=STUDY_SITE_CODE)
    # A patient referred, screened eligible and consented: ready to enroll.
    patient = people.referral_create(
        program=study.program, by=coordinator, source="self", first_name="Harriet",
        last_name="Brightwater", gender="female", referral_reason="Chronic knee pain.")
    people.screening_record(person=patient, by=coordinator, **SCREEN_OK)
    people.consent_record(person=patient, by=coordinator, consented_on=timezone.localdate(),
                          form_version="study-v1")
    before = Allocation.objects.filter(study=study).count()
    assert before > 0

    page = new_page()
    # The reports count and fit models on every request: give a busy CI machine time.
    page.set_default_timeout(30_000)
    login(page, "study_coordinator")
    consort = f"/studies/{study.pk}/reports/consort/"
    page.goto(consort)
    diagram = page.locator("figure.chart svg")
    expect(diagram).to_contain_text(_box("Randomized", before))
    expect(diagram).to_contain_text(_box("Not yet randomized", 3))

    # Enroll on the patient's page.
    page.goto(f"/people/patients/{patient.pk}/")
    page.get_by_label("New status").select_option(label="Enrolled")
    page.get_by_label("Why").fill("Baseline visit done")
    page.get_by_role("button", name="Change status").click()
    expect(page.locator(".messages")).to_contain_text("Status changed.")

    # Randomize from the study's enrolment list.
    page.goto(f"/studies/{study.pk}/enrolment/")
    page.locator("tr", has_text=patient.display_name).get_by_role(
        "link", name="Randomize").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(patient.display_name)
    page.get_by_role("button", name="Randomize now").click()
    expect(page.locator(".messages")).to_contain_text(f"{patient.display_name} was randomized")
    allocation = Allocation.objects.get(study=study, patient=patient)

    # The diagram, counted again: one more randomized, one fewer waiting.
    page.goto(consort)
    expect(diagram).to_contain_text(_box("Randomized", before + 1))
    expect(diagram).to_contain_text(_box("Not yet randomized", 2))
    expect(diagram).to_contain_text(re.compile(
        rf"Allocated to {re.escape(allocation.arm.name)} \(n\s=\s"
        rf"{Allocation.objects.filter(study=study, arm=allocation.arm).count()}\)"))
    expect(page.locator("#consort-counts")).to_contain_text("Randomized")
    RESULTS_DIR.mkdir(exist_ok=True)
    page.screenshot(path=str(RESULTS_DIR / "consort-after-randomizing.png"), full_page=True)
    # The PDF is drawn from the same counts.
    with page.expect_download() as download:
        page.get_by_role("link", name="Download the diagram (PDF)").click()
    assert download.value.suggested_filename == f"study-{study.pk}-consort.pdf"
