"""/api/v1/ for assessments: instruments, time points, assessments and their versions.

Same policy as the pages. Staff with ASSESSMENT_VIEW read their sites' (a clinician: the
patients they referred; a researcher: de-identified, ids only); staff with
ASSESSMENT_ADMINISTER answer with a patient on the phone and correct. Patients answer on
their pages (one question per screen), not through the API. Answers are written only
through the services (validated, atomic, audited), so an API answer of PHQ-9 item 9
above 0 raises the safety event too.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from peercoach.core import audit
from peercoach.core.api import drf_error, id_param
from peercoach.core.policy import (
    AUTHENTICATED,
    Perm,
    is_id,
    patient_scope_q,
    programs_for,
)

from . import instruments, services
from .models import (
    Assessment,
    ExternalScore,
    InstrumentText,
    Mode,
    ResponseVersion,
    TimePoint,
)

_ID = r"[0-9]+"


# --- Instruments ---------------------------------------------------------------------


class OptionSerializer(serializers.Serializer):
    value = serializers.IntegerField()
    # A field named "label" shadows Field.label in the stubs; DRF itself handles it.
    label = serializers.CharField(allow_null=True)  # type: ignore[assignment]


class ItemSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    text = serializers.CharField(allow_null=True)
    loinc = serializers.CharField(allow_null=True)
    scored = serializers.BooleanField()
    options = OptionSerializer(many=True)


class BandSerializer(serializers.Serializer):
    low = serializers.FloatField()
    high = serializers.FloatField()
    label = serializers.CharField()  # type: ignore[assignment]


class InstrumentSerializer(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    short_name = serializers.CharField()
    licence = serializers.CharField()
    administrable = serializers.BooleanField()
    not_administrable_because = serializers.CharField(allow_null=True)
    recall = serializers.CharField(allow_null=True)
    rule = serializers.CharField()
    min_answered = serializers.IntegerField()
    score_range = serializers.ListField(child=serializers.FloatField())
    higher_is_worse = serializers.BooleanField()
    important_change = serializers.CharField()
    bands = BandSerializer(many=True)
    loinc_panel = serializers.CharField(allow_null=True)
    loinc_total = serializers.CharField(allow_null=True)
    copyright = serializers.CharField()
    citation = serializers.CharField()
    items = ItemSerializer(many=True)


def _instrument_data(code: str, loaded: dict[str, Any] | None = None) -> dict[str, Any]:
    """One instrument as the API shows it; `loaded` is every site text, fetched once."""
    loaded = {t.code: t for t in InstrumentText.objects.all()} if loaded is None else loaded
    instrument = services.instrument_for_use(code, loaded.get(code))
    why = services.why_not_administrable(code, loaded=code in loaded)
    return {
        "code": instrument.code, "name": instrument.name, "short_name": instrument.short_name,
        "licence": str(instrument.licence), "administrable": why is None,
        "not_administrable_because": why, "recall": instrument.recall,
        "rule": instrument.rule, "min_answered": instrument.min_answered,
        "score_range": list(instrument.score_range),
        "higher_is_worse": instrument.higher_is_worse,
        "important_change": instrument.important_change,
        "bands": [vars(b) for b in instrument.bands],
        "loinc_panel": instrument.loinc_panel, "loinc_total": instrument.loinc_total,
        "copyright": instrument.copyright, "citation": instrument.citation,
        "items": [{"number": i.number, "text": i.text, "loinc": i.loinc, "scored": i.scored,
                   "options": [vars(o) for o in i.options]} for i in instrument.items],
    }


class InstrumentViewSet(viewsets.ViewSet):
    """The instrument registry. Licensed instruments carry no item text until a site that
    holds the licence loads it; `administrable` says whether it can be given here."""

    policy_perms = {"*": AUTHENTICATED}
    lookup_value_regex = r"[a-z0-9_]+"

    @extend_schema(responses=InstrumentSerializer(many=True))
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        loaded = {t.code: t for t in InstrumentText.objects.all()}
        return Response([_instrument_data(code, loaded) for code in instruments.REGISTRY])

    @extend_schema(responses=InstrumentSerializer)
    def retrieve(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        if pk is None or pk not in instruments.REGISTRY:
            raise NotFound("No such instrument.")
        return Response(_instrument_data(pk))


# --- Time points ---------------------------------------------------------------------


class TimePointSerializer(serializers.ModelSerializer):
    class Meta:
        model = TimePoint
        fields = ("id", "program", "key", "label", "day", "window_before_days",
                  "window_after_days", "before_first_contact", "instruments", "arms")
        read_only_fields = ("id",)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        point = TimePoint(**{**({} if self.instance is None else {
            f: getattr(self.instance, f) for f in self.Meta.fields if f not in ("id", "program")
        }), **{k: v for k, v in attrs.items() if k != "program"}})
        program = attrs.get("program") or getattr(self.instance, "program", None)
        if program is not None:
            point.program = program
        try:
            point.clean()
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return attrs


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("program", int, description="Only this program")]))
class TimePointViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin,
                       viewsets.ReadOnlyModelViewSet):
    serializer_class = TimePointSerializer
    lookup_value_regex = _ID
    policy_perms = {"list": Perm.PROGRAM_VIEW, "retrieve": Perm.PROGRAM_VIEW,
                    "create": Perm.ASSESSMENT_MANAGE, "update": Perm.ASSESSMENT_MANAGE,
                    "partial_update": Perm.ASSESSMENT_MANAGE}

    def get_queryset(self) -> QuerySet[TimePoint]:
        qs = TimePoint.objects.filter(
            program__in=programs_for(self.request.user, Perm.PROGRAM_VIEW)).order_by("id")
        program = id_param(self.request, "program")
        return qs.filter(program_id=program) if program is not None else qs

    def _managed(self, serializer: Any) -> Any:
        program = serializer.validated_data.get("program") or serializer.instance.program
        if not programs_for(self.request.user, Perm.ASSESSMENT_MANAGE).filter(
                pk=program.pk).exists():
            raise ValidationError({"program": "Not one of the programs you manage."})
        return program

    def perform_create(self, serializer: Any) -> None:
        self._managed(serializer)
        try:
            serializer.instance = services.time_point_save(
                time_point=TimePoint(**serializer.validated_data), by=self.request.user)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc

    def perform_update(self, serializer: Any) -> None:
        self._managed(serializer)
        point = serializer.instance
        for field, value in serializer.validated_data.items():
            setattr(point, field, value)
        try:
            services.time_point_save(time_point=point, by=self.request.user)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc


# --- Assessments ---------------------------------------------------------------------


def _assessment_scope(user: Any) -> Q | None:
    return patient_scope_q(user, Perm.ASSESSMENT_VIEW)


class AssessmentSerializer(serializers.ModelSerializer):
    time_point_key = serializers.CharField(source="time_point.key", allow_null=True,
                                           read_only=True)
    overdue = serializers.SerializerMethodField()

    class Meta:
        model = Assessment
        fields = ("id", "patient", "time_point", "time_point_key", "instrument", "opens_on",
                  "due_on", "closes_on", "status", "overdue", "started_at", "submitted_at",
                  "version", "total", "band", "complete", "flags")
        read_only_fields = fields

    def get_overdue(self, obj: Assessment) -> bool:
        from django.utils import timezone

        return obj.is_open and timezone.localdate() > obj.closes_on


class AnswersSerializer(serializers.Serializer):
    answers = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        help_text='Item number (as a string) to the numeric answer, e.g. {"1": 2}; null '
                  "clears a saved answer.")
    mode = serializers.ChoiceField(choices=[Mode.PHONE, Mode.IN_PERSON],
                                   help_text="How the patient was asked.")

    def validate_answers(self, value: dict[str, Any]) -> dict[int, float | None]:
        clean: dict[int, float | None] = {}
        for key, answer in value.items():
            if not is_id(key):
                raise ValidationError(f"'{key}' is not an item number.")
            clean[int(key)] = answer
        return clean


class CorrectionSerializer(AnswersSerializer):
    reason = serializers.CharField(max_length=300)


class ResponseVersionSerializer(serializers.ModelSerializer):
    class Meta:
        model = ResponseVersion
        fields = ("id", "assessment", "number", "answers", "answered", "total", "band",
                  "complete", "flags", "mode", "submitted_by", "submitted_at", "reason")
        read_only_fields = fields


_ASSESSMENT_FILTERS = [
    OpenApiParameter("patient", int, description="Only this patient"),
    OpenApiParameter("instrument", str, description="Only this instrument code"),
    OpenApiParameter("status", str, description="due, in_progress, submitted, missed, "
                                                "cancelled"),
]


@extend_schema_view(list=extend_schema(parameters=_ASSESSMENT_FILTERS))
class AssessmentViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AssessmentSerializer
    lookup_value_regex = _ID
    policy_perms = {"list": Perm.ASSESSMENT_VIEW, "retrieve": Perm.ASSESSMENT_VIEW,
                    "answers": Perm.ASSESSMENT_ADMINISTER, "submit": Perm.ASSESSMENT_ADMINISTER,
                    "correct": Perm.ASSESSMENT_ADMINISTER}

    def get_queryset(self) -> QuerySet[Assessment]:
        scope = _assessment_scope(self.request.user)
        if scope is None:
            return Assessment.objects.none()
        from peercoach.people.models import Patient

        qs = Assessment.objects.filter(
            patient__in=Patient.objects.filter(scope)).select_related("time_point")
        params = self.request.query_params
        patient = id_param(self.request, "patient")
        if patient is not None:
            qs = qs.filter(patient_id=patient)
        if params.get("instrument"):
            qs = qs.filter(instrument=params["instrument"])
        if params.get("status"):
            qs = qs.filter(status=params["status"])
        return qs.order_by("id")

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        assessment = self.get_object()
        audit.record_view(request.user, assessment)
        return Response(self.get_serializer(assessment).data)

    def _writable(self, pk: Any) -> Assessment:
        """The assessment if this user may answer it with the patient, else 404."""
        from peercoach.people.models import Patient

        scope = patient_scope_q(self.request.user, Perm.ASSESSMENT_ADMINISTER)
        found = Assessment.objects.filter(
            pk=pk or 0, patient__in=Patient.objects.filter(scope or Q(pk__in=[]))).first()
        if found is None:
            raise NotFound("No such questionnaire.")
        return found

    @extend_schema(request=AnswersSerializer, responses=AssessmentSerializer)
    @action(detail=True, methods=["post"])
    def answers(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Save some answers; the questionnaire can be finished later."""
        assessment = self._writable(pk)
        data = AnswersSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            saved = services.answer_save(assessment=assessment,
                                         answers=data.validated_data["answers"],
                                         by=request.user, mode=data.validated_data["mode"])
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(AssessmentSerializer(saved).data)

    @extend_schema(request=None, responses=ResponseVersionSerializer)
    @action(detail=True, methods=["post"])
    def submit(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Send in the saved answers as version 1. PHQ-9 item 9 above 0 opens a safety
        event and the response carries `crisis_steps`."""
        assessment = self._writable(pk)
        modes = [v.get("mode") for v in assessment.draft.values()]
        mode = next((m for m in modes if m in services.STAFF_MODES), Mode.PHONE)
        try:
            version = services.submit(assessment=assessment, by=request.user, mode=mode)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(_with_crisis_steps(ResponseVersionSerializer(version).data))

    @extend_schema(request=CorrectionSerializer, responses=ResponseVersionSerializer)
    @action(detail=True, methods=["post"])
    def correct(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Correct a submitted questionnaire: a new version, the old one kept."""
        assessment = self._writable(pk)
        data = CorrectionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        answers = {k: v for k, v in data.validated_data["answers"].items() if v is not None}
        try:
            version = services.correct(assessment=assessment, answers=answers,
                                       by=request.user, mode=data.validated_data["mode"],
                                       reason=data.validated_data["reason"])
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(_with_crisis_steps(ResponseVersionSerializer(version).data))


CRISIS_STEPS = {
    "veterans_crisis_line": "Dial 988, then press 1",
    "text": "838255",
    "chat": "VeteransCrisisLine.net/Chat",
    "immediate_danger": "Call 911",
    "supervisor_notified": True,
}


def _with_crisis_steps(data: Any) -> Any:
    if services.ITEM9_FLAG in data.get("flags", []):
        return {**data, "crisis_steps": CRISIS_STEPS}
    return data


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("assessment", int, description="Only this assessment's versions")]))
class ResponseVersionViewSet(viewsets.ReadOnlyModelViewSet):
    """Every submitted version of every questionnaire in scope; corrections never
    overwrite, so version 1 is always there."""

    serializer_class = ResponseVersionSerializer
    lookup_value_regex = _ID
    policy_perms = {"*": Perm.ASSESSMENT_VIEW}

    def get_queryset(self) -> QuerySet[ResponseVersion]:
        scope = _assessment_scope(self.request.user)
        if scope is None:
            return ResponseVersion.objects.none()
        from peercoach.people.models import Patient

        qs = ResponseVersion.objects.filter(
            assessment__patient__in=Patient.objects.filter(scope)).order_by("id")
        assessment = id_param(self.request, "assessment")
        return qs.filter(assessment_id=assessment) if assessment is not None else qs


