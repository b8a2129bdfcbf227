"""The same data for REDCap: a data dictionary and import files.

The project this describes (the choice, and why):

* A **classic** (not longitudinal) project, one record per participant, the record ID
  being the participant's study ID (`record_id`).
* Everything a participant has many of is a **repeating instrument**: pairs, planned
  contacts, contacts, goals, goal check-ins, consents, safety events, pain check-ins,
  external scores, and one instrument per questionnaire (PHQ-9, PEG, …) with its time
  point as a field. Longitudinal events were the alternative for time points, but
  events must be defined in the project (arms, events, instrument-event mapping), which
  a data dictionary cannot carry, and contacts and goals are unbounded repeats that fit
  no event schedule anyway. Non-repeating: participant, contact plan, allocation.
* `repeating_instruments.csv` lists the repeating forms in the API's format
  (`form_name,custom_form_label`); in the web interface tick the same forms under
  "Repeating instruments and events".
* One import CSV per form (`import/<form>.csv`): each is a valid flat import on its own
  (`record_id`, for repeating forms `redcap_repeat_instrument` and
  `redcap_repeat_instance` numbered from 1 per participant, then the form's fields),
  which keeps files within the upload limit and avoids a mostly empty wide file. Import
  `participant.csv` first. Dates are YYYY-MM-DD (YMD), date-times YYYY-MM-DD HH:MM in UTC.
* Field names are the export's column names with a prefix per form (REDCap field names
  are project-wide). Choice codes are the export's codes, with "-" written as "_";
  checkboxes export as `field___code`. Coaches, staff and arms have no REDCap form
  (records are participants): coaches appear by study ID on pairs and contacts; safety
  events of coaches are in the CSV and FHIR exports only.
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from peercoach.assessments.instruments import REGISTRY, Instrument, Licence

from .csv_export import _TextEntry, formatter, write_rows
from .tables import (
    BY_NAME,
    Column,
    ExportContext,
    Row,
    assessment_rows,
    tables_for,
)

#: The data dictionary's header: 18 columns, in REDCap's order.
DICTIONARY_HEADER = (
    "Variable / Field Name", "Form Name", "Section Header", "Field Type", "Field Label",
    "Choices, Calculations, OR Slider Labels", "Field Note",
    "Text Validation Type OR Show Slider Number", "Text Validation Min",
    "Text Validation Max", "Identifier?", "Branching Logic (Show field only if...)",
    "Required Field?", "Custom Alignment", "Question Number (surveys only)",
    "Matrix Group Name", "Matrix Ranking?", "Field Annotation",
)
RECORD_ID = "record_id"
REPEAT_COLUMNS = ("redcap_repeat_instrument", "redcap_repeat_instance")
DATETIME_FORMAT = "%Y-%m-%d %H:%M"


def code(value: str) -> str:
    """A choice code as REDCap takes it."""
    return value.replace("-", "_")


@dataclass(frozen=True)
class Field:
    name: str
    column: Column
    #: Radio buttons rather than a drop-down (questionnaire items).
    radio: bool = False

    @property
    def field_type(self) -> str:
        if self.radio:
            return "radio"
        return {"choice": "dropdown", "choices": "checkbox", "boolean": "yesno"}.get(
            self.column.type, "text")

    @property
    def validation(self) -> str:
        return {"integer": "integer", "number": "number", "date": "date_ymd",
                "datetime": "datetime_ymd"}.get(self.column.type, "")

    def import_columns(self) -> list[str]:
        if self.column.type == "choices":
            return [f"{self.name}___{code(c)}" for c, _ in self.column.choices]
        return [self.name]

    def dictionary_row(self, form: str, section: str, identified: bool) -> tuple[str, ...]:
        c = self.column
        choices = " | ".join(f"{code(value)}, {label}" for value, label in c.choices)
        note = "; ".join(p for p in (c.units, "UTC" if c.type == "datetime" else "",
                                     c.describe(identified)) if p)
        low = "" if c.minimum is None or not self.validation else f"{c.minimum:g}"
        high = "" if c.maximum is None or not self.validation else f"{c.maximum:g}"
        return (self.name, form, section, self.field_type, c.label, choices, note,
                self.validation, low, high, "y" if c.identifying else "", "", "", "", "", "",
                "", "")

    def cells(self, value: Any, fmt: Callable[[Any], str]) -> list[str]:
        if self.column.type == "choices":
            chosen = set(value or ())
            return ["1" if c in chosen else "0" for c, _ in self.column.choices]
        if self.column.type == "choice" and value is not None:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            return [code(str(value))]
        return [fmt(value)]


@dataclass(frozen=True)
class Form:
    name: str
    label: str
    repeating: bool
    #: (field name, the row key it takes its value from)
    fields: tuple[tuple[Field, str], ...]
    record_key: str
    rows: Callable[[ExportContext], Iterator[Row]]

    def import_header(self) -> list[str]:
        head = [RECORD_ID, *(REPEAT_COLUMNS if self.repeating else ())]
        for f, _ in self.fields:
            head += f.import_columns()
        return head


def _table_form(form: str, table: str, prefix: str, *, repeating: bool, record_key: str,
                drop: Sequence[str] = (), identified: bool,
                keep: Callable[[Row], bool] | None = None) -> Form:
    spec = BY_NAME[table]
    fields = tuple((Field(f"{prefix}{c.name}", c), c.name)
                   for c in spec.columns_for(identified)
                   if c.name != record_key and c.name not in drop)

    def rows(ctx: ExportContext) -> Iterator[Row]:
        for row in spec.rows(ctx):
            if keep is None or keep(row):
                yield row

    return Form(form, spec.label, repeating, fields, record_key, rows)


def _item_field(ins: Instrument, number: int) -> Field:
    """An item: radio buttons when every answer has words, else a whole number in range.
    Licensed item text is never exported (only a site holding the licence has it)."""
    item = ins.item(number)
    label = (item.text if item.text and ins.licence is Licence.FREE
             else f"{ins.short_name} item {number}")
    note = f"LOINC {item.loinc}" if item.loinc else ""
    name = f"{ins.code}_i{number}"
    if all(o.label is not None for o in item.options):
        return Field(name, Column(f"i{number}", label, "choice",
                                  tuple((str(o.value), str(o.label)) for o in item.options),
                                  note=note), radio=True)
    anchors = "; ".join(f"{o.value} = {o.label}" for o in item.options if o.label)
    return Field(name, Column(f"i{number}", label, "integer", minimum=item.low,
                              maximum=item.high, note="; ".join(p for p in (anchors, note) if p)))


def _questionnaire_form(ins: Instrument) -> Form:
    base = BY_NAME["assessments"]
    keep = ("assessment_id", "time_point", "time_point_day", "due_on", "due_day", "status",
            "submitted_at", "submitted_day", "version")
    columns = {c.name: c for c in base.columns}
    fields: list[tuple[Field, str]] = [(Field(f"{ins.code}_{n}", columns[n]), n) for n in keep]
    fields += [(_item_field(ins, item.number), f"i{item.number}") for item in ins.items]
    low, high = ins.score_range
    fields += [
        (Field(f"{ins.code}_total", Column("total", f"{ins.short_name} score", "number",
                                           minimum=low, maximum=high)), "total"),
        (Field(f"{ins.code}_band", columns["band"]), "band"),
        (Field(f"{ins.code}_scored", columns["complete"]), "complete"),
        (Field(f"{ins.code}_flags", columns["flags"]), "flags"),
    ]

    def rows(ctx: ExportContext) -> Iterator[Row]:
        for row in assessment_rows(ctx, instrument=ins.code, with_answers=True):
            for number, value in row.pop("answers").items():
                row[f"i{number}"] = value
            yield row

    return Form(ins.code, ins.name, True, tuple(fields), "patient_study_id", rows)


def forms_for(ctx: ExportContext) -> list[Form]:
    identified = ctx.identified
    names = {t.name for t in tables_for(ctx)}
    forms = [
        _table_form("participant", "participants", "pt_", repeating=False,
                    record_key="study_id", identified=identified),
        _table_form("contact_plan", "plans", "plan_", repeating=False,
                    record_key="patient_study_id", identified=identified),
        _table_form("pair", "pairs", "pair_", repeating=True, record_key="patient_study_id",
                    identified=identified),
        _table_form("planned_contact", "planned_contacts", "pc_", repeating=True,
                    record_key="patient_study_id", identified=identified),
        _table_form("contact", "contacts", "ct_", repeating=True,
                    record_key="patient_study_id", identified=identified),
        _table_form("goal", "goals", "goal_", repeating=True, record_key="patient_study_id",
                    identified=identified),
        _table_form("goal_check_in", "goal_check_ins", "gci_", repeating=True,
                    record_key="patient_study_id", identified=identified),
        _table_form("consent", "consents", "cons_", repeating=True,
                    record_key="patient_study_id", identified=identified),
    ]
    forms += [_questionnaire_form(ins) for ins in REGISTRY.values() if ins.items]
    forms += [
        _table_form("external_score", "external_scores", "ext_", repeating=True,
                    record_key="patient_study_id", identified=identified),
        _table_form("pain_check_in", "pain_check_ins", "pain_", repeating=True,
                    record_key="patient_study_id", identified=identified),
    ]
    if "allocations" in names:
        forms.append(_table_form("allocation", "allocations", "alloc_", repeating=False,
                                 record_key="patient_study_id", identified=identified))
    forms.append(_table_form("safety_event", "safety_events", "ae_", repeating=True,
                             record_key="subject_study_id", drop=("subject_type",),
                             identified=identified,
                             keep=lambda row: row["subject_type"] == "patient"))
    return forms


def dictionary(forms: Sequence[Form], identified: bool) -> Iterator[tuple[str, ...]]:
    first = forms[0]
    yield (RECORD_ID, first.name, "", "text", "Participant's study ID", "", "", "", "", "",
           "", "", "", "", "", "", "", "")
    for form in forms:
        for i, (f, _) in enumerate(form.fields):
            yield f.dictionary_row(form.name, form.label if i == 0 else "", identified)


def write_form(text: IO[str], form: Form, ctx: ExportContext) -> int:
    import csv

    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(form.import_header())
    fmts = [formatter(f.column, datetime_format=DATETIME_FORMAT) for f, _ in form.fields]
    record, instance, n = None, 0, 0
    for row in form.rows(ctx):
        rid = row[form.record_key]
        if rid != record:
            record, instance = rid, 0
        instance += 1
        cells = [rid, *((form.name, str(instance)) if form.repeating else ())]
        for (f, key), fmt in zip(form.fields, fmts, strict=True):
            cells += f.cells(row.get(key), fmt)
        writer.writerow(cells)
        n += 1
    return n


def write_redcap_zip(ctx: ExportContext, path: Path) -> dict[str, int]:
    forms = forms_for(ctx)
    counts: dict[str, int] = {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        with _TextEntry(zf, "data_dictionary.csv") as entry:
            write_rows(entry.text, DICTIONARY_HEADER, dictionary(forms, ctx.identified))
        with _TextEntry(zf, "repeating_instruments.csv") as entry:
            write_rows(entry.text, ("form_name", "custom_form_label"),
                       ((f.name, "") for f in forms if f.repeating))
        for form in forms:
            with _TextEntry(zf, f"import/{form.name}.csv") as entry:
                counts[form.name] = write_form(entry.text, form, ctx)
        zf.writestr("README.txt", _readme(ctx, forms, counts))
    return counts


def _readme(ctx: ExportContext, forms: Sequence[Form], counts: dict[str, int]) -> str:
    doc = (__doc__ or "").strip()
    kind = "IDENTIFIED" if ctx.identified else "De-identified"
    lines = [f"PeerCoach export for REDCap ({kind}).", "", doc, "", "Rows per import file:"]
    lines += [f"  import/{f.name}.csv: {counts.get(f.name, 0)}" for f in forms]
    return "\n".join(lines) + "\n"


def tables_read(ctx: ExportContext) -> list[str]:
    """Tables the REDCap export reads (assessments once per questionnaire form, roughly
    one pass over the table in all)."""
    names = ["participants", "plans", "pairs", "planned_contacts", "contacts", "goals",
             "goal_check_ins", "consents", "assessments", "external_scores",
             "pain_check_ins", "safety_events"]
    if ctx.allocations_allowed:
        names.append("allocations")
    return names
