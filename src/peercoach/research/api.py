"""/api/v1/ for studies: studies, arms, allocations, randomization and the sequence.

Same policy as the pages: staff reach the studies of their sites; researchers and the
statistician see allocations de-identified (study IDs, no names). Randomizing goes
through the service (validated, locked, audited). The sequence endpoint is the
statistician's only (`SEQUENCE_VIEW`, and never for a user who may randomize at that
site); every read of it is audited. No other endpoint says anything about a slot that
has not been taken, nor the seed or the block sizes.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from peercoach.core import audit
from peercoach.core.api import drf_error, id_param
from peercoach.core.policy import Perm, is_id, patients_for

from . import selectors, services, strata
from .models import Allocation, AllocationSlot, Arm, Study, StudyStatus

_ID = r"[0-9]+"


class ArmSerializer(serializers.ModelSerializer):
    allocated = serializers.IntegerField(read_only=True, help_text="Patients allocated so far.")

    class Meta:
        model = Arm
        fields = ("id", "study", "name", "code", "kind", "description", "ratio", "target_size",
                  "gets_coach", "allocated")
        read_only_fields = fields


class StudySerializer(serializers.ModelSerializer):
    arms = ArmSerializer(many=True, read_only=True)
    allocated = serializers.IntegerField(read_only=True, help_text="Patients randomized.")

    class Meta:
        model = Study
        fields = ("id", "program", "title", "registration_id", "description", "status",
                  "strata", "time_points", "created_at", "started_at", "closed_at",
                  "allocated", "arms")
        read_only_fields = fields


class AllocationSerializer(serializers.ModelSerializer):
    study_id = serializers.CharField(source="patient.study_id", read_only=True,
                                     help_text="The patient's study ID.")
    identified = serializers.BooleanField(read_only=True)
    patient_name = serializers.SerializerMethodField()
    arm_code = serializers.CharField(source="arm.code", read_only=True)

    class Meta:
        model = Allocation
        fields = ("id", "study", "patient", "study_id", "identified", "patient_name", "arm",
                  "arm_code", "allocated_at", "allocated_by")
        read_only_fields = fields

    def get_patient_name(self, obj: Allocation) -> str | None:
        return obj.patient.display_name if getattr(obj, "identified", False) else None


class RandomizeSerializer(serializers.Serializer):
    patient = serializers.IntegerField(help_text="An enrolled, eligible patient of the "
                                                 "study's program.")


class SlotSerializer(serializers.ModelSerializer):
    arm_code = serializers.CharField(source="arm.code", read_only=True)
    allocation = serializers.SerializerMethodField()
    taken_by = serializers.SerializerMethodField(help_text="The study ID of the patient who "
                                                           "took the slot.")

    class Meta:
        model = AllocationSlot
        fields = ("stratum_key", "position", "arm", "arm_code", "allocation", "taken_by")
        read_only_fields = fields

    def get_allocation(self, obj: AllocationSlot) -> int | None:
        taken = getattr(obj, "allocation", None)
        return taken.pk if taken is not None else None

    def get_taken_by(self, obj: AllocationSlot) -> str | None:
        taken = getattr(obj, "allocation", None)
        return taken.patient.study_id if taken is not None else None


_PROGRAM = OpenApiParameter("program", int, description="Only this program")
_STUDY = OpenApiParameter("study", int, description="Only this study")
_STATUS = OpenApiParameter("status", str, description="draft, recruiting or closed")
_STRATUM = OpenApiParameter("stratum", str, description="Only this stratum's slots")


@extend_schema_view(list=extend_schema(parameters=[_PROGRAM, _STATUS]))
class StudyViewSet(viewsets.ReadOnlyModelViewSet):
    """Studies at the user's sites, newest first, with their arms and counts."""

    serializer_class = StudySerializer
    lookup_value_regex = _ID
    policy_perms = {"list": Perm.ALLOCATION_VIEW, "retrieve": Perm.ALLOCATION_VIEW,
                    "randomize": Perm.STUDY_RANDOMIZE, "sequence": Perm.SEQUENCE_VIEW}

    def get_queryset(self) -> QuerySet[Study]:
        qs = selectors.with_arms(selectors.studies_for(self.request.user)).order_by(
            "-created_at", "-id")
        program = id_param(self.request, "program")
        if program is not None:
            qs = qs.filter(program_id=program)
        wanted = self.request.query_params.get("status", "")
        if wanted:
            if wanted not in StudyStatus.values:
                raise ValidationError({"status": f"Choose one of: "
                                                 f"{', '.join(StudyStatus.values)}."})
            qs = qs.filter(status=wanted)
        return qs

    @extend_schema(request=RandomizeSerializer, responses={201: AllocationSerializer})
    @action(detail=True, methods=["post"])
    def randomize(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Randomize one enrolled, eligible patient: final, and audited."""
        scoped = selectors.studies_for(request.user, Perm.STUDY_RANDOMIZE)
        study = scoped.filter(pk=str(pk)).first() if is_id(pk) else None
        if study is None:
            raise NotFound("No such study.")
        data = RandomizeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = patients_for(request.user, Perm.PATIENT_VIEW).filter(
            pk=data.validated_data["patient"], program_id=study.program_id).first()
        if patient is None:
            raise ValidationError({"patient": "No such patient in this study's program."})
        try:
            allocation = services.randomize(patient=patient, by=request.user, study=study)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        shown = selectors.allocations_for(request.user).get(pk=allocation.pk)
        return Response(AllocationSerializer(shown).data, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=[_STRATUM], responses=SlotSerializer(many=True))
    @action(detail=True, methods=["get"])
    def sequence(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """The stored sequence (unblinding): the statistician only; every read audited.

        The response is a page of slots, with the study's `design` (seed, block sizes,
        arms and ratio, strata) beside them.
        """
        study = selectors.sequence_study(request.user, pk)
        stratum = request.query_params.get("stratum", "")
        rows = list(selectors.strata_of(study))
        if stratum and stratum not in {r.key for r in rows}:
            raise NotFound("No such stratum.")
        page = self.paginate_queryset(selectors.slots(study, stratum or None))
        audit.record_view(request.user, study, sequence=True, stratum=stratum, via_api=True)
        taken = selectors.taken_per_stratum(study)
        arms = list(study.arms.order_by("id"))
        response = self.get_paginated_response(SlotSerializer(page, many=True).data)
        response.data["design"] = {
            # A string: the seed is a 62-bit number, beyond what JSON numbers keep exact.
            "seed": str(study.seed) if study.seed is not None else None,
            "block_sizes": study.block_sizes,
            "arms": [{"code": a.code, "ratio": a.ratio} for a in arms],
            "strata": [{"key": r.key, "label": strata.describe(r.key),
                        "slots_generated": r.slots_generated, "taken": taken.get(r.key, 0)}
                       for r in rows],
        }
        return response


@extend_schema_view(list=extend_schema(parameters=[_STUDY]))
class ArmViewSet(viewsets.ReadOnlyModelViewSet):
    """Arms of the studies at the user's sites, with how many were allocated."""

    serializer_class = ArmSerializer
    lookup_value_regex = _ID
    policy_perms = {"list": Perm.ALLOCATION_VIEW, "retrieve": Perm.ALLOCATION_VIEW}

    def get_queryset(self) -> QuerySet[Arm]:
        qs = selectors.arms_for(self.request.user)
        study = id_param(self.request, "study")
        return qs.filter(study_id=study) if study is not None else qs


@extend_schema_view(list=extend_schema(parameters=[_STUDY]))
class AllocationViewSet(viewsets.ReadOnlyModelViewSet):
    """Who was allocated to which arm, newest first (researchers: de-identified)."""

    serializer_class = AllocationSerializer
    lookup_value_regex = _ID
    policy_perms = {"list": Perm.ALLOCATION_VIEW, "retrieve": Perm.ALLOCATION_VIEW}

    def get_queryset(self) -> QuerySet[Allocation]:
        qs = selectors.allocations_for(self.request.user)
        study = id_param(self.request, "study")
        return qs.filter(study_id=study) if study is not None else qs
