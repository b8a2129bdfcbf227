"""Every write about notifications: asking for one, delivering it, sweeping the outbox,
reminders and preferences.

The life of a message:

1. `notify(...)` renders the template and writes one `Notification` per recipient and
   channel, in the caller's transaction, with a unique idempotency key (asking twice
   creates nothing new). Urgent messages are handed to the channel at once, in-process,
   so the safety net never waits for (or depends on) the job queue; other messages are
   queued after commit, or wait for the end of the recipient's quiet hours.
2. `notification_deliver(...)` claims the row with a conditional UPDATE (queued or
   retrying -> sending): of two jobs delivering the same row, one claims it and the
   other does nothing, so a retried or duplicated job never sends twice.
3. A failed hand-over is logged on the row and retried with exponential backoff; after
   `NOTIFY_MAX_ATTEMPTS` it is marked failed and shows on the failed-deliveries page.
4. `notifications_sweep(...)` (every minute) queues every row that is due and not in
   the queue: rows whose queueing failed because Redis was down, deferred rows, retries.
   So nothing is lost while the queue is unavailable.
5. Staff may put a delivery that failed for good back in the outbox
   (`notification_retry`): the same row, with the same idempotency key, so a retried
   message still goes out at most once.

Patients without a login are reminded through their patient record (`patient_remind`):
a text message to a mobile number, else an e-mail, else a "not sent" row that says why.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from peercoach.core import audit
from peercoach.core.models import AuditAction
from peercoach.core.policy import Perm, actor_for

from .channels import DeliveryError, OutgoingMessage, send_email, send_sms
from .models import (
    PENDING,
    Channel,
    Notification,
    PatientChannel,
    PatientPreference,
    Preference,
    Status,
)
from .templates import render

logger = logging.getLogger(__name__)


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


# --- Preferences and quiet hours ------------------------------------------------------


@dataclass(frozen=True)
class Reach:
    """How one person can be reached, after their preferences."""

    email: str
    phone: str
    email_enabled: bool
    sms_enabled: bool
    quiet_start: dt.time | None
    quiet_end: dt.time | None


def _person_phone(user: Any) -> str:
    """The phone on the person's coach or patient record, if they have one."""
    from peercoach.people.models import Coach, Patient

    for model in (Coach, Patient):
        phone = model.objects.filter(user=user).exclude(phone="").values_list(
            "phone", flat=True).first()
        if phone:
            return str(phone)
    return ""


def reach_of(user: Any) -> Reach:
    pref = Preference.objects.filter(user=user).first()
    if pref is None:
        pref = Preference(user=user)
    return Reach(email=user.email or "", phone=pref.phone or _person_phone(user),
                 email_enabled=pref.email_enabled, sms_enabled=pref.sms_enabled,
                 quiet_start=pref.quiet_start, quiet_end=pref.quiet_end)


def _zone(site_id: int | None) -> ZoneInfo:
    if site_id is not None:
        from peercoach.programs.models import Site

        name = Site.objects.filter(pk=site_id).values_list("timezone", flat=True).first()
        if name:
            try:
                return ZoneInfo(name)
            except (KeyError, ValueError):
                logger.warning("Site %s has an unknown time zone %r", site_id, name)
    return ZoneInfo(settings.TIME_ZONE)


def quiet_until(start: dt.time | None, end: dt.time | None, now: dt.datetime,
                zone: ZoneInfo) -> dt.datetime | None:
    """When quiet hours end, if `now` falls inside them (start > end spans midnight)."""
    if start is None or end is None or start == end:
        return None
    local = now.astimezone(zone)
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=zone).astimezone(dt.UTC)


def preference_update(*, user: Any, email_enabled: bool, sms_enabled: bool, phone: str,
                      quiet_start: dt.time | None, quiet_end: dt.time | None) -> Preference:
    from peercoach.people.models import normalize_phone

    if (quiet_start is None) != (quiet_end is None):
        raise ValidationError("Give both the start and the end of your quiet hours, "
                              "or neither.")
    phone = normalize_phone(phone) if phone.strip() else ""
    if sms_enabled and not (phone or _person_phone(user)):
        raise ValidationError("Text messages need a phone number.")
    with transaction.atomic():
        pref, _ = Preference.objects.select_for_update().get_or_create(user=user)
        pref.email_enabled, pref.sms_enabled, pref.phone = email_enabled, sms_enabled, phone
        pref.quiet_start, pref.quiet_end = quiet_start, quiet_end
        pref.full_clean()
        pref.save()
    return pref


