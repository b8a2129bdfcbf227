"""The licence file a licensed site loads: the samples, a good file, and every bad one."""

import hashlib
from pathlib import Path

import pytest

import peercoach.assessments
from peercoach.assessments.instruments import REGISTRY, Licence, get
from peercoach.assessments.licensed_text import (
    MAX_FILE_BYTES,
    LicenceFileError,
    LicensedText,
    apply_licensed_text,
    licensed_codes,
    parse_licensed_text,
    sample_file,
)
from peercoach.assessments.scoring import score

SAMPLES = Path(peercoach.assessments.__file__).parent / "samples"

GOOD = """\
instrument = "bpi_interference"
licence_holder = "Example Health System"
licence_reference = "Agreement 2026-123"
recall = "Test recall period"
instructions = "Test instructions."

[items]
1 = "Test item one"
2 = "Test item two"
3 = "Test item three"
4 = "Test item four"
5 = "Test item five"
6 = "Test item six"
7 = "Test item seven"

[options]
0 = "Test low anchor"
10 = "Test high anchor"
"""


def promis_file(size=4, t_scores=None, extra=""):
    low, high = size, 5 * size
    table = t_scores if t_scores is not None else {r: 30 + r for r in range(low, high + 1)}
    lines = [f'instrument = "promis_pi_{size}a"', 'licence_holder = "Example"', "", "[items]"]
    lines += [f'{n} = "Test item {n}"' for n in range(1, size + 1)]
    lines += ["", "[t_scores]"] + [f"{raw} = {t}" for raw, t in table.items()]
    return "\n".join(lines) + "\n" + extra


def fails(text, message, **kwargs):
    with pytest.raises(LicenceFileError, match=message) as info:
        parse_licensed_text(text, **kwargs)
    assert isinstance(info.value, ValueError)
    return str(info.value)


# --- The shipped samples ------------------------------------------------------------------


def test_there_is_a_sample_for_every_licensed_instrument_and_no_other():
    codes = {p.stem for p in SAMPLES.glob("*.toml")}
    assert codes == set(licensed_codes())
    assert codes == {c for c, i in REGISTRY.items() if i.licence is Licence.LICENSED}


@pytest.mark.parametrize("code", sorted(c for c in REGISTRY if get(c).needs_loaded_text))
def test_every_sample_parses_and_is_obviously_a_placeholder(code):
    data = sample_file(code)
    assert data == (SAMPLES / f"{code}.toml").read_bytes()
    licensed = parse_licensed_text(data, filename=f"{code}.toml")
    assert licensed.code == code
    assert licensed.is_example
    assert licensed.sha256 == hashlib.sha256(data).hexdigest()
    assert sorted(licensed.items) == list(range(1, len(get(code).items) + 1))
    for number, text in licensed.items.items():
        assert text == f"Licensed item {number} text goes here"
    assert all("goes here" in label for label in licensed.option_labels.values())
    assert b"PLACEHOLDER" in data
    if get(code).rule == "raw_to_t":
        # Synthetic tables only: 20 + 2 x (raw - lowest raw), marked as not official.
        low, high = get(code).raw_range
        assert licensed.t_scores == {r: 20.0 + 2 * (r - low) for r in range(low, high + 1)}
        assert b"NOT the official PROMIS table" in data
    else:
        assert licensed.t_scores == {}


def test_sample_file_refuses_instruments_without_a_sample():
    with pytest.raises(ValueError, match="no sample licence file for 'phq9'"):
        sample_file("phq9")


def test_a_loaded_sample_scores_a_promis_form_end_to_end():
    licensed = parse_licensed_text(sample_file("promis_pi_6a"))
    result = score("promis_pi_6a", dict.fromkeys(range(1, 7), 2), t_score_table=licensed.t_scores)
    assert result.raw == 12 and result.total == 20 + 2 * (12 - 6)


# --- A good file --------------------------------------------------------------------------


def test_a_good_file_is_read_whole():
    licensed = parse_licensed_text(GOOD.encode(), filename="bpi.toml")
    assert licensed == LicensedText(
        code="bpi_interference", licence_holder="Example Health System",
        licence_reference="Agreement 2026-123",
        items={1: "Test item one", 2: "Test item two", 3: "Test item three",
               4: "Test item four", 5: "Test item five", 6: "Test item six",
               7: "Test item seven"},
        option_labels={0: "Test low anchor", 10: "Test high anchor"}, t_scores={},
        recall="Test recall period", instructions="Test instructions.",
        sha256=hashlib.sha256(GOOD.encode()).hexdigest())
    assert not licensed.is_example


def test_text_and_bytes_give_the_same_result_and_a_bom_is_fine():
    assert parse_licensed_text(GOOD) == parse_licensed_text(GOOD.encode())
    with_bom = parse_licensed_text(b"\xef\xbb\xbf" + GOOD.encode())
    assert with_bom.items == parse_licensed_text(GOOD).items
    assert with_bom.sha256 != parse_licensed_text(GOOD).sha256  # hash of the bytes as given


