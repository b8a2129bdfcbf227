"""The CONSORT flow against a hand-built cohort: every box counted by hand."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from typing import Any

import pytest
from django.utils import timezone

from peercoach.assessments.models import Assessment, AssessmentStatus
from peercoach.coaching.models import Contact
from peercoach.people.lifecycle import PatientStatus
from peercoach.people.models import Consent, Patient, Screening
from peercoach.research import consort
from peercoach.research.models import Allocation, Study
from peercoach.research.services import randomize, study_close

from ..factories import (
    CoachFactory,
    PatientFactory,
    eligible_patient,
    open_assessment,
    pair,
    submitted_assessment,
    time_point,
    two_arm_study,
)


def _screen(patient: Patient, by: Any, *, eligible: bool, reasons: Sequence[str] = (),
            at: dt.datetime | None = None) -> None:
    Screening.objects.create(
        patient=patient, serious_medical_condition=False,
        recent_psychiatric_hospitalization=False, active_suicidal_ideation=False,
        severe_hearing_or_speech_impairment=False, back_surgery=False, eligible=eligible,
        reasons=list(reasons), screened_by=by, screened_at=at or timezone.now())


def _consent(patient: Patient, by: Any) -> None:
    Consent.objects.create(patient=patient, consented_on=dt.date(2026, 1, 2),
                           form_version="p1", recorded_by=by, recorded_at=timezone.now())


@pytest.fixture
def cohort(world: Any) -> dict[str, Any]:
    program, by = world.program_a, world.coordinator
    base = time_point(program, "baseline", 0, ("peg",))
    six = time_point(program, "6mo", 180, ("peg",))
    study = two_arm_study(program, by, block_sizes=(2,))
    assert study.started_at is not None
    made: dict[str, Any] = {"study": study, "base": base, "six": six}

    # Screened before the study started: not part of its flow.
    early = PatientFactory(program=program, status=PatientStatus.NOT_ELIGIBLE)
    _screen(early, by, eligible=False, reasons=["Back surgery"],
            at=study.started_at - dt.timedelta(days=10))
    # Not eligible, with reasons (one patient has two).
    for reasons in (["Back surgery", "Serious medical condition"], ["Back surgery"]):
        patient = PatientFactory(program=program, status=PatientStatus.NOT_ELIGIBLE)
        _screen(patient, by, eligible=False, reasons=reasons)
    # Not eligible at first, eligible when re-screened, then withdrew without consenting.
    declined = PatientFactory(program=program, status=PatientStatus.WITHDRAWN)
    _screen(declined, by, eligible=False, reasons=["Back surgery"],
            at=timezone.now() - dt.timedelta(minutes=5))
    _screen(declined, by, eligible=True)
    # Eligible, awaiting consent.
    _screen(PatientFactory(program=program, status=PatientStatus.ELIGIBLE), by, eligible=True)
    # Consented, then withdrew before randomization.
    left = PatientFactory(program=program, status=PatientStatus.WITHDRAWN)
    _screen(left, by, eligible=True)
    _consent(left, by)
    # Consented, awaiting randomization.
    waiting = PatientFactory(program=program, status=PatientStatus.CONSENTED)
    _screen(waiting, by, eligible=True)
    _consent(waiting, by)
    # Another program's patient: never counted.
    _screen(PatientFactory(program=world.program_b, status=PatientStatus.ELIGIBLE), by,
            eligible=True)

    # Six randomized: block size 2 gives three to each arm.
    randomized = [eligible_patient(program) for _ in range(6)]
    for patient in randomized:
        randomize(patient=patient, by=by, study=study)
    arms = {a.code: a for a in study.arms.all()}
    by_arm: dict[str, list[Patient]] = {"coaching": [], "control": []}
    for allocation in Allocation.objects.filter(study=study).order_by("id"):
        code = "coaching" if allocation.arm_id == arms["coaching"].pk else "control"
        by_arm[code].append(allocation.patient)
    assert len(by_arm["coaching"]) == len(by_arm["control"]) == 3
    c1, c2, c3 = by_arm["coaching"]
    k1, k2, k3 = by_arm["control"]
    coach = CoachFactory(program=program, capacity=2)
    other = CoachFactory(program=program, capacity=2)
    now = timezone.now()
    # c1 reached; c2 paired, only a missed call; c3 never paired.
    m1 = pair(c1, coach, by)
    Contact.objects.create(patient=c1, coach=coach, match=m1, occurred_at=now, mode="phone",
                           outcome="reached", logged_by=by)
    m2 = pair(c2, other, by)
    Contact.objects.create(patient=c2, coach=other, match=m2, occurred_at=now, mode="phone",
                           outcome="no_answer", logged_by=by)
    # A control patient reached by a coach anyway: a crossover.
    m3 = pair(k1, coach, by)
    Contact.objects.create(patient=k1, coach=coach, match=m3, occurred_at=now, mode="phone",
                           outcome="reached", logged_by=by)
    Patient.objects.filter(pk=c3.pk).update(status=PatientStatus.LOST)
    Patient.objects.filter(pk=k2.pk).update(status=PatientStatus.WITHDRAWN)
    # Primary outcome (PEG): analysed = baseline and 6 months submitted.
    for patient in (c1, c2, k1, k2, k3):
        submitted_assessment(patient, "peg", 6.0, point=base)
    submitted_assessment(c1, "peg", 4.0, point=six)
    submitted_assessment(k1, "peg", 5.0, point=six)
    submitted_assessment(k3, "peg", 5.0, point=six)
    open_assessment(c2, "peg", point=six)  # window open: not due yet
    missed = open_assessment(k2, "peg", point=six)
    Assessment.objects.filter(pk=missed.pk).update(status=AssessmentStatus.MISSED)
    # c3: no baseline at all, but a 6-month answer (not analysable).
    submitted_assessment(c3, "peg", 3.0, point=six)
    made.update(arms=arms)
    return made


def test_every_box_of_a_hand_built_cohort(cohort: dict[str, Any]) -> None:
    study: Study = cohort["study"]
    flow = consort.build(study)
    # 2 not eligible + 1 declined + 1 awaiting consent + 1 left + 1 awaiting randomization
    # + 6 randomized.
    assert flow.assessed == 12
    assert flow.not_eligible == 2
    assert dict(flow.not_eligible_reasons) == {"Back surgery": 2,
                                                "Serious medical condition": 1}
    assert flow.not_eligible_reasons[0] == ("Back surgery", 2)
    assert flow.declined == 1
    assert flow.other_excluded == 1
    assert flow.excluded == 4
    assert flow.awaiting == 2
    assert flow.randomized == 6
    assert flow.assessed == flow.excluded + flow.awaiting + flow.randomized
    assert flow.instrument == "peg"
    assert flow.time_points == [("6mo", "6 months")]

    coaching, control = flow.arms
    assert (coaching.code, control.code) == ("coaching", "control")
    assert coaching.allocated == control.allocated == 3
    assert coaching.received == 1
    assert coaching.not_received == {consort.NOT_PAIRED: 1, consort.NOT_REACHED: 1}
    assert coaching.crossovers == 0
    assert control.received == 3 and control.not_received == {}
    assert control.crossovers == 1
    assert (coaching.lost, coaching.discontinued) == (1, 0)
    assert (control.lost, control.discontinued) == (0, 1)
    assert coaching.analysed == {"6mo": 1}
    assert coaching.not_analysed == {"6mo": {consort.NOT_DUE: 1, consort.NO_BASELINE: 1}}
    assert control.analysed == {"6mo": 2}
    assert control.not_analysed == {"6mo": {consort.MISSING: 1}}


def test_closing_recruitment_turns_the_waiting_into_exclusions(cohort: dict[str, Any],
                                                                world: Any) -> None:
    study = study_close(study=cohort["study"], by=world.coordinator)
    flow = consort.build(study)
    assert flow.awaiting == 0
    assert flow.declined == 2  # the one who withdrew and the one still awaiting consent
    assert flow.other_excluded == 2
    assert flow.assessed == flow.excluded + flow.randomized == 12


def test_a_fixed_number_of_queries(cohort: dict[str, Any],
                                   django_assert_num_queries: Any) -> None:
    study = cohort["study"]
    with django_assert_num_queries(8):
        consort.build(study)


def test_rows_list_every_box_and_the_diagram_draws_them(cohort: dict[str, Any]) -> None:
    flow = consort.build(cohort["study"])
    rows = {(arm, box): n for arm, box, n in flow.rows()}
    assert rows[("", "Assessed for eligibility")] == 12
    assert rows[("Peer coaching", "Analysed at 6 months")] == 1
    assert rows[("Self-management class", "Crossover: reached by a coach")] == 1
    layout = consort.diagram(flow)
    drawn = consort.svg(layout)
    assert drawn.startswith("<?xml")
    assert "<title id=\"consort-title\">CONSORT flow diagram" in drawn
    assert "<desc id=\"consort-desc\">12 assessed for eligibility" in drawn
    # The boxes' text, with wrapped lines joined again.
    words = " ".join(re.sub(r"<[^>]+>", " ", drawn.split("</desc>", 1)[1]).split())
    for text in ("Assessed for eligibility (n = 12)", "Excluded (n = 4)",
                 "Randomized (n = 6)", "Allocated to Peer coaching (n = 3)",
                 "Allocated to Self-management class (n = 3)",
                 "Lost to follow-up (n = 1)", "Analysed at 6 months (n = 2)"):
        assert text in words, text
    # Boxes never overlap within a stage and stay inside the drawing.
    boxes = [b for b in layout.boxes if b.kind == "box"]
    for box in boxes:
        assert box.x >= 0 and box.x + box.w <= layout.width
        assert box.y >= 0 and box.bottom <= layout.height
    for a in boxes:
        for b in boxes:
            if a is not b:
                apart = (a.x + a.w <= b.x or b.x + b.w <= a.x or a.bottom <= b.y
                         or b.bottom <= a.y)
                assert apart, (a.lines[0], b.lines[0])
    document = consort.pdf(layout, notes=flow.definitions, subtitle="Counted today")
    assert document.startswith(b"%PDF-")


def test_pooled_merges_the_arms(cohort: dict[str, Any]) -> None:
    flow = consort.pooled(consort.build(cohort["study"]))
    (only,) = flow.arms
    assert only.allocated == 6 and only.lost == 1 and only.discontinued == 1
    assert only.analysed == {"6mo": 3}


def test_count_needs_no_database() -> None:
    people = [
        consort.Person(1, "not_eligible", False, (), False, None),
        consort.Person(2, "enrolled", True, (), True, 10, paired=True, reached=True),
        consort.Person(3, "withdrawn", True, (), True, 11),
    ]
    arms = [consort.ArmInfo(10, "coaching", "Coaching", True),
            consort.ArmInfo(11, "control", "Class", False)]
    answers = [consort.Answer(2, "baseline", True, True, False),
               consort.Answer(2, "6mo", False, True, False)]
    flow = consort.count(people, arms, answers, [("6mo", "6 months")], recruiting=True)
    assert flow.not_eligible_reasons == [(consort.NO_REASON, 1)]
    assert [a.analysed["6mo"] for a in flow.arms] == [1, 0]
    assert flow.arms[1].discontinued == 1
    assert flow.arms[1].not_analysed["6mo"] == {consort.NO_BASELINE: 1}
