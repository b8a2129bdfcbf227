"""Safety events: urgent tasks for the supervisor that must never sit unseen.

Every step is timestamped so the timeline can be audited. The full escalation
(notifications, backup, follow-up) is built on these fields by the supervision work.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from peercoach.core.models import CoachAttendance, TimeStampedModel
from peercoach.people.models import PersonEvent


class SafetySource(models.TextChoices):
    SCREENING = "screening", "Screening"
    CONTACT = "contact", "Coach contact"
    ASSESSMENT = "assessment", "Questionnaire answer"
    NOTE = "note", "Words in a note"


class SafetyStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    CLOSED = "closed", "Closed"


class SafetyEvent(PersonEvent):
    site = models.ForeignKey("programs.Site", on_delete=models.PROTECT, related_name="+")
    source = models.CharField(max_length=12, choices=SafetySource.choices)
    summary = models.CharField(max_length=300)
    status = models.CharField(
        max_length=14, choices=SafetyStatus.choices, default=SafetyStatus.OPEN, db_index=True
    )
    #: Null when a patient without an account raised it (a questionnaire from a secure link).
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
        related_name="+"
    )
    raised_at = models.DateTimeField()
    crisis_steps_shown_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    #: When the site's supervisors were told (on every channel they have).
    notified_at = models.DateTimeField(null=True, blank=True)
    #: When nobody had acknowledged in time and the site's backup was told.
    escalated_at = models.DateTimeField(null=True, blank=True)
    follow_up = models.TextField(blank=True)
    follow_up_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    follow_up_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(patient__isnull=False, coach__isnull=True)
                           | models.Q(patient__isnull=True, coach__isnull=False)),
                name="safety_event_one_subject",
            ),
            # The safety net's core promise: no closing without documented follow-up.
            models.CheckConstraint(
                condition=~models.Q(status="closed") | ~models.Q(follow_up=""),
                name="safety_event_closed_needs_follow_up",
            ),
        ]

    def __str__(self) -> str:
        return f"Safety event {self.pk} ({self.get_status_display()})"


class Severity(models.IntegerChoices):
    LOW = 1, "Low"
    MEDIUM = 2, "Medium"
    HIGH = 3, "High"


class AlertKind(models.TextChoices):
    CONTACT_OVERDUE = "contact_overdue", "Contact overdue"
    FAILED_ATTEMPTS = "failed_attempts", "Several tries without reaching the patient"
    COACH_INACTIVE = "coach_inactive", "No coach activity"
    PAIN_RISING = "pain_rising", "Pain rising"
    NO_GOAL = "no_goal", "No goal by the third contact"
    NO_CURRICULUM = "no_curriculum", "Several contacts with no manual work"
    HELP_REQUEST = "help_request", "A coach asked for help"
    ASSESSMENT_OVERDUE = "assessment_overdue", "Questionnaire overdue"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


class Alert(models.Model):
    """Something a supervisor should look at. Raised once per cause; clears itself when
    the cause goes away (or is resolved by staff with a note)."""

    kind = models.CharField(max_length=20, choices=AlertKind.choices)
    severity = models.PositiveSmallIntegerField(choices=Severity.choices)
    status = models.CharField(max_length=14, choices=AlertStatus.choices,
                              default=AlertStatus.OPEN, db_index=True)
    site = models.ForeignKey("programs.Site", on_delete=models.PROTECT, related_name="+")
    patient = models.ForeignKey("people.Patient", on_delete=models.PROTECT, null=True,
                                blank=True, related_name="alerts")
    coach = models.ForeignKey("people.Coach", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="alerts")
    #: Who should look at it: a supervisor of the site (or a coordinator if none).
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True,
                              blank=True, related_name="+")
    #: Which cause this is, so the same cause is never raised twice while open.
    cause = models.CharField(max_length=80)
    summary = models.CharField(max_length=300)
    raised_at = models.DateTimeField()
    acknowledged_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                        null=True, blank=True, related_name="+")
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    null=True, blank=True, related_name="+")
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.TextField(blank=True)

    class Meta:
        ordering = ["-severity", "raised_at", "id"]
        constraints = [
            # The scan can run twice at once: the database keeps one open alert per cause.
            models.UniqueConstraint(fields=["cause"], condition=~models.Q(status="resolved"),
                                    name="one_unresolved_alert_per_cause"),
        ]
        indexes = [models.Index(fields=["site", "status", "-severity"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.get_status_display()})"


# --- Group and one-to-one supervision --------------------------------------------------
# Coaches said they learned most from each other: group calls on a schedule, notes and a
# tips board every coach of the program can read (so a missed call is not a lost call),
# one-to-one check-ins with follow-ups, and the coach's own wellbeing check.


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class GroupSchedule(TimeStampedModel):
    """A recurring group call: `weekday` at `time` in the site's time zone, every N weeks
    from `starts_on`. Sessions are generated from it a few weeks ahead."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT,
                                related_name="supervision_schedules")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    time = models.TimeField(help_text="Local time at the program's site.")
    every_weeks = models.PositiveSmallIntegerField(
        default=1, validators=[MinValueValidator(1), MaxValueValidator(8)],
        help_text="1 for weekly, 2 for every other week, ...")
    duration_minutes = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(15), MaxValueValidator(240)])
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    supervisor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    dial_in = models.CharField(max_length=300, blank=True,
                               help_text="Phone number and access code, as coaches dial it.")
    video_url = models.URLField(max_length=500, blank=True)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["weekday", "time", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True) | models.Q(ends_on__gte=models.F(
                    "starts_on")), name="group_schedule_ends_after_start"),
        ]

    def __str__(self) -> str:
        every = "every week" if self.every_weeks == 1 else f"every {self.every_weeks} weeks"
        return f"{self.get_weekday_display()}s at {self.time:%H:%M}, {every}"

    def clean(self) -> None:
        if not (self.dial_in.strip() or self.video_url.strip()):
            raise ValidationError({"dial_in": "Give the dial-in details or a video link, so "
                                              "coaches can join."})


