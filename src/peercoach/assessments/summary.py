"""The one-page summary for the referring clinician: what happened in the program.

Built once and shown twice, as a printable page and as a PDF (``summary_pdf.py``), so the
two can never disagree. Everything is read with a fixed number of queries.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Count, F, Q
from django.utils import timezone

from . import instruments, scoring

NOT_A_DEVICE = ("PeerCoach is not a medical device and gives no medical advice. Peer coaches "
                "are trained volunteers, not clinicians; clinical decisions stay with you.")
CRISIS_LINES = (
    "Veterans Crisis Line: dial 988 then press 1, text 838255, or chat at "
    "VeteransCrisisLine.net/Chat (24/7, free, confidential).",
    "In immediate danger: call 911 or go to the nearest emergency room.",
)


@dataclass(frozen=True)
class OutcomeLine:
    instrument: str
    name: str
    baseline: float
    baseline_when: str
    baseline_band: str
    latest: float | None
    latest_when: str
    latest_band: str
    difference: float | None
    percent: float | None
    #: None: no follow-up yet, or the instrument has no important-change rule.
    important: bool | None
    rule: str
    higher_is_worse: bool


@dataclass(frozen=True)
class SafetyLine:
    raised_on: dt.date
    source: str
    summary: str
    status: str
    handled_by: str


@dataclass
class ClinicianSummary:
    patient: Any
    identified: bool
    name: str
    date_of_birth: dt.date | None
    study_id: str
    program: str
    site: str
    status: str
    coach_first_name: str
    enrolled_on: dt.date | None
    referred_on: dt.date | None
    planned: int
    planned_due: int
    planned_done: int
    contacts_reached: int
    contact_attempts: int
    generated_at: dt.datetime
    goals: list[tuple[str, str]] = field(default_factory=list)
    outcomes: list[OutcomeLine] = field(default_factory=list)
    safety: list[SafetyLine] = field(default_factory=list)
    not_a_device: str = NOT_A_DEVICE
    crisis_lines: tuple[str, ...] = CRISIS_LINES

    @property
    def generated_text(self) -> str:
        """When, in the site's time zone (a template filter would switch zones)."""
        at = self.generated_at
        return f"{_when(at.date())} at {at:%H:%M} ({at.tzname()})"

    @property
    def contacts_sentence(self) -> str:
        if not self.planned:
            return (f"No contact plan yet. {self.contacts_reached} contact"
                    f"{'s' if self.contacts_reached != 1 else ''} with the coach so far.")
        return (f"{self.planned_done} of {self.planned} planned contacts completed "
                f"({self.planned_due} due by now); {self.contacts_reached} conversation"
                f"{'s' if self.contacts_reached != 1 else ''} in {self.contact_attempts} "
                f"attempt{'s' if self.contact_attempts != 1 else ''} in all.")


def _user_name(first: str | None, last: str | None, username: str | None) -> str:
    return f"{first or ''} {last or ''}".strip() or (username or "")


def _zone(patient: Any) -> ZoneInfo:
    try:
        return ZoneInfo(patient.program.site.timezone)
    except (AttributeError, KeyError, ValueError):
        return ZoneInfo("UTC")


def _when(on: dt.date) -> str:
    return f"{on:%b} {on.day}, {on.year}"


