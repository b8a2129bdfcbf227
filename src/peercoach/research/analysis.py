"""Outcome analysis of a two-arm (or more) study: ANCOVA, a mixed model for coach
clustering, clinically important improvement, and dose-response.

The analysis functions take plain pandas DataFrames and need no Django, so a statistician
can run them on an export; `load_frame(study)` builds the frame from the database. One row
per patient, outcome questionnaire and follow-up time point, with the columns

    patient_id, arm, instrument, time_point, baseline, followup, coach, dose

(`coach` empty for patients without one; `dose` = reached coach contacts). `with_changes`
adds `change` (follow-up minus baseline) and `improved` (the questionnaire's clinically
important improvement rule, `assessments.scoring.change`; empty where it has none).

For each questionnaire and follow-up time point:

* **ANCOVA** (`ancova`): ordinary least squares ``followup ~ baseline + C(arm)`` with the
  control arm as reference. The arm coefficient is the between-arm difference in change
  from baseline adjusted for baseline (with the baseline in the model, the difference in
  follow-up and the difference in change are the same number), with its 95% confidence
  interval from the t distribution.
* **Mixed model** (`mixed_model`): the same fixed effects with a random intercept for the
  coach (statsmodels MixedLM, REML), because patients are clustered within coaches
  (IMPPRESS found intraclass correlations of 0.28 to 0.56). It reports the ICC, the coach
  variance over the coach plus residual variance.
* **Important improvement** (`improvement`): per arm, the share of patients whose change
  meets the rule, with a 95% Wilson interval, and the difference from the control arm
  with a 95% Newcombe (hybrid score) interval.
* **Dose-response** (`dose_response`): in the arms that get a coach, change against
  reached contacts, with the least-squares line and its slope's 95% CI. The dose was not
  randomized: patients who talk more may differ in other ways, so this is descriptive.

Patients count in the arm they were allocated to (intention to treat) and enter an
analysis when they have both a baseline and that follow-up.
"""

from __future__ import annotations

import datetime as dt
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

CONFIDENCE = 0.95
#: Fewer patients than this in an arm: no model for that outcome and time point.
MIN_PER_ARM = 2
#: The mixed model needs at least this many coaches with patients in the analysis.
MIN_COACHES = 3
#: The random-effect design value given to patients without a coach (see `mixed_model`).
UNCLUSTERED_DESIGN = 1e-4
NO_COACH = "(no coach)"
COLUMNS = ["patient_id", "arm", "instrument", "time_point", "baseline", "followup", "coach",
           "dose"]


@dataclass(frozen=True)
class Effect:
    """The difference of one arm from the reference arm, adjusted for baseline."""

    arm: str
    reference: str
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int


@dataclass(frozen=True)
class Mixed:
    effects: list[Effect]
    coach_variance: float
    residual_variance: float
    icc: float
    coaches: int
    clustered: int
    converged: bool
    method: str
    note: str = ""


@dataclass(frozen=True)
class Share:
    arm: str
    n: int
    improved: int
    share: float | None
    ci_low: float | None
    ci_high: float | None
    #: Difference in share from the reference arm, with a 95% Newcombe interval.
    difference: float | None = None
    diff_low: float | None = None
    diff_high: float | None = None


@dataclass(frozen=True)
class DoseResponse:
    n: int
    slope: float
    ci_low: float
    ci_high: float
    intercept: float
    p_value: float
    #: (reached contacts, change) per patient, for the chart.
    points: list[tuple[int, float]]


@dataclass
class OutcomeResult:
    instrument: str
    time_point: str
    n_by_arm: dict[str, int]
    ancova: list[Effect] = field(default_factory=list)
    mixed: Mixed | None = None
    improvement: list[Share] = field(default_factory=list)
    dose: DoseResponse | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Analysis:
    reference: str
    arms: list[str]
    outcomes: list[OutcomeResult]
    n_patients: int


# --- The statistics (pure) -----------------------------------------------------------------


def _formula(reference: str) -> str:
    return f"followup ~ baseline + C(arm, Treatment(reference={reference!r}))"


def _term(reference: str, arm: str) -> str:
    return f"C(arm, Treatment(reference={reference!r}))[T.{arm}]"


def _enough(frame: pd.DataFrame, reference: str) -> str:
    """Why the models cannot be fitted (empty: they can)."""
    counts = frame["arm"].value_counts()
    if counts.get(reference, 0) < MIN_PER_ARM:
        return f"fewer than {MIN_PER_ARM} patients in the reference arm"
    others = [a for a in counts.index if a != reference]
    if not others or all(counts[a] < MIN_PER_ARM for a in others):
        return f"fewer than {MIN_PER_ARM} patients in the other arm"
    if len(frame) <= 2 + len(others):
        return "too few patients for the model"
    if frame["baseline"].nunique() < 2:
        return "every baseline is the same"
    return ""


