"""The manual in the app, printable, and as a PDF for patients without a computer."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from peercoach.core.policy import Perm, authenticated, has_perm

from . import manual


def _visible_sections(request: HttpRequest) -> list[manual.Section]:
    sections = list(manual.patient_sections())
    if has_perm(request.user, Perm.COACH_GUIDE_VIEW):
        sections.insert(0, manual.coach_guide())
    return sections


def _section(request: HttpRequest, key: str) -> manual.Section:
    try:
        section = manual.get_section(key)
    except KeyError as exc:
        raise Http404("No such section.") from exc
    if section.audience == "coach" and not has_perm(request.user, Perm.COACH_GUIDE_VIEW):
        raise Http404("No such section.")
    return section


@authenticated
def index(request: HttpRequest) -> HttpResponse:
    return render(request, "curriculum/index.html", {
        "sections": _visible_sections(request), "version": manual.MANUAL_VERSION})


@authenticated
def section(request: HttpRequest, key: str) -> HttpResponse:
    current = _section(request, key)
    sections = _visible_sections(request)
    index = next(i for i, s in enumerate(sections) if s.key == current.key)
    return render(request, "curriculum/section.html", {
        "section": current, "html": manual.render_html(current),
        "previous": sections[index - 1] if index > 0 else None,
        "next": sections[index + 1] if index + 1 < len(sections) else None})


@authenticated
def section_pdf_download(request: HttpRequest, key: str) -> HttpResponse:
    # Imported here, like in `manual_pdf_download`: fpdf takes tenths of a second to load,
    # which every process that loads the URL map would otherwise pay.
    from .pdf import section_pdf

    current = _section(request, key)
    response = HttpResponse(section_pdf(current), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="peercoach-{current.key}.pdf"'
    return response


@authenticated
def manual_pdf_download(request: HttpRequest) -> HttpResponse:
    from .pdf import manual_pdf

    response = HttpResponse(manual_pdf(_visible_sections(request)),
                            content_type="application/pdf")
    response["Content-Disposition"] = 'attachment; filename="peercoach-manual.pdf"'
    return response
