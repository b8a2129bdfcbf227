"""Who wants which messages how, and every message PeerCoach tried to send.

A `Notification` row is both the delivery log and the outbox: it is written in the same
transaction as the change that caused it, so a message can be lost neither to a
rollback (the row goes too) nor to a broker outage (the row stays and a sweeper hands
it to the queue again). Its unique `idempotency_key` makes asking twice harmless, and
its status, changed only by conditional updates, keeps a retried job from sending twice.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "Text message (SMS)"


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    #: Claimed by one worker, being handed to the channel right now.
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    RETRYING = "retrying", "Retrying"
    FAILED = "failed", "Failed"
    #: Never handed to a channel: the person cannot be reached (the reason is in
    #: `last_error`). Kept so that staff see why someone got no reminder.
    NOT_SENT = "not_sent", "Not sent"


#: Statuses a delivery may still leave (the sweeper looks at these).
PENDING = (Status.QUEUED, Status.RETRYING)


class Preference(models.Model):
    """One user's choices. No row means the defaults: e-mail on, SMS off, no quiet hours."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_preference")
    email_enabled = models.BooleanField(default=True)
    sms_enabled = models.BooleanField(default=False)
    #: E.164. Empty: the phone on the person's coach or patient record is used.
    phone = models.CharField(max_length=20, blank=True, help_text="Stored in E.164 form.")
    #: In the site's time zone (TIME_ZONE). Start after end means "overnight".
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(
            condition=(models.Q(quiet_start__isnull=True, quiet_end__isnull=True)
                       | models.Q(quiet_start__isnull=False, quiet_end__isnull=False)),
            name="quiet_hours_both_or_neither")]

    def __str__(self) -> str:
        return f"Notification preferences of user {self.user_id}"


class PatientChannel(models.TextChoices):
    AUTO = "auto", "Text message if there is a mobile number, else e-mail"
    SMS = "sms", "Text message only"
    EMAIL = "email", "E-mail only"


class PatientPreference(models.Model):
    """How a patient is reminded through their patient record: for patients without a
    login (many are phone-first), whose reminders go to the record's phone or e-mail.

    Kept by staff (the patient tells their coach or the coordinator). No row means the
    defaults: reminders on, text message if the record has a mobile number, else e-mail,
    and the program's default quiet hours (NOTIFY_PATIENT_QUIET_START/END, site time).
    Switching reminders off here stops them for patients with a login too.
    """

    patient = models.OneToOneField("people.Patient", on_delete=models.CASCADE,
                                   related_name="notification_preference")
    reminders_enabled = models.BooleanField(
        default=True, help_text="Off: the patient asked not to get reminders.")
    channel = models.CharField(max_length=10, choices=PatientChannel.choices,
                               default=PatientChannel.AUTO)
    #: In the site's time zone; both empty: the program's default quiet hours.
    quiet_start = models.TimeField(null=True, blank=True)
    quiet_end = models.TimeField(null=True, blank=True)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(
            condition=(models.Q(quiet_start__isnull=True, quiet_end__isnull=True)
                       | models.Q(quiet_start__isnull=False, quiet_end__isnull=False)),
            name="patient_quiet_hours_both_or_neither")]

    def __str__(self) -> str:
        return f"Reminder settings of patient {self.patient_id}"


class Notification(models.Model):
    """One message to one person on one channel: the delivery log and the outbox.

    The person is a user (`recipient`), or, for patients without a login, the patient
    record (`patient`), whose phone or e-mail was copied to `address`.
    """

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  null=True, blank=True, related_name="notifications")
    patient = models.ForeignKey("people.Patient", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="+")
    #: The site the message is about, so that its staff see failed deliveries.
    site = models.ForeignKey("programs.Site", on_delete=models.PROTECT, null=True,
                             blank=True, related_name="+")
    #: Empty only for a message that could not be sent at all (status "not sent").
    channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    #: E-mail address or E.164 phone number, as it was when the message was queued.
    address = models.CharField(max_length=254, blank=True)
    template_key = models.CharField(max_length=60)
    #: Rendered text. Templates carry no health information, so neither does this.
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField()
    urgent = models.BooleanField(default=False)
    idempotency_key = models.CharField(max_length=200, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED,
                              db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    #: Not before: quiet hours and retry backoff move it later.
    due_at = models.DateTimeField(db_index=True)
    #: Last time it was handed to the job queue (null: never, or the queue was down).
    enqueued_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    #: What the provider called it (SMS message id, e-mail Message-ID).
    provider_id = models.CharField(max_length=200, blank=True)
    #: The last person who asked for a failed delivery to be tried again, and when.
    retried_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   null=True, blank=True, related_name="+")
    retried_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "due_at"]),
                   models.Index(fields=["site", "status"])]
        constraints = [models.CheckConstraint(
            condition=models.Q(recipient__isnull=False) | models.Q(patient__isnull=False),
            name="notification_has_a_recipient")]

    def __str__(self) -> str:
        who = (f"user {self.recipient_id}" if self.recipient_id is not None
               else f"patient {self.patient_id}")
        return f"{self.template_key} to {who} by {self.channel or 'no channel'}"
