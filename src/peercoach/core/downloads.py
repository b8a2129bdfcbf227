"""Files handed to the browser as downloads: CSV tables and any other attachment."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse


def attachment(body: bytes | str, content_type: str, name: str) -> HttpResponse:
    """`body` as a file the browser saves under `name` rather than shows."""
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def spreadsheet_safe(value: Any) -> Any:
    """Text cells that a spreadsheet would run as a formula are quoted (numbers such as
    "-0.800" stay numbers)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def csv_download(name: str, header: Iterable[str], rows: Iterable[Iterable[Any]]) -> HttpResponse:
    """A CSV file of `header` and `rows`, every cell made `spreadsheet_safe`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow([spreadsheet_safe(value) for value in row])
    return attachment(buffer.getvalue(), "text/csv; charset=utf-8", name)
