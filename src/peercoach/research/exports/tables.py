"""The export tables: what each holds, its data dictionary, and its rows, streamed.

Every table is a list of `Column`s (the data dictionary) and a function that yields one
dict per row, read with `values_list(...).iterator(chunk_size=...)`, so an export holds
one chunk of rows at a time whatever its size. CSV, REDCap and FHIR are all written
from these rows: the same data, de-identified in one place (`deid.py`).

Scope: the patients the requester may export (`policy.patients_for` with
`data.export`, or `data.export_identified` for identified exports), optionally narrowed
to one program or to one study's randomized participants; coaches, staff and studies of
the same sites. Allocations (and arms) only for roles that may view allocations.

Row order: each participant's rows are together (ordered by the participant), which is
what REDCap's repeat instance numbers and the FHIR CarePlan merge rely on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.utils import timezone

from peercoach.assessments.instruments import REGISTRY
from peercoach.assessments.models import AssessmentStatus
from peercoach.coaching.models import GoalStatus, Mode, Outcome, PlannedStatus, Progress
from peercoach.core.models import STAFF_ROLES, RoleAssignment
from peercoach.core.policy import (
    Perm,
    actor_for,
    coaches_for,
    has_perm,
    patients_for,
)
from peercoach.matching.models import MatchSource
from peercoach.people.choices import (
    Branch,
    ContactTime,
    Gender,
    Language,
    LifeChallenge,
    PainCondition,
    ReferralSource,
    ServiceEra,
)
from peercoach.people.lifecycle import CoachStatus, PatientStatus
from peercoach.programs.models import ContactMode
from peercoach.research.models import ArmKind, StudyStatus
from peercoach.supervision.models import SafetySource, SafetyStatus

from .deid import Deidentifier, age_on, age_text, anchor_of, study_day, zip3

Choices = tuple[tuple[str, str], ...]
Row = dict[str, Any]

#: Column types, as the data dictionary names them.
TYPES = {
    "string": "text",
    "integer": "whole number",
    "number": "number",
    "date": "date (YYYY-MM-DD)",
    "datetime": "date and time, UTC (YYYY-MM-DDTHH:MM:SSZ)",
    "boolean": "1 = yes, 0 = no",
    "choice": "one code from the allowed values",
    "choices": "codes from the allowed values, separated by ';'",
    "age": "whole years, or 90+",
}


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    type: str = "string"
    choices: Choices = ()
    units: str = ""
    minimum: float | None = None
    maximum: float | None = None
    #: Only in identified exports (names, contact details, real dates of birth, wording).
    identifying: bool = False
    #: Whose offset moves this date in de-identified exports: "patient", "coach", "subject".
    shifted: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise ValueError(f"{self.name}: unknown type {self.type!r}")
        if bool(self.choices) != (self.type in ("choice", "choices")):
            raise ValueError(f"{self.name}: choice columns, and only they, list choices")

    @property
    def allowed(self) -> str:
        """Allowed values for the dictionary: codes with labels, or a range."""
        if self.choices:
            return "; ".join(f"{code}={label}" for code, label in self.choices)
        if self.type == "boolean":
            return "1=yes; 0=no"
        if self.minimum is not None or self.maximum is not None:
            low = "" if self.minimum is None else f"{self.minimum:g}"
            high = "" if self.maximum is None else f"{self.maximum:g}"
            return f"{low} to {high}".strip()
        if self.type == "age":
            return "0 to 89, or 90+"
        return ""

    def describe(self, identified: bool) -> str:
        """The dictionary's note: how the column is de-identified, if it is."""
        parts = [self.note] if self.note else []
        if self.shifted and not identified:
            whose = {"patient": "the participant's", "coach": "the coach's",
                     "subject": "the person's"}[self.shifted]
            parts.append(f"Shifted by {whose} date offset (the same in every export).")
        return " ".join(parts)


def _choices(enum: Any) -> Choices:
    return tuple((str(value), str(label)) for value, label in enum.choices)


