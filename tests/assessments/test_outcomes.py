"""Outcome statistics and the outcome report: maths against scipy, a hand-built cohort,
coach attribution by the longest pair, and the "not enough data" path."""

from __future__ import annotations

import csv
import datetime as dt
import io
import math
from typing import Any

import numpy as np
import pytest
from django.test import Client
from django.urls import reverse
from scipy import stats

from peercoach.assessments import outcomes
from peercoach.assessments.outcomes import Spell, longest_coach, summarize
from peercoach.matching.models import Match

from ..factories import CoachFactory, PatientFactory, submitted_assessment, time_point

# --- The statistics, against a direct scipy computation -------------------------------------

DIFFS = [-2.0, -1 / 3, 0.0, -2.0, 1 / 3]
IMPROVED = [True, False, False, True, False]


def _scipy_reference(diffs: list[float], improved: list[bool]) -> dict[str, float]:
    x = np.asarray(diffs)
    n = len(x)
    half = stats.t.ppf(0.975, n - 1) * x.std(ddof=1) / math.sqrt(n)
    wilson = stats.binomtest(sum(improved), n).proportion_ci(method="wilson")
    return {"mean": x.mean(), "low": x.mean() - half, "high": x.mean() + half,
            "share": sum(improved) / n, "share_low": wilson.low, "share_high": wilson.high}


def test_summary_matches_scipy() -> None:
    got = summarize(DIFFS, IMPROVED)
    want = _scipy_reference(DIFFS, IMPROVED)
    assert got.n == 5 and got.improved == 2 and got.enough
    assert got.mean_change == pytest.approx(want["mean"], abs=1e-12)
    assert got.ci_low == pytest.approx(want["low"], abs=1e-12)
    assert got.ci_high == pytest.approx(want["high"], abs=1e-12)
    assert got.share == pytest.approx(0.4)
    assert got.share_low == pytest.approx(want["share_low"], abs=1e-12)
    assert got.share_high == pytest.approx(want["share_high"], abs=1e-12)


def test_wilson_interval_matches_its_textbook_formula() -> None:
    """Wilson (1927): (k + z²/2)/(n + z²) ± z·sqrt(k(n-k)/n + z²/4)/(n + z²)."""
    k, n, z = 2, 5, stats.norm.ppf(0.975)
    centre = (k + z * z / 2) / (n + z * z)
    half = z * math.sqrt(k * (n - k) / n + z * z / 4) / (n + z * z)
    got = summarize(DIFFS, IMPROVED)
    assert (got.share_low, got.share_high) == pytest.approx((centre - half, centre + half))


@pytest.mark.parametrize("n", [0, 1])
def test_under_two_patients_there_is_not_enough_data(n: int) -> None:
    got = summarize(DIFFS[:n], IMPROVED[:n])
    assert not got.enough
    assert (got.ci_low, got.ci_high, got.share_low, got.share_high) == (None,) * 4
    assert got.mean_change == (DIFFS[0] if n else None)


def test_identical_changes_give_an_interval_without_width() -> None:
    got = summarize([-1.0, -1.0, -1.0], [True, True, True])
    assert (got.mean_change, got.ci_low, got.ci_high) == (-1.0, -1.0, -1.0)


def test_lengths_must_agree() -> None:
    with pytest.raises(ValueError, match="same length"):
        summarize([1.0], [])


# --- Coach attribution -----------------------------------------------------------------------

D = dt.date


def test_longest_coach_during_the_program_wins() -> None:
    spells = [Spell(1, D(2026, 2, 1), D(2026, 2, 11)), Spell(2, D(2026, 2, 11), None)]
    assert longest_coach(spells, D(2026, 2, 1), D(2026, 6, 1), today=D(2026, 7, 1)) == 2


def test_time_after_the_program_does_not_count() -> None:
    # Coach 2 has coached longer in all, but inside the program coach 1 did (89 vs 31 days).
    spells = [Spell(1, D(2026, 2, 1), D(2026, 5, 1)), Spell(2, D(2026, 5, 1), None)]
    assert longest_coach(spells, D(2026, 2, 1), D(2026, 6, 1), today=D(2027, 1, 1)) == 1
    assert longest_coach(spells, None, None, today=D(2027, 1, 1)) == 2


def test_a_tie_goes_to_the_earlier_coach_and_repeat_spells_add_up() -> None:
    spells = [Spell(7, D(2026, 2, 1), D(2026, 2, 11)), Spell(3, D(2026, 2, 11), D(2026, 2, 21))]
    assert longest_coach(spells, D(2026, 2, 1), D(2026, 6, 1), today=D(2026, 7, 1)) == 7
    spells.append(Spell(3, D(2026, 3, 1), D(2026, 3, 2)))
    assert longest_coach(spells, D(2026, 2, 1), D(2026, 6, 1), today=D(2026, 7, 1)) == 3


