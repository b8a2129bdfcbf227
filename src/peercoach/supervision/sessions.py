"""Supervision calls, tips and wellbeing: schedule arithmetic and every scoped read.

Scope (on top of the policy's permission check):
- staff reach the sessions, tips and wellbeing checks of their sites' programs;
- a coach reaches the group calls and tips of their own program, their own one-to-one
  check-ins, and their own wellbeing checks (nobody else's).

Lookups of one record answer 404 for both "missing" and "not yours".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Exists, F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from peercoach.core.models import Role
from peercoach.core.policy import Actor, Perm, actor_for, is_id

from .models import (
    GroupSchedule,
    SessionAttendance,
    SupervisionKind,
    SupervisionSession,
    Tip,
    WellbeingCheck,
)

#: How far back the dashboard's "supervision attendance" looks.
ATTENDANCE_WINDOW_DAYS = 90

# --- Schedule arithmetic (pure) --------------------------------------------------------


def occurrences(*, starts_on: dt.date, weekday: int, every_weeks: int, start: dt.date,
                end: dt.date, ends_on: dt.date | None = None) -> list[dt.date]:
    """The dates of a schedule's calls between `start` and `end` (both included).

    The first call is the first `weekday` on or after `starts_on`; then every
    `every_weeks` weeks, never after `ends_on`.
    """
    if every_weeks < 1:
        raise ValueError("every_weeks must be at least 1")
    first = starts_on + dt.timedelta(days=(weekday - starts_on.weekday()) % 7)
    last = min(end, ends_on) if ends_on else end
    step = 7 * every_weeks
    if start > first:
        # Jump to the first call on or after `start` without walking every week.
        first += dt.timedelta(days=-(-(start - first).days // step) * step)
    found = []
    day = first
    while day <= last:
        found.append(day)
        day += dt.timedelta(days=step)
    return found


def local_start(day: dt.date, at: dt.time, tz_name: str) -> dt.datetime:
    """`day` at `at` on the site's wall clock, as an aware datetime (DST-correct)."""
    return dt.datetime.combine(day, at, tzinfo=ZoneInfo(tz_name))


# --- Scope -----------------------------------------------------------------------------


def _coach_program(actor: Actor) -> Any:
    from peercoach.people.models import Coach

    return Coach.objects.filter(pk=actor.coach_id or 0).values("program_id")


def _is_coach(actor: Actor, perm: Perm) -> bool:
    return Role.COACH in actor.roles_with(perm) and actor.coach_id is not None


def _any(clauses: list[Q]) -> Q | None:
    if not clauses:
        return None
    combined = clauses[0]
    for clause in clauses[1:]:
        combined |= clause
    return combined


def _sites_or_own_q(user: Any, perm: Perm, *, site_field: str,
                    own: Callable[[Actor], list[Q]]) -> Q | None:
    """Rows whose `site_field` is one of the user's sites for `perm`, or, for a coach, rows
    matching one of `own(actor)` (None: nothing in scope)."""
    actor = actor_for(user)
    clauses = []
    sites = actor.sites_with(perm)
    if sites:
        clauses.append(Q(**{f"{site_field}__in": sites}))
    if _is_coach(actor, perm):
        clauses.extend(own(actor))
    return _any(clauses)


def session_scope_q(user: Any, perm: Perm = Perm.SUPERVISION_JOIN) -> Q | None:
    return _sites_or_own_q(user, perm, site_field="program__site_id", own=lambda actor: [
        Q(kind=SupervisionKind.GROUP, program_id__in=_coach_program(actor)),
        Q(kind=SupervisionKind.INDIVIDUAL, coach_id=actor.coach_id)])


def sessions_for(user: Any, perm: Perm = Perm.SUPERVISION_JOIN) -> QuerySet[SupervisionSession]:
    scope = session_scope_q(user, perm)
    if scope is None:
        return SupervisionSession.objects.none()
    return SupervisionSession.objects.filter(scope)


