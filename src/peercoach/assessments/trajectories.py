"""A patient's pain over time: PEG questionnaires, pain check-ins and coaches' pain ratings.

Two measures on the same 0-10 scale (lower is better):

* **PEG**: the total of every submitted PEG questionnaire (at the time it was sent in) and
  of every pain check-in (the mean of its three PEG items: the same questions, asked by the
  patient between questionnaires).
* **Pain today**: the 0-10 rating of a pain check-in and the one a coach records in a
  contact.

The clinically important change is the PEG rule of ``scoring.change``, measured from the
baseline questionnaire (or the first PEG measurement when there is none) to the latest PEG
measurement. Other questionnaires (PHQ-9, GAD-7, ...) are listed only for users who may
see questionnaire scores (``Perm.ASSESSMENT_VIEW``): a coach sees pain, never mood scores.

Identified viewers see dates; a researcher sees days since enrollment instead, so that a
chart or a CSV carries no exact dates.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from . import instruments, scoring

PEG = "peg"
PAIN = "pain"
MEASURE_LABELS = {PEG: "PEG score", PAIN: "Pain today"}


class Source(StrEnum):
    QUESTIONNAIRE = "questionnaire"
    CHECK_IN = "check_in"
    CONTACT = "contact"


SOURCE_LABELS = {
    Source.QUESTIONNAIRE: "PEG questionnaire",
    Source.CHECK_IN: "Pain check-in",
    Source.CONTACT: "Coach contact",
}


@dataclass(frozen=True)
class Point:
    at: dt.datetime
    #: The date at the patient's site.
    on: dt.date
    #: The time at the patient's site, without a zone (for the chart's axis).
    local: dt.datetime
    #: Days since enrollment (or since the first measurement when not enrolled).
    day: int
    measure: str
    value: float
    source: Source
    #: The time point of a questionnaire ("Baseline", "4 months"), else "".
    detail: str = ""

    @property
    def source_label(self) -> str:
        return SOURCE_LABELS[self.source]

    @property
    def measure_label(self) -> str:
        return MEASURE_LABELS[self.measure]


@dataclass(frozen=True)
class OtherScore:
    """A questionnaire other than the PEG, or an externally scored one (PAM)."""

    instrument: str
    name: str
    time_point: str
    on: dt.date
    day: int
    total: float | None
    band: str
    score_range: tuple[float, float]
    note: str = ""


@dataclass
class Trajectory:
    patient: Any
    #: Every PEG and pain point, in date order.
    points: list[Point]
    baseline: Point | None
    latest: Point | None
    change: scoring.Change | None
    #: PEG values at or below this are an important improvement on the baseline.
    threshold: float | None
    rule: str
    #: Identified viewers see dates; others see days since enrollment.
    dated: bool
    shows_others: bool = False
    others: list[OtherScore] = field(default_factory=list)

    @property
    def peg(self) -> list[Point]:
        return [p for p in self.points if p.measure == PEG]

    @property
    def pain(self) -> list[Point]:
        return [p for p in self.points if p.measure == PAIN]

    @property
    def has_data(self) -> bool:
        return bool(self.points)

    def when(self, point: Point | OtherScore) -> str:
        """How a date is shown to this viewer."""
        on = point.on
        return f"{on:%b} {on.day}, {on.year}" if self.dated else f"Day {point.day}"


def improvement_threshold(code: str, baseline: float) -> float | None:
    """The highest follow-up total that ``scoring.change`` counts as an important
    improvement on ``baseline`` (for instruments where higher is worse); None if none does.

    Found by bisection on the rule itself, so the chart follows whatever rule the scoring
    module applies (points, percent, or both).
    """
    instrument = instruments.get(code)
    if not instrument.higher_is_worse or not scoring.has_change_rule(code):
        return None
    low, _ = instrument.score_range
    if not scoring.change(code, baseline, low).important_improvement:
        return None
    good, bad = float(low), float(baseline)
    for _ in range(50):
        middle = (good + bad) / 2
        if scoring.change(code, baseline, middle).important_improvement:
            good = middle
        else:
            bad = middle
    return round(good, 6)


def _local(at: dt.datetime, zone: ZoneInfo) -> dt.date:
    return at.astimezone(zone).date()


def _zone(patient: Any) -> ZoneInfo:
    try:
        return ZoneInfo(patient.program.site.timezone)
    except (AttributeError, KeyError, ValueError):
        return ZoneInfo("UTC")


def _is_baseline(time_point_day: int | None, before_first_contact: bool | None) -> bool:
    return bool(before_first_contact) or time_point_day == 0


def build(patient: Any, *, include_other: bool, dated: bool) -> Trajectory:
    """The patient's trajectory: three queries (four with other questionnaires)."""
    from peercoach.coaching.models import Contact, PainCheckIn

    from .models import Assessment, AssessmentStatus, ExternalScore

    zone = _zone(patient)
    submitted = (Assessment.objects.filter(patient=patient, status=AssessmentStatus.SUBMITTED)
                 .order_by("submitted_at", "id")
                 .values_list("instrument", "total", "band", "submitted_at", "due_on",
                              "time_point__label", "time_point__day",
                              "time_point__before_first_contact"))
    if not include_other:
        submitted = submitted.filter(instrument=PEG)
    check_ins = (PainCheckIn.objects.filter(patient=patient).order_by("at", "id")
                 .values_list("at", "pain", "peg_pain", "peg_enjoyment", "peg_activity"))
    contacts = (Contact.objects.filter(patient=patient, pain_today__isnull=False)
                .order_by("occurred_at", "id").values_list("occurred_at", "pain_today"))

    raw: list[tuple[dt.datetime, str, float, Source, str, bool]] = []
    other_rows: list[tuple[str, float | None, str, dt.datetime, str]] = []
    for code, total, band, submitted_at, due_on, label, day, before in submitted:
        at = submitted_at or dt.datetime.combine(due_on, dt.time(12), tzinfo=zone)
        if code == PEG:
            if total is not None:
                raw.append((at, PEG, float(total), Source.QUESTIONNAIRE, label or "",
                            _is_baseline(day, before)))
        else:
            other_rows.append((code, total, band, at, label or ""))
    for at, pain, p, e, g in check_ins:
        # PEG = mean of its three items (Krebs et al. 2009), as in PainCheckIn.peg_score.
        raw.append((at, PEG, round((p + e + g) / 3, 2), Source.CHECK_IN, "", False))
        raw.append((at, PAIN, float(pain), Source.CHECK_IN, "", False))
    for at, rating in contacts:
        if rating is not None:
            raw.append((at, PAIN, float(rating), Source.CONTACT, "", False))
    # Date order; at the same moment a questionnaire comes before a check-in or a contact.
    order = {Source.QUESTIONNAIRE: 0, Source.CHECK_IN: 1, Source.CONTACT: 2}
    raw.sort(key=lambda r: (r[0], order[r[3]], r[1] != PEG))

    externals: list[tuple[str, float, int | None, dt.date, str, str]] = []
    if include_other:
        externals = list(ExternalScore.objects.filter(patient=patient)
                         .order_by("measured_on", "id")
                         .values_list("instrument", "score", "level", "measured_on", "source",
                                      "time_point__label"))

    first_dates = [_local(r[0], zone) for r in raw] + [_local(r[3], zone) for r in other_rows]
    first_dates += [row[3] for row in externals]
    origin = patient.enrolled_on or (min(first_dates) if first_dates else None)

    def day_of(on: dt.date) -> int:
        return (on - origin).days if origin else 0

    points = []
    baseline_candidates = []
    for at, measure, value, source, detail, is_baseline in raw:
        local = at.astimezone(zone).replace(tzinfo=None)
        on = local.date()
        point = Point(at=at, on=on, local=local, day=day_of(on), measure=measure,
                      value=value, source=source, detail=detail)
        points.append(point)
        if is_baseline:
            baseline_candidates.append(point)

    peg_points = [p for p in points if p.measure == PEG]
    questionnaires = [p for p in peg_points if p.source == Source.QUESTIONNAIRE]
    baseline = (baseline_candidates[0] if baseline_candidates
                else questionnaires[0] if questionnaires
                else peg_points[0] if peg_points else None)
    later = [p for p in peg_points if baseline is not None and p.at > baseline.at]
    latest = later[-1] if later else None
    change = scoring.change(PEG, baseline.value, latest.value) if baseline and latest else None
    threshold = improvement_threshold(PEG, baseline.value) if baseline else None

    others = [
        OtherScore(instrument=code, name=instruments.get(code).short_name, time_point=label,
                   on=_local(at, zone), day=day_of(_local(at, zone)), total=total, band=band,
                   score_range=instruments.get(code).score_range,
                   note="" if total is not None else "Not scored: too many questions unanswered")
        for code, total, band, at, label in other_rows if code in instruments.REGISTRY
    ]
    others += [
        OtherScore(instrument=code, name=instruments.get(code).short_name,
                   time_point=label or "", on=on, day=day_of(on), total=score,
                   band=f"Level {level}" if level else "", score_range=(0, 100),
                   note=f"Scored by {source}")
        for code, score, level, on, source, label in externals if code in instruments.REGISTRY
    ]
    others.sort(key=lambda o: (o.on, o.name))
    return Trajectory(patient=patient, points=points, baseline=baseline, latest=latest,
                      change=change, threshold=threshold,
                      rule=instruments.get(PEG).important_change, dated=dated,
                      shows_others=include_other, others=others)