def test_no_pair_means_no_coach() -> None:
    assert longest_coach([], D(2026, 2, 1), None, today=D(2026, 7, 1)) is None


# --- The report: a hand-built cohort ----------------------------------------------------------

#: Five patients' PEG at baseline and 4 months (PEG totals are thirds).
COHORT = [(7.0, 5.0), (6.0, 17 / 3), (8.0, 8.0), (5.0, 3.0), (19 / 3, 20 / 3)]


def make_cohort(world: Any, program: Any = None, values: list[tuple[float, float]] = COHORT,
                coach: Any = None) -> list[Any]:
    program = program or world.program_a
    base, four = time_point(program, "baseline", 0), time_point(program, "4mo", 120)
    made = []
    for before, after in values:
        patient = PatientFactory(program=program, enrolled_on=D(2026, 2, 1))
        submitted_assessment(patient, "peg", before, point=base)
        submitted_assessment(patient, "peg", after, point=four)
        if coach is not None:
            Match.objects.create(patient=patient, coach=coach, created_by=world.coordinator,
                                 started_on=D(2026, 2, 1))
        made.append(patient)
    return made


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _csv_rows(user: Any, query: str = "") -> list[dict[str, str]]:
    response = _client(user).get(reverse("assessments:outcomes_csv") + query)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def test_report_numbers_for_the_cohort(world: Any) -> None:
    make_cohort(world)
    make_cohort(world, world.program_b, [(9.0, 1.0), (9.0, 1.0)])  # site B: out of scope
    found = outcomes.report(user=world.coordinator)
    [row] = found.rows
    assert (row.group, row.instrument_name, row.time_point_label) == (
        world.program_a.name, "PEG", "4 months")
    want = _scipy_reference([after - before for before, after in COHORT], IMPROVED)
    s = row.summary
    assert (s.n, s.improved) == (5, 2)
    assert s.mean_change == pytest.approx(want["mean"])
    assert (s.ci_low, s.ci_high) == pytest.approx((want["low"], want["high"]))
    assert (s.share_low, s.share_high) == pytest.approx((want["share_low"], want["share_high"]))
    assert "fall of at least 1 point" in found.rules["peg"]


def test_report_csv_for_the_cohort(world: Any) -> None:
    make_cohort(world)
    [row] = _csv_rows(world.coordinator)
    want = _scipy_reference([after - before for before, after in COHORT], IMPROVED)
    assert row["group_by"] == "program" and row["group"] == world.program_a.name
    assert row["instrument"] == "PEG" and row["time_point"] == "4 months"
    assert (row["n"], row["improved"], row["share_improved"]) == ("5", "2", "0.400")
    assert row["mean_change"] == f"{want['mean']:.3f}" == "-0.800"
    assert row["ci95_low"] == f"{want['low']:.3f}"
    assert row["ci95_high"] == f"{want['high']:.3f}"
    assert row["share_ci95_low"] == f"{want['share_low']:.3f}"
    assert row["share_ci95_high"] == f"{want['share_high']:.3f}"
    assert row["note"] == "" and "fall of at least 1 point" in row["important_improvement_rule"]


def test_report_page_shows_numbers_rule_and_attribution(world: Any) -> None:
    make_cohort(world)
    response = _client(world.coordinator).get(reverse("assessments:outcomes"))
    assert response.status_code == 200
    body = response.content.decode()
    assert "-0.80" in body and "2 of 5: 40%" in body
    assert "Improvement: a fall of at least 1 point" in body
    assert "coached them longest during the program" in body
    assert "<figure" in body and "<figcaption" in body and 'role="img"' in body


def test_patient_counts_toward_the_coach_who_coached_longest(world: Any) -> None:
    first = CoachFactory(program=world.program_a, first_name="Brief", last_name="Spell")
    second = CoachFactory(program=world.program_a, first_name="Long", last_name="Haul")
    patients = make_cohort(world, values=COHORT[:2])
    for patient in patients:
        Match.objects.create(patient=patient, coach=first, created_by=world.coordinator,
                             started_on=D(2026, 2, 1), ended_on=D(2026, 2, 11))
        Match.objects.create(patient=patient, coach=second, created_by=world.coordinator,
                             started_on=D(2026, 2, 11))
    found = outcomes.report(user=world.coordinator, group_by="coach")
    assert [(r.group, r.summary.n) for r in found.rows] == [("Long Haul", 2)]
    # Filtering by coach keeps only the patients attributed to them.
    assert not outcomes.report(user=world.coordinator, coach_id=first.pk).rows
    assert outcomes.report(user=world.coordinator, coach_id=second.pk).rows[0].summary.n == 2