def ancova(frame: pd.DataFrame, reference: str) -> list[Effect]:
    """OLS ``followup ~ baseline + C(arm)``: each arm against `reference`, 95% CI."""
    import statsmodels.formula.api as smf

    frame = frame[frame["arm"].isin(_arms_with(frame, reference))]
    if _enough(frame, reference):
        return []
    fit = smf.ols(_formula(reference), data=frame).fit()
    return _arm_effects(fit, frame, reference)


def _arm_effects(fit: Any, frame: pd.DataFrame, reference: str) -> list[Effect]:
    """Each arm's difference from `reference` in a fitted `_formula` model, with its 95% CI."""
    ci = fit.conf_int(alpha=1 - CONFIDENCE)
    effects = []
    for arm in sorted(set(frame["arm"]) - {reference}):
        term = _term(reference, arm)
        if term not in fit.params.index:
            continue
        effects.append(Effect(arm=arm, reference=reference, difference=float(fit.params[term]),
                              ci_low=float(ci.loc[term, 0]), ci_high=float(ci.loc[term, 1]),
                              p_value=float(fit.pvalues[term]), n=int(fit.nobs)))
    return effects


def _arms_with(frame: pd.DataFrame, reference: str) -> list[str]:
    counts = frame["arm"].value_counts()
    return [a for a in counts.index if a == reference or counts[a] >= MIN_PER_ARM]


