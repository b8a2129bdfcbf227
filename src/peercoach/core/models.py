"""Shared models: who holds which staff role where, and the audit trail."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class Role(models.TextChoices):
    """Every role in PeerCoach. One person may hold several."""

    SITE_ADMIN = "site_admin", "Site administrator"
    COORDINATOR = "coordinator", "Program coordinator"
    SUPERVISOR = "supervisor", "Supervisor"
    CLINICIAN = "clinician", "Referring clinician"
    RESEARCHER = "researcher", "Researcher"
    #: Holds a study's randomization sequence (unblinding); allocates nobody.
    STATISTICIAN = "statistician", "Study statistician"
    # The two roles below are not assigned here: a user is a coach while they have a
    # coach record and a patient while they have a patient record (see core.policy).
    COACH = "coach", "Peer coach"
    PATIENT = "patient", "Patient"


#: Roles that are granted per site through a RoleAssignment.
STAFF_ROLES = (
    Role.SITE_ADMIN,
    Role.COORDINATOR,
    Role.SUPERVISOR,
    Role.CLINICIAN,
    Role.RESEARCHER,
    Role.STATISTICIAN,
)


class TimeStampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class CoachAttendance(models.Model):
    """Whether a coach came to a session, and who recorded it: a training session or a
    supervision call. Each subclass declares `session` and `coach` (targets and related
    names differ)."""

    session: Any
    coach: Any
    attended = models.BooleanField()
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                    related_name="+")
    recorded_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.coach} {'attended' if self.attended else 'missed'} {self.session}"


class RoleAssignment(TimeStampedModel):
    """A staff role held at one site. Ending it (ended_at) keeps the history."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="role_assignments"
    )
    role = models.CharField(max_length=20, choices=[(r.value, r.label) for r in STAFF_ROLES])
    site = models.ForeignKey("programs.Site", on_delete=models.PROTECT, related_name="staff")
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "site"],
                condition=models.Q(ended_at__isnull=True),
                name="one_active_role_per_site",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} — {self.get_role_display()} at {self.site}"


class AuditAction(models.TextChoices):
    VIEW = "view", "Viewed"
    CREATE = "create", "Created"
    UPDATE = "update", "Changed"
    DELETE = "delete", "Deleted"
    TRANSITION = "transition", "Status changed"
    EXPORT = "export", "Exported"
    IMPORT = "import", "Imported"
    DENIED = "denied", "Access refused"


class AuditQuerySet(models.QuerySet["AuditEvent"]):
    """The trail is append-only: bulk changes and deletes are refused."""

    def update(self, **kwargs: Any) -> int:
        raise PermissionError("The audit trail cannot be changed.")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit trail cannot be deleted.")


class AuditEvent(models.Model):
    """One read or write of a person's record: who, what, when, from where."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    #: The actor's username at the time, so the row still reads well if the account changes.
    actor_username = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=12, choices=AuditAction.choices)
    #: What kind of record, e.g. "patient", "coach", "screening".
    target_type = models.CharField(max_length=40)
    target_id = models.CharField(max_length=40)
    #: The person whose data this is (for "everything that touched patient 12").
    subject_type = models.CharField(max_length=20, blank=True)
    subject_id = models.CharField(max_length=40, blank=True)
    site = models.ForeignKey(
        "programs.Site", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    #: Field names that changed, with old and new values, or other details.
    details = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    path = models.CharField(max_length=300, blank=True)
    via = models.CharField(max_length=12, blank=True, help_text="web, api, cli or task")

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["subject_type", "subject_id", "-at"]),
            models.Index(fields=["site", "-at"]),
            models.Index(fields=["actor", "-at"]),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_username} {self.action} {self.target_type}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise PermissionError("The audit trail cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise PermissionError("The audit trail cannot be deleted.")