# --- Asking for a message -------------------------------------------------------------


def notify(*, recipients: Iterable[Any], template: str, key: str, urgent: bool = False,
           site_id: int | None = None, context: dict[str, str] | None = None,
           now: dt.datetime | None = None) -> list[Notification]:
    """Send template `template` to each recipient on their channels.

    `key` names the occasion (e.g. "safety:42"); with the recipient and the channel it
    makes the idempotency key, so calling again for the same occasion sends nothing new.
    Urgent messages (safety events) ignore quiet hours and go on every channel the person
    can be reached on, and are handed to the channel before this returns. Returns the
    rows for this occasion, new and old.
    """
    return _notify(recipients=recipients, template=template, key=key, urgent=urgent,
                   site_id=site_id, context=context, now=now)[0]


def notify_new(*, recipients: Iterable[Any], template: str, key: str, urgent: bool = False,
               site_id: int | None = None, context: dict[str, str] | None = None,
               now: dt.datetime | None = None) -> list[Notification]:
    """`notify`, returning only the rows this call created.

    For scheduled senders (reminders) that report how many messages they queued: a run
    that repeats an occasion already asked for creates nothing and so counts nothing,
    however often (or however many at once) it runs.
    """
    return _notify(recipients=recipients, template=template, key=key, urgent=urgent,
                   site_id=site_id, context=context, now=now)[1]


def _notify(*, recipients: Iterable[Any], template: str, key: str, urgent: bool,
            site_id: int | None, context: dict[str, str] | None,
            now: dt.datetime | None) -> tuple[list[Notification], list[Notification]]:
    """`notify`, also returning the rows this call created."""
    now = now or timezone.now()
    subject, body, sms = render(template, context)
    zone = _zone(site_id)
    wanted: list[Notification] = []
    for user in {u.pk: u for u in recipients}.values():
        if not user.is_active:
            continue
        reach = reach_of(user)
        due = now if urgent else (quiet_until(reach.quiet_start, reach.quiet_end, now, zone)
                                  or now)
        channels: list[tuple[str, str, str]] = []
        if reach.email and (reach.email_enabled or urgent):
            channels.append((Channel.EMAIL, reach.email, body))
        if reach.phone and (reach.sms_enabled or urgent):
            channels.append((Channel.SMS, reach.phone, sms))
        for channel, address, text in channels:
            wanted.append(Notification(
                recipient=user, site_id=site_id, channel=channel, address=address,
                template_key=template, subject=subject if channel == Channel.EMAIL else "",
                body=text, urgent=urgent, idempotency_key=f"{key}:{user.pk}:{channel}",
                due_at=due))
    return _store(wanted, urgent=urgent, now=now)


def _store(wanted: list[Notification], *, urgent: bool,
           now: dt.datetime) -> tuple[list[Notification], list[Notification]]:
    """Insert the rows not there yet (by idempotency key) and hand the due ones over.
    Returns (every row for these keys, the rows this call created)."""
    if not wanted:
        return [], []
    keys = [n.idempotency_key for n in wanted]
    existing = set(Notification.objects.filter(idempotency_key__in=keys)
                   .values_list("idempotency_key", flat=True))
    # ignore_conflicts: a concurrent call for the same occasion may have won the race.
    Notification.objects.bulk_create([n for n in wanted if n.idempotency_key not in existing],
                                     ignore_conflicts=True)
    rows = list(Notification.objects.filter(idempotency_key__in=keys).order_by("pk"))
    new = [n for n in rows if n.idempotency_key not in existing]
    if urgent:
        for row in new:
            notification_deliver(notification_id=row.pk)
            row.refresh_from_db()
    else:
        due_now = [row.pk for row in new if row.due_at <= now and row.status in PENDING]
        if due_now:
            # After commit: a worker never reads a row that is not committed (or that
            # was rolled back with the change that asked for it).
            transaction.on_commit(lambda: enqueue(due_now))
    return rows, new


def handed_over(rows: Sequence[Notification]) -> bool:
    """Did at least one of these reach its channel?"""
    return any(row.status == Status.SENT for row in rows)


# --- Queueing ---------------------------------------------------------------------------


