"""Studies, their arms, the concealed allocation sequence, and allocations.

A study runs on one program. When it starts recruiting, its seed is recorded and each
stratum's sequence of arms is generated from it and stored (`AllocationSlot`); a
patient's allocation takes the next free slot of their stratum. Slots and allocations
are never changed or deleted: the model and its queryset refuse, like the audit trail.
Who may read the slots is decided in `selectors.py` (the statistician only).
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from peercoach.core.models import TimeStampedModel


class StudyStatus(models.TextChoices):
    DRAFT = "draft", "Draft (being set up)"
    RECRUITING = "recruiting", "Recruiting"
    CLOSED = "closed", "Closed"


class StratumFactor(models.TextChoices):
    """The participant fields a study may stratify on (a fixed list, in this order)."""

    SITE = "site", "Site"
    GENDER = "gender", "Gender"
    PAIN_BAND = "pain_band", "Baseline pain (PEG band)"
    AGE_GROUP = "age_group", "Age group"
    SERVICE_ERA = "service_era", "Service era"


class ArmKind(models.TextChoices):
    INTERVENTION = "intervention", "Intervention"
    CONTROL = "control", "Control"


NCT_RE = re.compile(r"NCT\d{8}")
TIME_POINT_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,19}")
MAX_BLOCK_SIZE = 60


def check_block_sizes(value: Any) -> list[str]:
    """Problems with a list of block sizes on its own (the ratio is checked at start)."""
    if not isinstance(value, list) or not value:
        return ["Give at least one block size, e.g. 2, 4, 6."]
    problems = []
    for size in value:
        if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= MAX_BLOCK_SIZE:
            problems.append(f"Block sizes are whole numbers from 1 to {MAX_BLOCK_SIZE}; "
                            f"{size!r} is not.")
    if len(set(map(str, value))) != len(value):
        problems.append("Each block size once, please.")
    return problems


class Study(TimeStampedModel):
    """A randomized study run on one program: its arms, strata and assessed time points."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT,
                                related_name="studies")
    title = models.CharField(max_length=200)
    registration_id = models.CharField(
        max_length=40, blank=True, verbose_name="Registration ID",
        help_text="The trial registration, e.g. ClinicalTrials.gov NCT02380690.")
    description = models.TextField(blank=True)
    status = models.CharField(max_length=12, choices=StudyStatus.choices,
                              default=StudyStatus.DRAFT, db_index=True)
    #: Recorded when recruiting starts (drawn by the system, never typed in by staff);
    #: with the block sizes, ratio and strata it fixes every stratum's sequence.
    seed = models.BigIntegerField(null=True, blank=True, editable=False)
    #: Block sizes chosen from at random; each a multiple of the sum of the arms' ratios.
    block_sizes = models.JSONField(default=list, blank=True)
    #: Stratification factors, a subset of StratumFactor in that order.
    strata = models.JSONField(default=list, blank=True)
    #: Assessed time point keys (assessments.TimePoint.key), e.g. ["baseline", "6mo"].
    time_points = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "studies"
        constraints = [
            models.UniqueConstraint(fields=["program"],
                                    condition=models.Q(status=StudyStatus.RECRUITING),
                                    name="one_recruiting_study_per_program"),
            models.CheckConstraint(
                condition=models.Q(started_at__isnull=True) | models.Q(seed__isnull=False),
                name="study_seed_recorded_when_started"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_draft(self) -> bool:
        return self.status == StudyStatus.DRAFT

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        reg = self.registration_id.strip()
        if reg.upper().startswith("NCT") and not NCT_RE.fullmatch(reg):
            errors["registration_id"] = [
                f"'{reg}' is not a ClinicalTrials.gov number: NCT and eight digits."]
        if self.block_sizes or self.status != StudyStatus.DRAFT:
            problems = check_block_sizes(self.block_sizes)
            if problems:
                errors["block_sizes"] = problems
        if not isinstance(self.strata, list) or not all(isinstance(s, str) for s in self.strata):
            errors["strata"] = ["Strata must be a list of factor names."]
        else:
            unknown = sorted(set(self.strata) - set(StratumFactor.values))
            if unknown:
                errors["strata"] = [f"Unknown stratification factors: {', '.join(unknown)}. "
                                    f"Choose from {', '.join(StratumFactor.values)}."]
            elif len(set(self.strata)) != len(self.strata):
                errors["strata"] = ["Each stratification factor once, please."]
        if not isinstance(self.time_points, list):
            errors["time_points"] = ["Time points must be a list of keys."]
        else:
            bad = [t for t in self.time_points
                   if not isinstance(t, str) or not TIME_POINT_RE.fullmatch(t)]
            if bad:
                errors["time_points"] = [
                    f"Time point keys are short lower-case codes such as baseline, 4mo or 6mo; "
                    f"not {', '.join(map(repr, bad))}."]
            elif len(set(self.time_points)) != len(self.time_points):
                errors["time_points"] = ["Each time point once, please."]
        if errors:
            raise ValidationError(errors)


class Arm(TimeStampedModel):
    """One arm of a study: what its patients receive, its share of the allocation."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="arms")
    name = models.CharField(max_length=120, help_text="e.g. Peer coaching")
    code = models.SlugField(max_length=30, help_text="A short code for exports, e.g. coaching.")
    kind = models.CharField(max_length=12, choices=ArmKind.choices,
                            default=ArmKind.INTERVENTION)
    description = models.TextField(blank=True, help_text="What patients in this arm receive, "
                                   "e.g. a one-time 2-hour self-management class.")
    #: Relative share of the allocation (ECLIPSE: 120 coaching to 95 control is about 5:4).
    ratio = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(20)],
        help_text="Relative share, e.g. 1 and 1 for equal arms, 5 and 4 for 5:4.")
    target_size = models.PositiveIntegerField(null=True, blank=True,
                                              help_text="How many patients are planned.")
    #: Control arms get assessments and no coach (they never enter the matching pool).
    gets_coach = models.BooleanField(default=True)

    class Meta:
        ordering = ["study", "id"]
        constraints = [
            models.UniqueConstraint(fields=["study", "code"], name="arm_code_unique_per_study"),
            models.UniqueConstraint(fields=["study", "name"], name="arm_name_unique_per_study"),
            models.CheckConstraint(
                condition=~models.Q(kind=ArmKind.CONTROL, gets_coach=True),
                name="control_arm_gets_no_coach"),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.kind == ArmKind.CONTROL and self.gets_coach:
            raise ValidationError({"gets_coach": "A control arm gets assessments and no coach."})


class ImmutableQuerySet(models.QuerySet[Any]):
    """Bulk changes and deletes are refused: the sequence and allocations are permanent."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("Allocations and the allocation sequence cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("Allocations and the allocation sequence cannot be deleted.")


class _Immutable(models.Model):
    objects = ImmutableQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("Allocations and the allocation sequence cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("Allocations and the allocation sequence cannot be deleted.")


class Stratum(models.Model):
    """One stratum of a study: the row locked while one of its slots is taken."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="strata_rows")
    #: e.g. "gender=female|pain_band=high"; "all" when the study is not stratified.
    key = models.CharField(max_length=200)
    #: How many slots of its sequence are stored (more are generated when they run out).
    slots_generated = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["study", "key"]
        constraints = [models.UniqueConstraint(fields=["study", "key"],
                                               name="stratum_unique_per_study")]

    def __str__(self) -> str:
        return self.key


class AllocationSlot(_Immutable):
    """Position `position` of a stratum's concealed sequence: which arm comes then."""

    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="slots")
    stratum_key = models.CharField(max_length=200)
    position = models.PositiveIntegerField()
    arm = models.ForeignKey(Arm, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["study", "stratum_key", "position"]
        constraints = [models.UniqueConstraint(fields=["study", "stratum_key", "position"],
                                               name="slot_unique_position")]

    def __str__(self) -> str:
        return f"{self.stratum_key} #{self.position}"


class Allocation(_Immutable):
    """A patient's arm: taken once, from the next free slot of their stratum, for good."""

    patient = models.OneToOneField("people.Patient", on_delete=models.PROTECT,
                                   related_name="allocation")
    study = models.ForeignKey(Study, on_delete=models.PROTECT, related_name="allocations")
    slot = models.OneToOneField(AllocationSlot, on_delete=models.PROTECT,
                                related_name="allocation")
    arm = models.ForeignKey(Arm, on_delete=models.PROTECT, related_name="allocations")
    allocated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                     related_name="+")
    allocated_at = models.DateTimeField()

    class Meta:
        ordering = ["-allocated_at", "-id"]
        indexes = [models.Index(fields=["study", "-allocated_at"])]

    def __str__(self) -> str:
        return f"Allocation {self.pk}"

    def clean(self) -> None:
        if self.slot_id and self.arm_id and self.slot.arm_id != self.arm_id:
            raise ValidationError("The allocation's arm must be its slot's arm.")
        if self.slot_id and self.study_id and self.slot.study_id != self.study_id:
            raise ValidationError("The slot belongs to another study.")


# Export jobs (exports/models.py), part of this app for their migrations.
from .exports.models import ExportJob  # noqa: E402, F401
