"""/api/v1/ for supervision: alerts, safety events, supervision sessions, tips and
coaches' wellbeing checks.

Same policy as the pages: staff reach their sites' records; a coach the group calls and
tips of their program, their own check-ins and their own wellbeing checks. Every write
goes through a service (validated, atomic, audited).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from peercoach.core.api import drf_error, id_param
from peercoach.core.policy import Perm, actor_for, programs_for
from peercoach.people.lifecycle import CoachStatus
from peercoach.people.models import Coach
from peercoach.programs.models import Program

from . import services, session_services
from . import sessions as selectors
from .models import (
    Alert,
    AlertStatus,
    GroupSchedule,
    SafetyEvent,
    SafetyStatus,
    SessionAttendance,
    SupervisionKind,
    SupervisionSession,
    Tip,
    WellbeingCheck,
)

_ID = r"[0-9]+"


def _choice_param(request: Request, name: str, choices: Any) -> str | None:
    value = request.query_params.get(name, "")
    if not value:
        return None
    if value not in choices.values:
        raise ValidationError({name: f"Choose one of: {', '.join(choices.values)}."})
    return value


def _sites(request: Request, perm: Perm) -> frozenset[int]:
    return actor_for(request.user).sites_with(perm)


# --- Alerts ----------------------------------------------------------------------------


class AlertSerializer(serializers.ModelSerializer):
    class Meta:
        model = Alert
        fields = ("id", "kind", "severity", "status", "site", "patient", "coach", "owner",
                  "summary", "raised_at", "acknowledged_by", "acknowledged_at", "resolved_by",
                  "resolved_at", "resolution")
        read_only_fields = fields


class ResolveSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=2000, help_text="How it was resolved.")


_SITE = OpenApiParameter("site", int, description="Only this site")
_STATUS = OpenApiParameter("status", str, description="Only this status")


@extend_schema_view(list=extend_schema(parameters=[_SITE, _STATUS]))
class AlertViewSet(viewsets.ReadOnlyModelViewSet):
    """Alerts at the user's sites, most severe first."""

    serializer_class = AlertSerializer
    lookup_value_regex = _ID
    policy_perms = {"list": Perm.SAFETY_VIEW, "retrieve": Perm.SAFETY_VIEW,
                    "acknowledge": Perm.SAFETY_MANAGE, "resolve": Perm.SAFETY_MANAGE}

    def get_queryset(self) -> QuerySet[Alert]:
        qs = Alert.objects.filter(site_id__in=_sites(self.request, Perm.SAFETY_VIEW)).order_by(
            "-severity", "raised_at", "id")
        site = id_param(self.request, "site")
        if site is not None:
            qs = qs.filter(site_id=site)
        wanted = _choice_param(self.request, "status", AlertStatus)
        return qs.filter(status=wanted) if wanted else qs

    def _managed(self, pk: Any) -> Alert:
        alert = Alert.objects.filter(pk=pk, site_id__in=_sites(self.request,
                                                                Perm.SAFETY_MANAGE)).first()
        if alert is None:
            raise NotFound("No such alert.")
        return alert

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        try:
            alert = services.alert_acknowledge(alert=self._managed(pk), by=request.user)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(AlertSerializer(alert).data)

    @extend_schema(request=ResolveSerializer, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        alert = self._managed(pk)
        data = ResolveSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            alert = services.alert_resolve(alert=alert, by=request.user,
                                           note=data.validated_data["note"])
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(AlertSerializer(alert).data)


# --- Safety events ---------------------------------------------------------------------


class SafetyEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = SafetyEvent
        fields = ("id", "patient", "coach", "site", "source", "summary", "status", "raised_by",
                  "raised_at", "crisis_steps_shown_at", "acknowledged_by", "acknowledged_at",
                  "notified_at", "escalated_at", "follow_up", "follow_up_by", "follow_up_at",
                  "closed_by", "closed_at")
        read_only_fields = fields


class FollowUpSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=4000, help_text="Who spoke with whom, and what "
                                                            "happens next.")


