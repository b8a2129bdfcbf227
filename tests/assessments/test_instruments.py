"""The instrument registry: what ships, under which licence, with which codes and bands."""

import dataclasses
import subprocess
import sys

import pytest

from peercoach.assessments import instruments
from peercoach.assessments.instruments import (
    PFIZER_COPYRIGHT,
    REGISTRY,
    Band,
    Instrument,
    Item,
    Licence,
    Option,
    get,
    pam_level_valid,
)

FREE = ("phq9", "phq8", "phq2", "gad7", "gad2", "peg", "pgic")
LICENSED = ("bpi_severity", "bpi_interference", "promis_pi_4a", "promis_pi_6a", "promis_pi_8a",
            "pseq10", "pseq2", "mos_sss")
PFIZER = ("phq9", "phq8", "phq2", "gad7", "gad2")

# code: (number of items, rule, min_answered, score range, higher is worse)
SHAPES = {
    "phq9": (10, "sum", 9, (0, 27), True),
    "phq8": (8, "sum", 8, (0, 24), True),
    "phq2": (2, "sum", 2, (0, 6), True),
    "gad7": (7, "sum", 7, (0, 21), True),
    "gad2": (2, "sum", 2, (0, 6), True),
    "peg": (3, "mean", 3, (0, 10), True),
    "pgic": (1, "single", 1, (1, 7), True),
    "bpi_severity": (4, "mean", 4, (0, 10), True),
    "bpi_interference": (7, "mean", 4, (0, 10), True),
    "promis_pi_4a": (4, "raw_to_t", 4, (10, 90), True),
    "promis_pi_6a": (6, "raw_to_t", 6, (10, 90), True),
    "promis_pi_8a": (8, "raw_to_t", 8, (10, 90), True),
    "pseq10": (10, "sum", 10, (0, 60), False),
    "pseq2": (2, "sum", 2, (0, 12), False),
    "mos_sss": (19, "mean", 19, (1, 5), False),
    "pam": (0, "external", 0, (0, 100), False),
}


def test_the_registry_holds_exactly_the_agreed_instruments():
    assert set(REGISTRY) == set(FREE) | set(LICENSED) | {"pam"}
    assert set(REGISTRY) == set(SHAPES)
    for code, instrument in REGISTRY.items():
        assert instrument.code == code
        assert get(code) is instrument


@pytest.mark.parametrize("code", sorted(SHAPES))
def test_each_instrument_has_its_documented_shape(code):
    count, rule, min_answered, score_range, higher_is_worse = SHAPES[code]
    instrument = get(code)
    assert len(instrument.items) == count
    assert instrument.rule == rule
    assert instrument.min_answered == min_answered
    assert instrument.score_range == score_range
    assert instrument.higher_is_worse is higher_is_worse
    assert instrument.important_change and instrument.citation and instrument.copyright
    assert instrument.licence_note and instrument.recall


@pytest.mark.parametrize("code", [c for c, s in SHAPES.items() if s[1] == "sum"])
def test_a_summed_score_ranges_over_every_possible_sum(code):
    assert get(code).raw_range == get(code).score_range


def test_item_answer_scales():
    assert {i.values for i in get("phq9").items} == {(0, 1, 2, 3)}
    assert {i.values for i in get("gad7").items} == {(0, 1, 2, 3)}
    assert {i.values for i in get("peg").items} == {tuple(range(11))}
    assert get("pgic").item(1).values == tuple(range(1, 8))
    for code in ("bpi_severity", "bpi_interference"):
        assert {i.values for i in get(code).items} == {tuple(range(11))}
    for size in (4, 6, 8):
        promis = get(f"promis_pi_{size}a")
        assert {i.values for i in promis.items} == {(1, 2, 3, 4, 5)}
        assert promis.raw_range == (size, 5 * size)
    assert {i.values for i in get("pseq10").items} == {tuple(range(7))}
    assert {i.values for i in get("mos_sss").items} == {(1, 2, 3, 4, 5)}


def test_unknown_codes_are_refused_naming_the_known_ones():
    with pytest.raises(ValueError, match=r"^Unknown instrument 'x'\. Known: phq9, .*pam"):
        get("x")
    with pytest.raises(ValueError, match="Unknown instrument"):
        get(None)  # type: ignore[arg-type]


@pytest.mark.parametrize("number", [0, 8, -1, True, "1", 1.0])
def test_item_lookup_refuses_items_that_do_not_exist(number):
    with pytest.raises(ValueError, match=r"gad7 has no item .*items are 1 to 7"):
        get("gad7").item(number)


