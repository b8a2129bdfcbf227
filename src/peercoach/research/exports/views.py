"""Pages for exports: ask for one, watch your jobs (htmx polling), download the file."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from peercoach.core.policy import Perm, has_perm, programs_for, rule
from peercoach.research.forms import add_errors
from peercoach.research.selectors import studies_for

from . import jobs
from .forms import ExportForm
from .models import ExportStatus

#: Jobs listed on the page (older ones stay in the audit trail).
LIST_LIMIT = 50


def _rows(request: HttpRequest) -> dict[str, Any]:
    rows = list(jobs.jobs_for(request.user)[:LIST_LIMIT])
    busy = any(job.status in (ExportStatus.QUEUED, ExportStatus.RUNNING) for job in rows)
    return {"rows": rows, "busy": busy}


@rule(Perm.EXPORT_DATA)
def export_list(request: HttpRequest) -> HttpResponse:
    may_identify = has_perm(request.user, Perm.EXPORT_IDENTIFIED)
    programs = programs_for(request.user, Perm.EXPORT_DATA)
    studies = (studies_for(request.user, Perm.ALLOCATION_VIEW)
               .filter(program__in=programs).select_related("program"))
    form = ExportForm(request.POST or None, programs=programs, studies=studies,
                      may_identify=may_identify)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            jobs.export_request(by=request.user, format=d["format"],
                                identified=bool(d.get("identified")), program=d["program"],
                                study=d["study"])
        except ValidationError as exc:
            add_errors(form, exc)
        except PermissionDenied as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Export requested. It runs in the background; this "
                                      "page shows its progress.")
            return redirect("research:export_list")
    return render(request, "research/exports/list.html", {
        "form": form, "may_identify": may_identify, **_rows(request)})


@rule(Perm.EXPORT_DATA)
def export_rows(request: HttpRequest) -> HttpResponse:
    """The job table alone, for htmx to poll while a job runs."""
    return render(request, "research/exports/_rows.html", _rows(request))


@rule(Perm.EXPORT_DATA)
def export_download(request: HttpRequest, pk: int) -> FileResponse:
    job, path = jobs.job_for_download(request.user, pk)
    ext = path.suffix.lstrip(".")
    response = FileResponse(open(path, "rb"), as_attachment=True,  # noqa: SIM115
                            filename=jobs.download_name(job),
                            content_type=jobs.CONTENT_TYPES.get(ext, "application/octet-stream"))
    response["Cache-Control"] = "no-store"
    return response