# --- External scores (PAM) ------------------------------------------------------------


class ExternalScoreSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExternalScore
        fields = ("id", "patient", "instrument", "time_point", "score", "level", "measured_on",
                  "source", "recorded_by", "created_at")
        read_only_fields = ("id", "recorded_by", "created_at")


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("patient", int, description="Only this patient")]))
class ExternalScoreViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Scores a licensed vendor computed (the PAM): PeerCoach stores the score and level
    and never the items or the algorithm."""

    serializer_class = ExternalScoreSerializer
    lookup_value_regex = _ID
    policy_perms = {"list": Perm.ASSESSMENT_VIEW, "retrieve": Perm.ASSESSMENT_VIEW,
                    "create": Perm.ASSESSMENT_ADMINISTER}

    def get_queryset(self) -> QuerySet[ExternalScore]:
        from peercoach.people.models import Patient

        scope = patient_scope_q(self.request.user, Perm.ASSESSMENT_VIEW)
        if scope is None:
            return ExternalScore.objects.none()
        qs = ExternalScore.objects.filter(
            patient__in=Patient.objects.filter(scope)).order_by("id")
        patient = id_param(self.request, "patient")
        return qs.filter(patient_id=patient) if patient is not None else qs

    def perform_create(self, serializer: Any) -> None:
        from peercoach.people.models import Patient

        data = serializer.validated_data
        scope = patient_scope_q(self.request.user, Perm.ASSESSMENT_ADMINISTER)
        if scope is None or not Patient.objects.filter(scope).filter(
                pk=data["patient"].pk).exists():
            raise ValidationError({"patient": "Not one of your patients."})
        try:
            serializer.instance = services.external_score_record(
                patient=data["patient"], instrument=data["instrument"], score=data["score"],
                level=data.get("level"), measured_on=data["measured_on"],
                source=data["source"], by=self.request.user,
                time_point=data.get("time_point"))
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
