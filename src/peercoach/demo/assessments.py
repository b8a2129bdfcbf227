"""Synthetic questionnaire answers for the demo: baselines for everyone enrolled, and a
past cohort who finished the program last season with baseline and 4-month answers, so
trajectories and outcome reports have something to show. All invented.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.utils import timezone

from peercoach.assessments import services as assessments
from peercoach.assessments.models import Assessment, AssessmentStatus, Mode, ResponseVersion
from peercoach.people.models import Patient


def _answers(code: str, level: float, rng: random.Random) -> dict[int, float]:
    """Plausible answers around a severity `level` between 0 (none) and 1 (worst)."""
    def around(top: int) -> int:
        return max(0, min(top, round(level * top + rng.uniform(-1.2, 1.2))))

    if code == "peg":
        return {i: around(10) for i in (1, 2, 3)}
    if code == "phq9":
        # Item 9 stays 0 here: the demo's safety event comes from a coach's contact.
        return {**{i: around(3) for i in range(1, 9)}, 9: 0}
    if code == "phq8":
        return {i: around(3) for i in range(1, 9)}
    if code == "gad7":
        return {i: around(3) for i in range(1, 8)}
    if code == "pgic":
        return {1: max(1, min(7, round(4 - (0.6 - level) * 5 + rng.uniform(-0.6, 0.6))))}
    return {}


def _complete(assessment: Assessment, answers: dict[int, float], by: Any, at: dt.datetime,
              mode: str) -> None:
    assessments.answer_save(assessment=assessment, answers=answers, by=by, mode=mode)
    assessments.submit(assessment=assessment, by=by, mode=mode)
    # Demo history: the answers were given on `at`, not at load time.
    Assessment.objects.filter(pk=assessment.pk).update(started_at=at, submitted_at=at)
    ResponseVersion.objects.filter(assessment=assessment).update(submitted_at=at)


def answer_due(patient: Patient, *, by: Any, rng: random.Random, level: float,
               time_point_keys: tuple[str, ...], days_after_opening: int = 2,
               skip: tuple[str, ...] = ()) -> int:
    """Fill in the patient's questionnaires at the given time points, as if on the phone
    with `by` a few days after each window opened. Returns how many were sent in."""
    done = 0
    rows = (Assessment.objects.filter(patient=patient, time_point__key__in=time_point_keys,
                                      status__in=(AssessmentStatus.DUE,
                                                  AssessmentStatus.IN_PROGRESS))
            .exclude(instrument__in=skip).select_related("time_point").order_by("due_on", "id"))
    for row in rows:
        answers = _answers(row.instrument, level, rng)
        if not answers:
            continue
        opened = dt.datetime.combine(row.opens_on, dt.time(10), tzinfo=dt.UTC)
        at = min(opened + dt.timedelta(days=days_after_opening), timezone.now())
        _complete(row, answers, by, at, Mode.PHONE)
        done += 1
    return done