@dataclass
class ExportContext:
    """Who exports what: the scope, the de-identification, the chunk size."""

    user: Any
    identified: bool = False
    program_id: int | None = None
    study_id: int | None = None
    chunk_size: int = 2000
    deid: Deidentifier = field(init=False)
    #: Called with the number of rows read since the last call (progress).
    on_rows: Callable[[int], None] | None = None

    def __post_init__(self) -> None:
        self.deid = Deidentifier(identified=self.identified)

    @property
    def perm(self) -> Perm:
        return Perm.EXPORT_IDENTIFIED if self.identified else Perm.EXPORT_DATA

    @cached_property
    def site_ids(self) -> frozenset[int]:
        return actor_for(self.user).sites_with(self.perm)

    @cached_property
    def data_site_ids(self) -> list[int]:
        """Sites whose data this export holds: the program's or study's site, or all the
        requester's sites."""
        from peercoach.programs.models import Program

        programs = Program.objects.filter(site_id__in=self.site_ids)
        if self.program_id is not None:
            programs = programs.filter(pk=self.program_id)
        if self.study_id is not None:
            programs = programs.filter(studies__pk=self.study_id)
        if self.program_id is None and self.study_id is None:
            return sorted(self.site_ids)
        return sorted(set(programs.values_list("site_id", flat=True)))

    @cached_property
    def patients(self) -> QuerySet[Any]:
        qs = patients_for(self.user, self.perm)
        if self.program_id is not None:
            qs = qs.filter(program_id=self.program_id)
        if self.study_id is not None:
            qs = qs.filter(allocation__study_id=self.study_id)
        return qs

    @cached_property
    def coaches(self) -> QuerySet[Any]:
        qs = coaches_for(self.user, self.perm)
        if self.program_id is not None:
            qs = qs.filter(program_id=self.program_id)
        if self.study_id is not None:
            from peercoach.research.models import Study

            qs = qs.filter(program_id__in=Study.objects.filter(pk=self.study_id)
                           .values("program_id"))
        return qs

    def patient_filter(self, prefix: str = "patient_id") -> Q:
        return Q(**{f"{prefix}__in": self.patients.values("pk")})

    @cached_property
    def allocations_allowed(self) -> bool:
        return has_perm(self.user, Perm.ALLOCATION_VIEW)

    @cached_property
    def studies(self) -> QuerySet[Any]:
        from peercoach.research.selectors import studies_for

        qs = studies_for(self.user, Perm.ALLOCATION_VIEW).filter(
            program__site_id__in=self.site_ids)
        if self.program_id is not None:
            qs = qs.filter(program_id=self.program_id)
        if self.study_id is not None:
            qs = qs.filter(pk=self.study_id)
        return qs

    def iterate(self, qs: QuerySet[Any], fields: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """Rows of `qs` as tuples of `fields`, a chunk at a time, counted for progress."""
        done = 0
        for row in qs.values_list(*fields).iterator(chunk_size=self.chunk_size):
            yield row
            done += 1
            if done == 1000:
                if self.on_rows is not None:
                    self.on_rows(done)
                done = 0
        if done and self.on_rows is not None:
            self.on_rows(done)

    def records(self, qs: QuerySet[Any], fields: Sequence[str]) -> Iterator[Row]:
        """Like `iterate`, with each row as a dict keyed by its field."""
        for values in self.iterate(qs, fields):
            yield dict(zip(fields, values, strict=True))


@dataclass(frozen=True)
class Table:
    name: str
    label: str
    columns: tuple[Column, ...]
    #: Yields one dict per row, keyed by column name (identifying columns only when
    #: the export is identified).
    produce: Callable[[ExportContext], Iterator[Row]]
    count: Callable[[ExportContext], int]
    #: Only when the requester may view allocations.
    needs_allocations: bool = False

    def columns_for(self, identified: bool) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if identified or not c.identifying)

    def rows(self, ctx: ExportContext) -> Iterator[Row]:
        names = {c.name for c in self.columns_for(ctx.identified)}
        checked = False
        for row in self.produce(ctx):
            if not checked:
                # The dictionary must describe exactly what is written: a column that is
                # not declared (or an identifying one in a de-identified export) stops it.
                if set(row) != names:
                    raise RuntimeError(
                        f"Table {self.name}: row keys {sorted(set(row) ^ names)} do not "
                        f"match its data dictionary.")
                checked = True
            yield row


# --- Shared pieces ------------------------------------------------------------------------

def _section_choices() -> Choices:
    from peercoach.curriculum.manual import patient_sections

    return tuple((s.key, s.title) for s in patient_sections())


SECTIONS: Choices = _section_choices()

PERSON_IDENTITY = (
    Column("first_name", "First name", identifying=True),
    Column("last_name", "Last name", identifying=True),
    Column("preferred_name", "Preferred name", identifying=True),
    Column("date_of_birth", "Date of birth", "date", identifying=True),
    Column("phone", "Phone (E.164)", identifying=True),
    Column("email", "E-mail", identifying=True),
    Column("address_line", "Street address", identifying=True),
    Column("city", "City", identifying=True),
    Column("zip_code", "ZIP code", identifying=True),
)
_IDENTITY_FIELDS = tuple(c.name for c in PERSON_IDENTITY)

_PSEUDONYM = "A keyed pseudonym in de-identified exports."
_SITE = Column("site", "Site", note=_PSEUDONYM)
_PROGRAM = Column("program", "Program", note=_PSEUDONYM)
_AGE_NOTE = "Ages over 89 are given as 90+."

#: What participants and coaches share after their own status and age columns.
_PERSON_PROFILE = (
    Column("gender", "Gender", "choice", _choices(Gender)),
    Column("zip3", "First three digits of the ZIP code",
           note="000 where the three-digit area has 20,000 people or fewer."),
    Column("state", "State (two letters)"),
    Column("is_veteran", "Veteran", "boolean"),
    Column("branch", "Branch of service", "choice", _choices(Branch)),
    Column("service_era", "Service era", "choice", _choices(ServiceEra)),
    Column("language", "Preferred language", "choice", _choices(Language)),
    Column("pain_conditions", "Pain conditions", "choices", _choices(PainCondition)),
)
#: The fields a participant's or coach's row is read from before its own.
_PERSON_FIELDS = ["id", "study_id", "program_id", "program__name", "program__site_id",
                  "program__site__code", "status", "status_changed_at", "gender",
                  "date_of_birth", "zip_code", "state", "is_veteran", "branch", "service_era",
                  "language", "pain_conditions"]


