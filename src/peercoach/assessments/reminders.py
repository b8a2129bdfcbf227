"""Reminders to patients when their questionnaires open.

One reminder per patient and time point, when the first questionnaire of that time
point opens (or later, while it is still open and none was sent). A patient who signs in
is asked to sign in and answer; a patient without a login is told the program will call
or send a link (a link is never put in a stored reminder: staff send it, once). Like
every message, it says that something is due, never what.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Min
from django.utils import timezone

from peercoach.notifications import services as notifications
from peercoach.notifications.models import PatientPreference
from peercoach.people.models import Patient

from .models import OPEN_STATUSES, Assessment


def questionnaire_reminders_send(now: dt.datetime | None = None) -> int:
    """Queue the reminders that are due; idempotent (keys per patient and time point).
    Returns how many messages were queued."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    # Wide enough for every zone; each patient's "today" is checked in their site's zone.
    open_now = (Assessment.objects
                .filter(status__in=OPEN_STATUSES, time_point__isnull=False,
                        opens_on__lte=today + dt.timedelta(days=1),
                        closes_on__gte=today - dt.timedelta(days=1))
                .values("patient_id", "time_point_id")
                .annotate(opens=Min("opens_on"), due=Min("due_on")))
    rows = list(open_now)
    ids = {r["patient_id"] for r in rows}
    patients = {p.pk: p for p in Patient.objects.filter(pk__in=ids)
                .select_related("user", "program__site")}
    prefs = {p.patient_id: p for p in PatientPreference.objects.filter(patient_id__in=ids)}
    sent = 0
    for row in rows:
        patient = patients[row["patient_id"]]
        site = patient.program.site
        zone = ZoneInfo(site.timezone or settings.TIME_ZONE)
        local_today = now.astimezone(zone).date()
        if row["opens"] > local_today:
            continue
        pref = prefs.get(patient.pk)
        if pref is not None and not pref.reminders_enabled:
            continue
        key = f"reminder:questionnaire:{row['time_point_id']}"
        due_on = max(row["due"], local_today)
        if patient.user is not None and patient.user.is_active:
            when = {"when": notifications.when_phrase(due_on, local_today)}
            sent += len(notifications.notify_new(
                recipients=[patient.user], template="patient_questionnaire_due", key=key,
                site_id=site.pk, context=when, now=now))
        else:
            sent += int(notifications.patient_remind(
                patient=patient, template="patient_questionnaire_call", key=key,
                site_id=site.pk, zone=zone, pref=pref, due_on=due_on, now=now)[1])
    return sent