def enqueue(notification_ids: Iterable[int]) -> int:
    """Hand rows to the job queue. A queue that is down is logged, not raised: the rows
    stay in the outbox and the sweeper queues them again."""
    from .tasks import deliver_notification

    queued = 0
    for pk in notification_ids:
        try:
            deliver_notification.apply_async(args=[pk], retry=False)
        except Exception as exc:  # kombu/redis connection errors: keep the row for later
            logger.warning("Job queue unavailable, notification %s stays in the outbox: %s",
                           pk, exc)
            continue
        Notification.objects.filter(pk=pk, status__in=PENDING).update(
            enqueued_at=timezone.now())
        queued += 1
    return queued


def backoff_seconds(attempts: int) -> float:
    """60 s, 120 s, 240 s ... (NOTIFY_RETRY_BASE_SECONDS doubling), at most an hour."""
    base = float(_setting("NOTIFY_RETRY_BASE_SECONDS", 60))
    return float(min(base * 2 ** max(attempts - 1, 0), _setting("NOTIFY_RETRY_MAX_SECONDS",
                                                                 3600)))


def notification_deliver(*, notification_id: int, now: dt.datetime | None = None) -> str:
    """Hand one message to its channel, once. Returns what happened."""
    now = now or timezone.now()
    claimed = Notification.objects.filter(
        pk=notification_id, status__in=PENDING, due_at__lte=now).update(
        status=Status.SENDING, claimed_at=now, attempts=F("attempts") + 1, updated_at=now)
    if not claimed:
        return "skipped"  # sent, being sent by another job, failed for good, or not due
    row = Notification.objects.get(pk=notification_id)
    message = OutgoingMessage(address=row.address, subject=row.subject, body=row.body,
                              idempotency_key=row.idempotency_key)
    try:
        provider_id = send_email(message) if row.channel == Channel.EMAIL else send_sms(message)
    except DeliveryError as exc:
        return _failed(row, str(exc))
    except Exception as exc:  # a bug in a provider must not leave the row "sending"
        logger.exception("Notification %s: unexpected error from the channel", row.pk)
        return _failed(row, f"{type(exc).__name__}: {exc}")
    Notification.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=Status.SENT, sent_at=timezone.now(), provider_id=provider_id[:200],
        last_error="", updated_at=timezone.now())
    return "sent"


def _failed(row: Notification, error: str) -> str:
    now = timezone.now()
    if row.attempts >= int(_setting("NOTIFY_MAX_ATTEMPTS", 6)):
        status, due = Status.FAILED, row.due_at
        logger.error("Notification %s (%s) failed for good after %s attempts: %s",
                     row.pk, row.channel, row.attempts, error)
    else:
        status, due = Status.RETRYING, now + dt.timedelta(seconds=backoff_seconds(row.attempts))
        logger.warning("Notification %s (%s) attempt %s failed, retrying at %s: %s",
                       row.pk, row.channel, row.attempts, due.isoformat(), error)
    # enqueued_at=None: the sweeper queues it again once it is due.
    Notification.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=status, due_at=due, last_error=error[:500], enqueued_at=None, updated_at=now)
    return str(status)


def _retry_refusal(row: Notification | None) -> str:
    if row is None:
        return "That message is not one of your sites' deliveries."
    if row.status == Status.NOT_SENT:
        return ("That message could not be sent at all (see why); it goes out by itself "
                "once the person's record has a way to reach them.")
    if row.status in PENDING or row.status == Status.SENDING:
        return "That message is already waiting to be sent; nothing was changed."
    if row.status == Status.SENT:
        return "That message has been sent; nothing was changed."
    return "Only messages that failed can be retried."