def test_item_lookup():
    assert get("phq9").item(9).text == ("Thoughts that you would be better off dead or of "
                                        "hurting yourself in some way")
    assert get("phq9").item(10).scored is False
    assert [i.number for i in get("phq9").scored_items] == list(range(1, 10))
    with pytest.raises(ValueError, match="no items"):
        get("pam").item(1)


@pytest.mark.parametrize("code", LICENSED)
def test_licensed_instruments_ship_no_item_text_and_no_anchor_words(code):
    instrument = get(code)
    assert instrument.licence is Licence.LICENSED
    assert instrument.needs_loaded_text
    assert not instrument.has_item_text
    assert all(item.text is None for item in instrument.items)
    assert all(option.label is None for item in instrument.items for option in item.options)
    assert instrument.instructions is None


@pytest.mark.parametrize("code", FREE)
def test_free_instruments_ship_every_item_with_a_copyright_line(code):
    instrument = get(code)
    assert instrument.licence is Licence.FREE
    assert not instrument.needs_loaded_text
    assert instrument.has_item_text
    assert all(item.text and item.text.strip() for item in instrument.items)
    assert instrument.copyright.strip()


@pytest.mark.parametrize("code", PFIZER)
def test_phq_and_gad_keep_pfizers_line_and_word_every_answer(code):
    instrument = get(code)
    assert instrument.copyright == PFIZER_COPYRIGHT
    assert "No permission required to reproduce, translate, display or distribute" in (
        instrument.copyright)
    assert "Pfizer" in instrument.copyright
    labels = {option.label for item in instrument.scored_items for option in item.options}
    assert labels == {"Not at all", "Several days", "More than half the days",
                      "Nearly every day"}
    assert instrument.recall == "Over the last 2 weeks"


def test_short_forms_repeat_the_first_items_of_their_parent():
    phq9_texts = [item.text for item in get("phq9").items]
    assert [i.text for i in get("phq8").items] == phq9_texts[:8]
    assert [i.text for i in get("phq2").items] == phq9_texts[:2]
    assert [i.text for i in get("gad2").items] == [i.text for i in get("gad7").items][:2]


def test_peg_cites_krebs_2009_and_its_bpi_origin():
    peg = get("peg")
    assert "J Gen Intern Med 2009;24(6):733-8" in peg.citation
    assert "Krebs EE" in peg.citation
    assert "Brief Pain Inventory" in peg.copyright
    assert "BPI" in peg.licence_note
    assert peg.bands == ()  # no official bands
    assert [i.options[0].label for i in peg.items] == ["No pain", "Does not interfere",
                                                       "Does not interfere"]
    assert peg.item(1).options[5].label is None  # only the ends of the scale have words


def test_pgic_cites_farrar_and_phenx():
    pgic = get("pgic")
    assert "Farrar" in pgic.citation and "Pain 2001" in pgic.citation
    assert "PhenX" in pgic.citation
    assert [o.label for o in pgic.item(1).options] == [
        "Very much improved", "Much improved", "Minimally improved", "No change",
        "Minimally worse", "Much worse", "Very much worse"]


def test_pam_is_an_external_score_with_nothing_shipped():
    pam = get("pam")
    assert pam.licence is Licence.EXTERNAL_SCORE
    assert pam.items == () and pam.bands == ()
    assert not pam.needs_loaded_text and not pam.has_item_text


@pytest.mark.parametrize("score, level", [(0, 1), (100, 4), (53.2, 2), (70, None)])
def test_pam_results_in_range_are_accepted(score, level):
    pam_level_valid(score, level)


@pytest.mark.parametrize("score, level, message", [
    (-0.1, 1, "score must be a number from 0 to 100"),
    (100.5, 4, "score must be a number from 0 to 100"),
    (float("nan"), 2, "score must be a number"),
    (True, 2, "score must be a number"),
    ("50", 2, "score must be a number"),
    (50, 0, "level must be a whole number from 1 to 4"),
    (50, 5, "level must be a whole number from 1 to 4"),
    (50, 2.5, "level must be a whole number"),
    (50, True, "level must be a whole number"),
])
def test_pam_results_out_of_range_are_refused(score, level, message):
    with pytest.raises(ValueError, match=message):
        pam_level_valid(score, level)


# LOINC codes given as verified in domain-facts 1.4-1.5; nothing else may appear.
VERIFIED_LOINC = {
    "phq9": ("44249-1", "44261-6",
             ["44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5",
              None, None, None]),
    "phq2": ("55757-9", "55758-7", [None, None]),
    "gad7": ("69737-5", "70274-6",
             ["69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7"]),
}


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_only_verified_loinc_codes_are_used(code):
    instrument = get(code)
    panel, total, items = VERIFIED_LOINC.get(code, (None, None, [None] * len(instrument.items)))
    assert instrument.loinc_panel == panel
    assert instrument.loinc_total == total
    assert [item.loinc for item in instrument.items] == items


