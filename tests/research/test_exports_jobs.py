"""Export jobs: asked for on the page, run by the Celery task (in-process here), listed with
their progress, downloadable by their requester only, and audited at every step."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from peercoach.core.models import AuditEvent, Role, RoleAssignment
from peercoach.research.exports import jobs
from peercoach.research.exports.models import ExportJob, ExportStatus
from peercoach.research.tasks import run_export


@pytest.fixture
def data_dir(settings: Any, tmp_path: Path) -> Path:
    settings.DATA_DIR = tmp_path
    settings.EXPORT_DATE_SHIFT_SECRET = "jobs-test"
    return tmp_path


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _request(client: Client, capture: Any, **data: Any) -> Any:
    with capture(execute=True):
        return client.post(reverse("research:export_list"),
                           {"format": "csv", "kind": "all", **data})


def test_researcher_asks_runs_and_downloads(world: Any, data_dir: Path,
                                            django_capture_on_commit_callbacks: Any) -> None:
    client = _client(world.researcher)
    page = client.get(reverse("research:export_list"))
    assert page.status_code == 200
    assert "identified" not in page.context["form"].fields  # researchers: de-identified only
    response = _request(client, django_capture_on_commit_callbacks)
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert job.status == ExportStatus.DONE, job.error
    assert job.requested_by == world.researcher and not job.identified
    assert job.rows_total and job.rows_done == job.rows_total
    assert job.percent == 100 and job.counts["participants"] == 2  # site A's patients
    assert (data_dir / "exports" / job.file_name).is_file()
    assert not list((data_dir / "exports").glob(".*.part"))
    listing = client.get(reverse("research:export_list"))
    assert reverse("research:export_download", args=[job.pk]) in listing.content.decode()
    download = client.get(reverse("research:export_download", args=[job.pk]))
    assert download.status_code == 200
    assert download["Content-Type"] == "application/zip"
    assert "deidentified" in download["Content-Disposition"]
    body = b"".join(download.streaming_content)
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        assert "participants.csv" in zf.namelist()
        assert world.patient.last_name not in zf.read("participants.csv").decode()
    stages = [e.details["stage"] for e in AuditEvent.objects.filter(
        action="export", target_type="exportjob", target_id=str(job.pk)).order_by("at", "id")]
    assert stages == ["requested", "written", "downloaded"]
    written = AuditEvent.objects.get(details__stage="written", target_id=str(job.pk))
    assert written.actor == world.researcher and written.via == "task"
    assert written.details["rows"]["participants"] == 2
    assert written.details["rows_total"] == sum(job.counts.values())
    assert written.details["sha256"] == job.sha256


def test_download_is_refused_to_everyone_else(world: Any, data_dir: Path,
                                              django_capture_on_commit_callbacks: Any) -> None:
    _request(_client(world.researcher), django_capture_on_commit_callbacks)
    job = ExportJob.objects.get()
    url = reverse("research:export_download", args=[job.pk])
    for user in (world.coordinator, world.admin):  # may export, but it is not their job
        assert _client(user).get(url).status_code == 404
    for user in (world.supervisor, world.clinician, world.coach_user, world.patient_user):
        assert _client(user).get(url).status_code == 403
    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and "/accounts/login/" in anonymous["Location"]
    assert not AuditEvent.objects.filter(details__stage="downloaded").exists()


def test_identified_export_for_coordinators_only_and_only_while_they_may(
        world: Any, data_dir: Path, django_capture_on_commit_callbacks: Any) -> None:
    client = _client(world.coordinator)
    _request(client, django_capture_on_commit_callbacks, identified="on", format="fhir")
    job = ExportJob.objects.get()
    assert job.identified and job.status == ExportStatus.DONE, job.error
    url = reverse("research:export_download", args=[job.pk])
    response = client.get(url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert world.patient.last_name in b"".join(response.streaming_content).decode()
    RoleAssignment.objects.filter(user=world.coordinator).update(ended_at=timezone.now())
    RoleAssignment.objects.create(user=world.coordinator, role=Role.RESEARCHER,
                                  site=world.site_a)
    assert _client(world.coordinator).get(url).status_code == 404


def test_a_job_whose_requester_lost_the_role_fails_cleanly(world: Any, data_dir: Path,
                                                           django_capture_on_commit_callbacks:
                                                           Any) -> None:
    job = jobs.export_request(by=world.researcher, format="redcap")  # not run yet (no commit)
    RoleAssignment.objects.filter(user=world.researcher).update(ended_at=timezone.now())
    world.researcher.refresh_from_db()
    assert run_export.apply(args=[job.pk]).get() == ExportStatus.FAILED
    job.refresh_from_db()
    assert job.status == ExportStatus.FAILED and "does not allow" in job.error
    exports = data_dir / "exports"
    assert not job.file_name and not (exports.exists() and list(exports.iterdir()))
    assert AuditEvent.objects.filter(details__stage="failed", target_id=str(job.pk)).exists()


def test_a_second_delivery_does_nothing(world: Any, data_dir: Path) -> None:
    job = jobs.export_request(by=world.researcher, format="fhir_ndjson")
    assert jobs.export_run(job_id=job.pk) == ExportStatus.DONE
    assert jobs.export_run(job_id=job.pk) == "skipped"
    job.refresh_from_db()
    assert job.status == ExportStatus.DONE and job.counts["Patient"] == 2


def test_the_list_polls_while_a_job_runs(world: Any, data_dir: Path) -> None:
    client = _client(world.researcher)
    job = jobs.export_request(by=world.researcher, format="csv")  # queued (no commit here)
    rows = client.get(reverse("research:export_rows")).content.decode()
    assert 'hx-trigger="every 2s"' in rows and "Waiting" in rows
    jobs.export_run(job_id=job.pk)
    rows = client.get(reverse("research:export_rows")).content.decode()
    assert "hx-trigger" not in rows and "Download" in rows


def test_scope_must_be_the_requesters(world: Any, data_dir: Path) -> None:
    with pytest.raises(PermissionDenied):
        jobs.export_request(by=world.researcher, format="csv", program=world.program_b)
    response = _client(world.coordinator).post(
        reverse("research:export_list"),
        {"format": "csv", "kind": "program", "program": world.program_b.pk})
    assert response.status_code == 200 and response.context["form"].errors
    assert not ExportJob.objects.exists()


def test_one_program_export(world: Any, data_dir: Path) -> None:
    job = jobs.export_request(by=world.coordinator, format="csv", program=world.program_a)
    assert jobs.export_run(job_id=job.pk) == ExportStatus.DONE
    job.refresh_from_db()
    assert job.kind == "program" and job.counts["participants"] == 2
    assert job.site_ids == [world.site_a.pk]