def notification_retry(*, notification_id: int, by: Any,
                       now: dt.datetime | None = None) -> Notification:
    """Staff ask for a delivery that failed for good to be tried again, now.

    The same row goes back to the outbox: same idempotency key, attempts from zero, due
    at once. A conditional UPDATE (failed -> queued, at one of `by`'s sites) makes a
    double click or two people clicking at once re-queue it once; the other is refused
    with a ValidationError and nothing changes. The retry is on the audit trail.
    """
    now = now or timezone.now()
    sites = actor_for(by).sites_with(Perm.SAFETY_VIEW)
    with transaction.atomic():
        before = (Notification.objects.filter(pk=notification_id, site_id__in=sites)
                  .values("status", "attempts", "last_error").first())
        taken = Notification.objects.filter(
            pk=notification_id, site_id__in=sites, status=Status.FAILED).update(
            status=Status.QUEUED, attempts=0, due_at=now, enqueued_at=None, claimed_at=None,
            retried_by=by, retried_at=now, updated_at=now)
        row = Notification.objects.filter(pk=notification_id, site_id__in=sites).first()
        if not taken or before is None:
            raise ValidationError(_retry_refusal(row))
        assert row is not None
        audit.record(actor=by, action=AuditAction.UPDATE, target=row, details={
            "retried": True, "status": [before["status"], str(Status.QUEUED)],
            "attempts": [before["attempts"], 0], "last_error": before["last_error"][:200]})
        transaction.on_commit(lambda: enqueue([notification_id]))
    return row


@dataclass(frozen=True)
class RetryResult:
    retried: list[int]
    #: id -> why it was not retried (not failed, not at the user's sites, not found).
    refused: dict[int, str]


def notifications_retry(*, notification_ids: Iterable[int], by: Any,
                        now: dt.datetime | None = None) -> RetryResult:
    """`notification_retry` for each id (the "retry all shown" button): each row on its
    own conditional update, so the outcome of every row is exact even under a race."""
    now = now or timezone.now()
    retried: list[int] = []
    refused: dict[int, str] = {}
    for pk in dict.fromkeys(notification_ids):
        try:
            notification_retry(notification_id=pk, by=by, now=now)
        except ValidationError as exc:
            refused[pk] = " ".join(exc.messages)
        else:
            retried.append(pk)
    return RetryResult(retried=retried, refused=refused)


def notifications_sweep(now: dt.datetime | None = None, limit: int = 500) -> int:
    """Queue every due message that is not in the queue; recover stuck sends.

    Runs every minute (Celery beat, or the in-process thread of `peercoach demo`).
    """
    now = now or timezone.now()
    stale = now - dt.timedelta(seconds=float(_setting("NOTIFY_SENDING_STALE_SECONDS", 600)))
    # A worker that died between claiming and recording: the only case where a message
    # may go out twice (it may or may not have reached the channel). Logged as such.
    Notification.objects.filter(status=Status.SENDING, claimed_at__lt=stale).update(
        status=Status.RETRYING, enqueued_at=None, due_at=now, updated_at=now,
        last_error="The job stopped while handing this over; it may have been sent.")
    lost = now - dt.timedelta(seconds=float(_setting("NOTIFY_REQUEUE_SECONDS", 600)))
    due = list(Notification.objects.filter(status__in=PENDING, due_at__lte=now).filter(
        Q(enqueued_at__isnull=True) | Q(enqueued_at__lt=lost))
        .order_by("-urgent", "due_at").values_list("pk", flat=True)[:limit])
    return enqueue(due)


# --- Reminders --------------------------------------------------------------------------


def when_phrase(day: dt.date, today: dt.date) -> str:
    """How a reminder words `day` seen from `today`: "today", "tomorrow", "in 3 days".

    The message says when something is due, never what, so this is the one detail it
    carries. A day already past reads "today": the thing is still waiting to be done.
    """
    days = (day - today).days
    return "today" if days <= 0 else "tomorrow" if days == 1 else f"in {days} days"


def sms_number(phone: str) -> str:
    """`phone` in E.164 if a text message can reach it, else "".

    A valid number whose type may be a mobile (in the US and Canada every geographic
    number may be one); landlines known as such, toll-free and premium numbers cannot.
    """
    import phonenumbers
    from phonenumbers import PhoneNumberType

    if not phone.strip():
        return ""
    try:
        number = phonenumbers.parse(phone, "US")
    except phonenumbers.NumberParseException:
        return ""
    if not phonenumbers.is_valid_number(number) or phonenumbers.number_type(number) not in {
            PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE,
            PhoneNumberType.VOIP, PhoneNumberType.PERSONAL_NUMBER}:
        return ""
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class PatientRoute:
    """How a reminder reaches a patient through their record, or why it cannot."""

    channel: str  # "" when it cannot
    address: str
    reason: str = ""

    @property
    def reachable(self) -> bool:
        return bool(self.channel)


_NO_PHONE = "no mobile phone number that can take text messages"
_NO_EMAIL = "no e-mail address"