@extend_schema_view(list=extend_schema(parameters=[_SITE, _STATUS]))
class SafetyEventViewSet(viewsets.ReadOnlyModelViewSet):
    """Safety events at the user's sites, newest first."""

    serializer_class = SafetyEventSerializer
    lookup_value_regex = _ID
    policy_perms = {"list": Perm.SAFETY_VIEW, "retrieve": Perm.SAFETY_VIEW,
                    "acknowledge": Perm.SAFETY_MANAGE, "follow_up": Perm.SAFETY_MANAGE,
                    "close": Perm.SAFETY_MANAGE}

    def get_queryset(self) -> QuerySet[SafetyEvent]:
        qs = SafetyEvent.objects.filter(
            site_id__in=_sites(self.request, Perm.SAFETY_VIEW)).order_by("-raised_at", "-id")
        site = id_param(self.request, "site")
        if site is not None:
            qs = qs.filter(site_id=site)
        wanted = _choice_param(self.request, "status", SafetyStatus)
        return qs.filter(status=wanted) if wanted else qs

    def _managed(self, pk: Any) -> SafetyEvent:
        event = SafetyEvent.objects.filter(
            pk=pk, site_id__in=_sites(self.request, Perm.SAFETY_MANAGE)).first()
        if event is None:
            raise NotFound("No such safety event.")
        return event

    def _done(self, event: SafetyEvent) -> Response:
        return Response(SafetyEventSerializer(SafetyEvent.objects.get(pk=event.pk)).data)

    @extend_schema(request=None, responses=SafetyEventSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        try:
            event = services.safety_event_acknowledge(event=self._managed(pk), by=request.user)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return self._done(event)

    @extend_schema(request=FollowUpSerializer, responses=SafetyEventSerializer)
    @action(detail=True, methods=["post"], url_path="follow-up")
    def follow_up(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        event = self._managed(pk)
        data = FollowUpSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            event = services.safety_event_follow_up(event=event, by=request.user,
                                                    text=data.validated_data["text"])
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return self._done(event)

    @extend_schema(request=None, responses=SafetyEventSerializer)
    @action(detail=True, methods=["post"])
    def close(self, request: Request, pk: str | None = None, **kwargs: Any) -> Response:
        try:
            event = services.safety_event_close(event=self._managed(pk), by=request.user)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return self._done(event)


# --- Supervision sessions --------------------------------------------------------------


class AttendanceSerializer(serializers.ModelSerializer):
    class Meta:
        model = SessionAttendance
        fields = ("coach", "attended")
        read_only_fields = fields


class SupervisionSessionSerializer(serializers.ModelSerializer):
    attendance = AttendanceSerializer(many=True, read_only=True)

    class Meta:
        model = SupervisionSession
        fields = ("id", "kind", "program", "coach", "schedule", "starts_at", "duration_minutes",
                  "supervisor", "dial_in", "video_url", "notes", "follow_ups", "cancelled",
                  "attendance")
        read_only_fields = fields


class SupervisionSessionWriteSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=SupervisionKind.choices)
    program = serializers.IntegerField()
    coach = serializers.IntegerField(required=False, allow_null=True, default=None,
                                     help_text="The coach of a one-to-one check-in.")
    starts_at = serializers.DateTimeField(help_text="With its time zone offset.")
    duration_minutes = serializers.IntegerField(min_value=5, max_value=240, default=60)
    supervisor = serializers.IntegerField(required=False, allow_null=True, default=None,
                                          help_text="Who leads it (default: you).")
    dial_in = serializers.CharField(max_length=300, required=False, allow_blank=True,
                                    default="")
    video_url = serializers.URLField(max_length=500, required=False, allow_blank=True,
                                     default="")


_PROGRAM = OpenApiParameter("program", int, description="Only this program")
_KIND = OpenApiParameter("kind", str, description="group or individual")


@extend_schema_view(list=extend_schema(parameters=[_PROGRAM, _KIND]),
                    create=extend_schema(request=SupervisionSessionWriteSerializer,
                                         responses=SupervisionSessionSerializer))
class SupervisionSessionViewSet(mixins.CreateModelMixin, viewsets.ReadOnlyModelViewSet):
    """Group calls and one-to-one check-ins, newest first. Supervisors add them (POST)."""

    serializer_class = SupervisionSessionSerializer
    lookup_value_regex = _ID
    policy_perms = {"list": Perm.SUPERVISION_JOIN, "retrieve": Perm.SUPERVISION_JOIN,
                    "create": Perm.SUPERVISION_MANAGE}

    def get_queryset(self) -> QuerySet[SupervisionSession]:
        actor = actor_for(self.request.user)
        attendance = SessionAttendance.objects.order_by("coach_id")
        if not actor.sites_with(Perm.SUPERVISION_MANAGE):
            # A coach sees whether they came, not who else did.
            attendance = attendance.filter(coach_id=actor.coach_id or 0)
        qs = (selectors.sessions_for(self.request.user)
              .prefetch_related(Prefetch("attendance", queryset=attendance))
              .order_by("-starts_at", "-id"))
        program = id_param(self.request, "program")
        if program is not None:
            qs = qs.filter(program_id=program)
        kind = _choice_param(self.request, "kind", SupervisionKind)
        return qs.filter(kind=kind) if kind else qs

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = SupervisionSessionWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        program = programs_for(request.user, Perm.SUPERVISION_MANAGE).filter(
            pk=d["program"]).first()
        if program is None:
            raise ValidationError({"program": "Not a program you run supervision for."})
        coach = None
        if d["coach"] is not None:
            coach = Coach.objects.filter(pk=d["coach"], program=program).exclude(
                status=CoachStatus.RETIRED).first()
            if coach is None:
                raise ValidationError({"coach": "Not a coach of this program."})
        supervisor: Any = request.user
        if d["supervisor"] is not None:
            supervisor = get_user_model().objects.filter(pk=d["supervisor"],
                                                         is_active=True).first()
            if supervisor is None:
                raise ValidationError({"supervisor": "No such user."})
        try:
            session = session_services.session_create(
                program=program, by=request.user, kind=d["kind"], coach=coach,
                starts_at=d["starts_at"], supervisor=supervisor,
                duration_minutes=d["duration_minutes"], dial_in=d["dial_in"],
                video_url=d["video_url"])
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(SupervisionSessionSerializer(self.get_queryset().get(pk=session.pk)).data,
                        status=status.HTTP_201_CREATED)


# --- Tips --------------------------------------------------------------------------------


class TipSerializer(serializers.ModelSerializer):
    author_name = serializers.SerializerMethodField()

    class Meta:
        model = Tip
        fields = ("id", "program", "author_name", "author_coach", "text", "session",
                  "created_at")
        read_only_fields = fields

    def get_author_name(self, obj: Tip) -> str:
        if obj.author_coach is not None:
            return str(obj.author_coach.display_name)
        return str(obj.author.get_full_name() or obj.author.get_username())


class TipWriteSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=1000)
    session = serializers.IntegerField(required=False, allow_null=True, default=None,
                                       help_text="The group call it was shared on.")
    program = serializers.IntegerField(required=False, allow_null=True, default=None,
                                       help_text="Staff with several programs: which one. "
                                                 "Coaches share in their own.")


