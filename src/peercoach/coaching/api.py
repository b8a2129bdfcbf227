"""/api/v1/ for delivery: contact plans, contacts, goals and manual progress.

Same policy as the pages: a coach reaches the patients currently paired with them,
staff their sites' patients, a patient their own goals. Writes go through the services.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from peercoach.core.api import drf_error, id_param
from peercoach.core.policy import Perm, actor_for, patients_for

from . import plans, services
from .models import Contact, ContactPlan, Goal, Mode, Outcome, PlannedContact, Progress


def _patient_filter(request: Request, qs: QuerySet[Any], field: str = "patient_id"
                    ) -> QuerySet[Any]:
    patient = id_param(request, "patient")
    if patient is not None:
        qs = qs.filter(**{field: patient})
    return qs


_PATIENT_PARAM = OpenApiParameter("patient", int, description="Only this patient")


# --- Plans ---------------------------------------------------------------------------


class PlannedContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = PlannedContact
        fields = ("id", "number", "due_on", "window_start", "window_end", "status", "contact",
                  "moved_reason")
        read_only_fields = fields


class PlanSerializer(serializers.ModelSerializer):
    planned = PlannedContactSerializer(many=True, read_only=True)
    span_end = serializers.DateField(read_only=True)

    class Meta:
        model = ContactPlan
        fields = ("id", "patient", "started_on", "interval_days", "span_days", "span_end",
                  "ended_on", "end_reason", "planned")
        read_only_fields = fields


class PlanChangeSerializer(serializers.Serializer):
    action = serializers.ChoiceField(choices=["move", "shift", "pause", "extend"])
    reason = serializers.CharField(max_length=300)
    number = serializers.IntegerField(required=False, min_value=1,
                                      help_text="move: which contact; shift: from which")
    new_due = serializers.DateField(required=False, help_text="move: the new date")
    days = serializers.IntegerField(required=False, min_value=-60, max_value=180,
                                    help_text="shift or pause: how many days")
    extra = serializers.IntegerField(required=False, min_value=1, max_value=12,
                                     help_text="extend: contacts to add")


@extend_schema_view(list=extend_schema(parameters=[_PATIENT_PARAM]))
class PlanViewSet(viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = r"[0-9]+"
    serializer_class = PlanSerializer
    policy_perms = {"list": Perm.CONTACT_VIEW, "retrieve": Perm.CONTACT_VIEW,
                    "change": Perm.PLAN_MANAGE}

    def get_queryset(self) -> QuerySet[ContactPlan]:
        qs = ContactPlan.objects.filter(
            patient__in=patients_for(self.request.user, Perm.CONTACT_VIEW)
        ).prefetch_related(Prefetch("planned", queryset=PlannedContact.objects.order_by(
            "number"))).order_by("id")
        return _patient_filter(self.request, qs)

    @extend_schema(request=PlanChangeSerializer, responses=PlanSerializer)
    @action(detail=True, methods=["post"])
    def change(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        """Move one contact, shift the rest, pause, or extend the plan."""
        plan = ContactPlan.objects.filter(
            pk=pk or 0, patient__in=patients_for(request.user, Perm.PLAN_MANAGE)).first()
        if plan is None:
            raise NotFound("No such plan.")
        data = PlanChangeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        needs = {"move": ("number", "new_due"), "shift": ("number", "days"),
                 "pause": ("days",), "extend": ("extra",)}[d["action"]]
        missing = [name for name in needs if d.get(name) is None]
        if missing:
            raise ValidationError(dict.fromkeys(missing, f"Needed to {d['action']} the plan."))
        try:
            if d["action"] == "move":
                planned = plan.planned.filter(number=d["number"]).first()
                if planned is None:
                    raise ValidationError({"number": "No such contact in this plan."})
                plans.plan_move_contact(planned=planned, new_due=d["new_due"], by=request.user,
                                        reason=d["reason"])
            elif d["action"] == "shift":
                plans.plan_shift_rest(plan=plan, from_number=d["number"], days=d["days"],
                                      by=request.user, reason=d["reason"])
            elif d["action"] == "pause":
                plans.plan_pause(plan=plan, days=d["days"], by=request.user, reason=d["reason"])
            else:
                plans.plan_extend(plan=plan, extra=d["extra"], by=request.user,
                                  reason=d["reason"])
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(PlanSerializer(self.get_queryset().get(pk=plan.pk)).data)


# --- Contacts ------------------------------------------------------------------------


class ContactSerializer(serializers.ModelSerializer):
    class Meta:
        model = Contact
        fields = ("id", "patient", "coach", "match", "occurred_at", "mode", "outcome",
                  "duration_minutes", "sections", "curriculum_percent", "pain_today",
                  "concerns", "safety_concern", "notes", "logged_by", "version",
                  "created_at", "updated_at")
        read_only_fields = fields


class NewGoalSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=300)
    section = serializers.CharField(max_length=40)
    what = serializers.CharField(max_length=200)
    how_much = serializers.CharField(max_length=100)
    when = serializers.CharField(max_length=100)
    how_often = serializers.CharField(max_length=100)
    confidence = serializers.IntegerField(min_value=0, max_value=10)
    keep_low_confidence = serializers.BooleanField(default=False)


class CheckInSerializer(serializers.Serializer):
    goal = serializers.IntegerField()
    progress = serializers.ChoiceField(choices=Progress.choices)
    note = serializers.CharField(max_length=300, required=False, default="")


class ContactWriteSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    occurred_at = serializers.DateTimeField()
    mode = serializers.ChoiceField(choices=Mode.choices)
    outcome = serializers.ChoiceField(choices=Outcome.choices)
    duration_minutes = serializers.IntegerField(required=False, allow_null=True, default=None)
    sections = serializers.ListField(child=serializers.CharField(), required=False, default=list)
    curriculum_percent = serializers.IntegerField(required=False, allow_null=True, default=None)
    pain_today = serializers.IntegerField(required=False, allow_null=True, default=None)
    concerns = serializers.CharField(required=False, allow_blank=True, default="")
    safety_concern = serializers.BooleanField(required=False, default=False)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    new_goals = NewGoalSerializer(many=True, required=False, default=list)
    check_ins = CheckInSerializer(many=True, required=False, default=list)
    version = serializers.IntegerField(required=False, help_text="for updates: the version read")

    def to_input(self) -> services.ContactInput:
        d = self.validated_data
        return services.ContactInput(**{k: d[k] for k in (
            "occurred_at", "mode", "outcome", "duration_minutes", "sections",
            "curriculum_percent", "pain_today", "concerns", "safety_concern", "notes")})


@extend_schema_view(list=extend_schema(parameters=[_PATIENT_PARAM]),
                    create=extend_schema(request=ContactWriteSerializer,
                                         responses=ContactSerializer),
                    partial_update=extend_schema(request=ContactWriteSerializer,
                                                 responses=ContactSerializer))
class ContactViewSet(mixins.CreateModelMixin, mixins.UpdateModelMixin,
                     viewsets.ReadOnlyModelViewSet):
    """Every contact attempt. A coach logs (POST) and corrects (PATCH with `version`)."""

    lookup_value_regex = r"[0-9]+"
    serializer_class = ContactSerializer
    http_method_names = ["get", "post", "patch", "head", "options"]
    policy_perms = {"list": Perm.CONTACT_VIEW, "retrieve": Perm.CONTACT_VIEW,
                    "create": Perm.CONTACT_LOG, "partial_update": Perm.CONTACT_LOG}

    def get_queryset(self) -> QuerySet[Contact]:
        qs = Contact.objects.filter(
            patient__in=patients_for(self.request.user, Perm.CONTACT_VIEW)).order_by(
            "-occurred_at", "-id")
        return _patient_filter(self.request, qs)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = ContactWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        patient = patients_for(request.user, Perm.CONTACT_LOG).filter(
            pk=data.validated_data["patient"]).first()
        coach_id = actor_for(request.user).coach_id
        if patient is None or coach_id is None:
            raise ValidationError({"patient": "Not one of your current patients."})
        from peercoach.people.models import Coach

        goals = [services.NewGoal(**g) for g in data.validated_data["new_goals"]]
        check_ins = {c["goal"]: (c["progress"], c["note"])
                     for c in data.validated_data["check_ins"]}
        try:
            contact = services.contact_log(patient=patient, coach=Coach.objects.get(pk=coach_id),
                                           by=request.user, data=data.to_input(),
                                           new_goals=goals, check_ins=check_ins)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(ContactSerializer(contact).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        contact = self.get_object()
        if contact.logged_by_id != request.user.pk:
            raise NotFound("No such contact among yours.")
        if not isinstance(request.data, dict):
            raise ValidationError({"detail": "Send an object of the fields to change."})
        merged = {**ContactSerializer(contact).data, **request.data,
                  "patient": contact.patient_id}
        data = ContactWriteSerializer(data=merged)
        data.is_valid(raise_exception=True)
        if "version" not in request.data:
            raise ValidationError({"version": "Send the version you read, so nobody's change "
                                              "is overwritten."})
        try:
            contact = services.contact_update(contact=contact, by=request.user,
                                              expected_version=data.validated_data["version"],
                                              data=data.to_input())
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(ContactSerializer(contact).data)


# --- Goals ---------------------------------------------------------------------------


class GoalSerializer(serializers.ModelSerializer):
    class Meta:
        model = Goal
        fields = ("id", "patient", "text", "section", "practice", "what", "how_much", "when",
                  "how_often", "confidence", "status", "set_in", "revised_from", "created_at",
                  "version")
        read_only_fields = fields


class GoalCreateSerializer(NewGoalSerializer):
    patient = serializers.IntegerField()


class GoalStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["active", "achieved", "dropped"])
    reason = serializers.CharField(max_length=300, required=False, default="")


@extend_schema_view(list=extend_schema(parameters=[_PATIENT_PARAM]),
                    create=extend_schema(request=GoalCreateSerializer, responses=GoalSerializer))
class GoalViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    lookup_value_regex = r"[0-9]+"
    serializer_class = GoalSerializer
    policy_perms = {"list": Perm.GOAL_VIEW, "retrieve": Perm.GOAL_VIEW,
                    "create": Perm.GOAL_MANAGE, "set_status": Perm.GOAL_MANAGE}

    def get_queryset(self) -> QuerySet[Goal]:
        qs = Goal.objects.filter(
            patient__in=patients_for(self.request.user, Perm.GOAL_VIEW)).order_by("-id")
        return _patient_filter(self.request, qs)

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = GoalCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        patient = patients_for(request.user, Perm.GOAL_MANAGE).filter(
            pk=values.pop("patient")).first()
        if patient is None:
            raise ValidationError({"patient": "Not one of your patients."})
        try:
            goal = services.goal_create(patient=patient, by=request.user,
                                        data=services.NewGoal(**values))
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(GoalSerializer(goal).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=GoalStatusSerializer, responses=GoalSerializer)
    @action(detail=True, methods=["post"], url_path="status")
    def set_status(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        goal = Goal.objects.filter(
            pk=pk or 0, patient__in=patients_for(request.user, Perm.GOAL_MANAGE)).first()
        if goal is None:
            raise NotFound("No such goal.")
        data = GoalStatusSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            goal = services.goal_set_status(goal=goal, by=request.user, **data.validated_data)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(GoalSerializer(goal).data)


# --- Manual progress -----------------------------------------------------------------


class ManualProgressSerializer(serializers.Serializer):
    patient = serializers.IntegerField()
    sections_covered = serializers.ListField(child=serializers.CharField())
    sections_total = serializers.IntegerField()
    last_reached_at = serializers.DateTimeField(allow_null=True)


@extend_schema_view(list=extend_schema(parameters=[_PATIENT_PARAM]))
class ManualProgressViewSet(viewsets.GenericViewSet):
    """Which manual sections each patient has covered, from the contact log."""

    serializer_class = ManualProgressSerializer
    policy_perms = {"list": Perm.CONTACT_VIEW}

    def get_queryset(self) -> QuerySet[Any]:
        qs = patients_for(self.request.user, Perm.CONTACT_VIEW).order_by("id")
        return _patient_filter(self.request, qs, field="pk")

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        from peercoach.curriculum.manual import patient_sections

        page = self.paginate_queryset(self.get_queryset())
        ids = [p.pk for p in page or []]
        covered: dict[int, set[str]] = {pid: set() for pid in ids}
        last: dict[int, dt.datetime] = {}
        for patient_id, keys, at in Contact.objects.filter(
                patient_id__in=ids, outcome=Outcome.REACHED).values_list(
                "patient_id", "sections", "occurred_at"):
            covered[patient_id].update(keys or [])
            last[patient_id] = max(last.get(patient_id, at), at)
        order = [s.key for s in patient_sections()]
        rows = [{"patient": pid, "sections_covered": [k for k in order if k in covered[pid]],
                 "sections_total": len(order), "last_reached_at": last.get(pid)}
                for pid in ids]
        return self.get_paginated_response(ManualProgressSerializer(rows, many=True).data)

