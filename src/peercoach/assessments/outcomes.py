"""Outcome reports: change from baseline per program, site or coach.

The statistics at the top need no Django, so researchers can call them on their own data:

* ``summarize(differences, improved)``: n, the mean change with a 95% confidence interval
  from the t distribution (``scipy.stats.t``), and the share with a clinically important
  improvement with a 95% Wilson score interval (``scipy.stats.binomtest(...)
  .proportion_ci(method="wilson")``). Below two patients there is not enough data for
  either interval, and the report says so.
* ``longest_coach(matches, start, end)``: the coach who coached a patient longest during
  the program, from the dated pair history. Analyses cluster by coach (IMPPRESS found
  ICC 0.28-0.56), so each patient counts toward exactly one coach.

``report(user, ...)`` gathers the numbers for a page with a fixed number of set-based
queries (one ``values()`` of baseline and follow-up totals, one of the pair history, one
of coach labels), whatever the number of patients.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import instruments, scoring

#: Below this many patients with both answers, no interval is computed.
MIN_N = 2
CONFIDENCE = 0.95
NOT_ENOUGH = "Not enough data"
ATTRIBUTION_RULE = (
    "Each patient counts toward the coach who coached them longest during the program "
    "(from enrollment to the end of the program length, using the dated pair history; "
    "a tie goes to the earlier coach). Patients who never had a coach are shown as "
    "\u201cNo coach\u201d.")
GROUPINGS = {"program": "Program", "site": "Site", "coach": "Coach"}


@dataclass(frozen=True)
class Summary:
    n: int
    mean_change: float | None
    ci_low: float | None
    ci_high: float | None
    improved: int
    share: float | None
    share_low: float | None
    share_high: float | None

    @property
    def enough(self) -> bool:
        return self.n >= MIN_N


def summarize(differences: Sequence[float], improved: Sequence[bool]) -> Summary:
    """Mean change with a t-based 95% CI, and the improved share with a Wilson 95% CI."""
    if len(differences) != len(improved):
        raise ValueError("differences and improved must have the same length")
    n = len(differences)
    k = sum(1 for flag in improved if flag)
    if n < MIN_N:
        mean = float(differences[0]) if n == 1 else None
        return Summary(n=n, mean_change=mean, ci_low=None, ci_high=None, improved=k,
                       share=(k / n if n else None), share_low=None, share_high=None)
    # scipy takes about a second to import; loading it here keeps it out of the URL map
    # (the report views import this module for its groupings).
    from scipy import stats

    values = [float(d) for d in differences]
    mean = math.fsum(values) / n
    sem = float(stats.sem(values))
    if sem == 0:
        # Every patient changed by the same amount: the interval has no width.
        low, high = mean, mean
    else:
        low, high = (float(v) for v in stats.t.interval(CONFIDENCE, n - 1, loc=mean,
                                                        scale=sem))
    wilson = stats.binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE,
                                                 method="wilson")
    return Summary(n=n, mean_change=mean, ci_low=low, ci_high=high, improved=k, share=k / n,
                   share_low=float(wilson.low), share_high=float(wilson.high))


@dataclass(frozen=True)
class Spell:
    """One pair of the history: a coach from ``started_on`` to ``ended_on`` (None: now)."""

    coach_id: int
    started_on: dt.date
    ended_on: dt.date | None


def longest_coach(spells: Iterable[Spell], start: dt.date | None, end: dt.date | None,
                  today: dt.date) -> int | None:
    """The coach with the most days of coaching inside [start, end]; a tie goes to the
    coach who started first. Without any overlap, the longest pair overall counts."""
    spells = sorted(spells, key=lambda s: (s.started_on, s.coach_id))
    if not spells:
        return None

    def days(spell: Spell, lo: dt.date | None, hi: dt.date | None) -> int:
        first = max(spell.started_on, lo) if lo else spell.started_on
        last = min(spell.ended_on or today, hi) if hi else (spell.ended_on or today)
        return max(0, (last - first).days)

    for lo, hi in ((start, end), (None, None)):
        totals: dict[int, int] = {}
        first_seen: dict[int, int] = {}
        for index, spell in enumerate(spells):
            totals[spell.coach_id] = totals.get(spell.coach_id, 0) + days(spell, lo, hi)
            first_seen.setdefault(spell.coach_id, index)
        best = max(totals, key=lambda c: (totals[c], -first_seen[c]))
        if totals[best] > 0:
            return best
    return spells[0].coach_id


# --- The report (Django from here on) --------------------------------------------------


@dataclass(frozen=True)
class PatientChange:
    """One patient's change on one instrument from baseline to one follow-up."""

    patient_id: int
    study_id: str
    program_id: int
    site_id: int
    coach_id: int | None
    instrument: str
    time_point: str
    baseline: float
    followup: float
    difference: float
    important: bool


