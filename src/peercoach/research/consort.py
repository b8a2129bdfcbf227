"""The CONSORT 2010 flow of a study, counted from live data, and drawn as SVG and PDF.

Each box of the CONSORT 2010 flow diagram (Schulz, Altman, Moher; BMJ 2010;340:c332)
is counted from the records, with these definitions (also printed under the diagram):

* **Assessed for eligibility**: patients of the study's program with a screening
  recorded while the study ran (from recruiting start, or creation for a draft, to its
  close), plus anyone randomized into it.
* **Excluded**, by the patient's latest screening and where they got to:
  * *not meeting inclusion criteria*: the latest screening found them not eligible,
    counted by each reason it recorded (a patient may have several reasons, so the
    reasons can add up to more than the patients);
  * *declined to participate*: eligible, but never consented: they withdrew, or
    recruitment closed first;
  * *other reasons*: consented but never randomized: they withdrew or were lost before
    randomization, or recruitment closed first.
  Patients still on their way in (eligible and awaiting consent, or consented and
  awaiting randomization) while the study recruits are not excluded: they are shown
  apart, as *not yet randomized*, so that the boxes always add up:
  assessed = excluded + not yet randomized + randomized.
* **Randomized** and **allocated**: allocations of the study, per arm.
* **Received the allocated intervention**: in an arm with a coach, at least one contact
  in which the coach reached the patient (those who did not are split into "never
  paired with a coach" and "paired, never reached"). A control arm's intervention is
  the offer of a one-time self-management class, made at allocation, as in ECLIPSE
  (NCT02380690); PeerCoach does not record class attendance, so every control patient
  counts as having received it. A control patient reached by a coach is counted as a
  crossover.
* **Lost to follow-up**: randomized patients whose status is now "lost to follow-up".
  **Discontinued intervention**: randomized patients who withdrew.
* **Analysed** at a follow-up time point: randomized patients with a submitted
  baseline and a submitted answer at that time point on the primary outcome (the first
  questionnaire asked both at baseline and at follow-up that has a clinically important
  change rule, e.g. the PEG), analysed in the arm they were allocated to (intention to
  treat). The others are "not analysed": the questionnaire is not due yet or still open,
  or it is missing (missed, cancelled, never answered).

`build(study)` runs a fixed number of queries (eight), whatever the study's size.
`diagram(flow)` lays out the boxes once; `svg(...)` and `pdf(...)` draw that layout.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

from peercoach.people.lifecycle import PatientStatus

NO_REASON = "Not eligible (no reason recorded)"
NOT_PAIRED = "Never paired with a coach"
NOT_REACHED = "Paired, never reached"
NOT_DUE = "not due yet or still open"
MISSING = "missing"
NO_BASELINE = "no baseline"

DEFINITIONS: list[tuple[str, str]] = [
    ("Assessed for eligibility",
     "Patients of the study's program screened while the study ran (from the start of "
     "recruiting to its close), and anyone randomized into it."),
    ("Not meeting inclusion criteria",
     "The patient's latest screening found them not eligible; counted by each reason it "
     "recorded (a patient may have more than one reason)."),
    ("Declined to participate",
     "Eligible, but never consented: withdrew, or recruitment closed first."),
    ("Other reasons",
     "Consented but never randomized: withdrew or was lost first, or recruitment closed."),
    ("Not yet randomized",
     "Still on the way in while the study recruits: eligible and awaiting consent, or "
     "consented and awaiting randomization. Not excluded."),
    ("Received allocated intervention",
     "Arms with a coach: at least one contact in which the coach reached the patient. "
     "Control: the offer of the one-time class, made at allocation (class attendance is "
     "not recorded), so every control patient counts; a control patient reached by a "
     "coach is a crossover."),
    ("Lost to follow-up", "Randomized patients whose status is now lost to follow-up."),
    ("Discontinued intervention", "Randomized patients who withdrew."),
    ("Analysed",
     "Randomized patients with a submitted baseline and a submitted follow-up on the "
     "primary outcome at that time point, in the arm they were allocated to (intention "
     "to treat)."),
]


@dataclass(frozen=True)
class ArmFlow:
    arm_id: int
    code: str
    name: str
    gets_coach: bool
    allocated: int
    received: int
    #: Why the rest did not receive it (arms with a coach): reason -> patients.
    not_received: dict[str, int]
    crossovers: int
    lost: int
    discontinued: int
    #: time point key -> patients analysed there.
    analysed: dict[str, int]
    #: time point key -> {reason: patients} for the allocated patients not analysed.
    not_analysed: dict[str, dict[str, int]]

    @property
    def not_received_total(self) -> int:
        return sum(self.not_received.values())


@dataclass(frozen=True)
class Flow:
    study_title: str
    assessed: int
    not_eligible: int
    #: (reason, patients), most frequent first.
    not_eligible_reasons: list[tuple[str, int]]
    declined: int
    other_excluded: int
    awaiting: int
    randomized: int
    arms: list[ArmFlow]
    #: Follow-up time points shown: (key, label).
    time_points: list[tuple[str, str]]
    instrument: str | None
    instrument_name: str
    recruiting: bool
    counted_at: dt.datetime
    definitions: list[tuple[str, str]] = field(default_factory=lambda: list(DEFINITIONS))
    #: The records counted (RE-AIM's reach compares who was randomized with who was not).
    people: list[Person] = field(default_factory=list, repr=False)

    @property
    def excluded(self) -> int:
        return self.not_eligible + self.declined + self.other_excluded

    def rows(self) -> list[tuple[str, str, int]]:
        """Every count as (arm or "", box, n): for the CSV and the text alternative."""
        out: list[tuple[str, str, int]] = [
            ("", "Assessed for eligibility", self.assessed),
            ("", "Excluded", self.excluded),
            ("", "Not meeting inclusion criteria", self.not_eligible)]
        out += [("", f"Not eligible: {reason}", n) for reason, n in self.not_eligible_reasons]
        out += [("", "Declined to participate", self.declined),
                ("", "Other reasons", self.other_excluded),
                ("", "Not yet randomized", self.awaiting),
                ("", "Randomized", self.randomized)]
        for arm in self.arms:
            out += [(arm.name, "Allocated", arm.allocated),
                    (arm.name, "Received allocated intervention", arm.received),
                    (arm.name, "Did not receive allocated intervention",
                     arm.not_received_total)]
            out += [(arm.name, f"Did not receive: {reason}", n)
                    for reason, n in arm.not_received.items()]
            if not arm.gets_coach:
                out.append((arm.name, "Crossover: reached by a coach", arm.crossovers))
            out += [(arm.name, "Lost to follow-up", arm.lost),
                    (arm.name, "Discontinued intervention", arm.discontinued)]
            for key, label in self.time_points:
                out.append((arm.name, f"Analysed at {label}", arm.analysed.get(key, 0)))
                for reason, n in arm.not_analysed.get(key, {}).items():
                    out.append((arm.name, f"Not analysed at {label}: {reason}", n))
        return out


# --- Counting (pure) --------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """What the flow needs to know about one assessed or randomized patient."""

    patient_id: int
    status: str
    #: Latest screening: None when the patient was never screened.
    eligible: bool | None
    reasons: tuple[str, ...]
    consented: bool
    arm_id: int | None
    paired: bool = False
    reached: bool = False


@dataclass(frozen=True)
class ArmInfo:
    arm_id: int
    code: str
    name: str
    gets_coach: bool


@dataclass(frozen=True)
class Answer:
    """One primary-outcome questionnaire of a randomized patient."""

    patient_id: int
    time_point: str
    is_baseline: bool
    submitted: bool
    #: The window is still open or has not opened (not due yet).
    open_now: bool


def count(people: Iterable[Person], arms: Sequence[ArmInfo], answers: Iterable[Answer],
          time_points: Sequence[tuple[str, str]], *, recruiting: bool, title: str = "",
          instrument: str | None = None, instrument_name: str = "",
          counted_at: dt.datetime | None = None) -> Flow:
    """The flow from plain records (no database): what `build` calls, and tests can too."""
    people = list(people)
    not_eligible = declined = other = awaiting = 0
    reasons: Counter[str] = Counter()
    for person in people:
        if person.arm_id is not None:
            continue
        if person.eligible is False:
            not_eligible += 1
            reasons.update(person.reasons or (NO_REASON,))
        elif not person.consented:
            left = person.status in (PatientStatus.WITHDRAWN, PatientStatus.LOST)
            if left or not recruiting:
                declined += 1
            else:
                awaiting += 1
        else:
            left = person.status in (PatientStatus.WITHDRAWN, PatientStatus.LOST)
            if left or not recruiting:
                other += 1
            else:
                awaiting += 1

    by_patient: dict[int, dict[str, Answer]] = defaultdict(dict)
    baseline: set[int] = set()
    for answer in answers:
        if answer.is_baseline:
            if answer.submitted:
                baseline.add(answer.patient_id)
        else:
            current = by_patient[answer.patient_id].get(answer.time_point)
            if current is None or (answer.submitted and not current.submitted):
                by_patient[answer.patient_id][answer.time_point] = answer

    flows = []
    for arm in arms:
        members = [p for p in people if p.arm_id == arm.arm_id]
        not_received: dict[str, int] = {}
        crossovers = 0
        if arm.gets_coach:
            received = sum(1 for p in members if p.reached)
            never_paired = sum(1 for p in members if not p.paired)
            if never_paired:
                not_received[NOT_PAIRED] = never_paired
            silent = sum(1 for p in members if p.paired and not p.reached)
            if silent:
                not_received[NOT_REACHED] = silent
        else:
            received = len(members)
            crossovers = sum(1 for p in members if p.reached)
        analysed: dict[str, int] = {}
        not_analysed: dict[str, dict[str, int]] = {}
        for key, _ in time_points:
            n = 0
            why: Counter[str] = Counter()
            for p in members:
                found = by_patient.get(p.patient_id, {}).get(key)
                if p.patient_id not in baseline:
                    why[NO_BASELINE] += 1
                elif found is not None and found.submitted:
                    n += 1
                elif found is not None and found.open_now:
                    why[NOT_DUE] += 1
                else:
                    why[MISSING] += 1
            analysed[key] = n
            not_analysed[key] = {reason: why[reason] for reason in (NOT_DUE, MISSING,
                                                                    NO_BASELINE) if why[reason]}
        flows.append(ArmFlow(
            arm_id=arm.arm_id, code=arm.code, name=arm.name, gets_coach=arm.gets_coach,
            allocated=len(members), received=received, not_received=not_received,
            crossovers=crossovers,
            lost=sum(1 for p in members if p.status == PatientStatus.LOST),
            discontinued=sum(1 for p in members if p.status == PatientStatus.WITHDRAWN),
            analysed=analysed, not_analysed=not_analysed))
    return Flow(
        study_title=title, assessed=len(people), not_eligible=not_eligible,
        not_eligible_reasons=sorted(reasons.items(), key=lambda item: (-item[1], item[0])),
        declined=declined, other_excluded=other, awaiting=awaiting,
        randomized=sum(1 for p in people if p.arm_id is not None), arms=flows,
        time_points=list(time_points), instrument=instrument,
        instrument_name=instrument_name, recruiting=recruiting,
        counted_at=counted_at or dt.datetime.now(dt.UTC), people=people)


def pooled(flow: Flow) -> Flow:
    """The flow with the arms merged into one column (for users who may not see arms)."""
    if not flow.arms:
        return flow

    def add(dicts: Iterable[dict[str, int]]) -> dict[str, int]:
        total: Counter[str] = Counter()
        for d in dicts:
            total.update(d)
        return dict(total)

    arms = flow.arms
    merged = ArmFlow(
        arm_id=0, code="all", name="All arms", gets_coach=any(a.gets_coach for a in arms),
        allocated=sum(a.allocated for a in arms), received=sum(a.received for a in arms),
        not_received=add(a.not_received for a in arms),
        crossovers=sum(a.crossovers for a in arms), lost=sum(a.lost for a in arms),
        discontinued=sum(a.discontinued for a in arms),
        analysed=add(a.analysed for a in arms),
        not_analysed={key: add(a.not_analysed.get(key, {}) for a in arms)
                      for key, _ in flow.time_points})
    return Flow(**{**flow.__dict__, "arms": [merged]})


# --- From the database ------------------------------------------------------------------------


def primary_instrument(points: Sequence[Any]) -> str | None:
    """The first questionnaire asked at baseline and at a follow-up that has a clinically
    important change rule (ECLIPSE-style programs: the PEG)."""
    from peercoach.assessments import scoring

    baseline = [p for p in points if _is_baseline(p.day, p.before_first_contact)]
    follow = [p for p in points if not _is_baseline(p.day, p.before_first_contact)]
    later = {code for p in follow for code in p.instruments}
    for point in baseline:
        for code in point.instruments:
            if code in later and scoring.has_change_rule(code):
                return str(code)
    return None


def _is_baseline(day: int | None, before_first_contact: bool | None) -> bool:
    return bool(before_first_contact) or day == 0


def follow_up_points(study: Any, points: Sequence[Any]) -> list[tuple[str, str]]:
    """The study's assessed follow-up time points (all the program's when it lists none)."""
    follow = [p for p in points if not _is_baseline(p.day, p.before_first_contact)]
    if study.time_points:
        follow = [p for p in follow if p.key in study.time_points]
    return [(p.key, p.label) for p in sorted(follow, key=lambda p: (p.day, p.key))]


def window(study: Any, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    start = study.started_at or study.created_at
    return start, study.closed_at or now


def build(study: Any, *, instrument: str | None = None, now: dt.datetime | None = None
          ) -> Flow:
    """Count the flow of `study` from the database (eight queries)."""
    from django.db.models import Q
    from django.utils import timezone

    from peercoach.assessments.instruments import get as get_instrument
    from peercoach.assessments.models import Assessment, AssessmentStatus, TimePoint
    from peercoach.coaching.models import Contact, Outcome
    from peercoach.matching.models import Match
    from peercoach.people.models import Consent, Screening

    from .models import Allocation, StudyStatus

    now = now or timezone.now()
    today = timezone.localdate(now)
    start, end = window(study, now)
    program_id = study.program_id
    arms = [ArmInfo(a.pk, a.code, a.name, a.gets_coach)
            for a in study.arms.order_by("id")]
    allocated: dict[int, int] = {}
    statuses: dict[int, str] = {}
    for pid, arm_id, status in (Allocation.objects.filter(study=study)
                                .values_list("patient_id", "arm_id", "patient__status")):
        allocated[pid] = arm_id
        statuses[pid] = status
    screened_in_window = Q(patient__program_id=program_id, screened_at__gte=start,
                           screened_at__lte=end)
    # Every screening of the assessed patients up to the end, newest first: the first row
    # of each patient is their latest.
    in_study = Q(patient_id__in=Screening.objects.filter(screened_in_window)
                 .values("patient_id")) | Q(patient__allocation__study=study)
    screenings = (Screening.objects.filter(in_study, screened_at__lte=end)
                  .order_by("patient_id", "-screened_at", "-id")
                  .values_list("patient_id", "eligible", "reasons", "patient__status"))
    latest: dict[int, tuple[bool | None, list[str], str]] = {}
    for pid, verdict, said, now_status in screenings:
        latest.setdefault(pid, (verdict, said or [], now_status))
    consented = set(Consent.objects.filter(patient__program_id=program_id)
                    .values_list("patient_id", flat=True))
    paired = set(Match.objects.filter(patient__allocation__study=study)
                 .values_list("patient_id", flat=True))
    reached = set(Contact.objects.filter(patient__allocation__study=study,
                                         outcome=Outcome.REACHED)
                  .values_list("patient_id", flat=True))
    points = list(TimePoint.objects.filter(program_id=program_id))
    code = instrument or primary_instrument(points)
    people = []
    for pid in set(latest) | set(allocated):
        eligible, reasons, status = latest.get(pid, (None, [], statuses.get(pid, "")))
        people.append(Person(
            patient_id=pid, status=statuses.get(pid, status), eligible=eligible,
            reasons=tuple(reasons), consented=pid in consented, arm_id=allocated.get(pid),
            paired=pid in paired, reached=pid in reached))
    answers: list[Answer] = []
    if code is not None:
        rows = (Assessment.objects.filter(patient__allocation__study=study, instrument=code,
                                          time_point__isnull=False)
                .values_list("patient_id", "time_point__key", "time_point__day",
                             "time_point__before_first_contact", "status", "total",
                             "closes_on"))
        for pid, key, day, before, status, total, closes_on in rows:
            submitted = status == AssessmentStatus.SUBMITTED and total is not None
            open_now = (status in (AssessmentStatus.DUE, AssessmentStatus.IN_PROGRESS)
                        and closes_on >= today)
            answers.append(Answer(pid, key, _is_baseline(day, before), submitted, open_now))
    return count(people, arms, answers, follow_up_points(study, points),
                 recruiting=study.status != StudyStatus.CLOSED, title=study.title,
                 instrument=code,
                 instrument_name=get_instrument(code).short_name if code else "",
                 counted_at=now)


# --- The diagram: one layout, drawn as SVG and as PDF ------------------------------------------

#: Layout units are SVG pixels; the PDF scales them to the page.
CHAR_WIDTH = 6.6  # average width of a 12 px sans-serif character
LINE = 16
PAD = 8
GAP = 26
COLUMN = 330
SIDE = 320
BAND = 22
#: The shortest stage: room for its band's label ("Allocation") written sideways.
STAGE_MIN = 86.0


@dataclass
class Box:
    x: float
    y: float
    w: float
    #: (text, bold, indent in px): wrapped lines, continuation lines indented.
    lines: list[tuple[str, bool, float]]
    #: "band" for the blue section labels (Enrollment, Allocation, ...).
    kind: str = "box"
    #: A band's height (it spans the boxes of its stage).
    band_height: float = 0.0
    #: Boxes of a stage are at least this tall, so the stage's band label fits beside them.
    min_h: float = 0.0

    @property
    def h(self) -> float:
        return max(self.min_h, len(self.lines) * LINE + 2 * PAD)

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass
class Layout:
    width: float
    height: float
    boxes: list[Box]
    #: Polylines with an arrow head at the last point.
    arrows: list[list[tuple[float, float]]]
    title: str
    description: str


SUB = "   "  # an item starting with this is a sub-item (a reason under its count)
BULLET_INDENT = 10.0
SUB_INDENT = 22.0


def _n(count: int) -> str:
    # "n = 3" never breaks across lines.
    return f"n\u00a0=\u00a0{count}"


def _wrap(text: str, width: float, *, bold: bool = False, first: float = 0.0,
          rest: float = 0.0) -> list[tuple[str, bool, float]]:
    chars = max(10, int((width - 2 * PAD - rest) / (CHAR_WIDTH * (1.08 if bold else 1))))
    lines = textwrap.wrap(text, chars) or [""]
    return [(line, bold, first if i == 0 else rest) for i, line in enumerate(lines)]


def _box(x: float, y: float, w: float, head: str, items: Sequence[str] = (),
         min_h: float = 0.0) -> Box:
    lines = _wrap(head, w, bold=True)
    for item in items:
        if item.startswith(SUB):
            lines += _wrap(f"\u2013 {item.strip()}", w, first=SUB_INDENT - 8,
                           rest=SUB_INDENT)
        else:
            lines += _wrap(f"\u2022 {item}", w, rest=BULLET_INDENT)
    return Box(x, y, w, lines, min_h=min_h)


def describe(flow: Flow) -> str:
    """The diagram in words (its <desc>, and the page's text alternative)."""
    parts = [f"{flow.assessed} assessed for eligibility; {flow.excluded} excluded "
             f"({flow.not_eligible} not meeting inclusion criteria, {flow.declined} declined, "
             f"{flow.other_excluded} for other reasons)"]
    if flow.awaiting:
        parts[-1] += f"; {flow.awaiting} not yet randomized"
    parts.append(f"{flow.randomized} randomized")
    for arm in flow.arms:
        text = (f"{arm.name}: {arm.allocated} allocated, {arm.received} received the "
                f"allocated intervention, {arm.lost} lost to follow-up, {arm.discontinued} "
                "discontinued")
        for key, label in flow.time_points:
            text += f", {arm.analysed.get(key, 0)} analysed at {label}"
        parts.append(text)
    return ". ".join(parts) + "."


def diagram(flow: Flow) -> Layout:
    """Place the boxes of the CONSORT 2010 template for `flow` (any number of arms)."""
    ncols = max(2, len(flow.arms))
    main_w = ncols * COLUMN + (ncols - 1) * GAP
    left = BAND + 14
    width = left + main_w + GAP + SIDE + 10
    boxes: list[Box] = []
    arrows: list[list[tuple[float, float]]] = []
    center = left + main_w / 2
    y = 10.0

    assessed = _box(center - 130, y, 260, f"Assessed for eligibility ({_n(flow.assessed)})")
    boxes.append(assessed)
    items = [f"Not meeting inclusion criteria ({_n(flow.not_eligible)})"]
    items += [f"{SUB}{reason.rstrip('.')} ({_n(n)})"
              for reason, n in flow.not_eligible_reasons]
    items += [f"Declined to participate ({_n(flow.declined)})",
              f"Other reasons ({_n(flow.other_excluded)})"]
    excluded = _box(left + main_w + GAP, assessed.bottom + GAP,
                    SIDE, f"Excluded ({_n(flow.excluded)})", items)
    boxes.append(excluded)
    side_bottom = excluded.bottom
    if flow.awaiting or flow.recruiting:
        waiting = _box(excluded.x, excluded.bottom + 12, SIDE,
                       f"Not yet randomized ({_n(flow.awaiting)})",
                       ["Still awaiting consent or randomization while the study recruits"])
        boxes.append(waiting)
        side_bottom = waiting.bottom
    randomized_y = max(side_bottom, assessed.bottom + 2 * GAP) + GAP
    randomized = _box(center - 110, randomized_y, 220, f"Randomized ({_n(flow.randomized)})")
    boxes.append(randomized)
    # Trunk from "assessed" to "randomized", with a branch to the excluded box.
    branch_y = excluded.y + min(excluded.h / 2, 30)
    arrows.append([(center, assessed.bottom), (center, randomized.y)])
    arrows.append([(center, branch_y), (excluded.x, branch_y)])

    columns = [left + i * (COLUMN + GAP) for i in range(ncols)]
    arm_cols = list(zip(flow.arms, columns, strict=False))
    stages: list[list[Box]] = []
    y = randomized.bottom + 2 * GAP
    allocation: list[Box] = []
    for arm, x in arm_cols:
        items = [f"Received allocated intervention ({_n(arm.received)})"]
        if arm.gets_coach:
            items.append(f"Did not receive allocated intervention "
                         f"({_n(arm.not_received_total)})")
            items += [f"{SUB}{reason} ({_n(n)})" for reason, n in arm.not_received.items()]
        else:
            items.append("The offer of the one-time class, made at allocation")
            items.append(f"Crossover: reached by a coach ({_n(arm.crossovers)})")
        allocation.append(_box(x, y, COLUMN, f"Allocated to {arm.name} ({_n(arm.allocated)})",
                               items, STAGE_MIN))
    stages.append(allocation)
    y = max((b.bottom for b in allocation), default=y) + 2 * GAP
    follow = [_box(x, y, COLUMN, "Follow-up",
                   [f"Lost to follow-up ({_n(arm.lost)})",
                    f"Discontinued intervention: withdrew ({_n(arm.discontinued)})"],
                   STAGE_MIN)
              for arm, x in arm_cols]
    stages.append(follow)
    y = max((b.bottom for b in follow), default=y) + 2 * GAP
    analysis = []
    for arm, x in arm_cols:
        items = []
        for key, label in flow.time_points:
            items.append(f"Analysed at {label} ({_n(arm.analysed.get(key, 0))})")
            items += [f"{SUB}Not analysed, {reason} ({_n(n)})"
                      for reason, n in arm.not_analysed.get(key, {}).items()]
        if not flow.time_points:
            items.append("No follow-up time point listed")
        head = (f"Analysis: {flow.instrument_name}" if flow.instrument_name
                else "Analysis (no primary outcome questionnaire)")
        analysis.append(_box(x, y, COLUMN, head, items, STAGE_MIN))
    stages.append(analysis)
    for stage in stages:
        for box in stage:
            boxes.append(box)
    # Arrows: randomized splits to each arm, then each arm runs down its column.
    if allocation:
        split_y = randomized.bottom + GAP
        arrows.append([(center, randomized.bottom), (center, split_y)])
        for box in allocation:
            arrows.append([(center, split_y), (box.cx, split_y), (box.cx, box.y)])
        for upper, lower in ((allocation, follow), (follow, analysis)):
            for a, b in zip(upper, lower, strict=True):
                arrows.append([(a.cx, a.bottom), (b.cx, b.y)])
    height = max(b.bottom for b in boxes) + 12
    # The blue bands of the template, beside the rows they name.
    bands = [("Enrollment", 10.0, randomized.bottom)]
    if allocation:
        bands += [("Allocation", allocation[0].y, max(b.bottom for b in allocation)),
                  ("Follow-up", follow[0].y, max(b.bottom for b in follow)),
                  ("Analysis", analysis[0].y, max(b.bottom for b in analysis))]
    for label, top, bottom in bands:
        boxes.append(Box(4, top, BAND, [(label, True, 0.0)], kind="band",
                         band_height=bottom - top))
    return Layout(width=width, height=height, boxes=boxes, arrows=arrows,
                  title=f"CONSORT flow diagram: {flow.study_title}" if flow.study_title
                  else "CONSORT flow diagram",
                  description=describe(flow))


def svg(layout: Layout, chart_id: str = "consort") -> str:
    """The diagram as a standalone SVG, with <title> and <desc>; text stays text."""
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {layout.width:.0f} '
        f'{layout.height:.0f}" width="{layout.width:.0f}" height="{layout.height:.0f}" '
        f'role="img" aria-labelledby="{chart_id}-title {chart_id}-desc" '
        'font-family="DejaVu Sans, Arial, sans-serif" font-size="12">',
        f'<title id="{chart_id}-title">{escape(layout.title)}</title>',
        f'<desc id="{chart_id}-desc">{escape(layout.description)}</desc>',
        '<defs><marker id="consort-arrow" viewBox="0 0 10 10" refX="10" refY="5" '
        'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
        '<path d="M 0 0 L 10 5 L 0 10 z" fill="#333"/></marker></defs>',
        '<rect width="100%" height="100%" fill="#ffffff"/>',
    ]
    for points in layout.arrows:
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        out.append(f'<polyline points="{coords}" fill="none" stroke="#333" '
                   'stroke-width="1.3" marker-end="url(#consort-arrow)"/>')
    for box in layout.boxes:
        if box.kind == "band":
            h = box.band_height
            cx, cy = box.x + box.w / 2, box.y + h / 2
            out.append(f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" '
                       f'height="{h:.1f}" rx="4" fill="#a6cee3" stroke="#1f4e79"/>')
            out.append(f'<text x="{cx:.1f}" y="{cy:.1f}" text-anchor="middle" '
                       f'dominant-baseline="middle" font-weight="bold" '
                       f'transform="rotate(-90 {cx:.1f} {cy:.1f})">'
                       f'{escape(box.lines[0][0])}</text>')
            continue
        out.append(f'<rect x="{box.x:.1f}" y="{box.y:.1f}" width="{box.w:.1f}" '
                   f'height="{box.h:.1f}" fill="#ffffff" stroke="#333" stroke-width="1.2"/>')
        out.append(f'<text x="{box.x + PAD:.1f}" y="{box.y + PAD:.1f}">')
        for index, (text, bold, indent) in enumerate(box.lines):
            weight = ' font-weight="bold"' if bold else ""
            dy = LINE * 0.8 if index == 0 else LINE
            out.append(f'<tspan x="{box.x + PAD + indent:.1f}" dy="{dy:.1f}"{weight}>'
                       f'{escape(text)}</tspan>')
        out.append("</text>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def pdf(layout: Layout, *, notes: Sequence[tuple[str, str]] = (), subtitle: str = "") -> bytes:
    """The same layout on a landscape Letter page (fpdf2), the definitions on page 2."""
    from fpdf import FPDF

    doc = FPDF(orientation="landscape", format="Letter", unit="mm")
    doc.set_auto_page_break(auto=False)
    family, clean = _setup_fonts(doc)
    doc.set_title(clean(layout.title))
    doc.set_author("PeerCoach")
    doc.set_creation_date(dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    doc.add_page()
    margin = 10.0
    doc.set_font(family, "B", 13)
    doc.set_xy(margin, 8)
    doc.cell(0, 6, clean(layout.title))
    top = 17.0
    if subtitle:
        doc.set_font(family, "", 8)
        doc.set_xy(margin, 13.5)
        doc.cell(0, 4, clean(subtitle))
        top = 19.0
    usable_w = doc.w - 2 * margin
    usable_h = doc.h - top - margin
    scale = min(usable_w / layout.width, usable_h / layout.height)
    font_pt = max(4.5, 12 * scale / 0.3528 * 0.92)

    def px(x: float, y: float) -> tuple[float, float]:
        return margin + x * scale, top + y * scale

    doc.set_draw_color(51, 51, 51)
    doc.set_line_width(0.3)
    for points in layout.arrows:
        for (x1, y1), (x2, y2) in zip(points, points[1:], strict=False):
            a, b = px(x1, y1)
            c, d = px(x2, y2)
            doc.line(a, b, c, d)
        (x1, y1), (x2, y2) = points[-2], points[-1]
        _arrow_head(doc, px(x1, y1), px(x2, y2))
    for box in layout.boxes:
        x, y = px(box.x, box.y)
        if box.kind == "band":
            h = box.band_height * scale
            doc.set_fill_color(166, 206, 227)
            doc.rect(x, y, box.w * scale, h, style="DF")
            doc.set_font(family, "B", font_pt)
            label = clean(box.lines[0][0])
            cx, cy = x + box.w * scale / 2, y + h / 2
            with doc.rotation(90, cx, cy):
                doc.text(cx - doc.get_string_width(label) / 2, cy + font_pt * 0.3528 * 0.35,
                         label)
            continue
        doc.set_fill_color(255, 255, 255)
        doc.rect(x, y, box.w * scale, box.h * scale, style="DF")
        for index, (text, bold, indent) in enumerate(box.lines):
            doc.set_font(family, "B" if bold else "", font_pt)
            doc.set_xy(x + (PAD + indent) * scale, y + (PAD + index * LINE) * scale)
            doc.cell((box.w - 2 * PAD - indent) * scale, LINE * scale, clean(text))
    if notes:
        doc.add_page()
        doc.set_xy(margin, margin)
        doc.set_font(family, "B", 12)
        doc.cell(0, 7, clean("How each box is counted"), new_x="LMARGIN", new_y="NEXT")
        doc.set_left_margin(margin)
        for name, text in notes:
            doc.set_font(family, "B", 9.5)
            doc.multi_cell(doc.w - 2 * margin, 5, clean(name), new_x="LMARGIN", new_y="NEXT")
            doc.set_font(family, "", 9.5)
            doc.multi_cell(doc.w - 2 * margin, 5, clean(text), new_x="LMARGIN", new_y="NEXT")
            doc.ln(1.5)
    return bytes(doc.output())


def _font_dir() -> Any:
    from pathlib import Path

    import matplotlib

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    return folder if (folder / "DejaVuSans.ttf").is_file() else None


def _latin1(text: str) -> str:
    table = {"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u2014": "-",
             "\u2013": "-", "\u2026": "...", "\u2022": "-", "\u00a0": " "}
    for char, plain in table.items():
        text = text.replace(char, plain)
    return text.encode("latin-1", "replace").decode("latin-1")


def _setup_fonts(doc: Any) -> tuple[str, Any]:
    """DejaVu Sans (shipped with matplotlib) when there, so any arm name prints as typed;
    else the core Helvetica font with the few typographic marks mapped to Latin-1."""
    folder = _font_dir()
    if folder is None:
        return "Helvetica", _latin1
    doc.add_font("DejaVu", "", str(folder / "DejaVuSans.ttf"))
    doc.add_font("DejaVu", "B", str(folder / "DejaVuSans-Bold.ttf"))
    return "DejaVu", str


def _arrow_head(doc: Any, start: tuple[float, float], end: tuple[float, float]) -> None:
    import math

    (x1, y1), (x2, y2) = start, end
    angle = math.atan2(y2 - y1, x2 - x1)
    size = 2.0
    left = (x2 - size * math.cos(angle - 0.4), y2 - size * math.sin(angle - 0.4))
    right = (x2 - size * math.cos(angle + 0.4), y2 - size * math.sin(angle + 0.4))
    doc.set_fill_color(51, 51, 51)
    doc.polygon([end, left, right], style="F")
