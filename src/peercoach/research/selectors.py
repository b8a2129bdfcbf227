"""Every read for studies, already scoped to the acting user.

Scope: staff see the studies of their sites (`ALLOCATION_VIEW`, `STUDY_MANAGE`,
`STUDY_RANDOMIZE` each at the sites where a role grants it). The concealed sequence
(`AllocationSlot`) is read only here, only through `sequence_study` and `slots_page`,
and only at sites where the user may view the sequence and may not randomize:
whoever allocates never sees what comes next, even if they also hold the
statistician's role. Lookups answer 404 for "missing" and "not yours" alike.
"""

from __future__ import annotations

from typing import Any

from django.db.models import (
    BooleanField,
    Count,
    Exists,
    OuterRef,
    Prefetch,
    QuerySet,
    Subquery,
)
from django.http import Http404

from peercoach.core.policy import Perm, actor_for, is_id, patients_for, with_identified_flag
from peercoach.people.lifecycle import PatientStatus
from peercoach.people.models import Consent, Patient, Screening

from .models import Allocation, AllocationSlot, Arm, Stratum, Study


def studies_for(user: Any, perm: Perm = Perm.ALLOCATION_VIEW) -> QuerySet[Study]:
    return Study.objects.filter(program__site_id__in=actor_for(user).sites_with(perm))


def arms_with_counts() -> QuerySet[Arm]:
    return Arm.objects.annotate(allocated=Count("allocations")).order_by("id")


def with_arms(qs: QuerySet[Study]) -> QuerySet[Study]:
    """Studies with their program and site, arms (with allocation counts) prefetched."""
    return (qs.select_related("program__site")
            .prefetch_related(Prefetch("arms", queryset=arms_with_counts()))
            .annotate(allocated=Count("allocations", distinct=True)))


def get_study(user: Any, pk: Any, perm: Perm = Perm.ALLOCATION_VIEW) -> Study:
    study = with_arms(studies_for(user, perm)).filter(pk=pk).first() if is_id(pk) else None
    if study is None:
        raise Http404("No such study.")
    return study


def get_arm(user: Any, pk: Any, perm: Perm = Perm.ALLOCATION_VIEW) -> Arm:
    arm = (Arm.objects.filter(study__in=studies_for(user, perm)).select_related("study")
           .filter(pk=pk).first()) if is_id(pk) else None
    if arm is None:
        raise Http404("No such arm.")
    return arm


def arms_for(user: Any) -> QuerySet[Arm]:
    return arms_with_counts().filter(study__in=studies_for(user))


def allocations_for(user: Any, study: Study | None = None) -> QuerySet[Allocation]:
    """Allocations the user may see, with `identified`: may they see who it is?"""
    qs = Allocation.objects.filter(study__in=studies_for(user))
    if study is not None:
        qs = qs.filter(study=study)
    identified = patients_for(user, Perm.PATIENT_VIEW_IDENTIFIED).filter(pk=OuterRef("patient_id"))
    return (qs.select_related("patient", "arm", "allocated_by", "study")
            .annotate(identified=Exists(identified)).order_by("-allocated_at", "-id"))


def get_allocation(user: Any, pk: Any) -> Allocation:
    allocation = allocations_for(user).filter(pk=pk).first() if is_id(pk) else None
    if allocation is None:
        raise Http404("No such allocation.")
    return allocation


# --- Enrolment ---------------------------------------------------------------------------


def enrolment(user: Any, study: Study) -> QuerySet[Patient]:
    """Patients of the study's program on the way to randomization, not yet allocated.

    Each carries `latest_eligible` (their latest screening's answer) and `consented`.
    """
    latest = (Screening.objects.filter(patient_id=OuterRef("pk"))
              .order_by("-screened_at", "-id").values("eligible")[:1])
    statuses = [PatientStatus.ELIGIBLE, PatientStatus.CONSENTED, PatientStatus.ENROLLED]
    qs = (patients_for(user, Perm.PATIENT_VIEW)
          .filter(program_id=study.program_id, status__in=statuses)
          .exclude(Exists(Allocation.objects.filter(patient_id=OuterRef("pk"))))
          .annotate(latest_eligible=Subquery(latest, output_field=BooleanField()),
                    consented=Exists(Consent.objects.filter(patient_id=OuterRef("pk")))))
    return with_identified_flag(qs, user).order_by("status", "last_name", "first_name", "id")


def enrolment_row(patient: Any) -> tuple[bool, str]:
    """(may be randomized now, why not) for a row of `enrolment`."""
    if patient.status != PatientStatus.ENROLLED:
        return False, "Not enrolled yet."
    if patient.latest_eligible is None:
        return False, "Not screened."
    if not patient.latest_eligible:
        return False, "Latest screening: not eligible."
    if not patient.consented:
        return False, "No consent recorded."
    return True, ""


# --- The concealed sequence (statistician) -------------------------------------------------


def sequence_sites(user: Any) -> frozenset[int]:
    """Sites where the user may read the sequence: statistician there, and not a role that
    randomizes (separation of duties)."""
    actor = actor_for(user)
    return actor.sites_with(Perm.SEQUENCE_VIEW) - actor.sites_with(Perm.STUDY_RANDOMIZE)


def sequence_studies(user: Any) -> QuerySet[Study]:
    return Study.objects.filter(program__site_id__in=sequence_sites(user))


def sequence_study(user: Any, pk: Any) -> Study:
    study = (sequence_studies(user).select_related("program__site").filter(pk=pk).first()
             if is_id(pk) else None)
    if study is None:
        raise Http404("No such study.")
    return study


def strata_of(study: Study) -> QuerySet[Stratum]:
    """The study's strata with how many slots are stored (statistician only)."""
    return Stratum.objects.filter(study=study).order_by("key")


def taken_per_stratum(study: Study) -> dict[str, int]:
    return dict(Allocation.objects.filter(study=study).values_list("slot__stratum_key")
                .annotate(n=Count("id")).values_list("slot__stratum_key", "n"))


def slots(study: Study, stratum_key: str | None = None) -> QuerySet[AllocationSlot]:
    """The stored sequence with the allocation in each taken slot (statistician only)."""
    qs = AllocationSlot.objects.filter(study=study)
    if stratum_key:
        qs = qs.filter(stratum_key=stratum_key)
    return (qs.select_related("arm", "allocation__patient")
            .order_by("stratum_key", "position"))

