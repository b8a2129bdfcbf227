"""Fidelity and dose: is the coaching delivered as the protocol planned, while the study runs?

Counted per pair, per coach, per site and per arm, for the patients randomized into a
study, with these definitions (the page and the CSV state them too):

* **planned**: the patient's planned contacts (the contact plan made when they were first
  paired: the protocol's dose, ECLIPSE 12, IMPPRESS 8), including those cancelled when
  the patient left early. A planned contact belongs to the pair that was running on its
  due date. **Due so far**: planned contacts that were done, or whose window has closed.
* **reached**: contacts in which the coach reached the patient. **Completion** is
  reached / planned (more than 100% when pairs talked more than planned).
* **on time**: reached contacts that fulfilled a planned contact inside that contact's
  window (the contact log links each reached contact to the planned one it fulfils; a
  late one still fulfils it, just not on time). **On-time share** = on time / reached.
  Example: 8 planned, 5 reached of which 4 inside their windows: completion 5/8,
  on-time share 80%.
* **manual sections covered**: the distinct manual sections (1 to 8) ticked in the
  reached contacts: per pair, and as a mean per patient for coaches, sites and arms.
* **goals set**: goals set by the patient (a revision of a goal is not a new goal).
* **curriculum share**: the mean of the coach's estimate, in each reached contact, of the
  share of the talk spent on the manual and goals (the rest was social).
* **supervision attendance**: supervision calls the coach attended out of those with
  attendance recorded for them, since the study started (cancelled calls left out).
* **dose**: the reached contacts each patient received, summarised per arm (median,
  quartiles, and the share who reached the protocol's number; ECLIPSE: only 13% had 12).

`build(study)` runs seven queries whatever the study's size; `compute` does the counting
on plain tuples and needs no database.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

DEFINITIONS: list[tuple[str, str]] = [
    ("Planned", "The patient's planned contacts (the protocol's dose), cancelled ones "
                "included; each belongs to the pair running on its due date."),
    ("Due so far", "Planned contacts already done, or whose window has closed."),
    ("Reached", "Contacts in which the coach reached the patient."),
    ("Completion", "Reached contacts divided by planned contacts."),
    ("On time", "Reached contacts that fulfilled a planned contact inside its window; the "
                "on-time share is on time divided by reached."),
    ("Sections", "Distinct manual sections (of 8) covered in reached contacts; for coaches, "
                 "sites and arms, the mean per patient."),
    ("Goals", "Goals the patient set (revisions are not counted again)."),
    ("Curriculum share", "Mean share of each reached contact spent on the manual and goals, "
                         "as the coach estimated it (the rest was social)."),
    ("Supervision", "Supervision calls the coach attended, of those recorded for them since "
                    "the study started."),
    ("Dose", "Reached contacts per patient: median (quartiles), and the share who reached "
             "the protocol's number of contacts."),
]


@dataclass
class Tally:
    """Sums for one pair, coach, site or arm; the shares are worked out from them."""

    planned: int = 0
    due: int = 0
    reached: int = 0
    on_time: int = 0
    #: Sum of distinct sections covered, over `units` pairs or patients.
    sections: int = 0
    units: int = 0
    goals: int = 0
    curriculum_sum: float = 0.0
    curriculum_n: int = 0
    supervision_attended: int = 0
    supervision_recorded: int = 0
    patients: set[int] = field(default_factory=set)

    def add(self, other: Tally) -> None:
        self.planned += other.planned
        self.due += other.due
        self.reached += other.reached
        self.on_time += other.on_time
        self.sections += other.sections
        self.units += other.units
        self.goals += other.goals
        self.curriculum_sum += other.curriculum_sum
        self.curriculum_n += other.curriculum_n
        self.patients |= other.patients

    @property
    def n_patients(self) -> int:
        return len(self.patients)

    @property
    def completion(self) -> float | None:
        return self.reached / self.planned if self.planned else None

    @property
    def on_time_share(self) -> float | None:
        return self.on_time / self.reached if self.reached else None

    @property
    def sections_mean(self) -> float | None:
        return self.sections / self.units if self.units else None

    @property
    def curriculum_mean(self) -> float | None:
        return self.curriculum_sum / self.curriculum_n if self.curriculum_n else None

    @property
    def supervision_share(self) -> float | None:
        if not self.supervision_recorded:
            return None
        return self.supervision_attended / self.supervision_recorded

    # For pages: the shares as text ("no data" as a dash).

    @property
    def completion_text(self) -> str:
        return _pct(self.completion)

    @property
    def on_time_text(self) -> str:
        return _pct(self.on_time_share)

    @property
    def sections_text(self) -> str:
        return "\u2014" if self.sections_mean is None else f"{self.sections_mean:.1f}"

    @property
    def curriculum_text(self) -> str:
        return "\u2014" if self.curriculum_mean is None else f"{self.curriculum_mean:.0f}%"

    @property
    def supervision_text(self) -> str:
        if not self.supervision_recorded:
            return "\u2014"
        return (f"{self.supervision_attended} of {self.supervision_recorded} "
                f"({_pct(self.supervision_share)})")


def _pct(value: float | None) -> str:
    return "\u2014" if value is None else f"{value:.0%}"


@dataclass
class PairRow:
    match_id: int
    patient_id: int
    coach_id: int
    arm_id: int | None
    site_id: int
    started_on: dt.date
    ended_on: dt.date | None
    tally: Tally


@dataclass
class GroupRow:
    """A coach, a site or an arm."""

    key: int
    name: str
    tally: Tally
    pairs: int = 0


@dataclass(frozen=True)
class PatientDose:
    patient_id: int
    arm_id: int | None
    site_id: int
    planned: int
    due: int
    reached: int
    on_time: int
    sections: int
    goals: int


@dataclass(frozen=True)
class DoseSummary:
    arm_id: int
    name: str
    n: int
    mean: float | None
    median: float | None
    q1: float | None
    q3: float | None
    #: Patients who had at least `target` reached contacts.
    at_target: int
    target: int

    @property
    def at_target_share(self) -> float | None:
        return self.at_target / self.n if self.n else None

    @property
    def text(self) -> str:
        if not self.n or self.median is None:
            return "\u2014"
        return f"{self.median:.0f} ({self.q1:.0f} to {self.q3:.0f})"

    @property
    def at_target_text(self) -> str:
        return f"{self.at_target} of {self.n} ({_pct(self.at_target_share)})"


@dataclass
class Fidelity:
    pairs: list[PairRow]
    coaches: list[GroupRow]
    sites: list[GroupRow]
    arms: list[GroupRow]
    patients: list[PatientDose]
    doses: list[DoseSummary]
    overall: Tally
    target: int
    n_sections: int
    counted_on: dt.date
    definitions: list[tuple[str, str]] = field(default_factory=lambda: list(DEFINITIONS))


# --- The counting (no database) -----------------------------------------------------------


@dataclass(frozen=True)
class Facts:
    """Everything `compute` needs, as plain tuples."""

    #: (patient_id, arm_id, site_id, site_name)
    patients: Sequence[tuple[int, int | None, int, str]]
    #: (arm_id, name, gets_coach)
    arms: Sequence[tuple[int, str, bool]]
    #: (match_id, patient_id, coach_id, started_on, ended_on)
    matches: Sequence[tuple[int, int, int, dt.date, dt.date | None]]
    #: (patient_id, status, due_on, window_start, window_end, fulfilled by match_id,
    #:  fulfilled on (local date))
    planned: Sequence[tuple[int, str, dt.date, dt.date, dt.date, int | None, dt.date | None]]
    #: Reached contacts: (patient_id, match_id, day, sections, curriculum_percent)
    contacts: Sequence[tuple[int, int, dt.date, Sequence[str], int | None]]
    #: Goals: (patient_id, match_id it was set in or None, day set)
    goals: Sequence[tuple[int, int | None, dt.date]]
    #: Supervision attendance: (coach_id, attended)
    attendance: Sequence[tuple[int, bool]]
    section_keys: frozenset[str]
    target: int
    today: dt.date


def _pair_on(spells: Sequence[tuple[int, dt.date, dt.date | None]], day: dt.date) -> int | None:
    """The pair running on `day`; before the first, the first; after all ended, the last
    one that had started."""
    if not spells:
        return None
    for match_id, start, end in spells:
        if start <= day and (end is None or day <= end):
            return match_id
    started = [s for s in spells if s[1] <= day]
    return (started[-1] if started else spells[0])[0]


def compute(facts: Facts) -> Fidelity:
    patient_arm = {pid: arm for pid, arm, _, _ in facts.patients}
    patient_site = {pid: site for pid, _, site, _ in facts.patients}
    site_names = {site: name for _, _, site, name in facts.patients}
    spells: dict[int, list[tuple[int, dt.date, dt.date | None]]] = defaultdict(list)
    pair_rows: dict[int, PairRow] = {}
    for match_id, pid, coach_id, started, ended in sorted(facts.matches,
                                                          key=lambda m: (m[3], m[0])):
        if pid not in patient_arm:
            continue
        spells[pid].append((match_id, started, ended))
        pair_rows[match_id] = PairRow(match_id, pid, coach_id, patient_arm[pid],
                                      patient_site[pid], started, ended,
                                      Tally(patients={pid}, units=1))
    per_patient: dict[int, Tally] = {pid: Tally(patients={pid}, units=1)
                                     for pid, *_ in facts.patients}

    def targets(pid: int, match_id: int | None) -> list[Tally]:
        found = [per_patient[pid]]
        if match_id is not None and match_id in pair_rows:
            found.append(pair_rows[match_id].tally)
        return found

    for pid, status, due_on, start, end, done_by, done_on in facts.planned:
        if pid not in per_patient:
            continue
        is_done = status == "done"
        for tally in targets(pid, _pair_on(spells[pid], due_on)):
            tally.planned += 1
            if is_done or end < facts.today:
                tally.due += 1
        if is_done and done_on is not None and start <= done_on <= end:
            for tally in targets(pid, done_by):
                tally.on_time += 1
    patient_sections: dict[int, set[str]] = defaultdict(set)
    pair_sections: dict[int, set[str]] = defaultdict(set)
    for pid, match_id, _day, sections, percent in facts.contacts:
        if pid not in per_patient:
            continue
        covered = {s for s in sections or () if s in facts.section_keys}
        patient_sections[pid] |= covered
        pair_sections[match_id] |= covered
        for tally in targets(pid, match_id):
            tally.reached += 1
            if percent is not None:
                tally.curriculum_sum += percent
                tally.curriculum_n += 1
    for pid, set_in, day in facts.goals:
        if pid not in per_patient:
            continue
        for tally in targets(pid, set_in if set_in is not None
                             else _pair_on(spells[pid], day)):
            tally.goals += 1
    for pid, tally in per_patient.items():
        tally.sections = len(patient_sections.get(pid, ()))
    for match_id, row in pair_rows.items():
        row.tally.sections = len(pair_sections.get(match_id, ()))

    supervision: dict[int, tuple[int, int]] = {}
    for coach_id, attended in facts.attendance:
        done, recorded = supervision.get(coach_id, (0, 0))
        supervision[coach_id] = (done + (1 if attended else 0), recorded + 1)

    def with_supervision(tally: Tally, coach_ids: Iterable[int]) -> Tally:
        for coach_id in set(coach_ids):
            done, recorded = supervision.get(coach_id, (0, 0))
            tally.supervision_attended += done
            tally.supervision_recorded += recorded
        return tally

    for row in pair_rows.values():
        with_supervision(row.tally, [row.coach_id])

    # Coaches: their study pairs added up (a patient counted once per coach).
    coach_pairs: dict[int, list[PairRow]] = defaultdict(list)
    for row in pair_rows.values():
        coach_pairs[row.coach_id].append(row)
    coaches = []
    for coach_id, rows in coach_pairs.items():
        tally = Tally()
        for row in rows:
            tally.add(row.tally)
        coaches.append(GroupRow(coach_id, "", with_supervision(tally, [coach_id]),
                                pairs=len(rows)))

    arm_names = {arm_id: name for arm_id, name, _ in facts.arms}
    coached_arms = {arm_id for arm_id, _, gets_coach in facts.arms if gets_coach}
    coaches_of_patient: dict[int, set[int]] = defaultdict(set)
    for row in pair_rows.values():
        coaches_of_patient[row.patient_id].add(row.coach_id)

    def group(key_of: Any, names: dict[int, str], keep: Any) -> list[GroupRow]:
        tallies: dict[int, Tally] = {}
        coach_ids: dict[int, set[int]] = defaultdict(set)
        pairs: dict[int, int] = defaultdict(int)
        for pid, tally in per_patient.items():
            if not keep(pid):
                continue
            key = key_of(pid)
            tallies.setdefault(key, Tally()).add(tally)
            coach_ids[key] |= coaches_of_patient.get(pid, set())
        for row in pair_rows.values():
            if keep(row.patient_id):
                pairs[key_of(row.patient_id)] += 1
        return [GroupRow(key, names.get(key, ""), with_supervision(t, coach_ids[key]),
                         pairs=pairs[key]) for key, t in tallies.items()]

    # Sites: the patients of the arms that get a coach (control patients have no pairs).
    sites = sorted(group(lambda pid: patient_site[pid], site_names,
                         lambda pid: patient_arm[pid] in coached_arms),
                   key=lambda g: g.name)
    arm_rows = group(lambda pid: patient_arm[pid], arm_names, lambda pid: True)
    order = {arm_id: i for i, (arm_id, _, _) in enumerate(facts.arms)}
    arm_rows.sort(key=lambda g: order.get(g.key, 999))
    overall = Tally()
    for site in sites:
        overall.add(site.tally)
        overall.supervision_attended += site.tally.supervision_attended
        overall.supervision_recorded += site.tally.supervision_recorded

    doses = []
    patients = []
    for pid, tally in per_patient.items():
        patients.append(PatientDose(pid, patient_arm[pid], patient_site[pid], tally.planned,
                                    tally.due, tally.reached, tally.on_time, tally.sections,
                                    tally.goals))
    for arm_id, name, _ in facts.arms:
        values = sorted(p.reached for p in patients if p.arm_id == arm_id)
        doses.append(dose_summary(arm_id, name, values, facts.target))
    return Fidelity(
        pairs=sorted(pair_rows.values(), key=lambda r: (r.started_on, r.match_id)),
        coaches=coaches, sites=sites, arms=arm_rows,
        patients=sorted(patients, key=lambda p: p.patient_id), doses=doses, overall=overall,
        target=facts.target, n_sections=len(facts.section_keys), counted_on=facts.today)


def dose_summary(arm_id: int, name: str, values: Sequence[int], target: int) -> DoseSummary:
    """Median and quartiles (the 'inclusive' method, as spreadsheets do) of reached contacts."""
    n = len(values)
    if n == 0:
        return DoseSummary(arm_id, name, 0, None, None, None, None, 0, target)
    if n == 1:
        q1 = median = q3 = float(values[0])
    else:
        q1, median, q3 = (float(q) for q in statistics.quantiles(values, n=4,
                                                                   method="inclusive"))
    return DoseSummary(arm_id, name, n, sum(values) / n, median, q1, q3,
                       sum(1 for v in values if v >= target), target)


# --- From the database ------------------------------------------------------------------------


def build(study: Any, *, today: dt.date | None = None) -> Fidelity:
    """Fidelity of `study` (seven queries; `study.program` should be loaded already)."""
    from django.utils import timezone

    from peercoach.coaching.models import Contact, Goal, Outcome, PlannedContact
    from peercoach.curriculum.manual import patient_sections
    from peercoach.matching.models import Match
    from peercoach.supervision.models import SessionAttendance

    from .models import Allocation

    today = today or timezone.localdate()
    arms = [(a.pk, a.name, a.gets_coach) for a in study.arms.order_by("id")]
    patients = list(Allocation.objects.filter(study=study).values_list(
        "patient_id", "arm_id", "patient__program__site_id", "patient__program__site__name"))
    in_study = {"patient__allocation__study": study}
    matches = list(Match.objects.filter(**in_study).values_list(
        "pk", "patient_id", "coach_id", "started_on", "ended_on"))

    def day(at: dt.datetime | None) -> dt.date | None:
        return None if at is None else timezone.localtime(at).date()

    planned = [(pid, status, due, start, end, match_id, day(at))
               for pid, status, due, start, end, match_id, at in
               PlannedContact.objects.filter(plan__patient__allocation__study=study)
               .values_list("plan__patient_id", "status", "due_on", "window_start",
                            "window_end", "contact__match_id", "contact__occurred_at")]
    contacts = [(pid, match_id, timezone.localtime(at).date(), sections, percent)
                for pid, match_id, at, sections, percent in
                Contact.objects.filter(outcome=Outcome.REACHED, **in_study)
                .values_list("patient_id", "match_id", "occurred_at", "sections",
                             "curriculum_percent")]
    goals = [(pid, match_id, timezone.localtime(at).date()) for pid, match_id, at in
             Goal.objects.filter(revised_from__isnull=True, **in_study)
             .values_list("patient_id", "set_in__match_id", "created_at")]
    start = study.started_at or study.created_at
    attendance = list(SessionAttendance.objects.filter(
        coach_id__in=Match.objects.filter(**in_study).values("coach_id"),
        session__cancelled=False, session__starts_at__gte=start)
        .values_list("coach_id", "attended"))
    return compute(Facts(
        patients=patients, arms=arms, matches=matches, planned=planned, contacts=contacts,
        goals=goals, attendance=attendance,
        section_keys=frozenset(s.key for s in patient_sections()),
        target=study.program.contacts_per_patient, today=today))
