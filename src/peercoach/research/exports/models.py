"""Background export jobs: what was asked for, by whom, how far it got, where the file is.

The model belongs to the research app (`app_label`), imported at the end of
`research/models.py`, so its migration lives with the app's others.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class ExportKind(models.TextChoices):
    """Whose data: everything the requester may export, one program, or one study."""

    ALL = "all", "Everything at my sites"
    PROGRAM = "program", "One program"
    STUDY = "study", "One study's randomized participants"


class ExportFormat(models.TextChoices):
    CSV = "csv", "CSV tables with a data dictionary (zip)"
    REDCAP = "redcap", "REDCap data dictionary and import files (zip)"
    FHIR = "fhir", "FHIR R4 Bundle (JSON)"
    FHIR_NDJSON = "fhir_ndjson", "FHIR R4 resources, one file per type (NDJSON, zip)"


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Waiting"
    RUNNING = "running", "Running"
    DONE = "done", "Ready"
    FAILED = "failed", "Failed"


class ExportJob(models.Model):
    """One export, run in the background; its file sits in DATA_DIR/exports."""

    kind = models.CharField(max_length=10, choices=ExportKind.choices, default=ExportKind.ALL)
    format = models.CharField(max_length=12, choices=ExportFormat.choices)
    #: Names, contact details and real dates (only with `data.export_identified`).
    identified = models.BooleanField(default=False)
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="+")
    study = models.ForeignKey("research.Study", on_delete=models.PROTECT, null=True,
                              blank=True, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    status = models.CharField(max_length=10, choices=ExportStatus.choices,
                              default=ExportStatus.QUEUED, db_index=True)
    rows_done = models.PositiveBigIntegerField(default=0)
    #: Counted when the job starts (the tables may grow while it runs).
    rows_total = models.PositiveBigIntegerField(null=True, blank=True)
    #: Rows written per table, once done.
    counts = models.JSONField(default=dict, blank=True)
    #: File name inside DATA_DIR/exports (never a path given by a user).
    file_name = models.CharField(max_length=120, blank=True)
    file_size = models.PositiveBigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    #: Sites whose data the file holds (checked again at every download).
    site_ids = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    #: Last sign of life of the run (a job silent for long is taken over by another worker).
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "research"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["requested_by", "-created_at"])]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(kind=ExportKind.PROGRAM) | models.Q(program__isnull=False),
                name="export_program_kind_has_program"),
            models.CheckConstraint(
                condition=~models.Q(kind=ExportKind.STUDY) | models.Q(study__isnull=False),
                name="export_study_kind_has_study"),
        ]

    def __str__(self) -> str:
        return f"Export {self.pk} ({self.format}, {self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in (ExportStatus.DONE, ExportStatus.FAILED)

    @property
    def percent(self) -> int | None:
        if not self.rows_total:
            return 100 if self.status == ExportStatus.DONE else None
        return min(100, int(100 * self.rows_done / self.rows_total))