def mixed_model(frame: pd.DataFrame, reference: str) -> Mixed | None:
    """``followup ~ baseline + C(arm)`` with a random intercept for the coach (REML).

    How patients without a coach enter (the control arm, and anyone never paired): this is
    a partially nested design, clustered in one arm and not in the other. We fit the model
    recommended for it (Bauer, Sterba & Hallfors, Multivariate Behav Res 2008;43:210-236;
    Candlish et al., BMC Med Res Methodol 2018;18:105): the coach's random intercept
    applies to coached patients only, so control patients are independent observations
    with the residual variance alone, and they still inform the arm difference and the
    baseline slope. Making each control patient a "cluster of one" with a coach-sized
    random intercept instead would claim coach variance where there is no coach, and is
    many times slower (one group per control patient).

    In statsmodels this is ``re_formula="0 + z"`` where z is 1 for a coached patient and
    near 0 for the others, who share one group. z is ``UNCLUSTERED_DESIGN`` (1e-4), not 0,
    because MixedLM's solver turns singular for a group whose random-effect design is all
    zero once the coach variance nears zero; the variance this lends them is 1e-8 times the
    coach variance, nothing in practice.

    ICC = coach variance / (coach variance + residual variance): the correlation of two
    patients of the same coach, adjusted for baseline and arm. The fit tries BFGS, then
    Powell and Nelder-Mead if it fails or does not converge; a coach variance at zero (the
    boundary) gives an ICC of 0 and arm effects equal to the ANCOVA's.
    """
    import statsmodels.formula.api as smf

    frame = frame[frame["arm"].isin(_arms_with(frame, reference))].copy()
    if _enough(frame, reference):
        return None
    has_coach = frame["coach"].notna() & (frame["coach"].astype(str) != "")
    frame["group"] = np.where(has_coach, "coach:" + frame["coach"].astype(str), NO_COACH)
    frame["z"] = np.where(has_coach, 1.0, UNCLUSTERED_DESIGN)
    coaches = int(frame.loc[has_coach, "group"].nunique())
    if coaches < MIN_COACHES:
        return None
    model = smf.mixedlm(_formula(reference), data=frame, groups="group", re_formula="0 + z")
    fit = None
    used = ""
    for method in ("bfgs", "powell", "nm"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                candidate = model.fit(reml=True, method=method)
        except (np.linalg.LinAlgError, ValueError):
            continue
        fit, used = candidate, method
        if candidate.converged:
            break
    if fit is None:
        return None
    coach_var = max(0.0, float(np.asarray(fit.cov_re)[0, 0]))
    resid = float(fit.scale)
    icc = coach_var / (coach_var + resid) if coach_var + resid > 0 else 0.0
    effects = _arm_effects(fit, frame, reference)
    note = ""
    if coach_var < 1e-8 * max(resid, 1e-12):
        note = "The coach variance was estimated at zero: no clustering detected."
    elif not fit.converged:
        note = "The optimizer did not fully converge; read the estimates with care."
    return Mixed(effects=effects, coach_variance=coach_var, residual_variance=resid, icc=icc,
                 coaches=coaches, clustered=int(has_coach.sum()), converged=bool(fit.converged),
                 method=used, note=note)


def with_changes(frame: pd.DataFrame) -> pd.DataFrame:
    """Add `change` and `improved` (the instrument's important-improvement rule, or NA)."""
    from peercoach.assessments import scoring

    out = frame.copy()
    out["change"] = out["followup"] - out["baseline"]
    flags: list[Any] = []
    for code, base, follow in zip(out["instrument"], out["baseline"], out["followup"],
                                  strict=True):
        if scoring.has_change_rule(code):
            flags.append(bool(scoring.change(code, float(base), float(follow))
                              .important_improvement))
        else:
            flags.append(pd.NA)
    out["improved"] = pd.array(flags, dtype="boolean")
    return out


def _wilson(k: int, n: int) -> tuple[float | None, float | None]:
    if n < MIN_PER_ARM:
        return None, None
    from scipy import stats

    ci = stats.binomtest(k, n).proportion_ci(confidence_level=CONFIDENCE, method="wilson")
    return float(ci.low), float(ci.high)


def improvement(frame: pd.DataFrame, reference: str) -> list[Share]:
    """Share with a clinically important improvement per arm; differences from reference."""
    frame = frame[frame["improved"].notna()]
    if frame.empty:
        return []
    counts = {arm: (int(group["improved"].sum()), len(group))
              for arm, group in frame.groupby("arm")}
    out = []
    ref_k, ref_n = counts.get(reference, (0, 0))
    for arm in sorted(counts, key=lambda a: (a == reference, a)):
        k, n = counts[arm]
        low, high = _wilson(k, n)
        diff = d_low = d_high = None
        if arm != reference and n >= MIN_PER_ARM and ref_n >= MIN_PER_ARM:
            from statsmodels.stats.proportion import confint_proportions_2indep

            diff = k / n - ref_k / ref_n
            d_low, d_high = (float(v) for v in confint_proportions_2indep(
                k, n, ref_k, ref_n, method="newcomb", compare="diff",
                alpha=1 - CONFIDENCE))
        out.append(Share(arm=arm, n=n, improved=k, share=k / n if n else None, ci_low=low,
                         ci_high=high, difference=diff, diff_low=d_low, diff_high=d_high))
    return out


def dose_response(frame: pd.DataFrame, coached_arms: Sequence[str]) -> DoseResponse | None:
    """Change against reached contacts in the arms with a coach: OLS line, slope 95% CI."""
    import statsmodels.formula.api as smf

    frame = frame[frame["arm"].isin(list(coached_arms))]
    if len(frame) < 3 or frame["dose"].nunique() < 2:
        return None
    fit = smf.ols("change ~ dose", data=frame).fit()
    ci = fit.conf_int(alpha=1 - CONFIDENCE)
    return DoseResponse(n=int(fit.nobs), slope=float(fit.params["dose"]),
                        ci_low=float(ci.loc["dose", 0]), ci_high=float(ci.loc["dose", 1]),
                        intercept=float(fit.params["Intercept"]),
                        p_value=float(fit.pvalues["dose"]),
                        points=[(int(d), float(c)) for d, c in zip(frame["dose"],
                                                                   frame["change"],
                                                                   strict=True)])


def analyse(frame: pd.DataFrame, reference: str, coached_arms: Sequence[str] = (),
            *, mixed: bool = True, order: Sequence[str] = ()) -> Analysis:
    """Every analysis for each (instrument, time point) of `frame` (the columns above)."""
    if "change" not in frame.columns:
        frame = with_changes(frame)
    arms = sorted(set(frame["arm"]) | {reference}, key=lambda a: (a == reference, a))
    outcomes = []
    keys = list(dict.fromkeys(zip(frame["instrument"], frame["time_point"], strict=True)))
    rank = {code: i for i, code in enumerate(order)}
    keys.sort(key=lambda k: (rank.get(k[0], len(rank)), k[0]))
    for code, point in keys:
        part = frame[(frame["instrument"] == code) & (frame["time_point"] == point)]
        result = OutcomeResult(instrument=code, time_point=point,
                               n_by_arm={a: int((part["arm"] == a).sum()) for a in arms})
        why = _enough(part, reference)
        if why:
            result.notes.append(f"No model: {why}.")
        else:
            result.ancova = ancova(part, reference)
            if mixed:
                result.mixed = mixed_model(part, reference)
                if result.mixed is None:
                    result.notes.append(f"No mixed model: fewer than {MIN_COACHES} coaches "
                                        "with patients in this analysis, or it did not fit.")
        result.improvement = improvement(part, reference)
        result.dose = dose_response(part, coached_arms)
        outcomes.append(result)
    return Analysis(reference=reference, arms=arms, outcomes=outcomes,
                    n_patients=int(frame["patient_id"].nunique()) if len(frame) else 0)


def fingerprint(frame: pd.DataFrame) -> str:
    """A hash of the frame's contents: the same data gives the same key (for caching)."""
    import hashlib

    if frame.empty:
        return "empty"
    hashed = pd.util.hash_pandas_object(frame.reset_index(drop=True), index=False)
    return hashlib.sha256(hashed.to_numpy().tobytes()
                          + ",".join(frame.columns).encode()).hexdigest()


# --- From the database ------------------------------------------------------------------------


@dataclass(frozen=True)
class Meta:
    """What the pages need to label a frame: arm names, time point labels, the reference."""

    reference: str
    coached_arms: list[str]
    arm_names: dict[str, str]
    time_points: dict[str, tuple[str, int]]
    instruments: list[str]


def load_frame(study: Any, *, today: dt.date | None = None) -> tuple[pd.DataFrame, Meta]:
    """The analysis frame of `study` (five queries, whatever its size).

    Baseline: the time point asked before the first contact (or on day 0). The coach is the
    one who coached the patient longest during the program, from the dated pair history
    (`assessments.outcomes.longest_coach`), for every patient who ever had one.
    """
    from django.db.models import Count
    from django.utils import timezone

    from peercoach.assessments.models import Assessment, AssessmentStatus
    from peercoach.assessments.outcomes import Spell, longest_coach
    from peercoach.coaching.models import Contact, Outcome
    from peercoach.matching.models import Match

    from .models import Allocation

    today = today or timezone.localdate()
    arms = list(study.arms.order_by("id"))
    control = [a for a in arms if not a.gets_coach] or arms[-1:]
    reference = control[0].code if control else ""
    codes = {a.pk: a.code for a in arms}
    allocated = {pid: (codes[arm_id], enrolled, length) for pid, arm_id, enrolled, length in
                 Allocation.objects.filter(study=study).values_list(
                     "patient_id", "arm_id", "patient__enrolled_on",
                     "patient__program__program_length_days")}
    in_study = {"patient__allocation__study": study}
    spells: dict[int, list[Spell]] = {}
    for pid, cid, started, ended in Match.objects.filter(**in_study).values_list(
            "patient_id", "coach_id", "started_on", "ended_on"):
        spells.setdefault(pid, []).append(Spell(cid, started, ended))
    dose = dict(Contact.objects.filter(outcome=Outcome.REACHED, **in_study)
                .values("patient_id").annotate(n=Count("id")).values_list("patient_id", "n"))
    rows = Assessment.objects.filter(
        status=AssessmentStatus.SUBMITTED, total__isnull=False, time_point__isnull=False,
        **in_study).values_list("patient_id", "instrument", "total", "time_point__key",
                                "time_point__label", "time_point__day",
                                "time_point__before_first_contact")
    baselines: dict[tuple[int, str], tuple[int, float]] = {}
    follow: dict[tuple[int, str, str], float] = {}
    points: dict[str, tuple[str, int]] = {}
    for pid, code, total, key, label, day, before in rows:
        if total is None:
            continue
        if before or day == 0:
            current = baselines.get((pid, code))
            if current is None or day < current[0]:
                baselines[(pid, code)] = (day, float(total))
        elif not study.time_points or key in study.time_points:
            follow[(pid, code, key)] = float(total)
            points[key] = (label, day)
    coach_of: dict[int, int | None] = {}
    for pid, (_, enrolled, length) in allocated.items():
        end = enrolled + dt.timedelta(days=length) if enrolled and length else None
        coach_of[pid] = longest_coach(spells.get(pid, []), enrolled, end, today)
    records = []
    for (pid, code, key), total in follow.items():
        base = baselines.get((pid, code))
        if base is None or pid not in allocated:
            continue
        coach = coach_of.get(pid)
        records.append((pid, allocated[pid][0], code, key, base[1], total,
                        None if coach is None else str(coach), int(dose.get(pid, 0))))
    frame = pd.DataFrame.from_records(records, columns=COLUMNS)
    frame = frame.sort_values(["instrument", "time_point", "patient_id"]).reset_index(drop=True)
    instruments = list(dict.fromkeys(frame["instrument"]))
    return frame, Meta(reference=reference, coached_arms=[a.code for a in arms if a.gets_coach],
                       arm_names={a.code: a.name for a in arms}, time_points=points,
                       instruments=instruments)


def run(study: Any, *, mixed: bool = True, today: dt.date | None = None
        ) -> tuple[Analysis, Meta, pd.DataFrame]:
    """Load the frame and analyse it, questionnaires in the registry's order."""
    from peercoach.assessments import instruments

    frame, meta = load_frame(study, today=today)
    result = analyse(frame, meta.reference, meta.coached_arms, mixed=mixed,
                     order=list(instruments.REGISTRY))
    result.outcomes.sort(key=lambda o: (list(instruments.REGISTRY).index(o.instrument)
                                        if o.instrument in instruments.REGISTRY else 999,
                                        meta.time_points.get(o.time_point, ("", 0))[1]))
    return result, meta, frame


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
