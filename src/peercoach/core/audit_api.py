"""/api/v1/audit-events/: the audit trail of a site administrator's sites, read-only.

The same filters as the audit page. Reading the trail is itself not audited (it holds
no health information, only who did what to which record).
"""

from __future__ import annotations

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError

from .models import AuditAction, AuditEvent
from .policy import Perm, actor_for


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ("id", "at", "actor", "actor_username", "action", "target_type", "target_id",
                  "subject_type", "subject_id", "site", "details", "ip_address", "path", "via")
        read_only_fields = fields


@extend_schema_view(list=extend_schema(parameters=[
    OpenApiParameter("action", str, enum=AuditAction.values, description="Only this action"),
    OpenApiParameter("subject_type", str, description="patient or coach"),
    OpenApiParameter("subject_id", str, description="Only this person's record"),
    OpenApiParameter("actor", str, description="Only this username"),
]))
class AuditEventViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = AuditEventSerializer
    lookup_value_regex = r"[0-9]+"
    policy_perms = {"*": Perm.AUDIT_VIEW}

    def get_queryset(self) -> QuerySet[AuditEvent]:
        sites = actor_for(self.request.user).sites_with(Perm.AUDIT_VIEW)
        qs = AuditEvent.objects.filter(site_id__in=sites).order_by("-id")
        params = self.request.query_params
        action = params.get("action", "")
        if action:
            if action not in AuditAction.values:
                choices = ", ".join(AuditAction.values)
                raise ValidationError({"action": f"Choose one of: {choices}."})
            qs = qs.filter(action=action)
        for name in ("subject_type", "subject_id"):
            if params.get(name):
                qs = qs.filter(**{name: params[name]})
        if params.get("actor"):
            qs = qs.filter(actor_username__iexact=params["actor"])
        return qs
