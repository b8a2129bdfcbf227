"""Which stratum a patient falls in: a key built from the study's stratification factors.

Each factor has a fixed list of values, plus "unknown" when the record does not say:

- site: the code of the program's site;
- gender: the patient's recorded gender;
- pain_band: the baseline PEG score (mean of the three PEG items, 0-10), banded
  low (< 4), moderate (4 to < 7) or high (7 and over), the usual mild/moderate/severe
  cut points of 0-10 pain scales. The baseline is the patient's most recent PEG on or
  before the allocation (today: their latest pain check-in; see `baseline_peg`). A
  patient without one is "unknown": randomization is not held up by a missing
  questionnaire, and the unknown patients are balanced among themselves;
- age_group: age on the allocation date, under 50, 50-64 or 65 and over;
- service_era: the recorded service era.

The key lists the factors in `StratumFactor` order, e.g. "gender=female|pain_band=high";
a study without strata has one stratum, "all".
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from django.utils import timezone

from peercoach.people.choices import Gender, ServiceEra

from .models import StratumFactor, Study

UNKNOWN = "unknown"
ALL = "all"

PAIN_BANDS = ("low", "moderate", "high")
AGE_GROUPS = ("under_50", "50_64", "65_plus")

LABELS: dict[str, str] = {
    "low": "PEG under 4", "moderate": "PEG 4 to under 7", "high": "PEG 7 or more",
    "under_50": "under 50", "50_64": "50 to 64", "65_plus": "65 or older",
    UNKNOWN: "not known", **dict(Gender.choices), **dict(ServiceEra.choices),
}


def ordered_factors(study: Study) -> list[str]:
    return [f for f in StratumFactor.values if f in study.strata]


def pain_band(peg: float | None) -> str:
    if peg is None:
        return UNKNOWN
    if peg < 4:
        return "low"
    return "moderate" if peg < 7 else "high"


def age_group(date_of_birth: dt.date | None, on: dt.date) -> str:
    if date_of_birth is None:
        return UNKNOWN
    age = on.year - date_of_birth.year - ((on.month, on.day) < (date_of_birth.month,
                                                                 date_of_birth.day))
    if age < 50:
        return "under_50"
    return "50_64" if age < 65 else "65_plus"


def baseline_peg(patient: Any, on: dt.datetime | None = None) -> float | None:
    """The patient's baseline PEG: the baseline questionnaire's score when it was sent in
    (on or before `on`), else their latest pain check-in on or before `on`."""
    from peercoach.assessments.models import Assessment, AssessmentStatus
    from peercoach.coaching.models import PainCheckIn

    answered = Assessment.objects.filter(patient=patient, instrument="peg",
                                         time_point__key="baseline",
                                         status=AssessmentStatus.SUBMITTED,
                                         total__isnull=False)
    if on is not None:
        answered = answered.filter(submitted_at__lte=on)
    total = answered.order_by("-submitted_at").values_list("total", flat=True).first()
    if total is not None:
        return float(total)

    checks = PainCheckIn.objects.filter(patient=patient)
    if on is not None:
        checks = checks.filter(at__lte=on)
    latest = checks.order_by("-at", "-id").first()
    return None if latest is None else latest.peg_score


def factor_values(study: Study, factor: str) -> list[str]:
    """Every value a factor can take in this study (for generating slots up front)."""
    if factor == StratumFactor.SITE:
        return [study.program.site.code, UNKNOWN]
    if factor == StratumFactor.GENDER:
        return [*Gender.values, UNKNOWN]
    if factor == StratumFactor.PAIN_BAND:
        return [*PAIN_BANDS, UNKNOWN]
    if factor == StratumFactor.AGE_GROUP:
        return [*AGE_GROUPS, UNKNOWN]
    if factor == StratumFactor.SERVICE_ERA:
        return [*ServiceEra.values, UNKNOWN]
    raise ValueError(f"Unknown stratification factor {factor!r}")


def make_key(parts: dict[str, str]) -> str:
    return "|".join(f"{factor}={value}" for factor, value in parts.items()) or ALL


def foreseeable_keys(study: Study) -> list[str]:
    """Every combination of the factors' known values: the strata generated at start."""
    factors = ordered_factors(study)
    values = [factor_values(study, f) for f in factors]
    return [make_key(dict(zip(factors, combo, strict=True)))
            for combo in itertools.product(*values)]


def patient_values(study: Study, patient: Any, on: dt.datetime) -> dict[str, str]:
    """The patient's value of each of the study's factors, on the allocation date."""
    found: dict[str, str] = {}
    for factor in ordered_factors(study):
        if factor == StratumFactor.SITE:
            found[factor] = patient.program.site.code or UNKNOWN
        elif factor == StratumFactor.GENDER:
            found[factor] = patient.gender or UNKNOWN
        elif factor == StratumFactor.PAIN_BAND:
            found[factor] = pain_band(baseline_peg(patient, on))
        elif factor == StratumFactor.AGE_GROUP:
            found[factor] = age_group(patient.date_of_birth, timezone.localdate(on))
        elif factor == StratumFactor.SERVICE_ERA:
            found[factor] = patient.service_era or UNKNOWN
    return found


def stratum_key(study: Study, patient: Any, on: dt.datetime) -> str:
    return make_key(patient_values(study, patient, on))


def describe(key: str) -> str:
    """A stratum key for people: "Gender: Woman; Baseline pain: PEG 7 or more"."""
    if key == ALL:
        return "All patients (not stratified)"
    names = dict(StratumFactor.choices)
    parts = []
    for part in key.split("|"):
        factor, _, value = part.partition("=")
        parts.append(f"{names.get(factor, factor)}: {LABELS.get(value, value)}")
    return "; ".join(parts)