def _codes(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _local_date(value: dt.datetime | None) -> dt.date | None:
    if value is None:
        return None
    return timezone.localtime(value).date() if timezone.is_aware(value) else value.date()


def _person_head(r: Row, d: Deidentifier, whose: str) -> Row:
    """A participant's or coach's first values: study ID, site, program and status."""
    return {
        "study_id": r["study_id"],
        "site": d.site(r["program__site_id"], r["program__site__code"]),
        "program": d.program(r["program_id"], r["program__name"]),
        "status": r["status"],
        "status_changed_on": d.date(_local_date(r["status_changed_at"]), whose, r["id"]),
    }


def _person_profile(r: Row) -> Row:
    """The values of `_PERSON_PROFILE`."""
    return {
        "gender": r["gender"] or None,
        "zip3": zip3(r["zip_code"]),
        "state": r["state"] or None,
        "is_veteran": r["is_veteran"],
        "branch": r["branch"] or None,
        "service_era": r["service_era"] or None,
        "language": r["language"] or None,
        "pain_conditions": _codes(r["pain_conditions"]),
    }


def _identity(r: Row) -> Row:
    """The values of `PERSON_IDENTITY` (identified exports only)."""
    return {name: r[name] or None for name in _IDENTITY_FIELDS}


# --- participants -------------------------------------------------------------------------

PARTICIPANT_COLUMNS = (
    Column("study_id", "Participant's study ID", note="Random code; the record ID in REDCap."),
    _SITE,
    _PROGRAM,
    Column("status", "Status in the program", "choice", _choices(PatientStatus)),
    Column("status_changed_on", "Date of the latest status change", "date", shifted="patient"),
    Column("day0", "What day 0 of the study days is", "choice",
           (("enrollment", "Enrollment"), ("referral", "Referral (not enrolled)"))),
    Column("age_at_day0", "Age on day 0", "age", units="years", note=_AGE_NOTE),
    *_PERSON_PROFILE,
    Column("life_challenges", "Life challenges", "choices", _choices(LifeChallenge)),
    Column("contact_modes", "Preferred ways to talk", "choices", _choices(ContactMode)),
    Column("contact_times", "Preferred times to talk", "choices", _choices(ContactTime)),
    Column("coach_gender_preference", "Preferred coach gender", "choice", _choices(Gender)),
    Column("referral_source", "Referral source", "choice", _choices(ReferralSource)),
    Column("referred_on", "Referral date", "date", shifted="patient"),
    Column("referral_day", "Study day of the referral", "integer", units="days"),
    Column("enrolled_on", "Enrollment date", "date", shifted="patient"),
    *PERSON_IDENTITY,
    Column("referring_clinician", "Referring clinician (name as given)", identifying=True),
)


def _participants(ctx: ExportContext) -> Iterator[Row]:
    fields = [*_PERSON_FIELDS, "life_challenges", "preferred_contact_modes",
              "preferred_contact_times", "coach_gender_preference", "referral_source",
              "referred_on", "enrolled_on"]
    if ctx.identified:
        fields += [f for f in _IDENTITY_FIELDS if f not in fields]
        fields.append("referring_clinician_name")
    d = ctx.deid
    for r in ctx.records(ctx.patients.order_by("id"), fields):
        pk = r["id"]
        anchor = anchor_of(r["enrolled_on"], r["referred_on"])
        row: Row = {
            **_person_head(r, d, "patient"),
            "day0": "enrollment" if r["enrolled_on"] else "referral",
            "age_at_day0": age_text(age_on(r["date_of_birth"], anchor)),
            **_person_profile(r),
            "life_challenges": _codes(r["life_challenges"]),
            "contact_modes": _codes(r["preferred_contact_modes"]),
            "contact_times": _codes(r["preferred_contact_times"]),
            "coach_gender_preference": r["coach_gender_preference"] or None,
            "referral_source": r["referral_source"],
            "referred_on": d.date(r["referred_on"], "patient", pk),
            "referral_day": study_day(r["referred_on"], anchor),
            "enrolled_on": d.date(r["enrolled_on"], "patient", pk),
        }
        if ctx.identified:
            row.update(_identity(r))
            row["referring_clinician"] = r["referring_clinician_name"] or None
        yield row


# --- coaches ------------------------------------------------------------------------------

COACH_COLUMNS = (
    Column("study_id", "Coach's study ID"),
    _SITE,
    _PROGRAM,
    Column("status", "Status as a coach", "choice", _choices(CoachStatus)),
    Column("status_changed_on", "Date of the latest status change", "date", shifted="coach"),
    Column("age", "Age on the day of the export", "age", units="years", note=_AGE_NOTE),
    *_PERSON_PROFILE,
    Column("capacity", "Patients the coach chose to take", "integer",
           note="Empty: the program's default caseload."),
    Column("completed_self_management_program",
           "Has been through a pain self-management program", "boolean"),
    Column("guide_read_on", "Confirmed reading the coach guide on", "date", shifted="coach"),
    Column("former_patient", "A former patient of the program", "boolean"),
    *PERSON_IDENTITY,
)


def _coaches(ctx: ExportContext) -> Iterator[Row]:
    fields = [*_PERSON_FIELDS, "capacity", "completed_self_management_program",
              "guide_read_on", "former_patient_id"]
    if ctx.identified:
        fields += [f for f in _IDENTITY_FIELDS if f not in fields]
    d = ctx.deid
    today = timezone.localdate()
    for r in ctx.records(ctx.coaches.order_by("id"), fields):
        pk = r["id"]
        row: Row = {
            **_person_head(r, d, "coach"),
            "age": age_text(age_on(r["date_of_birth"], today)),
            **_person_profile(r),
            "capacity": r["capacity"],
            "completed_self_management_program": r["completed_self_management_program"],
            "guide_read_on": d.date(r["guide_read_on"], "coach", pk),
            "former_patient": r["former_patient_id"] is not None,
        }
        if ctx.identified:
            row.update(_identity(r))
        yield row


# --- pairs --------------------------------------------------------------------------------

PAIR_COLUMNS = (
    Column("pair_id", "Pair ID", "integer"),
    Column("patient_study_id", "Participant's study ID"),
    Column("coach_study_id", "Coach's study ID"),
    Column("started_on", "Pair started on", "date", shifted="patient"),
    Column("start_day", "Study day the pair started", "integer", units="days"),
    Column("ended_on", "Pair ended on", "date", shifted="patient",
           note="Empty while the pair is current."),
    Column("end_day", "Study day the pair ended", "integer", units="days"),
    Column("current", "Current pair", "boolean"),
    Column("source", "How the pair was made", "choice", _choices(MatchSource)),
    Column("score", "Compatibility score when paired", "number"),
)


def _pairs(ctx: ExportContext) -> Iterator[Row]:
    from peercoach.matching.models import Match

    fields = ["id", "patient_id", "patient__study_id", "coach__study_id", "started_on",
              "ended_on", "source", "score", "patient__enrolled_on", "patient__referred_on"]
    qs = Match.objects.filter(ctx.patient_filter()).order_by("patient_id", "started_on", "id")
    d = ctx.deid
    for values in ctx.iterate(qs, fields):
        (pk, patient, patient_sid, coach_sid, started, ended, source, score, enrolled,
         referred) = values
        anchor = anchor_of(enrolled, referred)
        yield {
            "pair_id": pk, "patient_study_id": patient_sid, "coach_study_id": coach_sid,
            "started_on": d.date(started, "patient", patient),
            "start_day": study_day(started, anchor),
            "ended_on": d.date(ended, "patient", patient),
            "end_day": study_day(ended, anchor),
            "current": ended is None, "source": source, "score": score,
        }


# --- contact plans and planned contacts ---------------------------------------------------

PLAN_COLUMNS = (
    Column("plan_id", "Contact plan ID", "integer"),
    Column("patient_study_id", "Participant's study ID"),
    Column("started_on", "Plan started on", "date", shifted="patient"),
    Column("start_day", "Study day the plan started", "integer", units="days"),
    Column("interval_days", "Days between planned contacts", "integer", units="days"),
    Column("span_days", "Days the program lasts for this participant", "integer",
           units="days", note="Pauses and extensions add to it."),
    Column("ended_on", "Plan ended on", "date", shifted="patient"),
    Column("end_day", "Study day the plan ended", "integer", units="days"),
)


def _plans(ctx: ExportContext) -> Iterator[Row]:
    from peercoach.coaching.models import ContactPlan

    fields = ["id", "patient_id", "patient__study_id", "started_on", "interval_days",
              "span_days", "ended_on", "patient__enrolled_on", "patient__referred_on"]
    # By id: one plan per participant, so this groups by participant too, in the same
    # order as the planned contacts below (the FHIR CarePlan merges the two).
    qs = ContactPlan.objects.filter(ctx.patient_filter()).order_by("id")
    d = ctx.deid
    for pk, patient, sid, started, interval, span, ended, enrolled, referred in ctx.iterate(
            qs, fields):
        anchor = anchor_of(enrolled, referred)
        yield {"plan_id": pk, "patient_study_id": sid,
               "started_on": d.date(started, "patient", patient),
               "start_day": study_day(started, anchor), "interval_days": interval,
               "span_days": span, "ended_on": d.date(ended, "patient", patient),
               "end_day": study_day(ended, anchor)}


PLANNED_COLUMNS = (
    Column("plan_id", "Contact plan ID", "integer"),
    Column("patient_study_id", "Participant's study ID"),
    Column("number", "Planned contact number", "integer", minimum=1),
    Column("due_on", "Due on", "date", shifted="patient"),
    Column("due_day", "Study day it is due", "integer", units="days"),
    Column("window_start", "Window opens", "date", shifted="patient"),
    Column("window_end", "Window closes", "date", shifted="patient"),
    Column("status", "Status", "choice", _choices(PlannedStatus)),
    Column("contact_id", "The reached contact that fulfilled it", "integer"),
)


def _planned(ctx: ExportContext) -> Iterator[Row]:
    from peercoach.coaching.models import PlannedContact

    fields = ["plan_id", "plan__patient_id", "plan__patient__study_id", "number", "due_on",
              "window_start", "window_end", "status", "contact_id",
              "plan__patient__enrolled_on", "plan__patient__referred_on"]
    qs = (PlannedContact.objects.filter(ctx.patient_filter("plan__patient_id"))
          .order_by("plan_id", "number"))
    d = ctx.deid
    for (plan, patient, sid, number, due, start, end, status, contact, enrolled,
         referred) in ctx.iterate(qs, fields):
        yield {"plan_id": plan, "patient_study_id": sid, "number": number,
               "due_on": d.date(due, "patient", patient),
               "due_day": study_day(due, anchor_of(enrolled, referred)),
               "window_start": d.date(start, "patient", patient),
               "window_end": d.date(end, "patient", patient), "status": status,
               "contact_id": contact}


# --- contacts -----------------------------------------------------------------------------

_MODES, _OUTCOMES = _choices(Mode), _choices(Outcome)

CONTACT_COLUMNS = (
    Column("contact_id", "Contact ID", "integer"),
    Column("patient_study_id", "Participant's study ID"),
    Column("coach_study_id", "Coach's study ID"),
    Column("pair_id", "Pair ID", "integer"),
    Column("occurred_at", "When it happened", "datetime", shifted="patient"),
    Column("day", "Study day", "integer", units="days"),
    Column("mode", "How", "choice", _MODES),
    Column("outcome", "Outcome", "choice", _OUTCOMES),
    Column("reached", "The participant was reached", "boolean"),
    Column("duration_minutes", "Length", "integer", units="minutes", minimum=1, maximum=240),
    Column("sections", "Manual sections covered", "choices", SECTIONS),
    Column("curriculum_percent", "Share of the talk on the manual and goals", "integer",
           units="%", minimum=0, maximum=100, note="The rest was social."),
    Column("pain_today", "Pain today (0-10)", "integer", minimum=0, maximum=10),
    Column("safety_concern", "The coach ticked a safety concern", "boolean"),
)


def _contacts(ctx: ExportContext) -> Iterator[Row]:
    from peercoach.coaching.models import Contact

    fields = ["id", "patient_id", "patient__study_id", "coach__study_id", "match_id",
              "occurred_at", "mode", "outcome", "duration_minutes", "sections",
              "curriculum_percent", "pain_today", "safety_concern", "patient__enrolled_on",
              "patient__referred_on"]
    qs = Contact.objects.filter(ctx.patient_filter()).order_by("patient_id", "occurred_at", "id")
    d = ctx.deid
    for (pk, patient, sid, coach_sid, match, at, mode, outcome, minutes, sections, percent,
         pain, concern, enrolled, referred) in ctx.iterate(qs, fields):
        yield {"contact_id": pk, "patient_study_id": sid, "coach_study_id": coach_sid,
               "pair_id": match, "occurred_at": d.datetime(at, "patient", patient),
               "day": study_day(at, anchor_of(enrolled, referred)), "mode": mode,
               "outcome": outcome, "reached": outcome == "reached",
               "duration_minutes": minutes, "sections": _codes(sections),
               "curriculum_percent": percent, "pain_today": pain, "safety_concern": concern}


# --- goals --------------------------------------------------------------------------------

_GOAL_STATUSES, _PROGRESS = _choices(GoalStatus), _choices(Progress)

GOAL_COLUMNS = (
    Column("goal_id", "Goal ID", "integer"),
    Column("patient_study_id", "Participant's study ID"),
    Column("section", "Manual section it comes from", "choice", SECTIONS),
    Column("practice", "Practice chosen (a key of the manual)"),
    Column("confidence", "Confidence the participant will do it (0-10)", "integer",
           minimum=0, maximum=10),
    Column("status", "Status", "choice", _GOAL_STATUSES),
    Column("set_on", "Set on", "date", shifted="patient"),
    Column("set_day", "Study day it was set", "integer", units="days"),
    Column("set_in_contact_id", "Contact it was set in", "integer"),
    Column("revised_from_goal_id", "The goal it revises", "integer"),
    Column("text", "The goal in the participant's words", identifying=True),
    Column("what", "What", identifying=True),
    Column("how_much", "How much", identifying=True),
    Column("when", "When", identifying=True),
    Column("how_often", "How often", identifying=True),
)


def _goals(ctx: ExportContext) -> Iterator[Row]:
    from peercoach.coaching.models import Goal

    fields = ["id", "patient_id", "patient__study_id", "section", "practice", "confidence",
              "status", "created_at", "set_in_id", "revised_from_id", "patient__enrolled_on",
              "patient__referred_on"]
    words = ["text", "what", "how_much", "when", "how_often"]
    if ctx.identified:
        fields += words
    qs = Goal.objects.filter(ctx.patient_filter()).order_by("patient_id", "created_at", "id")
    d = ctx.deid
    for r in ctx.records(qs, fields):
        day = _local_date(r["created_at"])
        row: Row = {
            "goal_id": r["id"], "patient_study_id": r["patient__study_id"],
            "section": r["section"], "practice": r["practice"] or None,
            "confidence": r["confidence"], "status": r["status"],
            "set_on": d.date(day, "patient", r["patient_id"]),
            "set_day": study_day(day, anchor_of(r["patient__enrolled_on"],
                                                r["patient__referred_on"])),
            "set_in_contact_id": r["set_in_id"], "revised_from_goal_id": r["revised_from_id"],
        }
        if ctx.identified:
            for name in words:
                row[name] = r[name]
        yield row


GOAL_CHECK_IN_COLUMNS = (
    Column("goal_id", "Goal ID", "integer"),
    Column("contact_id", "Contact ID", "integer"),
    Column("patient_study_id", "Participant's study ID"),
    Column("progress", "Progress on the goal", "choice", _PROGRESS),
)


def _goal_check_ins(ctx: ExportContext) -> Iterator[Row]:
    from peercoach.coaching.models import GoalCheckIn

    qs = (GoalCheckIn.objects.filter(ctx.patient_filter("goal__patient_id"))
          .order_by("goal__patient_id", "goal_id", "contact_id"))
    for goal, contact, sid, progress in ctx.iterate(
            qs, ["goal_id", "contact_id", "goal__patient__study_id", "progress"]):
        yield {"goal_id": goal, "contact_id": contact, "patient_study_id": sid,
               "progress": progress}


# --- consents -----------------------------------------------------------------------------

CONSENT_COLUMNS = (
    Column("consent_id", "Consent ID", "integer"),
    Column("patient_study_id", "Participant's study ID"),
    Column("consented_on", "Consented on", "date", shifted="patient"),
    Column("day", "Study day", "integer", units="days"),
    Column("form_version", "Consent form version"),
)


def _consents(ctx: ExportContext) -> Iterator[Row]:
    from peercoach.people.models import Consent

    qs = (Consent.objects.filter(ctx.patient_filter())
          .order_by("patient_id", "consented_on", "id"))
    d = ctx.deid
    for pk, patient, sid, on, version, enrolled, referred in ctx.iterate(
            qs, ["id", "patient_id", "patient__study_id", "consented_on", "form_version",
                 "patient__enrolled_on", "patient__referred_on"]):
        yield {"consent_id": pk, "patient_study_id": sid,
               "consented_on": d.date(on, "patient", patient),
               "day": study_day(on, anchor_of(enrolled, referred)), "form_version": version}


# --- assessments, item responses, external scores, pain check-ins -------------------------

INSTRUMENTS: Choices = tuple((code, ins.short_name) for code, ins in REGISTRY.items())
_ASSESSMENT_STATUSES = _choices(AssessmentStatus)

ASSESSMENT_COLUMNS = (
    Column("assessment_id", "Questionnaire ID", "integer"),
    Column("patient_study_id", "Participant's study ID"),
    Column("instrument", "Instrument", "choice", INSTRUMENTS),
    Column("time_point", "Time point (key)", note="Empty for a questionnaire on its own."),
    Column("time_point_day", "Time point: days after enrollment", "integer", units="days"),
    Column("opens_on", "Window opens", "date", shifted="patient"),
    Column("due_on", "Due on", "date", shifted="patient"),
    Column("closes_on", "Window closes", "date", shifted="patient"),
    Column("due_day", "Study day it is due", "integer", units="days"),
    Column("status", "Status", "choice", _ASSESSMENT_STATUSES),
    Column("submitted_at", "Submitted at", "datetime", shifted="patient",
           note="The latest version."),
    Column("submitted_day", "Study day it was submitted", "integer", units="days"),
    Column("version", "Submitted version", "integer",
           note="0 = never submitted; above 1 = corrected."),
    Column("total", "Score", "number", note="The instrument's rule (see docs/instruments.md)."),
    Column("band", "Score band"),
    Column("complete", "Enough items answered for a score", "boolean"),
    Column("flags", "Flags raised by the scoring (codes, ';'-separated)"),
)


def assessment_rows(ctx: ExportContext, *, instrument: str | None = None,
                    submitted_only: bool = False, with_answers: bool = False
                    ) -> Iterator[Row]:
    """Assessment rows; with `with_answers` each also has `answers` ({item: value}, the
    latest submitted version's) and `patient_pk` is dropped (never exported)."""
    from peercoach.assessments.models import Assessment, ResponseVersion

    qs = Assessment.objects.filter(ctx.patient_filter())
    if instrument is not None:
        qs = qs.filter(instrument=instrument)
    if submitted_only:
        qs = qs.filter(status=AssessmentStatus.SUBMITTED, version__gte=1)
    fields = ["id", "patient_id", "patient__study_id", "instrument", "time_point__key",
              "time_point__day", "opens_on", "due_on", "closes_on", "status", "submitted_at",
              "version", "total", "band", "complete", "flags", "patient__enrolled_on",
              "patient__referred_on"]
    if with_answers:
        latest = ResponseVersion.objects.filter(assessment_id=OuterRef("pk"),
                                                number=OuterRef("version"))
        qs = qs.annotate(answers=Subquery(latest.values("answers")[:1]))
        fields.append("answers")
    qs = qs.order_by("patient_id", "due_on", "id")
    d = ctx.deid
    for r in ctx.records(qs, fields):
        patient = r["patient_id"]
        anchor = anchor_of(r["patient__enrolled_on"], r["patient__referred_on"])
        row: Row = {
            "assessment_id": r["id"], "patient_study_id": r["patient__study_id"],
            "instrument": r["instrument"], "time_point": r["time_point__key"],
            "time_point_day": r["time_point__day"],
            "opens_on": d.date(r["opens_on"], "patient", patient),
            "due_on": d.date(r["due_on"], "patient", patient),
            "closes_on": d.date(r["closes_on"], "patient", patient),
            "due_day": study_day(r["due_on"], anchor), "status": r["status"],
            "submitted_at": d.datetime(r["submitted_at"], "patient", patient),
            "submitted_day": study_day(r["submitted_at"], anchor), "version": r["version"],
            "total": r["total"], "band": r["band"] or None, "complete": r["complete"],
            "flags": ";".join(sorted(map(str, r["flags"] or []))) or None,
        }
        if with_answers:
            raw = r["answers"] or {}
            row["answers"] = {int(k): v for k, v in sorted(raw.items(), key=lambda kv: int(
                kv[0]))} if isinstance(raw, dict) else {}
        yield row


def _assessments(ctx: ExportContext) -> Iterator[Row]:
    return assessment_rows(ctx)


ITEM_COLUMNS = (
    Column("assessment_id", "Questionnaire ID", "integer"),
    Column("patient_study_id", "Participant's study ID"),
    Column("instrument", "Instrument", "choice", INSTRUMENTS),
    Column("version", "Submitted version the answer belongs to", "integer"),
    Column("item", "Item number (from 1, as in docs/instruments.md)", "integer", minimum=1),
    Column("value", "Answer (the item's scale value)", "number"),
    Column("loinc", "LOINC code of the item, where known"),
)


def _items(ctx: ExportContext) -> Iterator[Row]:
    for row in assessment_rows(ctx, submitted_only=True, with_answers=True):
        instrument = REGISTRY.get(row["instrument"])
        for number, value in row["answers"].items():
            loinc = None
            if instrument is not None and 1 <= number <= len(instrument.items):
                loinc = instrument.items[number - 1].loinc
            yield {"assessment_id": row["assessment_id"],
                   "patient_study_id": row["patient_study_id"],
                   "instrument": row["instrument"], "version": row["version"], "item": number,
                   "value": value, "loinc": loinc}


def _count_items(ctx: ExportContext) -> int:
    from django.db.models import Count

    from peercoach.assessments.models import Assessment

    per = (Assessment.objects.filter(ctx.patient_filter(), status=AssessmentStatus.SUBMITTED,
                                     version__gte=1)
           .values_list("instrument").annotate(n=Count("id")).order_by())
    return sum(n * (len(REGISTRY[code].items) if code in REGISTRY else 1) for code, n in per)


EXTERNAL_COLUMNS = (
    Column("score_id", "External score ID", "integer"),
    Column("patient_study_id", "Participant's study ID"),
    Column("instrument", "Instrument", "choice", INSTRUMENTS),
    Column("time_point", "Time point (key)"),
    Column("measured_on", "Measured on", "date", shifted="patient"),
    Column("day", "Study day", "integer", units="days"),
    Column("score", "Score from the licensed scorer", "number"),
    Column("level", "Level from the licensed scorer", "integer"),
)


def _external(ctx: ExportContext) -> Iterator[Row]:
    from peercoach.assessments.models import ExternalScore

    qs = (ExternalScore.objects.filter(ctx.patient_filter())
          .order_by("patient_id", "measured_on", "id"))
    d = ctx.deid
    for pk, patient, sid, code, point, on, score, level, enrolled, referred in ctx.iterate(
            qs, ["id", "patient_id", "patient__study_id", "instrument", "time_point__key",
                 "measured_on", "score", "level", "patient__enrolled_on",
                 "patient__referred_on"]):
        yield {"score_id": pk, "patient_study_id": sid, "instrument": code, "time_point": point,
               "measured_on": d.date(on, "patient", patient),
               "day": study_day(on, anchor_of(enrolled, referred)), "score": score,
               "level": level}


PAIN_COLUMNS = (
    Column("check_in_id", "Check-in ID", "integer"),
    Column("patient_study_id", "Participant's study ID"),
    Column("at", "When", "datetime", shifted="patient"),
    Column("day", "Study day", "integer", units="days"),
    Column("pain", "Pain today (0-10)", "integer", minimum=0, maximum=10),
    Column("peg_pain", "PEG 1: average pain (0-10)", "integer", minimum=0, maximum=10),
    Column("peg_enjoyment", "PEG 2: interference with enjoyment of life (0-10)", "integer",
           minimum=0, maximum=10),
    Column("peg_activity", "PEG 3: interference with general activity (0-10)", "integer",
           minimum=0, maximum=10),
    Column("peg_score", "PEG score (mean of the three)", "number", minimum=0, maximum=10),
)


def _pain(ctx: ExportContext) -> Iterator[Row]:
    from peercoach.coaching.models import PainCheckIn

    qs = PainCheckIn.objects.filter(ctx.patient_filter()).order_by("patient_id", "at", "id")
    d = ctx.deid
    for pk, patient, sid, at, pain, p, e, a, enrolled, referred in ctx.iterate(
            qs, ["id", "patient_id", "patient__study_id", "at", "pain", "peg_pain",
                 "peg_enjoyment", "peg_activity", "patient__enrolled_on",
                 "patient__referred_on"]):
        yield {"check_in_id": pk, "patient_study_id": sid, "at": d.datetime(at, "patient", patient),
               "day": study_day(at, anchor_of(enrolled, referred)), "pain": pain,
               "peg_pain": p, "peg_enjoyment": e, "peg_activity": a,
               "peg_score": round((p + e + a) / 3, 2)}


# --- studies, arms, allocations -----------------------------------------------------------

_STUDY_STATUSES, _ARM_KINDS = _choices(StudyStatus), _choices(ArmKind)

ARM_COLUMNS = (
    Column("study", "Study ID", "integer"),
    Column("study_title", "Study title"),
    Column("registration_id", "Trial registration"),
    Column("study_status", "Study status", "choice", _STUDY_STATUSES),
    _PROGRAM,
    Column("arm_code", "Arm code"),
    Column("arm_name", "Arm name"),
    Column("arm_kind", "Arm kind", "choice", _ARM_KINDS),
    Column("ratio", "Allocation ratio share", "integer", minimum=1),
    Column("target_size", "Planned participants", "integer"),
    Column("gets_coach", "Arm gets a peer coach", "boolean"),
)


def _arms(ctx: ExportContext) -> Iterator[Row]:
    from peercoach.research.models import Arm

    qs = Arm.objects.filter(study__in=ctx.studies).order_by("study_id", "id")
    d = ctx.deid
    for (study, title, reg, status, program, program_name, code, name, kind, ratio, target,
         coach) in ctx.iterate(qs, ["study_id", "study__title", "study__registration_id",
                                    "study__status", "study__program_id",
                                    "study__program__name", "code", "name", "kind", "ratio",
                                    "target_size", "gets_coach"]):
        yield {"study": study, "study_title": title, "registration_id": reg or None,
               "study_status": status, "program": d.program(program, program_name),
               "arm_code": code, "arm_name": name, "arm_kind": kind, "ratio": ratio,
               "target_size": target, "gets_coach": coach}


ALLOCATION_COLUMNS = (
    Column("patient_study_id", "Participant's study ID"),
    Column("study", "Study ID", "integer"),
    Column("arm_code", "Arm code"),
    Column("arm_name", "Arm name"),
    Column("arm_kind", "Arm kind", "choice", _ARM_KINDS),
    Column("stratum", "Randomization stratum",
           note="Factor=value pairs separated by '|'; sites as in the site column."),
    Column("allocated_at", "Allocated at", "datetime", shifted="patient"),
    Column("day", "Study day of the allocation", "integer", units="days"),
    Column("participant_status", "Participant's status now", "choice", _choices(PatientStatus)),
)


def _stratum(key: str, site_id: int, site_code: str, d: Deidentifier) -> str:
    parts = []
    for part in key.split("|"):
        factor, _, value = part.partition("=")
        if factor == "site" and value == site_code:
            value = d.site(site_id, site_code)
        parts.append(f"{factor}={value}" if _ else part)
    return "|".join(parts)


def _allocations(ctx: ExportContext) -> Iterator[Row]:
    from peercoach.research.models import Allocation

    qs = (Allocation.objects.filter(ctx.patient_filter(), study__in=ctx.studies)
          .order_by("patient_id", "id"))
    d = ctx.deid
    for (patient, sid, study, code, name, kind, key, at, enrolled, referred, site, site_code,
         status) in ctx.iterate(qs, ["patient_id", "patient__study_id", "study_id", "arm__code",
                                     "arm__name", "arm__kind", "slot__stratum_key",
                                     "allocated_at", "patient__enrolled_on",
                                     "patient__referred_on", "patient__program__site_id",
                                     "patient__program__site__code", "patient__status"]):
        yield {"patient_study_id": sid, "study": study, "arm_code": code, "arm_name": name,
               "arm_kind": kind, "stratum": _stratum(key, site, site_code, d),
               "allocated_at": d.datetime(at, "patient", patient),
               "day": study_day(at, anchor_of(enrolled, referred)),
               "participant_status": status}


# --- safety events ------------------------------------------------------------------------

_SAFETY_SOURCES, _SAFETY_STATUSES = _choices(SafetySource), _choices(SafetyStatus)

SAFETY_COLUMNS = (
    Column("event_id", "Safety event ID", "integer"),
    Column("subject_type", "Whose event", "choice",
           (("patient", "Participant"), ("coach", "Coach"))),
    Column("subject_study_id", "Participant's or coach's study ID"),
    Column("source", "What raised it", "choice", _SAFETY_SOURCES),
    Column("status", "Status", "choice", _SAFETY_STATUSES),
    Column("raised_at", "Raised at", "datetime", shifted="subject"),
    Column("day", "Study day (participants)", "integer", units="days"),
    Column("crisis_steps_shown", "Crisis steps were shown", "boolean"),
    Column("minutes_to_notify", "Minutes until supervisors were told", "number",
           units="minutes"),
    Column("minutes_to_acknowledge", "Minutes until a supervisor acknowledged", "number",
           units="minutes"),
    Column("escalated", "Escalated to the site's backup", "boolean"),
    Column("follow_up_documented", "Follow-up documented", "boolean"),
    Column("closed_at", "Closed at", "datetime", shifted="subject"),
)


def _minutes(start: dt.datetime | None, end: dt.datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60, 1)


def _safety_q(ctx: ExportContext) -> Q:
    return ctx.patient_filter() | Q(coach_id__in=ctx.coaches.values("pk"))


def _safety(ctx: ExportContext) -> Iterator[Row]:
    from peercoach.supervision.models import SafetyEvent

    # Grouped by person (REDCap numbers each participant's repeats).
    qs = SafetyEvent.objects.filter(_safety_q(ctx)).order_by("patient_id", "coach_id",
                                                              "raised_at", "id")
    d = ctx.deid
    for (pk, patient, coach, patient_sid, coach_sid, source, status, raised, shown, notified,
         acknowledged, escalated, follow_up_at, closed, enrolled, referred) in ctx.iterate(
            qs, ["id", "patient_id", "coach_id", "patient__study_id", "coach__study_id",
                 "source", "status", "raised_at", "crisis_steps_shown_at", "notified_at",
                 "acknowledged_at", "escalated_at", "follow_up_at", "closed_at",
                 "patient__enrolled_on", "patient__referred_on"]):
        kind, who = ("patient", patient) if patient is not None else ("coach", coach)
        yield {"event_id": pk, "subject_type": kind,
               "subject_study_id": patient_sid if patient is not None else coach_sid,
               "source": source, "status": status,
               "raised_at": d.datetime(raised, kind, who),
               "day": study_day(raised, anchor_of(enrolled, referred))
               if patient is not None else None,
               "crisis_steps_shown": shown is not None,
               "minutes_to_notify": _minutes(raised, notified),
               "minutes_to_acknowledge": _minutes(raised, acknowledged),
               "escalated": escalated is not None,
               "follow_up_documented": follow_up_at is not None,
               "closed_at": d.datetime(closed, kind, who)}


# --- staff --------------------------------------------------------------------------------

STAFF_COLUMNS = (
    Column("staff_id", "Staff member", note="A keyed pseudonym in de-identified exports; "
           "the user name in identified ones."),
    Column("role", "Role", "choice", tuple((r.value, r.label) for r in STAFF_ROLES)),
    _SITE,
    Column("first_name", "First name", identifying=True),
    Column("last_name", "Last name", identifying=True),
    Column("email", "E-mail", identifying=True),
)


def _staff_qs(ctx: ExportContext) -> QuerySet[Any]:
    """Current staff roles at the export's sites (its program's or study's site only)."""
    return RoleAssignment.objects.filter(ended_at__isnull=True, site_id__in=ctx.data_site_ids)


def _staff(ctx: ExportContext) -> Iterator[Row]:
    qs = _staff_qs(ctx).order_by("user_id", "role", "site_id")
    fields = ["user_id", "user__username", "role", "site_id", "site__code"]
    if ctx.identified:
        fields += ["user__first_name", "user__last_name", "user__email"]
    d = ctx.deid
    for r in ctx.records(qs, fields):
        row: Row = {"staff_id": d.staff(r["user_id"], r["user__username"]), "role": r["role"],
                    "site": d.site(r["site_id"], r["site__code"])}
        if ctx.identified:
            row.update(first_name=r["user__first_name"] or None,
                       last_name=r["user__last_name"] or None, email=r["user__email"] or None)
        yield row


# --- The list -----------------------------------------------------------------------------

def _count_of(build: Callable[[ExportContext], QuerySet[Any]]) -> Callable[[ExportContext], int]:
    return lambda ctx: build(ctx).count()


def _model(path: str) -> Any:
    from django.apps import apps

    return apps.get_model(path)


def _by_patient(model: str, prefix: str = "patient_id") -> Callable[[ExportContext], int]:
    return _count_of(lambda ctx: _model(model).objects.filter(ctx.patient_filter(prefix)))


TABLES: tuple[Table, ...] = (
    Table("participants", "Participants (patients)", PARTICIPANT_COLUMNS, _participants,
          lambda ctx: ctx.patients.count()),
    Table("coaches", "Peer coaches", COACH_COLUMNS, _coaches, lambda ctx: ctx.coaches.count()),
    Table("staff_roles", "Staff and their roles", STAFF_COLUMNS, _staff,
          lambda ctx: _staff_qs(ctx).count()),
    Table("pairs", "Pairs: who coached whom, with dates", PAIR_COLUMNS, _pairs,
          _by_patient("matching.Match")),
    Table("plans", "Contact plans", PLAN_COLUMNS, _plans, _by_patient("coaching.ContactPlan")),
    Table("planned_contacts", "Planned contacts", PLANNED_COLUMNS, _planned,
          _by_patient("coaching.PlannedContact", "plan__patient_id")),
    Table("contacts", "Contacts (every attempt)", CONTACT_COLUMNS, _contacts,
          _by_patient("coaching.Contact")),
    Table("goals", "Goals (action plans)", GOAL_COLUMNS, _goals, _by_patient("coaching.Goal")),
    Table("goal_check_ins", "Progress on goals, per contact", GOAL_CHECK_IN_COLUMNS,
          _goal_check_ins, _by_patient("coaching.GoalCheckIn", "goal__patient_id")),
    Table("consents", "Consents", CONSENT_COLUMNS, _consents, _by_patient("people.Consent")),
    Table("assessments", "Questionnaires and their scores", ASSESSMENT_COLUMNS, _assessments,
          _by_patient("assessments.Assessment")),
    Table("item_responses", "Answers to each item (latest submitted version)", ITEM_COLUMNS,
          _items, _count_items),
    Table("external_scores", "Scores from licensed scorers (PAM)", EXTERNAL_COLUMNS, _external,
          _by_patient("assessments.ExternalScore")),
    Table("pain_check_ins", "Participants' own pain check-ins", PAIN_COLUMNS, _pain,
          _by_patient("coaching.PainCheckIn")),
    Table("arms", "Studies and their arms", ARM_COLUMNS, _arms,
          lambda ctx: _model("research.Arm").objects.filter(study__in=ctx.studies).count(),
          needs_allocations=True),
    Table("allocations", "Randomized allocations", ALLOCATION_COLUMNS, _allocations,
          lambda ctx: _model("research.Allocation").objects.filter(
              ctx.patient_filter(), study__in=ctx.studies).count(), needs_allocations=True),
    Table("safety_events", "Safety events (no free text)", SAFETY_COLUMNS, _safety,
          lambda ctx: _model("supervision.SafetyEvent").objects.filter(_safety_q(ctx)).count()),
)

BY_NAME = {table.name: table for table in TABLES}


def tables_for(ctx: ExportContext) -> list[Table]:
    """The tables this requester gets (allocations only for those who may view them)."""
    return [t for t in TABLES if not t.needs_allocations or ctx.allocations_allowed]


DICTIONARY_HEADER = ("table", "variable", "label", "type", "allowed values", "units", "note")


def dictionary_rows(tables: Iterable[Table], identified: bool) -> Iterator[tuple[str, ...]]:
    """The CSV data dictionary: one row per column of every table."""
    for table in tables:
        for c in table.columns_for(identified):
            yield (table.name, c.name, c.label, TYPES[c.type], c.allowed, c.units,
                   c.describe(identified))
