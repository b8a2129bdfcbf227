"""The RE-AIM summary: five dimensions, every figure with how it is computed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from peercoach.coaching.models import Contact
from peercoach.coaching.plans import plan_for_pair
from peercoach.people.lifecycle import PatientStatus
from peercoach.people.models import Patient, Screening
from peercoach.research import reaim
from peercoach.research.models import Allocation
from peercoach.research.services import randomize
from peercoach.supervision.models import SafetyEvent

from ..factories import (
    CoachFactory,
    PatientFactory,
    eligible_patient,
    pair,
    submitted_assessment,
    time_point,
    two_arm_study,
)


@pytest.fixture
def summary_study(world: Any) -> dict[str, Any]:
    program, by = world.program_a, world.coordinator
    base = time_point(program, "baseline", 0, ("peg",))
    six = time_point(program, "6mo", 180, ("peg",))
    study = two_arm_study(program, by, block_sizes=(2,))
    women = [eligible_patient(program, gender="female") for _ in range(2)]
    men = [eligible_patient(program, gender="male") for _ in range(2)]
    for patient in women + men:
        randomize(patient=patient, by=by, study=study)
    # One eligible patient not randomized (a man), one not eligible.
    waiting = PatientFactory(program=program, status=PatientStatus.ELIGIBLE, gender="male")
    excluded = PatientFactory(program=program, status=PatientStatus.NOT_ELIGIBLE)
    for patient, eligible in ((waiting, True), (excluded, False)):
        Screening.objects.create(
            patient=patient, serious_medical_condition=not eligible,
            recent_psychiatric_hospitalization=False, active_suicidal_ideation=False,
            severe_hearing_or_speech_impairment=False, back_surgery=False, eligible=eligible,
            reasons=[] if eligible else ["Serious medical condition"], screened_by=by,
            screened_at=timezone.now())
    arms = {a.code: a for a in study.arms.all()}
    coached = [a.patient for a in Allocation.objects.filter(study=study, arm=arms["coaching"])]
    controls = [a.patient for a in Allocation.objects.filter(study=study, arm=arms["control"])]
    coach = CoachFactory(program=program, capacity=2)
    start = timezone.localdate() - dt.timedelta(days=200)
    for patient in coached:
        match = pair(patient, coach, by, started_on=start)
        plan_for_pair(patient=patient, started_on=start, by=by)
        Contact.objects.create(patient=patient, coach=coach, match=match, mode="phone",
                               outcome="reached", logged_by=by,
                               occurred_at=timezone.now() - dt.timedelta(days=190))
    SafetyEvent.objects.create(patient=coached[0], site=program.site, source="contact",
                               summary="sample", raised_by=by, raised_at=timezone.now())
    for patient, (before, after) in zip(coached + controls,
                                        [(7, 4), (6, 4), (7, 7), (6, 6.33)], strict=True):
        submitted_assessment(patient, "peg", before, point=base)
        submitted_assessment(patient, "peg", after, point=six)
    return {"study": study, "coach": coach}


def _figures(summary: reaim.Summary) -> dict[str, reaim.Figure]:
    return {f.label: f for d in summary.dimensions for f in d.figures}


def test_five_dimensions_each_figure_says_how(summary_study: dict[str, Any]) -> None:
    summary = reaim.build(summary_study["study"])
    assert [d.key for d in summary.dimensions] == ["reach", "effectiveness", "adoption",
                                                   "implementation", "maintenance"]
    for dimension in summary.dimensions:
        assert dimension.figures, dimension.key
        for figure in dimension.figures:
            assert figure.value and len(figure.how) > 20, figure


def test_the_numbers(summary_study: dict[str, Any], world: Any) -> None:
    figures = _figures(reaim.build(summary_study["study"]))
    assert figures["Randomized of those eligible"].value == "4 of 5 (80%)"
    assert figures["Assessed for eligibility"].value == "6"
    assert figures["Who took part"].value.startswith("4 patients, 50% women")
    assert figures["Eligible but not randomized"].value.startswith("1 patients, 0% women")
    assert figures["Patients with a safety event, Peer coaching"].value == "1 of 2 (50%)"
    assert figures["Patients with a safety event, Self-management class"].value == "0 of 2 (0%)"
    # PEG at 6 months: both coached patients improved by 2 or more points; no control did.
    improved = figures["PEG at 6 months: important improvement, Peer coaching"]
    assert improved.value == "2 of 2 (100%)"
    assert "Peer coaching minus Self-management class" in " ".join(figures)
    # world.coach, world.other_coach and the study's coach: all trained; one delivers.
    assert figures["Coaches trained of those recruited"].value == "3 of 3 (100%)"
    assert figures["Coaches who took a study patient of those trained"].value == "1 of 3 (33%)"
    assert figures["Reached the protocol's 8 contacts, Peer coaching"].value == "0 of 2 (0%)"
    assert figures["Contacts completed against plan, Peer coaching"].value.startswith(
        "2 of 16 planned")
    assert figures["Recruitment"].value == "recruiting"
    assert figures["Program running today"].value.startswith("yes")


def test_patients_answering_long_after_their_last_contact(summary_study: dict[str, Any]
                                                          ) -> None:
    figures = _figures(reaim.build(summary_study["study"]))
    # Contacts 190 days ago, follow-up answers today: 6 months or more after.
    assert figures["Outcomes measured 6 months or more after the last contact"].value == (
        "2 of 2 (100%)")


def test_an_empty_study_says_no_data(world: Any) -> None:
    study = two_arm_study(world.program_b, world.coordinator)
    summary = reaim.build(study)
    figures = _figures(summary)
    assert figures["Randomized of those eligible"].value == "0 of 0"
    assert figures["Who took part"].value == "nobody"
    assert any(f.value == "not enough data yet" for f in summary.dimensions[1].figures)
    assert Patient.objects.filter(program=world.program_b).exists()
