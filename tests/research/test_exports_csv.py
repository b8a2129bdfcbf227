"""CSV export: one file per table, and a data dictionary that covers every column of every
table, in order; allocations only for roles that may view them."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from peercoach.research.exports import csv_export, tables
from peercoach.research.exports.tables import TABLES, Column, ExportContext, Table

from .test_exports_deid import Known, export_files, make_known


@pytest.fixture
def known(world: Any, settings: Any, tmp_path: Path) -> Known:
    return make_known(world, settings, tmp_path)


EXPECTED_TABLES = {"participants", "coaches", "staff_roles", "pairs", "plans",
                   "planned_contacts", "contacts", "goals", "goal_check_ins", "consents",
                   "assessments", "item_responses", "external_scores", "pain_check_ins",
                   "arms", "allocations", "safety_events"}


@pytest.mark.parametrize("identified", [False, True])
def test_dictionary_covers_every_column_of_every_table(known: Known, tmp_path: Path,
                                                       identified: bool) -> None:
    user = known.world.coordinator if identified else known.world.researcher
    files = export_files(user, "csv", tmp_path, identified=identified)
    dictionary = list(csv.DictReader(io.StringIO(files["data_dictionary.csv"])))
    assert list(dictionary[0]) == ["table", "variable", "label", "type", "allowed values",
                                   "units", "note"]
    described: dict[str, list[str]] = defaultdict(list)
    for row in dictionary:
        assert row["label"] and row["type"]
        described[row["table"]].append(row["variable"])
    written = {name.removesuffix(".csv") for name in files
               if name.endswith(".csv") and name != "data_dictionary.csv"}
    assert written == EXPECTED_TABLES == set(described)
    for name in written:
        header = next(csv.reader(io.StringIO(files[f"{name}.csv"])))
        assert header == described[name], name
    identifying = {"first_name", "last_name", "phone", "email", "date_of_birth", "text"}
    present = set(described["participants"]) | set(described["goals"])
    assert bool(identifying & present) is identified
    assert "README.txt" in files


def test_choice_columns_hold_allowed_codes(known: Known, tmp_path: Path) -> None:
    files = export_files(known.world.researcher, "csv", tmp_path)
    for table in TABLES:
        rows = list(csv.DictReader(io.StringIO(files[f"{table.name}.csv"])))
        for column in table.columns_for(False):
            codes = {code for code, _ in column.choices}
            for row in rows:
                value = row[column.name]
                if not value:
                    continue
                if column.type == "choice":
                    assert value in codes, (table.name, column.name, value)
                elif column.type == "choices":
                    assert set(value.split(";")) <= codes, (table.name, column.name, value)
                elif column.type == "boolean":
                    assert value in ("0", "1")
                elif column.type == "integer":
                    int(value)


def test_allocations_only_for_roles_that_may_view_them(known: Known) -> None:
    ctx = ExportContext(user=known.world.researcher)
    assert {"allocations", "arms"} <= {t.name for t in tables.tables_for(ctx)}
    ctx.__dict__["allocations_allowed"] = False  # a role with exports but no allocations
    names = {t.name for t in tables.tables_for(ctx)}
    assert "allocations" not in names and "arms" not in names


def test_a_row_that_does_not_match_its_dictionary_stops_the_export(world: Any) -> None:
    def produce(ctx: ExportContext) -> Any:
        yield {"a": 1, "undeclared": 2}

    table = Table("t", "T", (Column("a", "A", "integer"),), produce, lambda ctx: 1)
    with pytest.raises(RuntimeError, match="data dictionary"):
        list(table.rows(ExportContext(user=world.researcher)))


def test_counts_match_the_rows_written(known: Known, tmp_path: Path) -> None:
    ctx = ExportContext(user=known.world.researcher)
    counts = csv_export.write_csv_zip(ctx, tmp_path / "out.zip")
    for name, n in counts.items():
        assert tables.BY_NAME[name].count(ExportContext(user=known.world.researcher)) == n, name
    assert counts["contacts"] >= 2 and counts["item_responses"] == 10
