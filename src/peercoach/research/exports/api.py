"""/api/v1/export-jobs/: the caller's own export jobs and their progress (read-only).

Jobs are asked for and downloaded on the exports page, where the download is authorised
again and audited; the API lets a script watch a long export finish.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import serializers, viewsets

from peercoach.core.policy import Perm

from .jobs import jobs_for
from .models import ExportJob


class ExportJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = ExportJob
        fields = ("id", "kind", "format", "identified", "program", "study", "status",
                  "rows_done", "rows_total", "counts", "file_size", "sha256", "error",
                  "created_at", "started_at")
        read_only_fields = fields


class ExportJobViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ExportJobSerializer
    lookup_value_regex = r"[0-9]+"
    policy_perms = {"*": Perm.EXPORT_DATA}

    def get_queryset(self) -> QuerySet[ExportJob]:
        return jobs_for(self.request.user)