def patient_route(patient: Any, pref: PatientPreference | None = None) -> PatientRoute:
    """The channel and address for a reminder through the patient record. By default a
    text message if the record has a mobile number, else e-mail, else none."""
    choice = pref.channel if pref is not None else PatientChannel.AUTO
    phone = sms_number(patient.phone or "")
    email = (patient.email or "").strip()
    if choice in (PatientChannel.AUTO, PatientChannel.SMS) and phone:
        return PatientRoute(Channel.SMS, phone)
    if choice in (PatientChannel.AUTO, PatientChannel.EMAIL) and email:
        return PatientRoute(Channel.EMAIL, email)
    missing = {PatientChannel.SMS: _NO_PHONE, PatientChannel.EMAIL: _NO_EMAIL}.get(
        PatientChannel(choice), f"{_NO_PHONE} and {_NO_EMAIL}")
    chosen = {PatientChannel.SMS: " (text messages only were chosen)",
              PatientChannel.EMAIL: " (e-mail only was chosen)"}.get(PatientChannel(choice), "")
    return PatientRoute("", "", f"Not sent: the patient record has {missing}{chosen}.")


def patient_quiet_hours(pref: PatientPreference | None) -> tuple[dt.time, dt.time]:
    """The patient's own quiet hours, else the program default (site time)."""
    if pref is not None and pref.quiet_start is not None and pref.quiet_end is not None:
        return pref.quiet_start, pref.quiet_end
    return (dt.time.fromisoformat(_setting("NOTIFY_PATIENT_QUIET_START", "20:00")),
            dt.time.fromisoformat(_setting("NOTIFY_PATIENT_QUIET_END", "09:00")))


def patient_remind(*, patient: Any, template: str, key: str, site_id: int,
                   zone: ZoneInfo, pref: PatientPreference | None = None,
                   due_on: dt.date | None = None,
                   now: dt.datetime | None = None) -> tuple[Notification | None, bool]:
    """Remind a patient through their record (no login needed): one message per
    occasion (`key`) on one channel, or a "not sent" row with the reason.

    Quiet hours are the patient's own or the program default, in the site's time zone
    (`zone`); a message asked for in them waits for their end, and its "when" (for
    `due_on`: today, tomorrow, in 3 days) is worded for the day it goes out.
    Returns (the occasion's row, whether this call created or revived it to be sent).
    Idempotent: the row's key is the occasion and the patient, whatever the channel, so
    two scans (or two at once) make one row. A "not sent" row is revived in place once
    the record has a way to reach the patient (staff added a phone), still once.
    """
    now = now or timezone.now()
    if pref is not None and not pref.reminders_enabled:
        return None, False
    start, end = patient_quiet_hours(pref)
    due = quiet_until(start, end, now, zone) or now
    context = ({"when": when_phrase(due_on, due.astimezone(zone).date())} if due_on is not None
               else None)
    subject, body, sms = render(template, context)
    route = patient_route(patient, pref)
    idem = f"{key}:patient{patient.pk}"
    fields: dict[str, Any] = {
        "channel": route.channel, "address": route.address,
        "subject": subject if route.channel == Channel.EMAIL else "",
        "body": sms if route.channel == Channel.SMS else body,
        "status": Status.QUEUED if route.reachable else Status.NOT_SENT,
        "last_error": route.reason, "due_at": due}
    existing = Notification.objects.filter(idempotency_key=idem).first()
    if existing is not None:
        if existing.status != Status.NOT_SENT or not route.reachable:
            return existing, False
        revived = Notification.objects.filter(pk=existing.pk, status=Status.NOT_SENT).update(
            **fields, updated_at=now)
        existing.refresh_from_db()
        if revived and due <= now:
            transaction.on_commit(lambda: enqueue([existing.pk]))
        return existing, bool(revived)
    rows, new = _store([Notification(patient=patient, site_id=site_id, template_key=template,
                                     urgent=False, idempotency_key=idem, **fields)],
                       urgent=False, now=now)
    created = bool(new) and new[0].status != Status.NOT_SENT
    return (rows[0] if rows else None), created