def build(patient: Any, *, now: dt.datetime | None = None) -> ClinicianSummary:
    """The summary of `patient`, fetched through the policy (``get_patient``) beforehand."""
    from peercoach.coaching.models import Contact, Goal, GoalStatus, Outcome, PlannedContact
    from peercoach.coaching.models import PlannedStatus as Planned
    from peercoach.core.models import Role, RoleAssignment
    from peercoach.matching.models import Match
    from peercoach.supervision.models import SafetyEvent, SafetySource, SafetyStatus

    zone = _zone(patient)
    now = now or timezone.now()
    today = now.astimezone(zone).date()
    identified = bool(getattr(patient, "identified", False))

    # The current pair first, else the one that ended last.
    match = (Match.objects.filter(patient=patient).select_related("coach")
             .order_by(F("ended_on").desc(nulls_first=True), "-started_on").first())
    coach_first = ""
    if match is not None:
        coach_first = match.coach.preferred_name or match.coach.first_name

    plan = PlannedContact.objects.filter(plan__patient=patient).exclude(
        status=Planned.CANCELLED).aggregate(
        total=Count("id"), due=Count("id", filter=Q(due_on__lte=today)),
        done=Count("id", filter=Q(status=Planned.DONE)))
    contacts = Contact.objects.filter(patient=patient).aggregate(
        attempts=Count("id"), reached=Count("id", filter=Q(outcome=Outcome.REACHED)))

    # A revised goal lives on in the goal that replaced it.
    goals = [(text, GoalStatus(status).label) for text, status in
             Goal.objects.filter(patient=patient).exclude(status=GoalStatus.REVISED)
             .order_by("created_at", "id").values_list("text", "status")]

    events = list(SafetyEvent.objects.filter(patient=patient).exclude(
        status=SafetyStatus.CLOSED).order_by("raised_at", "id").values_list(
        "raised_at", "source", "summary", "status", "acknowledged_at",
        "acknowledged_by__first_name", "acknowledged_by__last_name",
        "acknowledged_by__username"))
    supervisors: list[str] = []
    if any(e[4] is None for e in events):
        supervisors = [_user_name(first, last, username) for first, last, username in
                       RoleAssignment.objects.filter(
                           site_id=patient.program.site_id, role=Role.SUPERVISOR,
                           ended_at__isnull=True).order_by("user__last_name", "user_id")
                       .values_list("user__first_name", "user__last_name", "user__username")]
    safety = []
    for raised_at, source, summary, status, acked_at, first, last, username in events:
        if acked_at is not None:
            handled = (f"{_user_name(first, last, username)}, who acknowledged it on "
                       f"{_when(acked_at.astimezone(zone).date())}")
        elif supervisors:
            handled = ("Not acknowledged yet; the site's supervisors have been alerted: "
                       + ", ".join(supervisors))
        else:
            handled = "Not acknowledged yet; the site's coordinator has been alerted"
        safety.append(SafetyLine(raised_on=raised_at.astimezone(zone).date(),
                                 source=SafetySource(source).label, summary=summary,
                                 status=SafetyStatus(status).label, handled_by=handled))

    return ClinicianSummary(
        patient=patient, identified=identified,
        name=patient.display_name if identified else "",
        date_of_birth=patient.date_of_birth if identified else None,
        study_id=patient.study_id, program=patient.program.name,
        site=patient.program.site.name, status=patient.get_status_display(),
        coach_first_name=coach_first, enrolled_on=patient.enrolled_on,
        referred_on=patient.referred_on, planned=plan["total"], planned_due=plan["due"],
        planned_done=plan["done"], contacts_reached=contacts["reached"],
        contact_attempts=contacts["attempts"], generated_at=now.astimezone(zone),
        goals=goals, outcomes=outcome_lines(patient, zone), safety=safety)


def outcome_lines(patient: Any, zone: ZoneInfo) -> list[OutcomeLine]:
    """Per instrument: baseline -> latest submitted questionnaire, with the change rule."""
    from .models import Assessment, AssessmentStatus

    rows = (Assessment.objects.filter(patient=patient, status=AssessmentStatus.SUBMITTED,
                                      total__isnull=False)
            .order_by("submitted_at", "id")
            .values_list("instrument", "total", "band", "submitted_at", "due_on",
                         "time_point__label", "time_point__day",
                         "time_point__before_first_contact"))
    by_code: dict[str, list[tuple[float, str, str, bool]]] = {}
    for code, total, band, submitted_at, due_on, label, day, before in rows:
        if code not in instruments.REGISTRY or total is None:
            continue
        on = submitted_at.astimezone(zone).date() if submitted_at else due_on
        when = f"{label}, {_when(on)}" if label else _when(on)
        by_code.setdefault(code, []).append((float(total), band, when,
                                             bool(before) or day == 0))
    lines = []
    # Pain first: it is what the program is for.
    order = ["peg", *(code for code in instruments.REGISTRY if code != "peg")]
    for code in sorted(by_code, key=order.index):
        answers = by_code[code]
        base_index = next((i for i, a in enumerate(answers) if a[3]), 0)
        base = answers[base_index]
        later = answers[base_index + 1:]
        latest = later[-1] if later else None
        instrument = instruments.get(code)
        difference = percent = None
        important: bool | None = None
        if latest is not None:
            difference = latest[0] - base[0]
            percent = None if base[0] == 0 else difference / base[0] * 100
            if scoring.has_change_rule(code):
                important = scoring.change(code, base[0], latest[0]).important_improvement
        lines.append(OutcomeLine(
            instrument=code, name=instrument.short_name, baseline=base[0],
            baseline_when=base[2], baseline_band=base[1], latest=latest[0] if latest else None,
            latest_when=latest[2] if latest else "", latest_band=latest[1] if latest else "",
            difference=difference, percent=percent, important=important,
            rule=instrument.important_change, higher_is_worse=instrument.higher_is_worse))
    return lines
