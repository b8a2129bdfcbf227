"""Coach training sessions (the initial training and boosters) and who attended."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from peercoach.core.models import CoachAttendance, TimeStampedModel


class SessionKind(models.TextChoices):
    INITIAL = "initial", "Initial training"
    BOOSTER = "booster", "Booster session"


class TrainingSession(TimeStampedModel):
    program = models.ForeignKey("programs.Program", on_delete=models.PROTECT,
                                related_name="training_sessions")
    kind = models.CharField(max_length=10, choices=SessionKind.choices)
    held_on = models.DateField()
    trainer = models.CharField(max_length=150)
    topics = models.TextField(help_text="What was covered, e.g. pain self-management, the "
                                        "coach's role and its limits, listening, safety steps.")
    hours = models.DecimalField(max_digits=4, decimal_places=1,
                                validators=[MinValueValidator(0.5), MaxValueValidator(24)])
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="+")

    class Meta:
        ordering = ["-held_on", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.held_on}"


class Attendance(CoachAttendance):
    session = models.ForeignKey(TrainingSession, on_delete=models.CASCADE,
                                related_name="attendance")
    coach = models.ForeignKey("people.Coach", on_delete=models.PROTECT,
                              related_name="training_attendance")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["session", "coach"],
                                               name="one_attendance_per_coach_per_session")]
