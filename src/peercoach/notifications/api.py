"""/api/v1/notification-preferences/me/: the signed-in person's own message settings."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
)
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from peercoach.core.policy import AUTHENTICATED, Perm

from . import services
from .models import Notification, Preference, Status
from .selectors import deliveries_for


@extend_schema_field({"type": "string", "pattern": r"^\d{2}:\d{2}(:\d{2})?$",
                      "example": "21:00", "nullable": True})
class ClockTimeField(serializers.TimeField):
    """A local clock time ("21:00") with no time zone: quiet hours follow the site's zone,
    so the schema must not promise an RFC 3339 time with an offset."""


class PreferenceSerializer(serializers.Serializer):
    email_enabled = serializers.BooleanField()
    sms_enabled = serializers.BooleanField()
    phone = serializers.CharField(allow_blank=True, max_length=20,
                                  help_text="Empty: the phone on your coach or patient record")
    quiet_start = ClockTimeField(allow_null=True, format="%H:%M")
    quiet_end = ClockTimeField(allow_null=True, format="%H:%M")


class PreferenceViewSet(viewsets.ViewSet):
    """Everyone manages only their own preferences: there is no id to guess."""

    policy_perms = {"me:get": AUTHENTICATED, "me:put": AUTHENTICATED}
    serializer_class = PreferenceSerializer

    def _current(self, user: Any) -> Preference:
        return Preference.objects.filter(user=user).first() or Preference(user=user)

    @extend_schema(methods=["GET"], responses=PreferenceSerializer)
    @extend_schema(methods=["PUT"], request=PreferenceSerializer, responses=PreferenceSerializer)
    def me(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        if request.method == "PUT":
            data = PreferenceSerializer(data=request.data)
            data.is_valid(raise_exception=True)
            try:
                pref = services.preference_update(user=request.user, **data.validated_data)
            except DjangoValidationError as exc:
                raise ValidationError({"detail": exc.messages}) from exc
        else:
            pref = self._current(request.user)
        return Response(PreferenceSerializer(pref).data)


# --- The delivery log ------------------------------------------------------------------


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Notification
        # The body and address are left out: staff see that a message failed, not its text.
        fields = ("id", "recipient", "patient", "site", "channel", "template_key", "urgent",
                  "status", "attempts", "last_error", "due_at", "sent_at", "retried_by",
                  "retried_at", "created_at")
        read_only_fields = fields


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("status", str, enum=Status.values, description="Only this status")]))
class DeliveryViewSet(viewsets.ReadOnlyModelViewSet):
    """Messages about the caller's sites (site administrators, coordinators, supervisors),
    newest first; the failed-deliveries page is `?status=failed`."""

    serializer_class = DeliverySerializer
    lookup_value_regex = r"[0-9]+"
    policy_perms = {"*": Perm.SAFETY_VIEW}

    def get_queryset(self) -> Any:
        qs = deliveries_for(self.request.user).order_by("-id")
        wanted = self.request.query_params.get("status", "")
        if wanted:
            if wanted not in Status.values:
                raise ValidationError({"status": f"Choose one of: {', '.join(Status.values)}."})
            qs = qs.filter(status=wanted)
        return qs
