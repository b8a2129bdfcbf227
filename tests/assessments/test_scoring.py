"""Scoring against published worked examples, band edges, missing items, flags, change."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peercoach.assessments.instruments import REGISTRY, get
from peercoach.assessments.scoring import (
    IMPORTANT_IMPROVEMENT,
    ITEM9_POSITIVE,
    POSITIVE_SCREEN,
    T_TABLE_MISSING,
    Change,
    Score,
    change,
    check_pam,
    has_change_rule,
    mos_transform_0_100,
    score,
)


def items(*values):
    """Answers for items 1, 2, 3, ... in order."""
    return dict(enumerate(values, start=1))


def answers_totalling(code, total):
    """A complete answer set for a summed instrument whose scored items add up to total."""
    out, left = {}, total
    for item in get(code).scored_items:
        value = min(item.high, max(item.low, left))
        out[item.number] = value
        left -= value
    assert left == 0
    return out


# --- Worked examples (domain-facts 1.12) ------------------------------------------------


def test_gad7_pacio_sample_data_example_is_7_mild():
    # PACIO Sample Data Depot, BSJ1-GAD7-QuestionnaireResponse-October2025: "Several days"
    # x4, "Not at all" (item 5), "Several days" (6), "More than half the days" (7) = 7,
    # labelled "Mild anxiety".
    # https://build.fhir.org/ig/paciowg/sample-data-fsh/QuestionnaireResponse-BSJ1-GAD7-QuestionnaireResponse-October2025.html
    result = score("gad7", items(1, 1, 1, 1, 0, 1, 2))
    assert result == Score(code="gad7", total=7, band="Mild", complete=True,
                           flags=frozenset(), answered=7, raw=7)
    # GAD-2 from the same answers: 1 + 1 = 2, a negative screen (derived).
    gad2 = score("gad2", items(1, 1))
    assert (gad2.total, gad2.band, gad2.flags) == (2, "Negative screen", frozenset())


def test_gad7_mii_pro_example_is_7():
    # MII PRO IG, QuestionnaireResponse-mii-exa-pro-gad-7-response: 1,1,1,2,2,0,0 and the
    # source's phq-gad7-score-total = 7.
    # https://build.fhir.org/ig/medizininformatik-initiative/kerndatensatzmodul-proms/branches/v2026.7.0/en/QuestionnaireResponse-mii-exa-pro-gad-7-response.html
    result = score("gad7", items(1, 1, 1, 2, 2, 0, 0))
    assert result.total == 7
    assert result.band == "Mild"


def test_peg_example_5_5_5_is_5():
    # https://achawaqat.com/research/scales/peg/ : P = E = G = 5 -> 15 / 3 = 5.0
    result = score("peg", items(5, 5, 5))
    assert result.total == 5.0
    assert result.raw == 15
    assert result.band is None  # Krebs 2009 gives no bands
    # (derived) 7, 5, 6 -> 18 / 3 = 6.0
    assert score("peg", items(7, 5, 6)).total == 6.0


def test_phq9_example_with_item9_positive_at_a_moderate_total():
    # domain-facts 1.12 example 4 (derived from the PHQ-9 rules): 2,1,2,3,1,1,0,0,1 -> 11,
    # moderate; item 9 = 1 fires the safety workflow although the total is only moderate.
    result = score("phq9", items(2, 1, 2, 3, 1, 1, 0, 0, 1))
    assert result.total == 11
    assert result.band == "Moderate"
    assert result.flags == {ITEM9_POSITIVE}
    assert result.complete and result.answered == 9
    # PHQ-2 from the same answers: 2 + 1 = 3 -> positive.
    phq2 = score("phq2", items(2, 1))
    assert phq2.total == 3 and phq2.flags == {POSITIVE_SCREEN}
    assert phq2.band == "Positive screen"


def test_bpi_examples():
    # domain-facts 1.12 example 5 (derived from the BPI user guide's rules):
    # severity 8, 3, 6, 5 -> 22 / 4 = 5.5
    severity = score("bpi_severity", items(8, 3, 6, 5))
    assert severity.total == 5.5
    assert severity.band == "Moderate"
    # interference 6,7,5,6,4,7,8 -> 43 / 7 = 6.14
    interference = score("bpi_interference", items(6, 7, 5, 6, 4, 7, 8))
    assert interference.total == pytest.approx(43 / 7)
    assert round(interference.total, 2) == 6.14
    assert interference.band == "Moderate"
    # only 3 of 7 interference items answered -> missing (the >= 4 of 7 rule)
    three = score("bpi_interference", {1: 6, 2: 7, 3: 5})
    assert three.total is None and three.band is None and three.raw is None
    assert three.answered == 3 and not three.complete


def test_mos_transform_example():
    # domain-facts 1.12 example 6, RAND's formula: 100 x (3.5 - 1) / (5 - 1) = 62.5
    assert mos_transform_0_100(3.5) == 62.5
    assert mos_transform_0_100(1) == 0
    assert mos_transform_0_100(5) == 100
    with pytest.raises(ValueError, match="outside 1 to 5"):
        mos_transform_0_100(0.5)
    # (A 19-item mean of exactly 3.5 is impossible: it would need a sum of 66.5.)


def test_mos_overall_is_the_mean_of_19_items():
    answers = dict.fromkeys(range(1, 20), 3) | {1: 5, 2: 1}
    result = score("mos_sss", answers)
    assert result.total == 3
    assert mos_transform_0_100(result.total) == 50
    assert score("mos_sss", dict.fromkeys(range(1, 19), 3)).total is None  # 18 of 19: none


def test_pseq_sums():
    assert score("pseq10", items(*[6] * 10)).total == 60
    assert score("pseq10", items(*[6] * 10)).band == "Minimal"
    assert score("pseq10", items(*[0] * 10)).band == "Severe"
    assert score("pseq2", items(3, 6)).total == 9
    assert score("pseq2", items(3, 6)).band is None


# --- Band edges ---------------------------------------------------------------------------

EDGES = {
    "phq9": [(4, "Minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"), (14, "Moderate"),
             (15, "Moderately severe"), (19, "Moderately severe"), (20, "Severe"),
             (27, "Severe"), (0, "Minimal")],
    "phq8": [(4, "Minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"), (14, "Moderate"),
             (15, "Moderately severe"), (19, "Moderately severe"), (20, "Severe"),
             (24, "Severe")],
    "gad7": [(0, "Minimal"), (4, "Minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"),
             (14, "Moderate"), (15, "Severe"), (21, "Severe")],
    "phq2": [(2, "Negative screen"), (3, "Positive screen"), (6, "Positive screen")],
    "gad2": [(2, "Negative screen"), (3, "Positive screen"), (6, "Positive screen")],
    "pseq10": [(19, "Severe"), (20, "Moderate"), (30, "Moderate"), (31, "Mild"), (40, "Mild"),
               (41, "Minimal")],
}


@pytest.mark.parametrize("code, total, band",
                         [(c, t, b) for c, edges in EDGES.items() for t, b in edges])
def test_band_edges(code, total, band):
    result = score(code, answers_totalling(code, total))
    assert (result.total, result.band) == (total, band)


@pytest.mark.parametrize("code", ["phq2", "gad2"])
def test_screen_flags_at_3_and_not_at_2(code):
    assert POSITIVE_SCREEN in score(code, items(2, 1)).flags
    assert POSITIVE_SCREEN in score(code, items(0, 3)).flags
    assert POSITIVE_SCREEN not in score(code, items(1, 1)).flags
    assert POSITIVE_SCREEN not in score(code, items(2, 0)).flags
    assert score(code, {1: 3}).flags == frozenset()  # incomplete: no total, no screen


@pytest.mark.parametrize("answers, band", [
    (items(4, 4, 5, 5), "Mild"),  # mean 4.5: between "0-4" and "5-6", takes the lower
    (items(5, 5, 5, 5), "Moderate"),
    (items(6, 6, 7, 7), "Moderate"),  # 6.5
    (items(7, 7, 7, 7), "Severe"),
    (items(0, 0, 0, 0), "Mild"),
    (items(10, 10, 10, 10), "Severe"),
])
def test_bpi_severity_band_edges(answers, band):
    assert score("bpi_severity", answers).band == band


@pytest.mark.parametrize("value, label, improved", [
    (1, "Very much improved", True), (2, "Much improved", True),
    (3, "Minimally improved", False), (4, "No change", False), (7, "Very much worse", False),
])
def test_pgic_categories_and_important_improvement(value, label, improved):
    result = score("pgic", {1: value})
    assert result.total == value and result.band == label
    assert (IMPORTANT_IMPROVEMENT in result.flags) is improved


# --- Missing items ------------------------------------------------------------------------


def test_phq9_needs_every_scored_item_but_not_the_difficulty_item():
    answers = items(1, 1, 1, 1, 1, 1, 1, 1, 1)
    assert score("phq9", answers).total == 9
    with_difficulty = score("phq9", answers | {10: 3})
    assert with_difficulty.total == 9 and with_difficulty.answered == 9
    assert with_difficulty.complete
    del answers[5]
    partial = score("phq9", answers)
    assert partial == Score(code="phq9", total=None, band=None, complete=False,
                            flags=frozenset({ITEM9_POSITIVE}), answered=8, raw=None)


def test_item9_flag_fires_whatever_the_total_and_even_on_a_draft():
    assert score("phq9", {9: 1}).flags == {ITEM9_POSITIVE}
    assert score("phq9", {9: 3}).total is None
    assert score("phq9", {9: 0}).flags == frozenset()
    assert score("phq9", items(0, 0, 0, 0, 0, 0, 0, 0, 1)).flags == {ITEM9_POSITIVE}
    assert score("phq9", items(3, 3, 3, 3, 3, 3, 3, 3, 0)).flags == frozenset()
    assert ITEM9_POSITIVE not in score("phq8", items(3, 3, 3, 3, 3, 3, 3, 3)).flags


def test_interference_is_the_mean_of_the_items_answered_from_four():
    four = score("bpi_interference", {1: 2, 3: 4, 5: 6, 7: 8})
    assert four.total == 5 and four.raw == 20 and four.answered == 4
    assert not four.complete
    five = score("bpi_interference", {1: 2, 2: 3, 3: 4, 5: 6, 7: 8})
    assert five.total == pytest.approx(23 / 5)


@pytest.mark.parametrize("code, answers", [
    ("bpi_severity", {1: 8, 2: 3, 3: 6}),
    ("peg", {1: 5, 2: 5}),
    ("gad7", items(1, 1, 1, 1, 1, 1)),
    ("pseq10", items(*[3] * 9)),
    ("promis_pi_4a", {1: 1, 2: 2, 3: 3}),
    ("pgic", {}),
])
def test_no_proration_where_the_sources_are_silent(code, answers):
    result = score(code, answers)
    assert result.total is None and result.band is None and result.raw is None
    assert not result.complete
    assert result.answered == len(answers)


def test_none_answers_count_as_unanswered_and_empty_answers_score_nothing():
    assert score("peg", {1: 5, 2: None, 3: 5}).answered == 2
    assert score("peg", {1: 5, 2: None, 3: 5}).total is None
    empty = score("gad7", {})
    assert (empty.total, empty.answered, empty.complete) == (None, 0, False)


def test_whole_number_floats_are_accepted():
    assert score("gad7", dict.fromkeys(range(1, 8), 1.0)).total == 7


# --- PROMIS T-scores ----------------------------------------------------------------------

# Synthetic, obviously not the official table: T = 20 + 2 x (raw - 4).
FAKE_4A = {raw: 20.0 + 2 * (raw - 4) for raw in range(4, 21)}


def test_promis_without_a_table_gives_the_raw_sum_and_no_total():
    result = score("promis_pi_4a", items(1, 2, 3, 4))
    assert result.total is None and result.band is None
    assert result.raw == 10 and result.complete
    assert result.flags == {T_TABLE_MISSING}
    assert score("promis_pi_8a", {1: 3}).flags == {T_TABLE_MISSING}


def test_promis_with_the_sites_table_converts_the_raw_sum():
    result = score("promis_pi_4a", items(1, 2, 3, 4), t_score_table=FAKE_4A)
    assert result.total == 32.0 and result.raw == 10
    assert result.flags == frozenset()
    assert score("promis_pi_4a", items(1, 1, 1, 1), t_score_table=FAKE_4A).total == 20.0
    assert score("promis_pi_4a", items(5, 5, 5, 5), t_score_table=FAKE_4A).total == 52.0
    assert score("promis_pi_4a", {1: 5}, t_score_table=FAKE_4A).total is None


@pytest.mark.parametrize("table, message", [
    ({k: v for k, v in FAKE_4A.items() if k != 10}, "no entry for raw sum 10"),
    (FAKE_4A | {10: 95.0}, "gives 95.0 for raw sum 10, outside 10 to 90"),
    (FAKE_4A | {10: float("nan")}, "not a number"),
    (FAKE_4A | {10: "50"}, "not a number"),
])
def test_a_broken_t_table_is_refused(table, message):
    with pytest.raises(ValueError, match=message):
        score("promis_pi_4a", items(1, 2, 3, 4), t_score_table=table)


def test_a_t_table_is_only_for_promis():
    with pytest.raises(ValueError, match="phq9 takes no T-score table"):
        score("phq9", {}, t_score_table=FAKE_4A)


# --- Errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("code, answers, message", [
    ("phq10", {}, r"Unknown instrument 'phq10'\. Known: "),
    ("phq9", {0: 1}, r"phq9 has no item 0; its items are 1 to 10"),
    ("gad7", {10: 1}, r"gad7 has no item 10; its items are 1 to 7"),
    ("gad7", {8: 0}, r"gad7 has no item 8"),
    ("gad7", {"1": 1}, r"gad7: item numbers must be whole numbers, got '1'"),
    ("gad7", {True: 1}, r"gad7: item numbers must be whole numbers, got True"),
    ("gad7", {1.0: 1}, r"item numbers must be whole numbers, got 1\.0"),
    ("phq9", {3: 4}, r"phq9 item 3: answer 4 is out of range \(0 to 3\)"),
    ("phq9", {3: -1}, r"phq9 item 3: answer -1 is out of range \(0 to 3\)"),
    ("phq9", {10: 4}, r"phq9 item 10: answer 4 is out of range \(0 to 3\)"),
    ("peg", {2: 11}, r"peg item 2: answer 11 is out of range \(0 to 10\)"),
    ("pgic", {1: 0}, r"pgic item 1: answer 0 is out of range \(1 to 7\)"),
    ("promis_pi_4a", {1: 0}, r"answer 0 is out of range \(1 to 5\)"),
    ("peg", {1: float("nan")}, r"peg item 1: answer nan is not a finite number"),
    ("peg", {1: float("inf")}, r"peg item 1: answer inf is not a finite number"),
    ("phq9", {1: True}, r"phq9 item 1: answer must be a number from 0 to 3, got True"),
    ("phq9", {1: False}, r"got False"),
    ("phq9", {1: "2"}, r"phq9 item 1: answer must be a number from 0 to 3, got '2'"),
    ("peg", {1: 2.5}, r"peg item 1: answer 2\.5 must be a whole number from 0 to 10"),
])
def test_bad_input_is_refused_naming_the_problem(code, answers, message):
    with pytest.raises(ValueError, match=message):
        score(code, answers)


def test_answers_must_be_a_mapping():
    with pytest.raises(ValueError, match="answers must map item numbers"):
        score("gad7", [1, 1, 1])  # type: ignore[arg-type]


def test_pam_cannot_be_scored_here():
    with pytest.raises(ValueError, match="PAM scores are recorded from a licensed scorer"):
        score("pam", {})


def test_a_pam_result_is_checked_not_computed():
    check_pam(62.5, 3)
    check_pam(62.5, None)
    with pytest.raises(ValueError, match="PAM score must be a number from 0 to 100"):
        check_pam(101, 3)
    with pytest.raises(ValueError, match="PAM level must be a whole number from 1 to 4"):
        check_pam(50, 0)


# --- Change -------------------------------------------------------------------------------


@pytest.mark.parametrize("code, baseline, followup, improved", [
    # PHQ-9: a fall of at least 20% (Kounali 2020)
    ("phq9", 10, 8, True), ("phq9", 10, 9, False), ("phq9", 15, 12, True),
    ("phq9", 15, 13, False), ("phq9", 5, 4, True), ("phq9", 8, 10, False),
    # GAD-7: a fall of at least 1.5 points (Kounali 2020)
    ("gad7", 12, 10, True), ("gad7", 12, 11, False), ("gad7", 12, 10.5, True),
    ("gad7", 3, 1, True), ("gad7", 10, 12, False),
    # PEG: a fall of at least 1 point (Reed 2024)
    ("peg", 6, 5, True), ("peg", 6, 5.5, False), ("peg", 16 / 3, 13 / 3, True),
    ("peg", 5, 5 - 2 / 3, False), ("peg", 4, 5, False),
    # BPI severity: a fall of at least 30%; interference: at least 1 point (IMMPACT)
    ("bpi_severity", 10, 7, True), ("bpi_severity", 10, 7.5, False),
    ("bpi_severity", 5.5, 3.85, True), ("bpi_severity", 5.5, 4, False),
    ("bpi_interference", 6, 5, True), ("bpi_interference", 6, 5.25, False),
    ("bpi_interference", 43 / 7, 36 / 7, True),
    # PROMIS: a fall of at least 3 T points
    ("promis_pi_4a", 60, 57, True), ("promis_pi_6a", 60, 57.5, False),
    ("promis_pi_8a", 62.3, 59.3, True), ("promis_pi_8a", 55, 58, False),
    # PSEQ-10: a rise of at least 7 points and a band change (ePPOC)
    ("pseq10", 25, 32, True),  # moderate -> mild
    ("pseq10", 14, 21, True),  # severe -> moderate
    ("pseq10", 21, 28, False),  # +7 but still moderate
    ("pseq10", 28, 34, False),  # band change but only +6
    ("pseq10", 42, 55, False),  # minimal -> minimal
    ("pseq10", 35, 20, False),  # a fall is never an improvement here
    # PAM: a gain of at least 3 points (CBE #2483)
    ("pam", 50, 53, True), ("pam", 50, 52.5, False), ("pam", 53, 50, False),
])
def test_important_improvement_rules(code, baseline, followup, improved):
    result = change(code, baseline, followup)
    assert result.important_improvement is improved
    assert result.rule == get(code).important_change
    assert result.difference == pytest.approx(followup - baseline)


def test_change_reports_difference_and_percent():
    assert change("phq9", 10, 8) == Change(baseline=10, followup=8, difference=-2,
                                           percent=-20.0, important_improvement=True,
                                           rule=get("phq9").important_change)
    zero = change("phq9", 0, 3)
    assert zero.percent is None and not zero.important_improvement
    assert change("pseq10", 0, 20).percent is None
    assert change("pseq10", 0, 20).important_improvement  # severe -> moderate, +20


@pytest.mark.parametrize("code", ["pgic", "phq2", "gad2", "phq8", "pseq2", "mos_sss"])
def test_no_change_rule_where_none_is_published(code):
    assert not has_change_rule(code)
    with pytest.raises(ValueError, match=f"{code} has no clinically important change rule"):
        change(code, 1, 1)


def test_rule_texts_name_their_sources():
    for code in REGISTRY:
        if has_change_rule(code):
            assert change(code, *[get(code).score_range[0]] * 2).rule.startswith("Improvement")
    assert "Kounali" in get("phq9").important_change
    assert "Kounali" in get("gad7").important_change
    assert "Reed" in get("peg").important_change
    assert "IMMPACT" in get("bpi_severity").important_change
    assert "ePPOC" in get("pseq10").important_change


@pytest.mark.parametrize("code, baseline, followup, message", [
    ("phq9", 28, 10, "baseline total 28 is outside 0 to 27"),
    ("phq9", 10, -1, "followup total -1 is outside 0 to 27"),
    ("peg", float("nan"), 3, "baseline total nan"),
    ("peg", True, 3, "baseline total must be a number, got True"),
    ("peg", 3, "2", "followup total must be a number"),
    ("promis_pi_4a", 50, 95, "outside 10 to 90"),
    ("nope", 1, 1, "Unknown instrument"),
])
def test_change_refuses_impossible_totals(code, baseline, followup, message):
    with pytest.raises(ValueError, match=message):
        change(code, baseline, followup)


# --- Properties ---------------------------------------------------------------------------

phq9_answers = st.lists(st.integers(0, 3), min_size=9, max_size=9)


@given(phq9_answers)
def test_phq9_total_is_the_sum_within_0_to_27(values):
    result = score("phq9", items(*values))
    assert result.total == sum(values)
    assert 0 <= result.total <= 27
    assert result.complete and result.answered == 9
    expected_band = next(label for low, high, label in [
        (0, 4, "Minimal"), (5, 9, "Mild"), (10, 14, "Moderate"), (15, 19, "Moderately severe"),
        (20, 27, "Severe")] if low <= result.total <= high)
    assert result.band == expected_band
    assert (ITEM9_POSITIVE in result.flags) is (values[8] > 0)


@st.composite
def partial_answers(draw, code):
    instrument = get(code)
    chosen = draw(st.lists(st.sampled_from(instrument.items), unique=True))
    return {item.number: draw(st.sampled_from(item.values)) for item in chosen}


@given(st.sampled_from([c for c in REGISTRY if c != "pam"]).flatmap(
    lambda code: st.tuples(st.just(code), partial_answers(code))))
def test_any_partial_answer_set_scores_by_the_missing_item_rule(case):
    code, answers = case
    instrument = get(code)
    scored = [v for n, v in answers.items() if instrument.item(n).scored]
    result = score(code, answers)
    assert result.answered == len(scored)
    assert result.complete is (len(scored) == len(instrument.scored_items))
    if len(scored) < instrument.min_answered:
        assert result.total is None and result.band is None and result.raw is None
        return
    assert result.raw == sum(scored)
    if instrument.rule == "raw_to_t":
        assert result.total is None and T_TABLE_MISSING in result.flags
        return
    expected = sum(scored) / len(scored) if instrument.rule == "mean" else sum(scored)
    assert result.total == pytest.approx(expected)
    low, high = instrument.score_range
    assert low <= result.total <= high
    assert result.band == instrument.band_for(result.total)


@given(st.sampled_from([c for c in REGISTRY if REGISTRY[c].bands]), st.data())
def test_band_is_monotone_in_the_total(code, data):
    instrument = get(code)
    low, high = instrument.score_range
    a = data.draw(st.floats(low, high))
    b = data.draw(st.floats(a, high))
    labels = [band.label for band in instrument.bands]
    assert labels.index(instrument.band_for(a)) <= labels.index(instrument.band_for(b))


@given(st.sampled_from([c for c in REGISTRY if has_change_rule(c)]), st.data())
def test_change_is_consistent(code, data):
    instrument = get(code)
    low, high = instrument.score_range
    baseline = data.draw(st.floats(low, high))
    followup = data.draw(st.floats(low, high))
    result = change(code, baseline, followup)
    assert result.difference == followup - baseline
    if baseline:
        assert math.isclose(result.percent, result.difference / baseline * 100)
    else:
        assert result.percent is None
    if result.important_improvement:
        assert (followup < baseline) if instrument.higher_is_worse else (followup > baseline)
    assert not change(code, baseline, baseline).important_improvement
