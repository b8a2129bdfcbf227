"""The clinician summary as a one-page PDF (fpdf2), from the same ``ClinicianSummary`` the
printable page shows.

Text is set in DejaVu Sans, which matplotlib ships with itself: the PDF core fonts cover
Latin-1 only, and a patient's name must print as it is spelled (the manual's PDFs, with
text we write ourselves, can map the few typographic marks instead). Without that font
file the core Helvetica font is used, with the same mapping as the manual.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from .summary import ClinicianSummary

BODY = 10.5
SMALL = 8.5
LINE = 5.2


def _font_dir() -> Path | None:
    try:
        import matplotlib

        folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    except ImportError:  # pragma: no cover - matplotlib is a dependency
        return None
    return folder if (folder / "DejaVuSans.ttf").is_file() else None


def _latin1(text: str) -> str:
    table = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": "-",
             "\u2013": "-", "\u2026": "...", "\u2022": "-", "\u00a0": " ", "\u2192": "->"}
    for char, plain in table.items():
        text = text.replace(char, plain)
    return text.encode("latin-1", "replace").decode("latin-1")


def _setup_fonts(pdf: FPDF) -> tuple[str, Callable[[str], str]]:
    folder = _font_dir()
    if folder is None:
        return "Helvetica", _latin1
    pdf.add_font("DejaVu", "", str(folder / "DejaVuSans.ttf"))
    pdf.add_font("DejaVu", "B", str(folder / "DejaVuSans-Bold.ttf"))
    return "DejaVu", str


def _date(on: dt.date | None) -> str:
    return f"{on:%b} {on.day}, {on.year}" if on else "-"


def _number(value: float | None, signed: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+.1f}" if signed else f"{value:.1f}"


def summary_pdf(summary: ClinicianSummary) -> bytes:
    pdf = FPDF(format="Letter")
    pdf.set_margins(16, 14, 16)
    pdf.set_auto_page_break(auto=True, margin=14)
    family, clean = _setup_fonts(pdf)
    # The study id (never the name) goes in the metadata, which file lists show.
    pdf.set_title(f"PeerCoach clinician summary {summary.study_id}")
    pdf.set_author("PeerCoach")
    pdf.set_creator("PeerCoach")
    pdf.set_creation_date(summary.generated_at)
    pdf.add_page()

    def heading(text: str, size: float = 12.5) -> None:
        pdf.ln(1.5)
        pdf.set_font(family, "B", size)
        pdf.multi_cell(0, 6.5, clean(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(family, "", BODY)

    def para(text: str, size: float = BODY) -> None:
        pdf.set_font(family, "", size)
        pdf.multi_cell(0, LINE if size == BODY else 4.3, clean(text), new_x="LMARGIN",
                       new_y="NEXT")

    def facts(pairs: list[tuple[str, str]]) -> None:
        for label, value in pairs:
            pdf.set_font(family, "B", BODY)
            pdf.cell(42, LINE, clean(label))
            pdf.set_font(family, "", BODY)
            pdf.multi_cell(0, LINE, clean(value), new_x="LMARGIN", new_y="NEXT")

    heading("Peer coaching summary for the referring clinician", 16)
    who: list[tuple[str, str]] = []
    if summary.identified:
        who += [("Patient", summary.name), ("Date of birth", _date(summary.date_of_birth))]
    who += [("Study ID", summary.study_id),
            ("Program", f"{summary.program} ({summary.site})"),
            ("Status", summary.status),
            ("Referred", _date(summary.referred_on)),
            ("Enrolled", _date(summary.enrolled_on)),
            ("Peer coach", summary.coach_first_name or "Not paired yet")]
    facts(who)

    heading("Contacts")
    para(summary.contacts_sentence)

    heading("Goals (action plans)")
    if summary.goals:
        _table(pdf, family, clean, ("Goal, in the patient's words", "Status"), (140, 44),
               [(text, status) for text, status in summary.goals])
    else:
        para("No goals set yet.")

    heading("Questionnaire results")
    if summary.outcomes:
        rows = []
        for line in summary.outcomes:
            verdict = ("-" if line.important is None
                       else "Yes" if line.important else "No")
            rows.append((
                line.name,
                f"{_number(line.baseline)} {line.baseline_band}".strip()
                + f"\n{line.baseline_when}",
                (f"{_number(line.latest)} {line.latest_band}".strip() + f"\n{line.latest_when}")
                if line.latest is not None else "No follow-up yet",
                _number(line.difference, signed=True),
                verdict))
        _table(pdf, family, clean, ("Questionnaire", "Baseline", "Latest", "Change",
                                    "Important improvement"), (30, 46, 46, 22, 40), rows)
        pdf.ln(1)
        for line in summary.outcomes:
            para(f"{line.name}: {line.rule}", SMALL)
    else:
        para("No questionnaires sent in yet.")

    heading("Open safety events")
    if summary.safety:
        for event in summary.safety:
            para(f"{_date(event.raised_on)} \u2014 {event.source} ({event.status}): "
                 f"{event.summary}")
            para(f"Handled by: {event.handled_by}")
    else:
        para("None open.")

    pdf.ln(2)
    top = pdf.get_y()
    pdf.set_x(pdf.l_margin + 3)
    pdf.set_font(family, "B", BODY)
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.multi_cell(width - 6, LINE + 0.5, clean("If your patient may be in crisis"),
                   new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", BODY)
    for text in summary.crisis_lines:
        pdf.set_x(pdf.l_margin + 3)
        pdf.multi_cell(width - 6, LINE, clean(text), new_x="LMARGIN", new_y="NEXT")
    pdf.set_draw_color(180, 0, 0)
    pdf.set_line_width(0.8)
    pdf.rect(pdf.l_margin, top - 1.5, width, pdf.get_y() - top + 3)
    pdf.ln(4)
    para(summary.not_a_device, SMALL)
    para(f"Generated {summary.generated_text} by PeerCoach.", SMALL)
    return bytes(pdf.output())


def _table(pdf: FPDF, family: str, clean: Callable[[str], str], headings: tuple[str, ...],
           widths: tuple[int, ...], rows: Sequence[Sequence[str]]) -> None:
    pdf.set_font(family, "", 9.5)
    # Column widths are proportions of the full text width.
    with pdf.table(col_widths=widths, width=pdf.epw, align="LEFT", line_height=4.6,
                   text_align="LEFT", headings_style=FontFace(emphasis="BOLD"),
                   padding=1) as table:
        head = table.row()
        for text in headings:
            head.cell(clean(text))
        for values in rows:
            row = table.row()
            for text in values:
                row.cell(clean(text))
    pdf.set_font(family, "", BODY)