BAND_TABLES = {
    # PHQ-9 (Kroenke 2001; domain-facts 1.4 and LOINC LL382-3)
    "phq9": [(0, 4, "Minimal"), (5, 9, "Mild"), (10, 14, "Moderate"),
             (15, 19, "Moderately severe"), (20, 27, "Severe")],
    "phq8": [(0, 4, "Minimal"), (5, 9, "Mild"), (10, 14, "Moderate"),
             (15, 19, "Moderately severe"), (20, 24, "Severe")],
    # GAD-7 (Spitzer 2006; domain-facts 1.5)
    "gad7": [(0, 4, "Minimal"), (5, 9, "Mild"), (10, 14, "Moderate"), (15, 21, "Severe")],
    "phq2": [(0, 2, "Negative screen"), (3, 6, "Positive screen")],
    "gad2": [(0, 2, "Negative screen"), (3, 6, "Positive screen")],
    # ePPOC bands for the BPI (domain-facts 1.3) and the PSEQ (domain-facts 1.6)
    "bpi_severity": [(0, 4, "Mild"), (5, 6, "Moderate"), (7, 10, "Severe")],
    "bpi_interference": [(0, 4, "Mild"), (5, 6, "Moderate"), (7, 10, "Severe")],
    "pseq10": [(0, 19, "Severe"), (20, 30, "Moderate"), (31, 40, "Mild"), (41, 60, "Minimal")],
}


@pytest.mark.parametrize("code", sorted(REGISTRY))
def test_bands_are_the_published_ones_or_none(code):
    bands = [(b.low, b.high, b.label) for b in get(code).bands]
    if code == "pgic":
        assert [(b[0], b[2]) for b in bands] == [
            (o.value, o.label) for o in get("pgic").item(1).options]
    else:
        assert bands == BAND_TABLES.get(code, [])


@pytest.mark.parametrize("code", [c for c in REGISTRY if get(c).bands])
def test_every_whole_total_falls_in_exactly_one_band(code):
    instrument = get(code)
    low, high = instrument.score_range
    for total in range(int(low), int(high) + 1):
        holding = [b.label for b in instrument.bands if b.low <= total <= b.high]
        assert holding == [instrument.band_for(total)], total


def test_a_mean_between_two_bands_takes_the_lower_one():
    bpi = get("bpi_interference")
    assert bpi.band_for(4) == "Mild"
    assert bpi.band_for(4.5) == "Mild"
    assert bpi.band_for(4.99) == "Mild"
    assert bpi.band_for(5) == "Moderate"
    assert bpi.band_for(6.99) == "Moderate"
    assert bpi.band_for(7) == "Severe"
    assert bpi.band_for(10) == "Severe"
    assert get("peg").band_for(5) is None
    with pytest.raises(ValueError, match="outside 0 to 10"):
        bpi.band_for(10.5)


def _valid(**changes):
    base = get("phq2")
    return dataclasses.replace(base, **changes)


@pytest.mark.parametrize("changes, message", [
    ({"code": "PHQ 2"}, "code must be lowercase"),
    ({"rule": "median"}, "unknown rule"),
    ({"min_answered": 3}, "min_answered must be between 1 and 2"),
    ({"min_answered": 0}, "min_answered must be between 1 and 2"),
    ({"items": (Item(2, "x", (Option(0, None),)),)}, "numbered 1, 2, 3"),
    ({"items": (Item(1, "x", ()),), "min_answered": 1}, "needs answer options"),
    ({"bands": (Band(0, 3, "a"), Band(3, 6, "b"))}, "overlaps"),
    ({"bands": (Band(1, 6, "a"),)}, "edges of the score range"),
    ({"bands": (Band(0, 7, "a"),)}, "outside the score range"),
    ({"score_range": (6, 0), "bands": ()}, "score_range must rise"),
    ({"items": (Item(1, None, (Option(0, None),)),), "min_answered": 1},
     "free instrument ships the text"),
])
def test_inconsistent_definitions_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        _valid(**changes)


def test_the_registry_and_its_instruments_are_read_only():
    with pytest.raises(TypeError):
        REGISTRY["phq9"] = get("phq2")  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        get("phq9").rule = "mean"  # type: ignore[misc]
    assert isinstance(get("phq9"), Instrument)


def test_the_pure_modules_import_no_django():
    code = ("import sys, peercoach.assessments.scoring, peercoach.assessments.instruments, "
            "peercoach.assessments.licensed_text; "
            "bad = sorted(m for m in sys.modules if m.startswith('django')); "
            "assert not bad, bad")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert instruments.__name__ == "peercoach.assessments.instruments"
