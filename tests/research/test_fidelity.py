"""Fidelity and dose against a hand-built pair: 8 planned, 5 reached of which 4 on time."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from peercoach.coaching.models import PlannedContact
from peercoach.coaching.plans import plan_for_pair
from peercoach.coaching.services import ContactInput, NewGoal, contact_log, goal_revise
from peercoach.research import fidelity
from peercoach.research.models import Allocation
from peercoach.research.services import randomize
from peercoach.supervision.models import SessionAttendance, SupervisionSession

from ..factories import CoachFactory, UserFactory, eligible_patient, pair, two_arm_study

WALK = NewGoal(text="Walk after lunch", section="activity-pacing", what="Walk",
               how_much="10 minutes", when="After lunch", how_often="5 days a week",
               confidence=8)


def _at(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(12, 0)))


@pytest.fixture
def delivered(world: Any) -> dict[str, Any]:
    program, by = world.program_a, world.coordinator
    study = two_arm_study(program, by, block_sizes=(2,))
    patients = [eligible_patient(program) for _ in range(2)]
    for patient in patients:
        randomize(patient=patient, by=by, study=study)
    arms = {a.code: a for a in study.arms.all()}
    coached = Allocation.objects.get(study=study, arm=arms["coaching"]).patient
    control = Allocation.objects.get(study=study, arm=arms["control"]).patient
    coach_user = UserFactory()
    coach = CoachFactory(program=program, user=coach_user)
    start = timezone.localdate() - dt.timedelta(days=150)
    pair(coached, coach, by, started_on=start)
    plan = plan_for_pair(patient=coached, started_on=start, by=by)
    slots = list(plan.planned.order_by("number"))
    assert len(slots) == 8 and slots[-1].window_end < timezone.localdate()

    def log(day: dt.date, *, outcome: str = "reached", sections: tuple[str, ...] = (),
            percent: int | None = 50, goals: tuple[NewGoal, ...] = ()) -> None:
        reached = outcome == "reached"
        contact_log(patient=coached, coach=coach, by=coach_user, data=ContactInput(
            occurred_at=_at(day), mode="phone", outcome=outcome,
            duration_minutes=20 if reached else None, sections=list(sections),
            curriculum_percent=percent if reached else None), new_goals=list(goals))

    # Four on the due dates of contacts 1 to 4 (inside their windows).
    log(slots[0].due_on, sections=("introduction", "pain-education"), percent=100,
        goals=(WALK,))
    log(slots[1].due_on, sections=("pain-education",), percent=50)
    log(slots[2].due_on, sections=("activity-pacing",), percent=0)
    log(slots[3].due_on, percent=50)
    # A missed call, then a fifth talk the day after contact 5's window closed: late.
    log(slots[4].window_end, outcome="no_answer")
    log(slots[4].window_end + dt.timedelta(days=1), sections=("relaxation-skills",),
        percent=100)
    goal = coached.goals.get()
    goal_revise(goal=goal, by=coach_user, data=WALK, reason="Shorter walk")
    # Supervision: two of three calls since the study started; one before it is ignored.
    assert study.started_at is not None
    for offset, attended in ((-2, False), (1, True), (2, True), (3, False)):
        session = SupervisionSession.objects.create(
            kind="group", program=program, supervisor=by, created_by=by,
            starts_at=study.started_at + dt.timedelta(days=offset))
        SessionAttendance.objects.create(session=session, coach=coach, attended=attended,
                                         recorded_by=by)
    return {"study": study, "coached": coached, "control": control, "coach": coach,
            "slots": slots, "arms": arms}


def test_a_hand_built_pair(delivered: dict[str, Any]) -> None:
    found = fidelity.build(delivered["study"])
    (row,) = found.pairs
    t = row.tally
    assert (t.planned, t.due, t.reached, t.on_time) == (8, 8, 5, 4)
    assert t.completion == pytest.approx(5 / 8)
    assert t.on_time_share == pytest.approx(0.8)
    assert t.completion_text == "62%" and t.on_time_text == "80%"
    # introduction, pain-education, activity-pacing, relaxation-skills.
    assert t.sections == 4
    assert t.goals == 1  # the revision is the same goal
    assert t.curriculum_mean == pytest.approx((100 + 50 + 0 + 50 + 100) / 5)
    assert (t.supervision_attended, t.supervision_recorded) == (2, 3)
    assert t.supervision_text == "2 of 3 (67%)"
    # The late contact fulfilled contact 5, outside its window.
    fifth = PlannedContact.objects.get(pk=delivered["slots"][4].pk)
    assert fifth.status == "done"


def test_coach_site_and_arm_add_up(delivered: dict[str, Any]) -> None:
    found = fidelity.build(delivered["study"])
    (coach,) = found.coaches
    assert coach.key == delivered["coach"].pk and coach.pairs == 1
    assert (coach.tally.reached, coach.tally.planned, coach.tally.on_time) == (5, 8, 4)
    (site,) = found.sites
    assert site.tally.n_patients == 1  # the control patient is not a coached patient
    assert site.tally.sections_mean == 4
    arms = {a.name: a for a in found.arms}
    assert arms["Peer coaching"].tally.reached == 5
    assert arms["Self-management class"].tally.reached == 0
    assert arms["Self-management class"].tally.completion is None
    doses = {d.name: d for d in found.doses}
    assert doses["Peer coaching"].median == 5 and doses["Peer coaching"].at_target == 0
    assert doses["Self-management class"].text == "0 (0 to 0)"
    per_patient = {p.patient_id: p for p in found.patients}
    assert per_patient[delivered["coached"].pk].reached == 5
    assert per_patient[delivered["control"].pk].planned == 0


def test_planned_contacts_follow_the_pair_that_ran_on_their_due_date() -> None:
    today = dt.date(2026, 6, 1)
    start = dt.date(2026, 1, 1)
    facts = fidelity.Facts(
        patients=[(1, 10, 5, "Site")], arms=[(10, "Coaching", True)],
        matches=[(100, 1, 7, start, dt.date(2026, 2, 1)), (101, 1, 8, dt.date(2026, 2, 10),
                                                           None)],
        planned=[(1, "done", dt.date(2026, 1, 15), dt.date(2026, 1, 9), dt.date(2026, 1, 21),
                  100, dt.date(2026, 1, 15)),
                 (1, "cancelled", dt.date(2026, 2, 5), dt.date(2026, 1, 30),
                  dt.date(2026, 2, 11), None, None),
                 (1, "done", dt.date(2026, 3, 1), dt.date(2026, 2, 23), dt.date(2026, 3, 7),
                  101, dt.date(2026, 3, 9)),
                 (1, "planned", dt.date(2026, 7, 1), dt.date(2026, 6, 25),
                  dt.date(2026, 7, 7), None, None)],
        contacts=[(1, 100, dt.date(2026, 1, 15), ["introduction"], 40),
                  (1, 101, dt.date(2026, 3, 9), ["introduction", "nonsense"], None)],
        goals=[(1, None, dt.date(2026, 3, 2))], attendance=[(7, True), (8, False)],
        section_keys=frozenset({"introduction", "pain-education"}), target=12, today=today)
    found = fidelity.compute(facts)
    first, second = found.pairs
    # Contact 2 was due in the gap between coaches (Feb 5): the first pair, which had
    # started; contacts 3 and 4 belong to the second.
    assert (first.tally.planned, second.tally.planned) == (2, 2)
    assert (first.tally.due, second.tally.due) == (2, 1)
    assert (first.tally.on_time, second.tally.on_time) == (1, 0)  # the second was late
    assert (first.tally.goals, second.tally.goals) == (0, 1)
    assert first.tally.curriculum_mean == 40 and second.tally.curriculum_mean is None
    assert first.tally.sections == second.tally.sections == 1
    assert (first.tally.supervision_attended, second.tally.supervision_recorded) == (1, 1)
    (arm,) = found.arms
    assert (arm.tally.planned, arm.tally.reached, arm.tally.sections) == (4, 2, 1)
    assert (arm.tally.supervision_attended, arm.tally.supervision_recorded) == (1, 2)


def test_a_fixed_number_of_queries(delivered: dict[str, Any],
                                   django_assert_num_queries: Any) -> None:
    study = delivered["study"]
    study.program  # noqa: B018 - loaded by the caller, as the pages do
    with django_assert_num_queries(7):
        fidelity.build(study)


def test_dose_summary_quartiles() -> None:
    dose = fidelity.dose_summary(1, "Coaching", [0, 2, 4, 6, 12, 12], target=12)
    assert (dose.median, dose.q1, dose.q3) == (5.0, 2.5, 10.5)
    assert dose.at_target == 2 and dose.at_target_share == pytest.approx(1 / 3)
    assert fidelity.dose_summary(1, "Empty", [], target=12).text == "\u2014"
