"""One CSV per table and a data dictionary, zipped together, written row by row.

Each table streams from the database into its zip entry through a CSV writer, so memory
stays flat however many rows there are (zip entries are written with ZIP64 headers,
because their size is not known in advance).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from django.utils import timezone

from .tables import DICTIONARY_HEADER, Column, ExportContext, Table, dictionary_rows, tables_for

Formatter = Callable[[Any], str]


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC) if timezone.is_aware(value) else value


def formatter(column: Column, *, datetime_format: str = "%Y-%m-%dT%H:%M:%SZ") -> Formatter:
    """How one column's values are written as text (None is always empty)."""
    kind = column.type

    def fmt(value: Any) -> str:
        if value is None:
            return ""
        if kind == "boolean":
            return "1" if value else "0"
        if kind == "datetime":
            return _utc(value).strftime(datetime_format)
        if kind == "date":
            return value.isoformat()
        if kind == "choices":
            return ";".join(value)
        return str(value)

    return fmt


class _TextEntry:
    """A zip entry opened for writing as UTF-8 text, for the csv module."""

    def __init__(self, archive: zipfile.ZipFile, name: str) -> None:
        self._raw = archive.open(name, "w", force_zip64=True)
        self.text: IO[str] = io.TextIOWrapper(self._raw, encoding="utf-8", newline="")

    def __enter__(self) -> _TextEntry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.text.close()  # flushes, then closes the zip entry


def write_table(text: IO[str], table: Table, ctx: ExportContext) -> int:
    columns = table.columns_for(ctx.identified)
    names = [c.name for c in columns]
    fmts = [formatter(c) for c in columns]
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(names)
    n = 0
    for row in table.rows(ctx):
        writer.writerow([fmt(row[name]) for name, fmt in zip(names, fmts, strict=True)])
        n += 1
    return n


def readme(ctx: ExportContext, counts: dict[str, int], *, what: str) -> str:
    when = timezone.now().strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"PeerCoach export: {what}",
        f"Made {when}.",
        "",
    ]
    if ctx.identified:
        lines += ["IDENTIFIED DATA: names, contact details and real dates. Keep it where",
                  "your approved protocol says identified data may be kept.", ""]
    else:
        lines += [
            "De-identified (HIPAA Safe Harbor list): study IDs instead of names; no contact",
            "details; ZIP codes cut to three digits (000 for small areas); ages instead of",
            "dates of birth, 90+ above 89; sites, programs and staff as keyed pseudonyms;",
            "no free text. Every date of a person is moved by that person's own offset",
            "(-182 to +182 days, never 0, the same in every export), so intervals within a",
            "person are exact; the *_day columns count days from the participant's",
            "enrollment (or referral), from the real dates.",
            "",
        ]
    lines.append("Rows per table:")
    lines += [f"  {name}: {n}" for name, n in counts.items()]
    lines += ["", "data_dictionary.csv describes every column of every table."]
    return "\n".join(lines) + "\n"


def write_rows(text: IO[str], header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    writer = csv.writer(text, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)


def write_csv_zip(ctx: ExportContext, path: Path, *, what: str = "CSV tables"
                  ) -> dict[str, int]:
    """Write the zip to `path`; answer the rows written per table."""
    tables = tables_for(ctx)
    counts: dict[str, int] = {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        with _TextEntry(zf, "data_dictionary.csv") as entry:
            write_rows(entry.text, DICTIONARY_HEADER, dictionary_rows(tables, ctx.identified))
        for table in tables:
            with _TextEntry(zf, f"{table.name}.csv") as entry:
                counts[table.name] = write_table(entry.text, table, ctx)
        zf.writestr("README.txt", readme(ctx, counts, what=what))
    return counts


def tables_read(ctx: ExportContext) -> list[Table]:
    """The tables `write_csv_zip` reads (for the job's progress total)."""
    return tables_for(ctx)