def patient_preference_update(*, patient: Any, by: Any, reminders_enabled: bool,
                              channel: str, quiet_start: dt.time | None,
                              quiet_end: dt.time | None) -> PatientPreference:
    """Staff record how a patient wants reminders (or that they want none)."""
    if (quiet_start is None) != (quiet_end is None):
        raise ValidationError("Give both the start and the end of the quiet hours, "
                              "or neither.")
    with transaction.atomic():
        pref, _ = PatientPreference.objects.select_for_update().get_or_create(patient=patient)

        def state() -> dict[str, Any]:
            return {"reminders_enabled": pref.reminders_enabled, "channel": pref.channel,
                    "quiet_start": pref.quiet_start.isoformat() if pref.quiet_start else None,
                    "quiet_end": pref.quiet_end.isoformat() if pref.quiet_end else None}

        before = state()
        pref.reminders_enabled, pref.channel = reminders_enabled, channel
        pref.quiet_start, pref.quiet_end, pref.updated_by = quiet_start, quiet_end, by
        pref.full_clean()
        pref.save()
        changes = audit.diff(before, state())
        if changes:
            audit.record(actor=by, action=AuditAction.UPDATE, target=pref,
                         details={"changes": changes})
    return pref


def reminders_send(now: dt.datetime | None = None) -> int:
    """Remind coaches before each due planned contact, and patients before a planned
    contact: through their login's preferences if they have one, else through their
    patient record (`patient_remind`: text or e-mail, the patient's quiet hours).
    One reminder per planned contact, recipient and due day: running this every 15
    minutes, or twice at once, sends each reminder once. Returns how many were queued
    (not counting "not sent" rows)."""
    from peercoach.coaching.models import PlannedContact, PlannedStatus
    from peercoach.matching.models import Match
    from peercoach.people.lifecycle import PatientStatus

    now = now or timezone.now()
    coach_hours = float(_setting("NOTIFY_COACH_REMINDER_HOURS", 24))
    patient_hours = float(_setting("NOTIFY_PATIENT_REMINDER_HOURS", 24))
    due_time = dt.time.fromisoformat(_setting("NOTIFY_DUE_TIME", "09:00"))
    horizon = max(coach_hours, patient_hours) + 24
    # Wide enough for every zone; each contact is checked in its own site's zone below.
    first = (now - dt.timedelta(days=1)).date()
    last = (now + dt.timedelta(hours=horizon)).date()
    planned = list(
        PlannedContact.objects.filter(
            status=PlannedStatus.PLANNED, due_on__range=(first, last),
            plan__ended_on__isnull=True,
            plan__patient__status__in=(PatientStatus.ENROLLED, PatientStatus.ACTIVE))
        .select_related("plan__patient__user", "plan__patient__program__site"))
    patient_ids = {p.plan.patient_id for p in planned}
    coaches = {m.patient_id: m.coach for m in Match.objects.filter(
        patient_id__in=patient_ids, ended_on__isnull=True).select_related("coach__user")}
    prefs = {p.patient_id: p for p in PatientPreference.objects.filter(
        patient_id__in=patient_ids)}
    sent = 0
    for contact in planned:
        patient = contact.plan.patient
        coach = coaches.get(patient.pk)
        if coach is None:
            continue  # nobody to make the call yet
        site = patient.program.site
        zone = ZoneInfo(site.timezone or settings.TIME_ZONE)
        today = now.astimezone(zone).date()
        if contact.due_on < today:
            continue
        due_at = dt.datetime.combine(contact.due_on, due_time, tzinfo=zone)
        when = {"when": when_phrase(contact.due_on, today)}
        if coach.user is not None and now >= due_at - dt.timedelta(hours=coach_hours):
            sent += len(notify_new(recipients=[coach.user], template="coach_contact_due",
                                   key=f"reminder:coach:{contact.pk}:{contact.due_on}",
                                   site_id=site.pk, context=when, now=now))
        if now < due_at - dt.timedelta(hours=patient_hours):
            continue
        pref = prefs.get(patient.pk)
        if pref is not None and not pref.reminders_enabled:
            continue  # the patient asked for no reminders
        key = f"reminder:patient:{contact.pk}:{contact.due_on}"
        if patient.user is not None and patient.user.is_active:
            sent += len(notify_new(recipients=[patient.user],
                                   template="patient_contact_planned", key=key,
                                   site_id=site.pk, context=when, now=now))
        else:
            sent += int(patient_remind(patient=patient, template="patient_contact_planned",
                                       key=key, site_id=site.pk, zone=zone, pref=pref,
                                       due_on=contact.due_on, now=now)[1])
    return sent
