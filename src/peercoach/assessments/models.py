"""Assessments: when each questionnaire is due, the answers in progress, and every
submitted version.

The instruments themselves are data in `instruments.py` (no database); only a licensed
site's item text lives here (`InstrumentText`), loaded from a file.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from peercoach.core.models import TimeStampedModel


class TimePoint(TimeStampedModel):
    """One assessment time point of a program, e.g. baseline or 4 months."""

    program = models.ForeignKey("programs.Program", on_delete=models.CASCADE,
                                related_name="time_points")
    key = models.SlugField(max_length=20, help_text='A short name, e.g. "baseline" or "4mo".')
    label = models.CharField(max_length=60)
    #: Days after enrollment the questionnaires are due.
    day = models.PositiveSmallIntegerField()
    window_before_days = models.PositiveSmallIntegerField(default=14)
    window_after_days = models.PositiveSmallIntegerField(default=14)
    #: Baseline: due before the first coach contact (the window closes on its date).
    before_first_contact = models.BooleanField(default=False)
    #: Instrument codes (see instruments.REGISTRY), in the order they are asked.
    instruments = models.JSONField(default=list)
    #: Arm codes this time point applies to when the program is a study; empty = everyone.
    arms = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["program_id", "day", "key"]
        constraints = [
            models.UniqueConstraint(fields=["program", "key"], name="time_point_key_per_program"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.program})"

    def clean(self) -> None:
        from .instruments import REGISTRY, Licence

        errors: dict[str, str] = {}
        codes = self.instruments
        if not isinstance(codes, list) or not codes:
            errors["instruments"] = "Choose at least one questionnaire."
        else:
            unknown = [c for c in codes if c not in REGISTRY]
            if unknown:
                errors["instruments"] = f"Unknown questionnaires: {', '.join(map(str, unknown))}."
            elif len(set(codes)) != len(codes):
                errors["instruments"] = "A questionnaire is listed twice."
            elif "phq9" in codes and "phq8" in codes:
                errors["instruments"] = "Choose PHQ-9 or PHQ-8, not both."
            elif any(REGISTRY[c].licence == Licence.EXTERNAL_SCORE for c in codes):
                errors["instruments"] = (
                    "PAM is scored by its licensed scorer; record its score on the patient's "
                    "page instead of scheduling it.")
        if not isinstance(self.arms, list) or not all(isinstance(a, str) for a in self.arms):
            errors["arms"] = "Arms are a list of arm codes."
        if errors:
            raise ValidationError(errors)


class AssessmentStatus(models.TextChoices):
    DUE = "due", "Due"
    IN_PROGRESS = "in_progress", "Started"
    SUBMITTED = "submitted", "Done"
    #: The window closed without answers, recorded by staff (kept for the CONSORT counts).
    MISSED = "missed", "Missed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (AssessmentStatus.DUE, AssessmentStatus.IN_PROGRESS)


class Mode(models.TextChoices):
    SELF = "self", "By the patient, signed in"
    LINK = "link", "By the patient, from a secure link"
    PHONE = "phone", "With staff, on the phone"
    IN_PERSON = "in_person", "With staff, in person"
    EXTERNAL = "external", "Score from a licensed scorer"


class Assessment(TimeStampedModel):
    """One questionnaire for one patient at one time point (or on its own)."""

    patient = models.ForeignKey("people.Patient", on_delete=models.PROTECT,
                                related_name="assessments")
    time_point = models.ForeignKey(TimePoint, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="assessments")
    instrument = models.CharField(max_length=30)
    opens_on = models.DateField()
    due_on = models.DateField(db_index=True)
    closes_on = models.DateField()
    status = models.CharField(max_length=12, choices=AssessmentStatus.choices,
                              default=AssessmentStatus.DUE, db_index=True)
    #: Answers saved so far, before submission: {"3": {"value": 2, "at": iso, "by": user id
    #: or null for the patient through a link, "mode": ...}}. Every answer is attributed.
    draft = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    #: The latest submitted version (0 = none yet); its score is copied here for reports.
    version = models.PositiveIntegerField(default=0)
    total = models.FloatField(null=True, blank=True)
    band = models.CharField(max_length=40, blank=True)
    complete = models.BooleanField(default=False)
    flags = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "time_point", "instrument"],
                                    condition=models.Q(time_point__isnull=False),
                                    name="one_assessment_per_instrument_and_time_point"),
        ]
        indexes = [models.Index(fields=["patient", "instrument", "status"]),
                   # The overdue alert rule: open questionnaires whose window has closed.
                   models.Index(fields=["status", "closes_on"])]

    def __str__(self) -> str:
        return f"{self.instrument} for patient {self.patient_id} due {self.due_on}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class ResponseVersion(models.Model):
    """A submitted set of answers. Never changed: a correction is the next version."""

    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    answers = models.JSONField()
    #: When each answer was given and by whom, copied from the draft.
    answered = models.JSONField(default=dict, blank=True)
    total = models.FloatField(null=True, blank=True)
    band = models.CharField(max_length=40, blank=True)
    complete = models.BooleanField(default=False)
    flags = models.JSONField(default=list, blank=True)
    mode = models.CharField(max_length=10, choices=Mode.choices)
    #: Null when the patient answered through a secure link without an account.
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     null=True, blank=True, related_name="+")
    submitted_at = models.DateTimeField()
    reason = models.CharField(max_length=300, blank=True,
                              help_text="Why a submitted questionnaire was corrected.")

    class Meta:
        ordering = ["assessment_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["assessment", "number"],
                                    name="response_version_number_unique"),
            models.CheckConstraint(condition=models.Q(number=1) | ~models.Q(reason=""),
                                   name="correction_needs_reason"),
        ]

    def __str__(self) -> str:
        return f"Version {self.number} of assessment {self.assessment_id}"

    def save(self, *args: object, **kwargs: object) -> None:
        if self.pk is not None:
            raise ValueError("A submitted response is never changed; submit a new version.")
        super().save(*args, **kwargs)

    def delete(self, *args: object, **kwargs: object) -> tuple[int, dict[str, int]]:
        raise ValueError("Submitted responses are kept.")


class ExternalScore(TimeStampedModel):
    """A score computed elsewhere by a licensed scorer (the PAM): value and level only."""

    patient = models.ForeignKey("people.Patient", on_delete=models.PROTECT,
                                related_name="external_scores")
    instrument = models.CharField(max_length=30)
    time_point = models.ForeignKey(TimePoint, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    score = models.FloatField()
    level = models.PositiveSmallIntegerField(null=True, blank=True)
    measured_on = models.DateField()
    source = models.CharField(max_length=200, help_text="Who scored it, e.g. the licensed vendor.")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")

    class Meta:
        ordering = ["patient_id", "measured_on"]


class InstrumentText(models.Model):
    """A licensed instrument's item text, loaded by a site that holds the licence."""

    code = models.CharField(max_length=30, unique=True)
    licence_holder = models.CharField(max_length=200)
    licence_reference = models.CharField(max_length=200, blank=True)
    recall = models.CharField(max_length=200, blank=True)
    instructions = models.TextField(blank=True)
    items = models.JSONField()
    option_labels = models.JSONField(default=dict, blank=True)
    t_scores = models.JSONField(default=dict, blank=True)
    sha256 = models.CharField(max_length=64)
    loaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                  blank=True, related_name="+")
    loaded_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"Licensed text for {self.code}"


class AssessmentLink(models.Model):
    """A single-use link that lets a patient answer their due questionnaires without a
    login. Only a hash of the token is stored."""

    patient = models.ForeignKey("people.Patient", on_delete=models.CASCADE,
                                related_name="assessment_links")
    token_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                                   blank=True, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    #: Set when the link is first opened; a second opening is refused.
    used_at = models.DateTimeField(null=True, blank=True)
    sent_via = models.CharField(max_length=10, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Questionnaire link for patient {self.patient_id}"