@dataclass(frozen=True)
class Row:
    group_id: int | None
    group: str
    instrument: str
    instrument_name: str
    time_point: str
    time_point_label: str
    summary: Summary


@dataclass
class Report:
    group_by: str
    rows: list[Row]
    #: Instrument code -> its rule, in words (stated on the page and in the CSV).
    rules: dict[str, str]
    changes: list[PatientChange] = field(default_factory=list)
    #: Instruments with answers but no clinically important change rule (left out).
    without_rule: list[str] = field(default_factory=list)

    @property
    def instruments_shown(self) -> list[str]:
        return list(dict.fromkeys(row.instrument for row in self.rows))


def _order(code: str) -> int:
    return list(instruments.REGISTRY).index(code) if code in instruments.REGISTRY else 999


def report(*, user: Any, group_by: str = "program", program_id: int | None = None,
           site_id: int | None = None, coach_id: int | None = None,
           instrument: str = "", time_point: str = "",
           today: dt.date | None = None) -> Report:
    """The outcome report for the patients `user` may report on (sites in scope)."""
    from django.db.models import Q
    from django.utils import timezone

    from peercoach.core.policy import Perm, patients_for, with_identified_flag
    from peercoach.matching.models import Match
    from peercoach.people.models import Coach

    from .models import Assessment, AssessmentStatus

    if group_by not in GROUPINGS:
        group_by = "program"
    today = today or timezone.localdate()
    patients = patients_for(user, Perm.OUTCOME_REPORT)
    if program_id:
        patients = patients.filter(program_id=program_id)
    if site_id:
        patients = patients.filter(program__site_id=site_id)
    baseline_q = Q(time_point__before_first_contact=True) | Q(time_point__day=0)
    answers = Assessment.objects.filter(
        patient__in=patients.values("pk"), status=AssessmentStatus.SUBMITTED,
        total__isnull=False, time_point__isnull=False)
    if instrument:
        answers = answers.filter(instrument=instrument)
    if time_point:
        answers = answers.filter(baseline_q | Q(time_point__key=time_point))
    rows = list(answers.values_list(
        "patient_id", "patient__study_id", "patient__program_id", "patient__program__site_id",
        "patient__program__name", "patient__program__site__name", "patient__enrolled_on",
        "patient__program__program_length_days", "instrument", "total", "time_point__key",
        "time_point__label", "time_point__day", "time_point__before_first_contact"))

    # Baseline and follow-up totals per patient and instrument.
    baselines: dict[tuple[int, str], tuple[int, float]] = {}
    followups: dict[tuple[int, str], dict[str, float]] = defaultdict(dict)
    facts: dict[int, tuple[str, int, int, dt.date | None, int]] = {}
    labels: dict[str, tuple[str, int]] = {}
    names: dict[str, dict[int, str]] = {"program": {}, "site": {}}
    without_rule: set[str] = set()
    for (pid, study_id, prog, site, prog_name, site_name, enrolled, length, code, total,
         key, label, day, before) in rows:
        facts[pid] = (study_id, prog, site, enrolled, length)
        names["program"][prog] = prog_name
        names["site"][site] = site_name
        if total is None:
            continue
        if not scoring.has_change_rule(code):
            without_rule.add(code)
            continue
        if before or day == 0:
            current = baselines.get((pid, code))
            if current is None or day < current[0]:
                baselines[(pid, code)] = (day, float(total))
        else:
            followups[(pid, code)][key] = float(total)
            labels.setdefault(key, (label, day))

    # Coach attribution: one query of the pair history of these patients.
    spells: dict[int, list[Spell]] = defaultdict(list)
    history = Match.objects.filter(patient__in=patients.values("pk")).values_list(
        "patient_id", "coach_id", "started_on", "ended_on")
    for pid, cid, started, ended in history:
        spells[pid].append(Spell(cid, started, ended))
    coach_of: dict[int, int | None] = {}
    for pid, (_, _, _, enrolled, length) in facts.items():
        end = enrolled + dt.timedelta(days=length) if enrolled else None
        coach_of[pid] = longest_coach(spells.get(pid, []), enrolled, end, today)

    changes: list[PatientChange] = []
    for (pid, code), (_, base) in baselines.items():
        coach = coach_of.get(pid)
        if coach_id and coach != coach_id:
            continue
        study_id, prog, site, _, _ = facts[pid]
        for key, total in followups.get((pid, code), {}).items():
            result = scoring.change(code, base, total)
            changes.append(PatientChange(
                patient_id=pid, study_id=study_id, program_id=prog, site_id=site,
                coach_id=coach, instrument=code, time_point=key, baseline=base,
                followup=total, difference=result.difference,
                important=result.important_improvement))

    group_names = _group_names(group_by, names, {c.coach_id for c in changes}, user, Coach,
                               with_identified_flag)
    grouped: dict[tuple[str, str, int | None], list[PatientChange]] = defaultdict(list)
    overall: dict[tuple[str, str], list[PatientChange]] = defaultdict(list)
    for change in changes:
        group = {"program": change.program_id, "site": change.site_id,
                 "coach": change.coach_id}[group_by]
        grouped[(change.instrument, change.time_point, group)].append(change)
        overall[(change.instrument, change.time_point)].append(change)

    out: list[Row] = []
    for (code, key), members in sorted(overall.items(),
                                       key=lambda item: (_order(item[0][0]),
                                                         labels[item[0][1]][1])):
        groups = sorted(((g, m) for (c, k, g), m in grouped.items() if (c, k) == (code, key)),
                        key=lambda gm: (gm[0] is None, group_names.get(gm[0], "")))
        name = instruments.get(code).short_name
        label = labels[key][0]
        if len(groups) > 1:
            out.append(Row(group_id=None, group="All patients", instrument=code,
                           instrument_name=name, time_point=key, time_point_label=label,
                           summary=_summary_of(members)))
        for group, group_members in groups:
            out.append(Row(group_id=group, group=group_names.get(group, "No coach"),
                           instrument=code, instrument_name=name, time_point=key,
                           time_point_label=label, summary=_summary_of(group_members)))
    rules = {code: instruments.get(code).important_change
             for code in dict.fromkeys(row.instrument for row in out)}
    return Report(group_by=group_by, rows=out, rules=rules, changes=changes,
                  without_rule=sorted(without_rule, key=_order))


def _summary_of(changes: Sequence[PatientChange]) -> Summary:
    return summarize([c.difference for c in changes], [c.important for c in changes])


def _group_names(group_by: str, names: dict[str, dict[int, str]], coach_ids: set[int | None],
                 user: Any, coach_model: Any, flag: Any) -> dict[int | None, str]:
    if group_by != "coach":
        chosen: dict[int | None, str] = {}
        for key, value in names[group_by].items():
            chosen[key] = value
        return chosen
    ids = [c for c in coach_ids if c is not None]
    if not ids:
        return {}
    # Researchers see coaches' study ids, never their names.
    coaches = flag(coach_model.objects.filter(pk__in=ids), user, kind="coach").values_list(
        "pk", "study_id", "first_name", "preferred_name", "last_name", "identified")
    return {pk: (f"{preferred or first} {last}".strip() if identified else f"Coach {study}")
            for pk, study, first, preferred, last, identified in coaches}
