"""Export jobs: request (a page), run (a Celery task), download (a page). All audited.

* `export_request` checks the policy (`data.export`; `data.export_identified` for an
  identified export; the program or study must be at the requester's sites), saves the
  job and queues `research.export` once the transaction commits. Without REDIS_URL the
  task runs in-process at that moment (`config/celery.py`).
* `export_run` claims the job (a second delivery of the same message does nothing while
  the first run is alive), checks the policy again with the requester's roles of now,
  writes the file under a temporary name in DATA_DIR/exports, renames it when complete,
  and records the rows per table. Progress (`rows_done` of `rows_total`) is saved about
  once a second.
* `job_for_download` answers only the requester, only a finished job, and only while
  the requester may still export those sites' data (identified: may still see
  identities); every download is recorded.

Audit events (AuditAction.EXPORT, target the job): "requested", "written" (rows per
table, file size, SHA-256), "downloaded", and "failed".
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import secrets
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from peercoach.core import audit
from peercoach.core.models import AuditAction
from peercoach.core.policy import Perm, actor_for, has_perm, is_id

from .models import ExportFormat, ExportJob, ExportKind, ExportStatus

logger = logging.getLogger(__name__)

#: A running job silent for this long is taken to be dead (its worker was lost).
STALE_AFTER = dt.timedelta(minutes=10)
#: Progress is written at most this often.
PROGRESS_EVERY_SECONDS = 1.0

_EXTENSIONS = {ExportFormat.CSV: "zip", ExportFormat.REDCAP: "zip", ExportFormat.FHIR: "json",
               ExportFormat.FHIR_NDJSON: "zip"}
CONTENT_TYPES = {"zip": "application/zip", "json": "application/fhir+json"}


def export_dir() -> Path:
    """DATA_DIR/exports, readable by the service's user only."""
    path = Path(settings.DATA_DIR) / "exports"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _perm(identified: bool) -> Perm:
    return Perm.EXPORT_IDENTIFIED if identified else Perm.EXPORT_DATA


def _check(user: Any, *, identified: bool, program: Any = None, study: Any = None) -> None:
    """Raise PermissionDenied unless `user` may make this export now."""
    if user is None or not user.is_active or not has_perm(user, Perm.EXPORT_DATA):
        raise PermissionDenied("Your role does not allow exports.")
    if identified and not has_perm(user, Perm.EXPORT_IDENTIFIED):
        raise PermissionDenied("Your role allows de-identified exports only.")
    sites = actor_for(user).sites_with(_perm(identified))
    if program is not None and program.site_id not in sites:
        raise PermissionDenied("That program is not at your sites.")
    if study is not None:
        from peercoach.research.selectors import studies_for

        if (study.program.site_id not in sites
                or not studies_for(user, Perm.ALLOCATION_VIEW).filter(pk=study.pk).exists()):
            raise PermissionDenied("That study is not one you may export.")


def export_request(*, by: Any, format: str, identified: bool = False, program: Any = None,
                   study: Any = None) -> ExportJob:
    if format not in ExportFormat.values:
        raise ValidationError({"format": f"Unknown export format {format!r}."})
    if program is not None and study is not None:
        raise ValidationError("Choose a program or a study, not both.")
    _check(by, identified=identified, program=program, study=study)
    kind = (ExportKind.STUDY if study is not None
            else ExportKind.PROGRAM if program is not None else ExportKind.ALL)
    with transaction.atomic():
        job = ExportJob(kind=kind, format=format, identified=identified, program=program,
                        study=study, requested_by=by)
        job.full_clean()
        job.save()
        audit.record(actor=by, action=AuditAction.EXPORT, target=job, details={
            "stage": "requested", "format": format, "identified": identified, "kind": kind,
            "program": program.pk if program is not None else None,
            "study": study.pk if study is not None else None})
        pk = job.pk
        transaction.on_commit(lambda: enqueue(pk))
    return job


def enqueue(job_id: int) -> None:
    """Hand the job to the queue; a queue that is down fails the job with a message."""
    from peercoach.research.tasks import run_export

    try:
        run_export.apply_async(args=[job_id], retry=False)
    except Exception as exc:  # kombu/redis connection errors
        logger.warning("Job queue unavailable, export %s not started: %s", job_id, exc)
        ExportJob.objects.filter(pk=job_id, status=ExportStatus.QUEUED).update(
            status=ExportStatus.FAILED, finished_at=timezone.now(),
            error="The job queue is not available. Please ask for the export again later.")


class _Progress:
    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.done = 0
        self._last = 0.0

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if now - self._last >= PROGRESS_EVERY_SECONDS:
            self._last = now
            self.flush()

    def flush(self) -> None:
        ExportJob.objects.filter(pk=self.job_id).update(rows_done=self.done,
                                                        heartbeat_at=timezone.now())


def _writer(fmt: str) -> tuple[Any, Any]:
    """(write(ctx, path) -> counts, tables_read(ctx) -> table names) for a format."""
    from . import csv_export, fhir_bundle, redcap

    if fmt == ExportFormat.CSV:
        return (csv_export.write_csv_zip,
                lambda ctx: [t.name for t in csv_export.tables_read(ctx)])
    if fmt == ExportFormat.REDCAP:
        return redcap.write_redcap_zip, redcap.tables_read
    if fmt == ExportFormat.FHIR:
        return fhir_bundle.write_bundle_file, fhir_bundle.tables_read
    return fhir_bundle.write_ndjson_zip, fhir_bundle.tables_read