@extend_schema_view(list=extend_schema(parameters=[_PROGRAM]),
                    create=extend_schema(request=TipWriteSerializer, responses=TipSerializer))
class TipViewSet(mixins.CreateModelMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    """The tips board: ideas shared by coaches and supervisors, newest first."""

    serializer_class = TipSerializer
    policy_perms = {"list": Perm.SUPERVISION_JOIN, "create": Perm.SUPERVISION_JOIN}

    def get_queryset(self) -> QuerySet[Tip]:
        qs = selectors.tips_for(self.request.user).order_by("-created_at", "-id")
        program = id_param(self.request, "program")
        return qs.filter(program_id=program) if program is not None else qs

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = TipWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        coach_id = actor_for(request.user).coach_id
        coach = (Coach.objects.select_related("program").get(pk=coach_id)
                 if coach_id is not None else None)
        program: Program | None
        if coach is not None:
            program = coach.program
        else:
            programs = programs_for(request.user, Perm.SUPERVISION_JOIN)
            if d["program"] is not None:
                program = programs.filter(pk=d["program"]).first()
            else:
                found = list(programs[:2])
                if len(found) > 1:
                    raise ValidationError({"program": "Say which program the tip is for."})
                program = found[0] if found else None
            if program is None:
                raise ValidationError({"program": "Not a program of yours."})
        session = None
        if d["session"] is not None:
            session = selectors.sessions_for(request.user).filter(pk=d["session"]).first()
            if session is None:
                raise ValidationError({"session": "No such call among yours."})
        try:
            tip = session_services.tip_share(program=program, by=request.user, text=d["text"],
                                             author_coach=coach, session=session)
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(TipSerializer(self.get_queryset().get(pk=tip.pk)).data,
                        status=status.HTTP_201_CREATED)


# --- Wellbeing checks ----------------------------------------------------------------------


class WellbeingCheckSerializer(serializers.ModelSerializer):
    class Meta:
        model = WellbeingCheck
        fields = ("id", "coach", "at", "pain", "stress", "mood", "note", "recorded_by")
        read_only_fields = fields


class WellbeingWriteSerializer(serializers.Serializer):
    pain = serializers.IntegerField(min_value=0, max_value=10)
    stress = serializers.IntegerField(min_value=0, max_value=10)
    mood = serializers.IntegerField(min_value=0, max_value=10)
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True,
                                 default="")
    at = serializers.DateTimeField(required=False, allow_null=True, default=None,
                                   help_text="Default: now.")


