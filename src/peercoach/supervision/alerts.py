"""Engagement alerts: set-based rules, raised once per cause, cleared when the cause goes.

Each rule is one query for all the programs that share thresholds (program settings),
never a loop over patients. The four rules about a patient's recent contacts (tries in a
row, pain rising, no goal, no manual work) are one query together: a single ordered pass
over the contacts of patients with a current coach (`_contact_history`), which at
national scale (100,000 active patients, 1,000,000 contacts) is a few seconds where one
correlated subquery per rule and pair took half a minute.

`scan` compares what holds now with the alerts still open: new causes are inserted (a
unique constraint keeps one open alert per cause even when two scans run at once), and
open alerts whose cause has gone resolve themselves.

Thresholds (``Program.alert_settings`` overrides these defaults):

====================  =======  ===============================================
setting               default  rule
====================  =======  ===============================================
``overdue_days``      7        a planned contact's window ended this long ago
``failed_attempts``   3        this many tries in a row without reaching them
``inactive_days``     21       a coach with patients logged nothing this long
``pain_contacts``     3        pain rose at each of this many reached contacts
``goal_by_contact``   3        this many reached contacts and still no goal
``no_curriculum``     3        this many reached contacts in a row with no manual work
``assessment_days``   3        a questionnaire's window closed this long ago unanswered
====================  =======  ===============================================
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Exists, F, IntegerField, OuterRef, Q, Sum, Value, When, Window
from django.db.models.expressions import RowRange
from django.utils import timezone

from peercoach.coaching.models import Contact, Goal, Outcome, PlannedContact, PlannedStatus
from peercoach.core.models import Role, RoleAssignment
from peercoach.matching.models import Match
from peercoach.people.models import Patient
from peercoach.programs.models import Program

from .models import Alert, AlertKind, AlertStatus, Severity

DEFAULTS: dict[str, int] = {
    "overdue_days": 7, "failed_attempts": 3, "inactive_days": 21, "pain_contacts": 3,
    "goal_by_contact": 3, "no_curriculum": 3, "assessment_days": 3,
}


def thresholds(program: Program) -> dict[str, int]:
    values = dict(DEFAULTS)
    for name, value in (program.alert_settings or {}).items():
        if name in DEFAULTS and isinstance(value, int) and value > 0:
            values[name] = value
    return values


@dataclass(frozen=True)
class Cause:
    kind: str
    severity: int
    site_id: int
    summary: str
    patient_id: int | None = None
    coach_id: int | None = None

    @property
    def key(self) -> str:
        who = f"patient:{self.patient_id}" if self.patient_id else f"coach:{self.coach_id}"
        return f"{self.kind}:{who}"


def _contact_history(programs: Any, t: dict[str, int]) -> Iterator[Cause]:
    """Tries in a row, pain rising, no goal and no manual work, in one query.

    Each patient's contacts, newest first, get a running count of reached contacts
    (`seen`): the contacts with `seen` 0 are the tries since the patient was last
    reached, and a reached contact with `seen` i is the i-th latest reached one. Grouped
    by patient, that gives the tries in a row and the pain and manual share of the last
    few reached contacts; the rules are then plain comparisons. The ordered pass reads
    the covering index `supervision_contact_history` (migration 0006) on PostgreSQL, so
    there is no sort and no table access. Window functions: PostgreSQL, SQLite >= 3.25.
    """
    n = max(t["pain_contacts"], 2)  # a rise needs two contacts
    m, k = t["no_curriculum"], t["goal_by_contact"]
    depth = max(n, m, k)
    reached = Q(outcome=Outcome.REACHED)
    pairs = Match.objects.filter(patient__program__in=programs, ended_on__isnull=True)
    history = (Contact.objects.filter(patient_id__in=pairs.values("patient_id"))
               .annotate(seen=Window(
                   Sum(Case(When(reached, then=Value(1)), default=Value(0),
                            output_field=IntegerField())),
                   partition_by=[F("patient_id")],
                   order_by=[F("occurred_at").desc(), F("id").desc()],
                   frame=RowRange(start=None, end=0)))
               .order_by()
               .values("patient_id", "outcome", "pain_today", "curriculum_percent", "seen"))
    inner, inner_params = history.query.sql_with_params()
    latest: list[str] = []
    for i in range(1, depth + 1):
        for column, name in (("pain_today", "pain"), ("curriculum_percent", "cur")):
            latest.append(f"MAX(CASE WHEN r.seen = {i} AND r.outcome = %s "
                          f"THEN r.{column} END) AS {name}{i}")
    rising = " AND ".join(f"a.pain{i} > a.pain{i + 1}" for i in range(1, n))
    bare = " AND ".join(f"a.cur{i} = 0" for i in range(1, m + 1))
    # Only table names and numbers from range() are put in the text; values are params.
    goal = Goal._meta.db_table
    patient, program = Patient._meta.db_table, Program._meta.db_table
    no_goal = (f"a.reached >= %s AND NOT EXISTS (SELECT 1 FROM {goal} g "  # noqa: S608
               "WHERE g.patient_id = a.patient_id)")
    sql = f"""
        SELECT a.patient_id, pr.site_id, a.tries,
               CASE WHEN {rising} THEN 1 ELSE 0 END,
               CASE WHEN {no_goal} THEN 1 ELSE 0 END,
               CASE WHEN {bare} THEN 1 ELSE 0 END
        FROM (SELECT r.patient_id, MAX(r.seen) AS reached,
                     SUM(CASE WHEN r.seen = 0 THEN 1 ELSE 0 END) AS tries,
                     {", ".join(latest)}
              FROM ({inner}) r
              WHERE r.seen <= %s
              GROUP BY r.patient_id) a
        JOIN {patient} p ON p.id = a.patient_id
        JOIN {program} pr ON pr.id = p.program_id
        WHERE a.tries >= %s OR ({rising}) OR ({no_goal}) OR ({bare})"""  # noqa: S608
    params = [k, *[Outcome.REACHED] * (2 * depth), *inner_params, depth,
              t["failed_attempts"], k]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    for patient_id, site_id, tries, is_rising, has_no_goal, is_bare in rows:
        if tries >= t["failed_attempts"]:
            yield Cause(AlertKind.FAILED_ATTEMPTS, Severity.MEDIUM, site_id,
                        f"{tries} tries in a row without reaching the patient.",
                        patient_id=patient_id)
        if is_rising:
            yield Cause(AlertKind.PAIN_RISING, Severity.MEDIUM, site_id,
                        f"Pain went up at each of the last {n} contacts.",
                        patient_id=patient_id)
        if has_no_goal:
            yield Cause(AlertKind.NO_GOAL, Severity.LOW, site_id,
                        f"{k} contacts and still no goal.", patient_id=patient_id)
        if is_bare:
            yield Cause(AlertKind.NO_CURRICULUM, Severity.LOW, site_id,
                        f"The last {m} contacts had no manual work at all.",
                        patient_id=patient_id)


def causes(programs: Any, t: dict[str, int], today: dt.date) -> Iterator[Cause]:
    """Every cause that holds now in `programs` (which share the thresholds `t`).

    One query per rule for all of them together: at national scale (100,000 patients,
    1,000,000 contacts) the whole scan takes seconds, not a query per program or patient.
    """
    pairs = Match.objects.filter(patient__program__in=programs, ended_on__isnull=True)

    overdue = (PlannedContact.objects
               .filter(plan__patient__program__in=programs, plan__ended_on__isnull=True,
                       status=PlannedStatus.PLANNED,
                       window_end__lt=today - dt.timedelta(days=t["overdue_days"]),
                       plan__patient__matches__ended_on__isnull=True)
               .values_list("plan__patient_id", "plan__patient__program__site_id").distinct())
    for patient_id, site_id in overdue:
        yield Cause(AlertKind.CONTACT_OVERDUE, Severity.MEDIUM, site_id,
                    f"A planned contact is more than {t['overdue_days']} days overdue.",
                    patient_id=patient_id)

    yield from _contact_history(programs, t)

    since = timezone.make_aware(dt.datetime.combine(
        today - dt.timedelta(days=t["inactive_days"]), dt.time.min))
    recent = Contact.objects.filter(coach_id=OuterRef("coach_id"), occurred_at__gte=since)
    quiet = (pairs.filter(started_on__lte=today - dt.timedelta(days=t["inactive_days"]))
             .annotate(active=Exists(recent)).filter(active=False)
             .values_list("coach_id", "coach__program__site_id").distinct())
    for coach_id, site_id in quiet:
        yield Cause(AlertKind.COACH_INACTIVE, Severity.MEDIUM, site_id,
                    f"No contact logged for {t['inactive_days']} days.", coach_id=coach_id)

    # Outcomes missing at a time point are lost for good once the window is long past, so
    # staff are told while a phone call can still catch them.
    from peercoach.assessments.models import OPEN_STATUSES, Assessment

    late = (Assessment.objects
            .filter(patient__program__in=programs, status__in=OPEN_STATUSES,
                    closes_on__lt=today - dt.timedelta(days=t["assessment_days"]))
            .values_list("patient_id", "patient__program__site_id").distinct())
    for patient_id, site_id in late:
        yield Cause(AlertKind.ASSESSMENT_OVERDUE, Severity.MEDIUM, site_id,
                    f"A questionnaire's window closed more than {t['assessment_days']} days "
                    "ago without answers.", patient_id=patient_id)


def _owners() -> dict[int, int]:
    """Site -> the user who owns its alerts: a supervisor, else a coordinator."""
    owners: dict[int, int] = {}
    for role in (Role.COORDINATOR, Role.SUPERVISOR):  # supervisors win
        for site_id, user_id in RoleAssignment.objects.filter(
                role=role, ended_at__isnull=True).order_by("id").values_list("site_id",
                                                                             "user_id"):
            owners[site_id] = user_id
    return owners


@dataclass
class ScanResult:
    raised: int
    resolved: int
    still_open: int


SCANNED_KINDS = [k for k in AlertKind.values if k != AlertKind.HELP_REQUEST]


def _insert(new: list[Cause], *, owners: dict[int, int], now: dt.datetime) -> None:
    """Insert an open alert per cause, skipping causes already open (the unique
    constraint decides, so two scans at once raise each cause once).

    On PostgreSQL in one statement from arrays (`INSERT ... SELECT FROM unnest(...)`):
    the first scan of a national deployment raises some 60,000 alerts, which
    `bulk_create` takes about three times as long to build and bind. Elsewhere (SQLite)
    `bulk_create`.
    """
    if not new:
        return
    per_row: dict[str, list[Any]] = {
        "kind": [c.kind for c in new], "severity": [c.severity for c in new],
        "site_id": [c.site_id for c in new], "patient_id": [c.patient_id for c in new],
        "coach_id": [c.coach_id for c in new],
        "owner_id": [owners.get(c.site_id) for c in new],
        "cause": [c.key for c in new], "summary": [c.summary for c in new]}
    if connection.vendor != "postgresql":
        Alert.objects.bulk_create(
            [Alert(raised_at=now, **{name: values[i] for name, values in per_row.items()})
             for i in range(len(new))], ignore_conflicts=True, batch_size=2000)
        return
    q = connection.ops.quote_name
    columns: list[str] = []
    select: list[str] = []
    constants: list[Any] = []
    arrays: list[list[Any]] = []
    unnested: list[str] = []  # "%s::type[]", in the order of `arrays`
    aliases: list[str] = []
    for field in Alert._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(q(str(field.column)))
        if field.attname in per_row:
            select.append(f"t.{q(field.attname)}")
            aliases.append(q(field.attname))
            arrays.append(per_row[field.attname])
            unnested.append(f"%s::{field.db_type(connection)}[]")
        else:  # raised_at, and every other column at its default (status open, ...)
            value = now if field.attname == "raised_at" else field.get_default()
            select.append("%s")
            constants.append(field.get_db_prep_save(value, connection))
    assert len(arrays) == len(per_row), "a cause field is not a column of Alert"
    sql = (f"INSERT INTO {q(Alert._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
           f"SELECT {', '.join(select)} FROM unnest({', '.join(unnested)}) "
           f"AS t({', '.join(aliases)}) ON CONFLICT DO NOTHING")
    with connection.cursor() as cursor:
        cursor.execute(sql, [*constants, *arrays])


def scan(now: dt.datetime | None = None) -> ScanResult:
    """Raise alerts for new causes and resolve those whose cause has cleared."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    found: dict[str, Cause] = {}
    groups: dict[tuple[tuple[str, int], ...], list[int]] = {}
    for program in Program.objects.filter(is_active=True).only("id", "alert_settings"):
        groups.setdefault(tuple(sorted(thresholds(program).items())), []).append(program.pk)
    for settings_, program_ids in groups.items():
        for cause in causes(program_ids, dict(settings_), today):
            found[cause.key] = cause
    owners = _owners()
    with transaction.atomic():
        open_alerts = dict(Alert.objects.filter(kind__in=SCANNED_KINDS)
                           .exclude(status=AlertStatus.RESOLVED).values_list("cause", "id"))
        cleared = [pk for cause, pk in open_alerts.items() if cause not in found]
        Alert.objects.filter(pk__in=cleared).update(
            status=AlertStatus.RESOLVED, resolved_at=now,
            resolution="Cleared by itself: the cause has gone.")
        new = [c for key, c in found.items() if key not in open_alerts]
        # Another scan may have raised the same causes a moment ago: skip, never duplicate.
        _insert(new, owners=owners, now=now)
    still = Alert.objects.filter(kind__in=SCANNED_KINDS).exclude(
        status=AlertStatus.RESOLVED).count()
    return ScanResult(raised=len(new), resolved=len(cleared), still_open=still)