def baseline_words(trajectory: Trajectory) -> str:
    """Which measurement is the baseline, for the sentence under the chart."""
    base = trajectory.baseline
    if base is None:
        return ""
    what = (f"the {base.detail.lower()} PEG questionnaire" if base.detail
            else f"the first {base.source_label.lower()}")
    return f"{what} ({trajectory.when(base)})"


def plain_summary(trajectory: Trajectory) -> str:
    """One sentence for the patient, in plain words."""
    base, latest, change = trajectory.baseline, trajectory.latest, trajectory.change
    if base is None:
        return ("There are no PEG scores yet. They will show here after your first "
                "questionnaire or pain check-in.")
    if latest is None or change is None:
        return (f"Your first PEG score was {base.value:.1f}. Your next questionnaire or "
                "check-in will show how it changes.")
    # The drop is worked out from the rounded scores shown, so the sentence adds up.
    before, after = round(base.value, 1), round(latest.value, 1)
    size = round(abs(after - before), 1)
    points = "point" if size == 1 else "points"
    went = f"Your PEG score went from {before:.1f} to {after:.1f} \u2014"
    if change.important_improvement:
        return f"{went} a drop of {size:.1f} {points}, which counts as a real improvement."
    if size == 0:
        return f"Your PEG score is about the same as at the start: {after:.1f}."
    if change.difference < 0:
        needed = ("" if trajectory.threshold is None else
                  f" A drop of {base.value - trajectory.threshold:.1f} points or more counts "
                  "as a real improvement.")
        return f"{went} a drop of {size:.1f} {points}.{needed}"
    return f"{went} up {size:.1f} {points}. Talk with your coach about what might help."