_COACH = OpenApiParameter("coach", int, description="Only this coach")


@extend_schema_view(list=extend_schema(parameters=[_COACH]),
                    create=extend_schema(request=WellbeingWriteSerializer,
                                         responses=WellbeingCheckSerializer))
class WellbeingCheckViewSet(mixins.CreateModelMixin, mixins.ListModelMixin,
                            viewsets.GenericViewSet):
    """A coach's own wellbeing checks (a coach: only their own; supervisors: their sites')."""

    serializer_class = WellbeingCheckSerializer
    policy_perms = {"list": Perm.WELLBEING_VIEW, "create": Perm.WELLBEING_CHECK}

    def get_queryset(self) -> QuerySet[WellbeingCheck]:
        qs = selectors.wellbeing_for(self.request.user).order_by("-at", "-id")
        coach = id_param(self.request, "coach")
        return qs.filter(coach_id=coach) if coach is not None else qs

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = WellbeingWriteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        d = data.validated_data
        coach = Coach.objects.get(pk=actor_for(request.user).coach_id or 0)
        try:
            check = session_services.wellbeing_record(
                coach=coach, by=request.user, pain=d["pain"], stress=d["stress"],
                mood=d["mood"], note=d["note"], at=d["at"])
        except DjangoValidationError as exc:
            raise drf_error(exc) from exc
        return Response(WellbeingCheckSerializer(check).data, status=status.HTTP_201_CREATED)


# --- Group supervision schedules ---------------------------------------------------------


class GroupScheduleSerializer(serializers.ModelSerializer):
    class Meta:
        model = GroupSchedule
        fields = ("id", "program", "weekday", "time", "every_weeks", "duration_minutes",
                  "starts_on", "ends_on", "supervisor", "dial_in", "video_url")
        read_only_fields = fields


class GroupScheduleViewSet(viewsets.ReadOnlyModelViewSet):
    """Recurring group calls at the sites the caller runs supervision for (the calls
    themselves, with attendance and notes, are /supervision-sessions/)."""

    serializer_class = GroupScheduleSerializer
    lookup_value_regex = _ID
    policy_perms = {"*": Perm.SUPERVISION_MANAGE}

    def get_queryset(self) -> QuerySet[GroupSchedule]:
        return selectors.schedules_for(self.request.user).order_by("id")