def with_list_columns(qs: QuerySet[SupervisionSession], user: Any
                      ) -> QuerySet[SupervisionSession]:
    """What the lists show, in the one query: who came, tips shared, and for a coach
    whether they were there."""
    coach_id = actor_for(user).coach_id
    qs = qs.select_related("program", "coach", "supervisor").annotate(
        attended_count=_count(SessionAttendance.objects.filter(session=OuterRef("pk"),
                                                               attended=True)),
        tip_count=_count(Tip.objects.filter(session=OuterRef("pk"))))
    if coach_id is not None:
        mine = SessionAttendance.objects.filter(session=OuterRef("pk"), coach_id=coach_id)
        qs = qs.annotate(i_attended=Exists(mine.filter(attended=True)),
                         i_missed=Exists(mine.filter(attended=False)))
    return qs


def get_session(user: Any, pk: Any, perm: Perm = Perm.SUPERVISION_JOIN) -> SupervisionSession:
    found = (sessions_for(user, perm).select_related("program__site", "coach", "supervisor")
             .filter(pk=pk).first() if is_id(pk) else None)
    if found is None:
        raise Http404("No such supervision session.")
    return found


def schedules_for(user: Any) -> QuerySet[GroupSchedule]:
    sites = actor_for(user).sites_with(Perm.SUPERVISION_MANAGE)
    return GroupSchedule.objects.filter(program__site_id__in=sites)


def get_schedule(user: Any, pk: Any) -> GroupSchedule:
    found = (schedules_for(user).select_related("program__site").filter(pk=pk).first()
             if is_id(pk) else None)
    if found is None:
        raise Http404("No such schedule.")
    return found


def tip_scope_q(user: Any, perm: Perm = Perm.SUPERVISION_JOIN) -> Q | None:
    return _sites_or_own_q(user, perm, site_field="program__site_id", own=lambda actor: [
        Q(program_id__in=_coach_program(actor))])


def tips_for(user: Any) -> QuerySet[Tip]:
    scope = tip_scope_q(user)
    if scope is None:
        return Tip.objects.none()
    return Tip.objects.filter(scope).select_related("author", "author_coach", "session",
                                                    "program")


def wellbeing_for(user: Any, perm: Perm = Perm.WELLBEING_VIEW) -> QuerySet[WellbeingCheck]:
    scope = _sites_or_own_q(user, perm, site_field="coach__program__site_id",
                            own=lambda actor: [Q(coach_id=actor.coach_id)])
    if scope is None:
        return WellbeingCheck.objects.none()
    return WellbeingCheck.objects.filter(scope).select_related("coach")


# --- The dashboard's attendance column ----------------------------------------------------


class _Count(Func):
    function = "COUNT"
    template = "%(function)s(*)"
    output_field = IntegerField()


def _count(qs: QuerySet[Any]) -> Any:
    """A correlated COUNT(*) subquery (0 when nothing matches)."""
    return Coalesce(Subquery(qs.order_by().annotate(n=_Count()).values("n")[:1]), 0)


def with_supervision_attendance(coaches: QuerySet[Any], now: dt.datetime | None = None
                                ) -> QuerySet[Any]:
    """Annotate `supervision_held` (group calls of the coach's program and their own
    check-ins in the last 90 days, not cancelled) and `supervision_attended`.

    Subqueries, not joins: the dashboard already counts matches and contacts by join, and
    another join would multiply those rows.
    """
    now = now or timezone.now()
    since = now - dt.timedelta(days=ATTENDANCE_WINDOW_DAYS)
    held = SupervisionSession.objects.filter(
        Q(kind=SupervisionKind.GROUP, program_id=OuterRef("program_id"))
        | Q(kind=SupervisionKind.INDIVIDUAL, coach_id=OuterRef("pk")),
        starts_at__gte=since, starts_at__lte=now, cancelled=False)
    attended = SessionAttendance.objects.filter(
        coach_id=OuterRef("pk"), attended=True, session__starts_at__gte=since,
        session__starts_at__lte=now, session__cancelled=False)
    return coaches.annotate(supervision_held=_count(held),
                            supervision_attended=_count(attended))


def upcoming(qs: QuerySet[SupervisionSession], now: dt.datetime | None = None
             ) -> QuerySet[SupervisionSession]:
    now = now or timezone.now()
    return qs.filter(starts_at__gte=now - dt.timedelta(hours=2)).order_by("starts_at", "id")


def past(qs: QuerySet[SupervisionSession], now: dt.datetime | None = None
         ) -> QuerySet[SupervisionSession]:
    now = now or timezone.now()
    return qs.filter(starts_at__lt=now - dt.timedelta(hours=2)).order_by(
        F("starts_at").desc(), "-id")
