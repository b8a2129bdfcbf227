"""/api/v1/patients/ and /api/v1/coaches/: list and detail, scoped by the policy.

A researcher (or anyone reaching a record only through the researcher role) gets the
record de-identified: the identifying fields are null and `identified` is false.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from peercoach.core.api import drf_error, id_param
from peercoach.core.policy import Perm

from . import selectors
from .choices import Branch, Gender, ServiceEra
from .models import Coach, Patient

#: Direct identifiers (HIPAA Safe Harbor): never shown to de-identified viewers.
IDENTIFYING_FIELDS = (
    "first_name", "last_name", "preferred_name", "date_of_birth", "phone", "email",
    "address_line", "city", "zip_code",
)


class _PersonSerializer(serializers.ModelSerializer):
    identified = serializers.BooleanField(read_only=True)
    # Declared so the schema allows "" (not recorded): read-only model fields lose it.
    gender = serializers.ChoiceField(choices=Gender.choices, allow_blank=True, read_only=True)
    branch = serializers.ChoiceField(choices=Branch.choices, allow_blank=True, read_only=True)
    service_era = serializers.ChoiceField(choices=ServiceEra.choices, allow_blank=True,
                                          read_only=True)
    site = serializers.IntegerField(source="program.site_id", read_only=True)
    birth_year = serializers.SerializerMethodField()

    def get_birth_year(self, obj: Any) -> int | None:
        # Safe Harbor allows the year, except for ages over 89, which are grouped.
        if not obj.date_of_birth:
            return None
        from django.utils import timezone

        age = obj.age_on(timezone.localdate())
        return None if age is not None and age > 89 else obj.date_of_birth.year

    def to_representation(self, instance: Any) -> dict[str, Any]:
        data = super().to_representation(instance)
        if not getattr(instance, "identified", False):
            for name in IDENTIFYING_FIELDS:
                if name in data:
                    data[name] = None
        return data


_NULLABLE = {name: {"allow_null": True} for name in IDENTIFYING_FIELDS}


class PatientSerializer(_PersonSerializer):
    current_coach = serializers.IntegerField(source="current_coach_id", read_only=True,
                                             allow_null=True)

    class Meta:
        model = Patient
        fields = (
            "id", "study_id", "identified", *IDENTIFYING_FIELDS, "birth_year", "state",
            "status", "program", "site", "gender", "language", "is_veteran", "branch",
            "service_era", "pain_conditions", "life_challenges", "preferred_contact_modes",
            "preferred_contact_times", "referral_source", "current_coach",
        )
        read_only_fields = fields
        extra_kwargs = _NULLABLE


class CoachSerializer(_PersonSerializer):
    current_patients = serializers.IntegerField(read_only=True)
    capacity = serializers.IntegerField(source="effective_capacity", read_only=True)

    class Meta:
        model = Coach
        fields = (
            "id", "study_id", "identified", *IDENTIFYING_FIELDS, "birth_year", "state",
            "status", "program", "site", "gender", "language", "is_veteran", "branch",
            "service_era", "pain_conditions", "life_challenges", "preferred_contact_modes",
            "preferred_contact_times", "capacity", "current_patients",
        )
        read_only_fields = fields
        extra_kwargs = _NULLABLE


_FILTERS = [
    OpenApiParameter("search", str, description="Name or study ID"),
    OpenApiParameter("status", str, description="Lifecycle status"),
    OpenApiParameter("site", int, description="Site id"),
    OpenApiParameter("program", int, description="Program id"),
]


@extend_schema_view(list=extend_schema(parameters=_FILTERS))
class PatientViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = r"[0-9]+"
    serializer_class = PatientSerializer
    policy_perms = {"list": Perm.PATIENT_LIST, "retrieve": Perm.PATIENT_VIEW}

    def get_queryset(self) -> QuerySet[Patient]:
        q = self.request.query_params
        return selectors.patient_list(
            user=self.request.user, search=q.get("search", ""), status=q.get("status", ""),
            site_id=id_param(self.request, "site"),
            program_id=id_param(self.request, "program"),
        )

    def get_object(self) -> Patient:
        patient = selectors.patient_for_view(user=self.request.user, pk=self.kwargs["pk"])
        # The detail shows the current coach like the list does.
        match = patient.matches.filter(ended_on__isnull=True).first()
        patient.current_coach_id = match.coach_id if match else None  # type: ignore[attr-defined]
        return patient


class CapacitySerializer(serializers.Serializer):
    capacity = serializers.IntegerField(allow_null=True, min_value=1,
                                        help_text="null: the program's default")
    effective_capacity = serializers.IntegerField(read_only=True)
    current_patients = serializers.IntegerField(read_only=True)
    program_default = serializers.IntegerField(read_only=True)
    program_max = serializers.IntegerField(read_only=True)


@extend_schema_view(list=extend_schema(parameters=_FILTERS))
class CoachViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = r"[0-9]+"
    serializer_class = CoachSerializer
    policy_perms = {"list": Perm.COACH_LIST, "retrieve": Perm.COACH_VIEW,
                    "capacity:get": Perm.COACH_VIEW, "capacity:put": Perm.COACH_EDIT}

    @extend_schema(methods=["GET"], responses=CapacitySerializer)
    @extend_schema(methods=["PUT"], request=CapacitySerializer, responses=CapacitySerializer)
    @action(detail=True, methods=["get", "put"])
    def capacity(self, request: Any, pk: str | None = None, **kwargs: Any) -> Response:
        """How many patients the coach takes: their choice within the program's limit."""
        from django.core.exceptions import ValidationError as DjangoValidationError

        from peercoach.core.policy import get_coach

        from . import services

        if request.method == "PUT":
            coach = get_coach(request.user, pk, Perm.COACH_EDIT)
            data = CapacitySerializer(data=request.data)
            data.is_valid(raise_exception=True)
            try:
                coach = services.coach_update(coach=coach, by=request.user,
                                              capacity=data.validated_data["capacity"])
            except DjangoValidationError as exc:
                raise drf_error(exc) from exc
        else:
            coach = get_coach(request.user, pk, Perm.COACH_VIEW)
        return Response({
            "capacity": coach.capacity, "effective_capacity": coach.effective_capacity,
            "current_patients": coach.matches.filter(ended_on__isnull=True).count(),
            "program_default": coach.program.default_caseload,
            "program_max": coach.program.max_caseload,
        })

    def get_queryset(self) -> QuerySet[Coach]:
        q = self.request.query_params
        return selectors.coach_list(
            user=self.request.user, search=q.get("search", ""), status=q.get("status", ""),
            site_id=id_param(self.request, "site"),
            program_id=id_param(self.request, "program"),
        )

    def get_object(self) -> Coach:
        coach = selectors.coach_for_view(user=self.request.user, pk=self.kwargs["pk"])
        coach.current_patients = coach.matches.filter(  # type: ignore[attr-defined]
            ended_on__isnull=True).count()
        return coach