def test_optional_keys_may_be_left_out():
    minimal = "\n".join(line for line in GOOD.splitlines()
                        if not line.startswith(("licence_reference", "recall", "instructions")))
    minimal = minimal.split("[options]")[0]
    licensed = parse_licensed_text(minimal)
    assert licensed.licence_reference == ""
    assert licensed.recall is None and licensed.instructions is None
    assert licensed.option_labels == {}


def test_applying_the_text_fills_a_copy_of_the_instrument():
    licensed = parse_licensed_text(GOOD)
    registry_copy = get("bpi_interference")
    loaded = apply_licensed_text(registry_copy, licensed)
    assert [item.text for item in loaded.items] == [licensed.items[n] for n in range(1, 8)]
    assert loaded.item(1).options[0].label == "Test low anchor"
    assert loaded.item(1).options[10].label == "Test high anchor"
    assert loaded.item(1).options[5].label is None
    assert loaded.recall == "Test recall period"
    assert loaded.instructions == "Test instructions."
    assert loaded.has_item_text and loaded.needs_loaded_text
    # scoring rules are untouched, and the registry still ships no text
    assert (loaded.rule, loaded.min_answered, loaded.bands) == (
        registry_copy.rule, registry_copy.min_answered, registry_copy.bands)
    assert get("bpi_interference").item(1).text is None
    assert not get("bpi_interference").has_item_text


def test_applying_without_recall_keeps_the_registrys():
    licensed = parse_licensed_text(sample_file("pseq10"))
    assert apply_licensed_text(get("pseq10"), licensed).recall == get("pseq10").recall


def test_applying_the_wrong_file_is_refused():
    licensed = parse_licensed_text(GOOD)
    with pytest.raises(ValueError, match="for bpi_interference, not bpi_severity"):
        apply_licensed_text(get("bpi_severity"), licensed)
    free = LicensedText(code="phq9", licence_holder="x", licence_reference="", items={},
                        option_labels={}, t_scores={}, recall=None, instructions=None,
                        sha256="")
    with pytest.raises(ValueError, match="phq9 does not load licensed text"):
        apply_licensed_text(get("phq9"), free)


# --- Bad files ----------------------------------------------------------------------------


def test_not_toml_names_the_line():
    text = 'instrument = "bpi_interference"\nlicence_holder = Example\n'
    message = fails(text, r"^bad\.toml: not valid TOML: .*line 2", filename="bad.toml")
    assert "line 2" in message


def test_not_utf8():
    fails(GOOD.encode("utf-16"), "not UTF-8 text")
    fails(GOOD.encode() + b"\xff", r"not UTF-8 text \(bad byte at offset")


def test_too_big():
    big = GOOD + "# " + "x" * MAX_FILE_BYTES + "\n"
    fails(big, r"the file is 1,048,\d+ bytes; the limit is 1 MB \(1,048,576 bytes\)")
    # just under the limit is fine
    padding = MAX_FILE_BYTES - len(GOOD.encode()) - 3
    parse_licensed_text(GOOD + "#" + "x" * padding + "\n")


def test_unknown_top_level_keys():
    fails(GOOD.replace("recall =", "language = \"en\"\nrecall ="),
          r"unknown key\(s\) language; allowed keys are instrument, licence_holder")
    fails(GOOD + "\n[extra]\na = 1\n", r"unknown key\(s\) extra")


@pytest.mark.parametrize("line, message", [
    ('instrument = "nope"', r"unknown instrument 'nope'; licensed instruments are: "
                            r"bpi_severity, bpi_interference, promis_pi_4a"),
    ('instrument = "phq9"', r"phq9 ships its own text, so there is nothing to load"),
    ('instrument = "gad7"', r"gad7 ships its own text"),
    ('instrument = "pam"', r"pam is an external score only: PeerCoach records the score from "
                           r"a licensed scorer and never loads its items"),
    ("instrument = 3", r"'instrument' must be text"),
    ("", r"'instrument' is missing"),
])
def test_the_instrument_must_be_a_licensed_one(line, message):
    fails(GOOD.replace('instrument = "bpi_interference"', line), message)


@pytest.mark.parametrize("line, message", [
    ("", r"'licence_holder' is missing: name who holds the licence"),
    ('licence_holder = ""', r"'licence_holder' is empty"),
    ('licence_holder = "   "', r"'licence_holder' is empty"),
    ("licence_holder = 42", r"'licence_holder' must be text, got 42"),
])
def test_the_licence_holder_is_required(line, message):
    fails(GOOD.replace('licence_holder = "Example Health System"', line), message)


@pytest.mark.parametrize("old, new, message", [
    ('recall = "Test recall period"', "recall = 7", r"'recall' must be text"),
    ('instructions = "Test instructions."', 'instructions = ""', r"'instructions' is empty"),
    ('licence_reference = "Agreement 2026-123"', "licence_reference = []",
     r"'licence_reference' must be text"),
])
def test_optional_texts_must_be_text(old, new, message):
    fails(GOOD.replace(old, new), message)


