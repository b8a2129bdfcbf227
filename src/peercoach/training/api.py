"""/api/v1/ for coach training sessions and their attendance, read-only.

Staff see their sites' sessions and who attended (coaches read their own training record
on their coach page).
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from rest_framework import serializers, viewsets

from peercoach.core.policy import Perm, programs_for

from .models import Attendance, TrainingSession


class AttendanceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Attendance
        fields = ("coach", "attended", "recorded_at")
        read_only_fields = fields


class TrainingSessionSerializer(serializers.ModelSerializer):
    attendance = AttendanceSerializer(many=True, read_only=True)

    class Meta:
        model = TrainingSession
        fields = ("id", "program", "kind", "held_on", "trainer", "topics", "hours",
                  "attendance")
        read_only_fields = fields


class TrainingSessionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TrainingSessionSerializer
    lookup_value_regex = r"[0-9]+"
    policy_perms = {"*": Perm.COACH_VIEW}

    def get_queryset(self) -> QuerySet[TrainingSession]:
        user = self.request.user
        sessions = TrainingSession.objects.filter(program__in=programs_for(user, Perm.COACH_VIEW))
        rows = Attendance.objects.order_by("coach_id")
        return sessions.prefetch_related(Prefetch("attendance", queryset=rows)).order_by("id")
