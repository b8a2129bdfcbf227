"""Every write for studies: set-up, starting and closing recruitment, randomization.

All atomic, validated and audited. The seed is drawn here when recruiting starts and is
never written to the audit trail, a message or a page other than the statistician's.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from peercoach.core import audit
from peercoach.core.models import AuditAction
from peercoach.people.lifecycle import PatientStatus
from peercoach.people.models import Patient
from peercoach.programs.models import Program

from . import strata
from .models import (
    MAX_BLOCK_SIZE,
    Allocation,
    AllocationSlot,
    Arm,
    ArmKind,
    Stratum,
    Study,
    StudyStatus,
)
from .randomization import block_sequence, stratum_seed, validate_design

#: Strata generated up front when recruiting starts, if there are no more than this many
#: combinations; beyond that (or for a value nobody foresaw) a stratum's sequence is
#: generated the first time a patient falls in it. Either way it comes from the seed and
#: the stratum's key alone, so the slots are the same.
PREGENERATE_MAX_STRATA = 100

#: Fields that fix the sequence: editable only while the study is a draft.
STUDY_DESIGN_FIELDS = ("block_sizes", "strata")
STUDY_FIELDS = ("title", "registration_id", "description", "time_points", *STUDY_DESIGN_FIELDS)
ARM_DESIGN_FIELDS = ("code", "kind", "ratio", "gets_coach")
ARM_FIELDS = ("name", "description", "target_size", *ARM_DESIGN_FIELDS)


def _design_frozen(study: Study) -> ValidationError:
    return ValidationError("This study has started recruiting: its arms, ratio, block sizes "
                           "and strata are fixed.")


# --- Set-up ---------------------------------------------------------------------------


def study_create(*, program: Program, by: Any, title: str, registration_id: str = "",
                 description: str = "", block_sizes: Sequence[int] = (),
                 strata: Sequence[str] = (), time_points: Sequence[str] = (),
                 arms: Iterable[Mapping[str, Any]] = (), start: bool = False,
                 seed: int | None = None) -> Study:
    """A draft study on `program`, with its arms if given (each a dict of `arm_create`'s
    arguments: name, code, kind, ratio, target_size, gets_coach, description).

    `start=True` starts recruiting straight away; `seed` is for reproducible demos and
    tests only (staff never choose a seed: see docs/decisions/0007).
    """
    with transaction.atomic():
        study = Study(program=program, title=title.strip(),
                      registration_id=registration_id.strip(), description=description,
                      block_sizes=list(block_sizes), strata=list(strata),
                      time_points=list(time_points), created_by=by)
        study.full_clean()
        study.save()
        audit.record(actor=by, action=AuditAction.CREATE, target=study,
                     details={"title": study.title, "program": program.pk})
        for arm in arms:
            arm_create(study=study, by=by, **arm)
        if start:
            study = study_start(study=study, by=by, seed=seed)
    return study


def study_update(*, study: Study, by: Any, **fields: Any) -> Study:
    unknown = set(fields) - set(STUDY_FIELDS)
    if unknown:
        raise ValidationError(f"Cannot change {', '.join(sorted(unknown))} here.")
    with transaction.atomic():
        study = (Study.objects.select_for_update(of=("self",)).select_related("program")
                 .get(pk=study.pk))
        before = audit.snapshot(study)
        changed_design = [f for f in STUDY_DESIGN_FIELDS
                          if f in fields and list(fields[f]) != getattr(study, f)]
        if changed_design and not study.is_draft:
            raise _design_frozen(study)
        for name, value in fields.items():
            if isinstance(value, str):
                value = value.strip()
            elif isinstance(value, tuple):
                value = list(value)
            setattr(study, name, value)
        study.full_clean()
        if study.is_draft and study.block_sizes:
            _check_sizes_against_ratio(study, list(study.arms.all()))
        study.save()
        changes = audit.diff(before, audit.snapshot(study))
        if changes:
            audit.record(actor=by, action=AuditAction.UPDATE, target=study, details=changes)
    return study


def arm_create(*, study: Study, by: Any, name: str, code: str,
               kind: str = ArmKind.INTERVENTION, ratio: int = 1,
               target_size: int | None = None, gets_coach: bool | None = None,
               description: str = "") -> Arm:
    """Add an arm to a draft study. A control arm gets no coach unless said otherwise."""
    if gets_coach is None:
        gets_coach = kind != ArmKind.CONTROL
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        if not study.is_draft:
            raise _design_frozen(study)
        arm = Arm(study=study, name=name.strip(), code=code.strip(), kind=kind, ratio=ratio,
                  target_size=target_size, gets_coach=gets_coach, description=description)
        arm.full_clean()
        arm.save()
        audit.record(actor=by, action=AuditAction.CREATE, target=arm,
                     details={"study": study.pk, "code": arm.code, "kind": kind,
                              "ratio": ratio, "gets_coach": gets_coach})
    return arm


def arm_update(*, arm: Arm, by: Any, **fields: Any) -> Arm:
    unknown = set(fields) - set(ARM_FIELDS)
    if unknown:
        raise ValidationError(f"Cannot change {', '.join(sorted(unknown))} here.")
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=arm.study_id)
        arm = Arm.objects.select_for_update().get(pk=arm.pk)
        before = audit.snapshot(arm)
        if not study.is_draft and any(f in fields and fields[f] != getattr(arm, f)
                                      for f in ARM_DESIGN_FIELDS):
            raise _design_frozen(study)
        for name, value in fields.items():
            setattr(arm, name, value.strip() if isinstance(value, str) else value)
        arm.full_clean()
        arm.save()
        changes = audit.diff(before, audit.snapshot(arm))
        if changes:
            audit.record(actor=by, action=AuditAction.UPDATE, target=arm,
                         details={"study": study.pk, **changes})
    return arm


def default_block_sizes(arms: Sequence[Arm]) -> list[int]:
    """Once, twice and three times the ratio's sum (2, 4, 6 for two equal arms)."""
    unit = sum(a.ratio for a in arms)
    return [unit * k for k in (1, 2, 3) if unit * k <= MAX_BLOCK_SIZE] or [unit]