def _claim(job_id: int) -> bool:
    now = timezone.now()
    stale = Q(status=ExportStatus.RUNNING) & (Q(heartbeat_at__lt=now - STALE_AFTER)
                                              | Q(heartbeat_at__isnull=True))
    return bool(ExportJob.objects.filter(Q(status=ExportStatus.QUEUED) | stale, pk=job_id)
                .update(status=ExportStatus.RUNNING, started_at=now, heartbeat_at=now,
                        rows_done=0, error=""))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def export_run(*, job_id: int) -> str:
    """Run one job (the Celery task calls this). Answers its final status."""
    from .tables import BY_NAME, ExportContext

    if not _claim(job_id):
        return "skipped"
    job = ExportJob.objects.select_related("requested_by", "program", "study__program").get(
        pk=job_id)
    user = job.requested_by
    token = audit.set_request_info(audit.RequestInfo(via="task"))
    part: Path | None = None
    try:
        _check(user, identified=job.identified, program=job.program, study=job.study)
        progress = _Progress(job.pk)
        ctx = ExportContext(user=user, identified=job.identified, program_id=job.program_id,
                            study_id=job.study_id, on_rows=progress)
        write, tables_read = _writer(job.format)
        total = sum(BY_NAME[name].count(ctx) for name in tables_read(ctx))
        site_ids = ctx.data_site_ids
        ExportJob.objects.filter(pk=job.pk).update(rows_total=total, site_ids=site_ids)
        ext = _EXTENSIONS[ExportFormat(job.format)]
        name = f"export-{job.pk}-{job.format}-{secrets.token_hex(6)}.{ext}"
        part = export_dir() / f".{name}.part"
        counts = write(ctx, part)
        final = export_dir() / name
        os.replace(part, final)
        part = None
        size, sha = final.stat().st_size, _sha256(final)
        rows = sum(counts.values())
        with transaction.atomic():
            ExportJob.objects.filter(pk=job.pk).update(
                status=ExportStatus.DONE, counts=counts, file_name=name, file_size=size,
                sha256=sha, finished_at=timezone.now(), rows_done=max(progress.done, 0),
                heartbeat_at=timezone.now())
            job.refresh_from_db()
            audit.record(actor=user, action=AuditAction.EXPORT, target=job, details={
                "stage": "written", "format": job.format, "identified": job.identified,
                "kind": job.kind, "sites": site_ids, "rows": counts, "rows_total": rows,
                "bytes": size, "sha256": sha})
        return ExportStatus.DONE
    except Exception as exc:
        if isinstance(exc, PermissionDenied | ValidationError):
            logger.warning("Export %s refused: %s", job_id, exc)
            message = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        else:
            logger.exception("Export %s failed", job_id)
            message = (f"The export failed ({type(exc).__name__}). The error is in the server "
                       f"log.")
        ExportJob.objects.filter(pk=job.pk).update(status=ExportStatus.FAILED, error=message,
                                                   finished_at=timezone.now())
        job.refresh_from_db()
        audit.record(actor=user, action=AuditAction.EXPORT, target=job,
                     details={"stage": "failed", "error": message})
        return ExportStatus.FAILED
    finally:
        if part is not None:
            part.unlink(missing_ok=True)
        audit.reset_request_info(token)


# --- Reading ------------------------------------------------------------------------------

def jobs_for(user: Any) -> QuerySet[ExportJob]:
    """The user's own jobs, newest first."""
    return (ExportJob.objects.filter(requested_by_id=user.pk)
            .select_related("program", "study").order_by("-created_at", "-id"))


def job_for_download(user: Any, pk: Any) -> tuple[ExportJob, Path]:
    """The job and its file, for its requester only, while they may still have it."""
    job = jobs_for(user).filter(pk=pk).first() if is_id(pk) else None
    if job is None or job.status != ExportStatus.DONE or not job.file_name:
        raise Http404("No such export.")
    allowed = (has_perm(user, Perm.EXPORT_DATA)
               and (not job.identified or has_perm(user, Perm.EXPORT_IDENTIFIED))
               and set(job.site_ids) <= actor_for(user).sites_with(_perm(job.identified)))
    if not allowed:
        raise Http404("No such export.")
    path = export_dir() / Path(job.file_name).name
    if not path.is_file():
        raise Http404("The file is no longer kept. Please export again.")
    audit.record(actor=user, action=AuditAction.EXPORT, target=job, details={
        "stage": "downloaded", "format": job.format, "identified": job.identified,
        "rows_total": sum(job.counts.values()) if job.counts else None, "sha256": job.sha256})
    return job, path


def download_name(job: ExportJob) -> str:
    ext = _EXTENSIONS[ExportFormat(job.format)]
    kind = "identified" if job.identified else "deidentified"
    day = timezone.localtime(job.finished_at or job.created_at).strftime("%Y%m%d")
    return f"peercoach-{job.format}-{kind}-{day}-{job.pk}.{ext}"
