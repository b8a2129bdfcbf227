"""/api/v1/ for sites and programs: what a user's roles reach, read-only.

Program settings change on the program pages (site administrators), where every
change is validated against the protocol rules and audited.
"""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework import serializers, viewsets

from peercoach.core.policy import Perm, programs_for, sites_for

from .models import Program, Site


class SiteSerializer(serializers.ModelSerializer):
    class Meta:
        model = Site
        fields = ("id", "code", "name", "timezone", "is_active")
        read_only_fields = fields


class ProgramSerializer(serializers.ModelSerializer):
    class Meta:
        model = Program
        fields = ("id", "site", "name", "template", "description", "contacts_per_patient",
                  "days_between_contacts", "program_length_days", "default_caseload",
                  "max_caseload", "allowed_contact_modes", "assessment_days",
                  "coach_training_hours", "coach_booster_every_days", "patient_orientation",
                  "control_arm_offer", "safety_ack_minutes", "alert_settings",
                  "matching_weights", "is_active")
        read_only_fields = fields


class SiteViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SiteSerializer
    lookup_value_regex = r"[0-9]+"
    policy_perms = {"*": Perm.PROGRAM_VIEW}

    def get_queryset(self) -> QuerySet[Site]:
        return sites_for(self.request.user, Perm.PROGRAM_VIEW).order_by("id")


class ProgramViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ProgramSerializer
    lookup_value_regex = r"[0-9]+"
    policy_perms = {"*": Perm.PROGRAM_VIEW}

    def get_queryset(self) -> QuerySet[Program]:
        return programs_for(self.request.user, Perm.PROGRAM_VIEW).order_by("id")