def test_group_by_coach_shows_all_patients_and_no_coach(world: Any) -> None:
    coach = CoachFactory(program=world.program_a, first_name="Ann", last_name="Lee")
    make_cohort(world, values=COHORT[:3], coach=coach)
    make_cohort(world, values=COHORT[3:])  # never paired
    rows = outcomes.report(user=world.coordinator, group_by="coach").rows
    assert [(r.group, r.summary.n) for r in rows] == [
        ("All patients", 5), ("Ann Lee", 3), ("No coach", 2)]


def test_researcher_sees_coach_study_ids_not_names(world: Any) -> None:
    coach = CoachFactory(program=world.program_a, first_name="Zelda", last_name="Quist")
    patients = make_cohort(world, coach=coach)
    client = _client(world.researcher)
    body = client.get(reverse("assessments:outcomes") + "?group_by=coach").content.decode()
    assert f"Coach {coach.study_id}" in body
    for secret in ("Zelda", "Quist", patients[0].last_name, world.coach.last_name):
        assert secret not in body
    rows = _csv_rows(world.researcher, "?group_by=coach")
    assert rows[0]["group"] == f"Coach {coach.study_id}"


def test_not_enough_data(world: Any) -> None:
    make_cohort(world, values=COHORT[:1])
    rows = _csv_rows(world.coordinator)
    assert rows[0]["n"] == "1" and rows[0]["note"] == "Not enough data"
    assert rows[0]["mean_change"] == rows[0]["ci95_low"] == rows[0]["share_improved"] == ""
    body = _client(world.coordinator).get(reverse("assessments:outcomes")).content.decode()
    assert "Not enough data (fewer than 2 patients with both answers)" in body


def test_empty_report_says_not_enough_data(world: Any) -> None:
    body = _client(world.coordinator).get(reverse("assessments:outcomes")).content.decode()
    assert "not enough data" in body


def test_filters_by_instrument_time_point_program_and_site(world: Any) -> None:
    patients = make_cohort(world)
    six = time_point(world.program_a, "6mo", 180)
    base = time_point(world.program_a, "baseline", 0)
    for patient, (phq_before, phq_after) in zip(patients, [(15, 9), (12, 12), (10, 6)],
                                                 strict=False):
        submitted_assessment(patient, "phq9", phq_before, point=base)
        submitted_assessment(patient, "phq9", phq_after, point=six)
    found = outcomes.report(user=world.coordinator)
    assert [(r.instrument, r.time_point) for r in found.rows] == [("phq9", "6mo"),
                                                                   ("peg", "4mo")]
    assert [r.instrument for r in outcomes.report(user=world.coordinator,
                                                  instrument="peg").rows] == ["peg"]
    assert [r.time_point for r in outcomes.report(user=world.coordinator,
                                                  time_point="6mo").rows] == ["6mo"]
    phq = outcomes.report(user=world.coordinator, instrument="phq9").rows[0].summary
    assert (phq.n, phq.improved) == (3, 2)  # 15 -> 9 and 10 -> 6 fall by 20% or more
    assert not outcomes.report(user=world.coordinator, program_id=world.program_b.pk).rows
    assert not outcomes.report(user=world.coordinator, site_id=world.site_b.pk).rows
    assert outcomes.report(user=world.coordinator, site_id=world.site_a.pk).rows


def test_instruments_without_a_change_rule_are_named_not_reported(world: Any) -> None:
    [patient] = make_cohort(world, values=COHORT[:1])
    submitted_assessment(patient, "pgic", 2, point=time_point(world.program_a, "4mo", 120))
    found = outcomes.report(user=world.coordinator)
    assert found.without_rule == ["pgic"]
    assert {r.instrument for r in found.rows} == {"peg"}


def test_the_report_is_audited(world: Any) -> None:
    from peercoach.core.models import AuditEvent

    client = _client(world.researcher)
    client.get(reverse("assessments:outcomes"))
    client.get(reverse("assessments:outcomes_csv") + f"?program={world.program_a.pk}")
    events = list(AuditEvent.objects.filter(actor=world.researcher).order_by("id")
                  .values_list("action", "target_type", "details"))
    assert [(a, t) for a, t, _ in events] == [("view", "site"), ("export", "program")]
    assert events[1][2]["format"] == "csv"


def test_bad_filter_values_are_ignored_with_a_message(world: Any) -> None:
    make_cohort(world)
    response = _client(world.coordinator).get(reverse("assessments:outcomes")
                                              + f"?program={world.program_b.pk}&group_by=x")
    assert response.status_code == 200
    assert response.context["form"].errors
    assert len(response.context["rows"]) == 1