@pytest.mark.parametrize("old, new, message", [
    ('7 = "Test item seven"\n', "",
     r"item 7 missing; bpi_interference needs items 1 to 7"),
    ('3 = "Test item three"\n4 = "Test item four"\n', "",
     r"item 3, 4 missing; bpi_interference needs items 1 to 7"),
    ('7 = "Test item seven"\n', '7 = "Test item seven"\n8 = "Extra"\n',
     r"bpi_interference has no item 8; its items are 1 to 7"),
    ('1 = "Test item one"\n', '0 = "Zero"\n1 = "Test item one"\n',
     r"bpi_interference has no item 0"),
    ('5 = "Test item five"', '5 = ""', r"item 5 is empty"),
    ('5 = "Test item five"', '5 = "  \\n "', r"item 5 is empty"),
    ('5 = "Test item five"', "5 = 5", r"item 5 must be text, got 5"),
    ('1 = "Test item one"\n', '1 = "Test item one"\n01 = "Again"\n', r"\[items\] has 1 twice"),
    ('1 = "Test item one"\n', 'one = "Test item one"\n',
     r"\[items\] key 'one' is not a whole number"),
])
def test_item_numbers_must_match_the_instrument(old, new, message):
    fails(GOOD.replace(old, new), message)


def test_items_must_be_present_and_a_table():
    without = GOOD.split("[items]")[0]
    fails(without, r"the \[items\] table is missing; bpi_interference needs items 1 to 7")
    fails(without.replace('instructions = "Test instructions."',
                          'instructions = "x"\nitems = "all of them"'),
          r"\[items\] must be a table")


@pytest.mark.parametrize("new, message", [
    ('11 = "Too high"', r"option value 11 is outside the answer range of bpi_interference "
                        r"\(0 to 10\)"),
    ('-1 = "Too low"', r"option value -1 is outside the answer range"),
    ('5 = ""', r"option 5 must be non-empty text"),
    ("5 = 5", r"option 5 must be non-empty text, got 5"),
    ('mid = "Middle"', r"\[options\] key 'mid' is not a whole number"),
])
def test_option_labels_must_be_answer_values(new, message):
    fails(GOOD + new + "\n", message)


def test_option_values_follow_each_instruments_scale():
    promis = promis_file(extra='\n[options]\n0 = "Zero"\n')
    fails(promis, r"option value 0 is outside the answer range of promis_pi_4a \(1 to 5\)")
    labelled = parse_licensed_text(promis_file(extra='\n[options]\n1 = "One"\n5 = "Five"\n'))
    assert labelled.option_labels == {1: "One", 5: "Five"}


def test_a_good_promis_file():
    licensed = parse_licensed_text(promis_file(8))
    assert licensed.t_scores == {r: float(30 + r) for r in range(8, 41)}
    assert all(isinstance(t, float) for t in licensed.t_scores.values())


def test_promis_needs_its_t_table():
    no_table = promis_file().split("[t_scores]")[0]
    fails(no_table, r"promis_pi_4a needs a \[t_scores\] table from the official scoring "
                    r"manual: a T-score for every raw sum from 4 to 20")


@pytest.mark.parametrize("size, table, message", [
    (4, {r: 30 + r for r in range(4, 20)},
     r"\[t_scores\] must cover every raw sum from 4 to 20; missing 20"),
    (6, {r: 30 + r for r in range(6, 31) if r not in (10, 11)},
     r"must cover every raw sum from 6 to 30; missing 10, 11"),
    (4, {r: 30 + r for r in range(3, 21)}, r"\[t_scores\] has raw sum 3, outside 4 to 20"),
    (4, {r: 30 + r for r in range(4, 22)}, r"\[t_scores\] has raw sum 21, outside 4 to 20"),
    (4, {r: 30 + r for r in range(4, 21)} | {7: '"forty"'},
     r"\[t_scores\] raw sum 7: 'forty' is not a number"),
    (4, {r: 30 + r for r in range(4, 21)} | {7: "true"},
     r"\[t_scores\] raw sum 7: True is not a number"),
    (4, {r: 30 + r for r in range(4, 21)} | {7: "nan"}, r"raw sum 7: nan is not a number"),
    (4, {r: 30 + r for r in range(4, 21)} | {20: 95},
     r"\[t_scores\] raw sum 20: T-score 95 is outside 10 to 90"),
    (4, {r: 30 + r for r in range(4, 21)} | {4: 9.5}, r"raw sum 4: T-score 9.5 is outside"),
    (4, {r: 30 + r for r in range(4, 21)} | {8: 30},
     r"\[t_scores\] fall from 37 at raw sum 7 to 30 at raw sum 8"),
])
def test_a_promis_t_table_must_be_whole_and_plausible(size, table, message):
    fails(promis_file(size, table), message)


def test_t_scores_belong_to_promis_only():
    fails(GOOD + "\n[t_scores]\n0 = 40.0\n",
          r"\[t_scores\] only apply to PROMIS forms; bpi_interference is scored as a mean")


def test_the_filename_prefixes_every_message():
    message = fails('instrument = "phq9"', r"^licence/phq9\.toml: phq9 ships",
                    filename="licence/phq9.toml")
    assert message.startswith("licence/phq9.toml: ")
    assert not fails('instrument = "phq9"', "ships").startswith(":")