def _design(arms: Sequence[Arm]) -> tuple[list[str], list[int]]:
    return [a.code for a in arms], [a.ratio for a in arms]


def _check_sizes_against_ratio(study: Study, arms: Sequence[Arm]) -> None:
    if len(arms) < 2:
        return
    codes, ratio = _design(arms)
    try:
        validate_design(codes, study.block_sizes, ratio)
    except ValueError as exc:
        raise ValidationError({"block_sizes": str(exc).capitalize() + "."}) from exc


# --- Recruiting -----------------------------------------------------------------------


def study_start(*, study: Study, by: Any, seed: int | None = None) -> Study:
    """Start recruiting: record the seed and generate the strata's sequences.

    From here on the design is fixed and the sequence can be read by the statistician
    only. `seed` is for demos and tests; by default the system draws one.
    """
    with transaction.atomic():
        study = (Study.objects.select_for_update(of=("self",)).select_related("program__site")
                 .get(pk=study.pk))
        if not study.is_draft:
            raise ValidationError(f"This study is already {study.get_status_display().lower()}.")
        arms = list(study.arms.order_by("id"))
        if len(arms) < 2:
            raise ValidationError("A randomized study needs at least two arms.")
        if Study.objects.filter(program_id=study.program_id,
                                status=StudyStatus.RECRUITING).exists():
            raise ValidationError("Another study is recruiting in this program; close it "
                                  "first.")
        if not study.block_sizes:
            study.block_sizes = default_block_sizes(arms)
        _check_sizes_against_ratio(study, arms)
        study.seed = seed if seed is not None else secrets.randbits(62)
        study.status = StudyStatus.RECRUITING
        study.started_at = timezone.now()
        study.full_clean()
        study.save()
        keys = strata.foreseeable_keys(study)
        generated = 0
        if len(keys) <= PREGENERATE_MAX_STRATA:
            for key in keys:
                stratum = Stratum.objects.create(study=study, key=key)
                _extend(study, stratum, arms)
                generated += 1
        # The seed stays out of the trail: the audit list is read by site administrators.
        audit.record(actor=by, action=AuditAction.TRANSITION, target=study,
                     details={"status": [StudyStatus.DRAFT, StudyStatus.RECRUITING],
                              "arms": [a.code for a in arms],
                              "strata_generated": generated})
    return study


def study_close(*, study: Study, by: Any) -> Study:
    with transaction.atomic():
        study = Study.objects.select_for_update().get(pk=study.pk)
        if study.status == StudyStatus.CLOSED:
            raise ValidationError("This study is already closed.")
        old = study.status
        study.status = StudyStatus.CLOSED
        study.closed_at = timezone.now()
        study.save(update_fields=["status", "closed_at", "updated_at"])
        audit.record(actor=by, action=AuditAction.TRANSITION, target=study,
                     details={"status": [old, StudyStatus.CLOSED]})
    return study


def round_size(study: Study) -> int:
    """How many slots a stratum gets at a time (whole blocks are not needed: see
    `block_sequence`, whose longer sequences start with its shorter ones)."""
    return max(30, 5 * max(study.block_sizes))


