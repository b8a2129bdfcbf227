"""REDCap files: the exact 18-column data dictionary header, valid field names, and import
files whose columns are the dictionary's fields of their form."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from peercoach.research.exports import redcap

from .test_exports_deid import Known, export_files, make_known


@pytest.fixture
def known(world: Any, settings: Any, tmp_path: Path) -> Known:
    return make_known(world, settings, tmp_path)


HEADER = ["Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
          "Choices, Calculations, OR Slider Labels", "Field Note",
          "Text Validation Type OR Show Slider Number", "Text Validation Min",
          "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
          "Required Field?", "Custom Alignment", "Question Number (surveys only)",
          "Matrix Group Name", "Matrix Ranking?", "Field Annotation"]
FIELD_TYPES = {"text", "notes", "dropdown", "radio", "checkbox", "yesno", "truefalse",
               "calc", "file", "slider", "descriptive", "sql"}
VALIDATIONS = {"", "integer", "number", "date_ymd", "datetime_ymd"}


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_dictionary_header_is_redcaps_exactly(known: Known, tmp_path: Path) -> None:
    files = export_files(known.world.researcher, "redcap", tmp_path)
    raw = files["data_dictionary.csv"]
    # The quoted cell with commas is written the way REDCap's own template has it.
    assert raw.splitlines()[0] == (
        'Variable / Field Name,Form Name,Section Header,Field Type,Field Label,'
        '"Choices, Calculations, OR Slider Labels",Field Note,'
        'Text Validation Type OR Show Slider Number,Text Validation Min,Text Validation Max,'
        'Identifier?,Branching Logic (Show field only if...),Required Field?,'
        'Custom Alignment,Question Number (surveys only),Matrix Group Name,Matrix Ranking?,'
        'Field Annotation')
    rows = _rows(raw)
    assert rows[0] == HEADER and list(redcap.DICTIONARY_HEADER) == HEADER
    assert all(len(r) == 18 for r in rows)


def test_dictionary_fields_are_valid_and_forms_contiguous(known: Known,
                                                          tmp_path: Path) -> None:
    rows = _rows(export_files(known.world.researcher, "redcap", tmp_path)
                 ["data_dictionary.csv"])[1:]
    names = [r[0] for r in rows]
    assert names[0] == "record_id"
    assert len(names) == len(set(names))
    for r in rows:
        name, form, _, ftype, label, choices, _, validation = r[:8]
        assert re.fullmatch(r"[a-z][a-z0-9_]*", name) and len(name) <= 100, name
        assert re.fullmatch(r"[a-z][a-z0-9_]*", form), form
        assert not name.endswith("_complete"), name  # REDCap's own form-status field
        assert ftype in FIELD_TYPES and label
        assert validation in VALIDATIONS
        if ftype in ("dropdown", "radio", "checkbox"):
            for pair in choices.split(" | "):
                code, _, text = pair.partition(", ")
                assert re.fullmatch(r"[A-Za-z0-9_]+", code) and text, pair
        else:
            assert not choices
    seen, previous = [], None
    for r in rows:
        if r[1] != previous:
            assert r[1] not in seen, f"form {r[1]} is split"
            seen.append(r[1])
            previous = r[1]


def test_import_files_have_the_forms_fields(known: Known, tmp_path: Path) -> None:
    files = export_files(known.world.researcher, "redcap", tmp_path)
    rows = _rows(files["data_dictionary.csv"])[1:]
    by_form: dict[str, list[list[str]]] = defaultdict(list)
    for r in rows:
        by_form[r[1]].append(r)
    repeating = {r[0] for r in _rows(files["repeating_instruments.csv"])[1:]}
    assert _rows(files["repeating_instruments.csv"])[0] == ["form_name", "custom_form_label"]
    imports = {name.removeprefix("import/").removesuffix(".csv"): text
               for name, text in files.items() if name.startswith("import/")}
    assert set(imports) == set(by_form)
    assert repeating < set(by_form) and "participant" not in repeating
    for form, text in imports.items():
        table = _rows(text)
        want = ["record_id"] + (["redcap_repeat_instrument", "redcap_repeat_instance"]
                                if form in repeating else [])
        choices: dict[str, set[str]] = {}
        for r in by_form[form]:
            if r[0] == "record_id":
                continue
            if r[3] == "checkbox":
                codes = [pair.partition(", ")[0] for pair in r[5].split(" | ")]
                want += [f"{r[0]}___{code.lower()}" for code in codes]
            else:
                want.append(r[0])
                if r[3] in ("dropdown", "radio"):
                    choices[r[0]] = {pair.partition(", ")[0] for pair in r[5].split(" | ")}
                elif r[3] == "yesno":
                    choices[r[0]] = {"0", "1"}
        assert table[0] == want, form
        instances: dict[str, list[int]] = defaultdict(list)
        for line in table[1:]:
            row = dict(zip(table[0], line, strict=True))
            for name, allowed in choices.items():
                assert row[name] in allowed | {""}, (form, name, row[name])
            if form in repeating:
                assert row["redcap_repeat_instrument"] == form
                instances[row["record_id"]].append(int(row["redcap_repeat_instance"]))
        for numbers in instances.values():
            assert numbers == list(range(1, len(numbers) + 1))


def test_the_participant_has_their_data_in_redcap(known: Known, tmp_path: Path) -> None:
    files = export_files(known.world.researcher, "redcap", tmp_path)
    sid = known.patient.study_id

    def mine(form: str) -> list[dict[str, str]]:
        return [r for r in csv.DictReader(io.StringIO(files[f"import/{form}.csv"]))
                if r["record_id"] == sid]

    (participant,) = mine("participant")
    assert participant["pt_pain_conditions___low_back"] == "1"
    assert participant["pt_pain_conditions___knee_oa"] == "1"
    assert participant["pt_pain_conditions___neck"] == "0"
    assert participant["pt_age_at_day0"] == "90+"
    contacts = mine("contact")
    assert [c["ct_outcome"] for c in contacts] == ["reached", "no_answer"]
    assert contacts[0]["ct_sections___activity_pacing"] == "1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d", contacts[0]["ct_occurred_at"])
    # (scheduled questionnaires of the program's time points are there too, not answered)
    (phq9,) = [r for r in mine("phq9") if r["phq9_status"] == "submitted"]
    assert [phq9[f"phq9_i{n}"] for n in range(1, 11)] == ["1"] * 7 + ["0"] * 3
    assert phq9["phq9_total"] == "7.0"
    (allocation,) = mine("allocation")
    assert allocation["alloc_arm_code"] in ("coaching", "control")
    assert len(mine("safety_event")) == 1  # the coach's own event is not a participant's
