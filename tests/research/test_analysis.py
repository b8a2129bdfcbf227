"""Outcome analysis: ANCOVA against statsmodels itself, the mixed model's ICC, important
improvement, dose-response, and the frame loaded from the database."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from django.utils import timezone

from peercoach.coaching.models import Contact
from peercoach.matching.models import Match
from peercoach.research import analysis
from peercoach.research.models import Allocation
from peercoach.research.services import randomize

from ..factories import (
    CoachFactory,
    eligible_patient,
    submitted_assessment,
    time_point,
    two_arm_study,
)

# (baseline, 6 months) PEG totals per patient, by arm.
COACHING = [(7.0, 5.0), (6.0, 5.33), (8.0, 6.0), (5.33, 5.0), (6.67, 4.0)]
CONTROL = [(7.0, 6.67), (6.0, 6.0), (8.0, 7.33), (5.0, 5.33), (6.33, 6.0)]


@pytest.fixture
def trial(world: Any) -> dict[str, Any]:
    program, by = world.program_a, world.coordinator
    base = time_point(program, "baseline", 0, ("peg",))
    six = time_point(program, "6mo", 180, ("peg",))
    study = two_arm_study(program, by, block_sizes=(2,))
    for _ in range(10):
        randomize(patient=eligible_patient(program), by=by, study=study)
    arms = {a.code: a for a in study.arms.all()}
    members = {code: [a.patient for a in Allocation.objects.filter(study=study, arm=arm)
                      .select_related("patient").order_by("id")]
               for code, arm in arms.items()}
    assert [len(members["coaching"]), len(members["control"])] == [5, 5]
    coaches = [CoachFactory(program=program, capacity=2) for _ in range(3)]
    enrolled = timezone.localdate() - dt.timedelta(days=200)
    for index, (patient, (before, after)) in enumerate(zip(members["coaching"], COACHING,
                                                           strict=True)):
        type(patient).objects.filter(pk=patient.pk).update(enrolled_on=enrolled)
        submitted_assessment(patient, "peg", before, point=base)
        submitted_assessment(patient, "peg", after, point=six)
        # Patient 0 had coach 0 for 20 days, then coach 1 for the rest: coach 1 counts.
        first = coaches[index % 3]
        if index == 0:
            Match.objects.create(patient=patient, coach=coaches[0], created_by=by,
                                 started_on=enrolled, ended_on=enrolled + dt.timedelta(days=20))
            first = coaches[1]
        match = Match.objects.create(patient=patient, coach=first, created_by=by,
                                     started_on=enrolled + dt.timedelta(days=21))
        for n in range(index + 1):
            Contact.objects.create(patient=patient, coach=first, match=match, mode="phone",
                                   outcome="reached", logged_by=by,
                                   occurred_at=timezone.now() - dt.timedelta(days=30 + n))
        Contact.objects.create(patient=patient, coach=first, match=match, mode="phone",
                               outcome="no_answer", logged_by=by, occurred_at=timezone.now())
    for patient, (before, after) in zip(members["control"], CONTROL, strict=True):
        submitted_assessment(patient, "peg", before, point=base)
        submitted_assessment(patient, "peg", after, point=six)
    return {"study": study, "members": members, "coaches": coaches}


def _by_hand() -> pd.DataFrame:
    rows = [("coaching", b, f) for b, f in COACHING] + [("control", b, f) for b, f in CONTROL]
    return pd.DataFrame(rows, columns=["arm", "baseline", "followup"])


def test_ancova_is_statsmodels_ols_on_the_same_data(trial: dict[str, Any]) -> None:
    result, meta, frame = analysis.run(trial["study"], mixed=False)
    assert meta.reference == "control" and meta.coached_arms == ["coaching"]
    (outcome,) = result.outcomes
    assert (outcome.instrument, outcome.time_point) == ("peg", "6mo")
    assert outcome.n_by_arm == {"coaching": 5, "control": 5}
    (effect,) = outcome.ancova
    direct = smf.ols("followup ~ baseline + C(arm, Treatment(reference='control'))",
                     data=_by_hand()).fit()
    term = "C(arm, Treatment(reference='control'))[T.coaching]"
    low, high = direct.conf_int(alpha=0.05).loc[term]
    assert effect.difference == pytest.approx(direct.params[term], abs=1e-10)
    assert (effect.ci_low, effect.ci_high) == (pytest.approx(low, abs=1e-10),
                                               pytest.approx(high, abs=1e-10))
    assert effect.p_value == pytest.approx(direct.pvalues[term], abs=1e-10)
    assert effect.n == 10
    # Coached patients improved more here: the difference is negative (PEG: lower is better).
    assert effect.difference < 0


def test_the_frame_holds_the_longest_coach_and_the_dose(trial: dict[str, Any]) -> None:
    frame, _ = analysis.load_frame(trial["study"])
    coached = frame[frame["arm"] == "coaching"].set_index("patient_id")
    first = trial["members"]["coaching"][0]
    assert coached.loc[first.pk, "coach"] == str(trial["coaches"][1].pk)
    # Reached contacts only: 1, 2, 3, 4, 5 (the missed calls are not dose).
    assert sorted(coached["dose"]) == [1, 2, 3, 4, 5]
    control = frame[frame["arm"] == "control"]
    assert control["coach"].isna().all() and (control["dose"] == 0).all()


def test_important_improvement_and_dose_response(trial: dict[str, Any]) -> None:
    result, _, frame = analysis.run(trial["study"], mixed=False)
    (outcome,) = result.outcomes
    shares = {s.arm: s for s in outcome.improvement}
    # PEG: an improvement of at least 1 point.
    assert (shares["coaching"].improved, shares["coaching"].n) == (3, 5)
    assert (shares["control"].improved, shares["control"].n) == (0, 5)
    assert shares["coaching"].difference == pytest.approx(0.6)
    assert shares["coaching"].diff_low < 0.6 < shares["coaching"].diff_high
    assert shares["control"].difference is None
    coached = frame[frame["arm"] == "coaching"]
    slope, intercept = np.polyfit(coached["dose"], coached["followup"] - coached["baseline"], 1)
    assert outcome.dose is not None
    assert outcome.dose.slope == pytest.approx(slope)
    assert outcome.dose.intercept == pytest.approx(intercept)
    assert outcome.dose.n == 5 and len(outcome.dose.points) == 5


def _clustered(seed: int, coach_sd: float, coaches: int = 40, per: int = 4,
               controls: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    pid = 0
    for coach in range(coaches):
        effect = rng.normal(0, coach_sd)
        for _ in range(per):
            base = rng.uniform(3, 9)
            rows.append((pid, "coaching", "peg", "6mo", base,
                         0.6 * base + 0.5 + effect + rng.normal(0, 1), str(coach), 5))
            pid += 1
    for _ in range(controls):
        base = rng.uniform(3, 9)
        rows.append((pid, "control", "peg", "6mo", base, 0.6 * base + 1 + rng.normal(0, 1),
                     None, 0))
        pid += 1
    return pd.DataFrame(rows, columns=analysis.COLUMNS)


def test_the_icc_finds_a_strong_coach_effect_and_none_where_there_is_none() -> None:
    strong = analysis.mixed_model(_clustered(1, coach_sd=1.5), "control")
    assert strong is not None and strong.converged
    # True ICC 2.25 / (2.25 + 1) = 0.69.
    assert strong.icc > 0.4
    assert strong.coaches == 40 and strong.clustered == 160
    none = analysis.mixed_model(_clustered(2, coach_sd=0.0), "control")
    assert none is not None
    assert none.icc < 0.05
    # Without clustering the mixed model's arm effect is (nearly) the ANCOVA's.
    (ols,) = analysis.ancova(_clustered(2, coach_sd=0.0), "control")
    (effect,) = none.effects
    assert effect.difference == pytest.approx(ols.difference, abs=0.02)


def test_clustering_widens_the_interval_of_the_arm_effect() -> None:
    frame = _clustered(3, coach_sd=1.2)
    (ols,) = analysis.ancova(frame, "control")
    mixed = analysis.mixed_model(frame, "control")
    assert mixed is not None
    (effect,) = mixed.effects
    assert effect.ci_high - effect.ci_low > ols.ci_high - ols.ci_low


def test_too_little_data_gives_notes_not_errors() -> None:
    frame = pd.DataFrame([(1, "coaching", "peg", "6mo", 5.0, 4.0, "1", 3),
                          (2, "control", "peg", "6mo", 6.0, 6.0, None, 0)],
                         columns=analysis.COLUMNS)
    result = analysis.analyse(frame, "control", ["coaching"])
    (outcome,) = result.outcomes
    assert outcome.ancova == [] and outcome.mixed is None and outcome.dose is None
    assert outcome.notes and "fewer than 2" in outcome.notes[0]
    assert [s.ci_low for s in outcome.improvement] == [None, None]
    empty = analysis.analyse(pd.DataFrame(columns=analysis.COLUMNS), "control")
    assert empty.outcomes == [] and empty.n_patients == 0


def test_with_changes_uses_each_questionnaires_rule() -> None:
    frame = pd.DataFrame([(1, "coaching", "peg", "6mo", 6.0, 5.0, None, 0),
                          (2, "coaching", "peg", "6mo", 6.0, 5.5, None, 0),
                          (3, "coaching", "phq8", "6mo", 10.0, 2.0, None, 0)],
                         columns=analysis.COLUMNS)
    out = analysis.with_changes(frame)
    assert list(out["change"]) == [-1.0, -0.5, -8.0]
    assert out["improved"].tolist()[:2] == [True, False]
    assert pd.isna(out["improved"].iloc[2])  # PHQ-8 has no important-change rule


def test_fingerprint_follows_the_data() -> None:
    a = _clustered(4, 0.5)
    assert analysis.fingerprint(a) == analysis.fingerprint(a.copy())
    b = a.copy()
    b.loc[0, "followup"] += 0.01
    assert analysis.fingerprint(a) != analysis.fingerprint(b)


def test_loading_runs_a_fixed_number_of_queries(trial: dict[str, Any],
                                                django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(5):
        analysis.load_frame(trial["study"])