def _extend(study: Study, stratum: Stratum, arms: Sequence[Arm]) -> int:
    """Store the next round of the stratum's sequence; return how many slots were added."""
    assert study.seed is not None
    have = stratum.slots_generated
    upto = have + round_size(study)
    codes, ratio = _design(arms)
    sequence = block_sequence(upto, codes, study.block_sizes, ratio,
                              seed=stratum_seed(study.seed, stratum.key))
    by_code = {a.code: a for a in arms}
    AllocationSlot.objects.bulk_create([
        AllocationSlot(study=study, stratum_key=stratum.key, position=position,
                       arm=by_code[code])
        for position, code in enumerate(sequence[have:], start=have + 1)])
    Stratum.objects.filter(pk=stratum.pk).update(slots_generated=upto)
    stratum.slots_generated = upto
    return upto - have


def stratum_sequence(study: Study, key: str, n: int) -> list[str]:
    """The first `n` arm codes of a stratum, regenerated from the recorded seed.

    For the statistician's check that the stored slots are the seed's sequence.
    """
    assert study.seed is not None
    codes, ratio = _design(list(study.arms.order_by("id")))
    return block_sequence(n, codes, study.block_sizes, ratio,
                          seed=stratum_seed(study.seed, key))


# --- Randomization ----------------------------------------------------------------------


def ineligibility(patient: Patient, study: Study) -> list[str]:
    """Why this patient cannot be randomized into this study now (empty: they can)."""
    reasons: list[str] = []
    if patient.program_id != study.program_id:
        reasons.append("The patient is in another program.")
    if patient.status != PatientStatus.ENROLLED:
        reasons.append("Only enrolled patients can be randomized; this patient is "
                       f"{PatientStatus(patient.status).label.lower()}.")
    latest = patient.screenings.order_by("-screened_at", "-id").first()
    if latest is None:
        reasons.append("The patient has not been screened.")
    elif not latest.eligible:
        reasons.append("The patient's latest screening did not find them eligible.")
    if not patient.consents.exists():
        reasons.append("No consent is recorded for the patient.")
    return reasons


def recruiting_study(program_id: int) -> Study | None:
    return Study.objects.filter(program_id=program_id, status=StudyStatus.RECRUITING).first()


def randomize(*, patient: Patient, by: Any, study: Study | None = None) -> Allocation:
    """Allocate an enrolled, eligible patient: the next free slot of their stratum.

    Once and for good: a second call is refused. The stratum's row is locked while the
    slot is taken (PostgreSQL: SELECT ... FOR UPDATE; SQLite runs one writer at a time),
    so two allocations in one stratum never take the same slot; the unique constraints
    on the allocation's patient and slot would refuse it anyway.
    Error messages never say which arm comes next.
    """
    with transaction.atomic():
        patient = (Patient.objects.select_for_update(of=("self",))
                   .select_related("program__site").get(pk=patient.pk))
        if study is None:
            study = recruiting_study(patient.program_id)
            if study is None:
                raise ValidationError("No study is recruiting in this patient's program.")
        study = Study.objects.select_related("program__site").get(pk=study.pk)
        if study.status != StudyStatus.RECRUITING:
            raise ValidationError(f"This study is {study.get_status_display().lower()}, "
                                  "not recruiting.")
        done = Allocation.objects.filter(patient=patient).first()
        if done is not None:
            when = timezone.localdate(done.allocated_at)
            raise ValidationError(f"This patient was already randomized on {when:%b %d, %Y}. "
                                  "An allocation is final: it cannot be repeated, changed or "
                                  "undone.")
        reasons = ineligibility(patient, study)
        if reasons:
            raise ValidationError(reasons)
        now = timezone.now()
        key = strata.stratum_key(study, patient, now)
        stratum, _ = Stratum.objects.get_or_create(study=study, key=key)
        stratum = Stratum.objects.select_for_update().get(pk=stratum.pk)
        slot = _next_free_slot(study, key)
        if slot is None:
            _extend(study, stratum, list(study.arms.order_by("id")))
            slot = _next_free_slot(study, key)
            assert slot is not None
        allocation = Allocation(patient=patient, study=study, slot=slot, arm_id=slot.arm_id,
                                allocated_by=by, allocated_at=now)
        allocation.full_clean()
        allocation.save()
        audit.record(actor=by, action=AuditAction.CREATE, target=allocation,
                     details={"study": study.pk, "arm": allocation.arm.code,
                              "stratum": key, "position": slot.position})
        # Time points can differ by arm (the class arm may skip some): schedule them now.
        from peercoach.assessments.services import schedule_patient

        patient.allocation = allocation
        schedule_patient(patient)
    return allocation


def _next_free_slot(study: Study, key: str) -> AllocationSlot | None:
    return (AllocationSlot.objects.filter(study=study, stratum_key=key,
                                          allocation__isnull=True)
            .order_by("position").first())