class SupervisionKind(models.TextChoices):
    GROUP = "group", "Group call"
    INDIVIDUAL = "individual", "One-to-one check-in"


class SupervisionSession(TimeStampedModel):
    kind = models.CharField(max_length=10, choices=SupervisionKind.choices)
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT,
                                related_name="supervision_sessions")
    #: The coach of a one-to-one check-in (empty for group calls).
    coach = models.ForeignKey("people.Coach", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="supervision_sessions")
    schedule = models.ForeignKey(GroupSchedule, on_delete=models.PROTECT, null=True,
                                 blank=True, related_name="sessions")
    starts_at = models.DateTimeField()
    duration_minutes = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(5), MaxValueValidator(240)])
    supervisor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")
    dial_in = models.CharField(max_length=300, blank=True)
    video_url = models.URLField(max_length=500, blank=True)
    notes = models.TextField(blank=True)
    follow_ups = models.TextField(blank=True)
    cancelled = models.BooleanField(default=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(kind="group", coach__isnull=True)
                           | models.Q(kind="individual", coach__isnull=False)),
                name="supervision_session_coach_iff_individual"),
            # Generating from a schedule twice never makes the same call twice.
            models.UniqueConstraint(fields=["schedule", "starts_at"],
                                    condition=models.Q(schedule__isnull=False),
                                    name="one_session_per_schedule_slot"),
        ]
        indexes = [models.Index(fields=["program", "starts_at"])]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.starts_at:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        coach = self.coach if self.coach_id else None
        if coach is not None and self.program_id and coach.program_id != self.program_id:
            raise ValidationError({"coach": "This coach is not in the session's program."})
        if self.kind == SupervisionKind.INDIVIDUAL and not self.coach_id:
            raise ValidationError({"coach": "Choose the coach for a one-to-one check-in."})
        if self.kind == SupervisionKind.GROUP and self.coach_id:
            raise ValidationError({"coach": "A group call is for every coach of the program; "
                                            "leave the coach empty."})


class SessionAttendance(CoachAttendance):
    session = models.ForeignKey(SupervisionSession, on_delete=models.CASCADE,
                                related_name="attendance")
    coach = models.ForeignKey("people.Coach", on_delete=models.PROTECT,
                              related_name="supervision_attendance")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "coach"],
                                               name="one_supervision_attendance_per_coach")]


class Tip(models.Model):
    """An idea shared by a coach or a supervisor, kept for every coach of the program."""

    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT,
                                related_name="supervision_tips")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                               related_name="+")
    #: Set when a coach shared it (shown by the coach's name); empty for staff.
    author_coach = models.ForeignKey("people.Coach", on_delete=models.PROTECT, null=True,
                                     blank=True, related_name="tips")
    text = models.TextField(max_length=1000)
    session = models.ForeignKey(SupervisionSession, on_delete=models.SET_NULL, null=True,
                                blank=True, related_name="tips")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["program", "-created_at"])]

    def __str__(self) -> str:
        return self.text[:60]

    def clean(self) -> None:
        session = self.session if self.session_id else None
        if session is not None and self.program_id and session.program_id != self.program_id:
            raise ValidationError({"session": "That call belongs to another program."})
        author_coach = self.author_coach if self.author_coach_id else None
        if (author_coach is not None and self.program_id
                and author_coach.program_id != self.program_id):
            raise ValidationError({"program": "Coaches share tips in their own program."})


_SCORE = [MinValueValidator(0), MaxValueValidator(10)]


class WellbeingCheck(models.Model):
    """A coach's own check: coaches live with chronic pain too."""

    coach = models.ForeignKey("people.Coach", on_delete=models.PROTECT,
                              related_name="wellbeing_checks")
    at = models.DateTimeField()
    pain = models.PositiveSmallIntegerField(validators=_SCORE, help_text="0 none, 10 worst")
    stress = models.PositiveSmallIntegerField(validators=_SCORE, help_text="0 none, 10 worst")
    mood = models.PositiveSmallIntegerField(validators=_SCORE, help_text="0 very low, 10 great")
    note = models.TextField(max_length=1000, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["coach", "-at"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(pain__lte=10, stress__lte=10,
                                                      mood__lte=10),
                                   name="wellbeing_scores_0_to_10"),
        ]

    def __str__(self) -> str:
        return f"Wellbeing of {self.coach} at {self.at:%Y-%m-%d}"
