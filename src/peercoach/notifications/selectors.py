"""Reads for the notification pages, scoped by the policy."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from peercoach.core.policy import Perm, actor_for, is_id

from .models import Notification, Status

#: What the failed-deliveries page lists: given up, still retrying, or never sendable.
NEEDING_ATTENTION = (Status.FAILED, Status.RETRYING, Status.NOT_SENT)


def deliveries_for(user: Any) -> QuerySet[Notification]:
    """Deliveries about the sites where `user` sees safety events (site administrators,
    coordinators and supervisors)."""
    sites = actor_for(user).sites_with(Perm.SAFETY_VIEW)
    return (Notification.objects.filter(site_id__in=sites)
            .select_related("recipient", "site", "patient", "retried_by"))


def deliveries_needing_attention(user: Any, limit: int = 100) -> QuerySet[Notification]:
    """Failed, retrying and not-sent deliveries at `user`'s sites, newest first."""
    return (deliveries_for(user).filter(status__in=NEEDING_ATTENTION)
            .order_by("-updated_at", "-id")[:limit])


def get_delivery(user: Any, pk: Any) -> Notification:
    """One delivery at `user`'s sites; 404 for missing and forbidden alike."""
    row = deliveries_for(user).filter(pk=pk).first() if is_id(pk) else None
    if row is None:
        raise Http404("No such message.")
    return row


def patient_reminders(patient: Any, limit: int = 20) -> list[Notification]:
    """The latest reminders for one patient: through the record, and through their login."""
    who = Q(patient=patient)
    if patient.user_id is not None:
        who |= Q(recipient_id=patient.user_id, template_key="patient_contact_planned")
    return list(Notification.objects.filter(who).order_by("-created_at", "-id")[:limit])
