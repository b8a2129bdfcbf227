"""Score a response and judge a change, for every instrument in the registry.

Free of Django. ``score`` takes answers keyed by item number (1-based) and may be given a
partial set (drafts are scored the same way); ``change`` applies the instrument's clinically
important improvement rule. Rules and their sources are in ``docs/instruments.md``.

Totals are not rounded: a BPI interference of 43/7 stays 6.142857...; round for display.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass

from .instruments import Instrument, get, pam_level_valid

#: PHQ-9 item 9 above 0: a safety event whatever the total, even on an incomplete response.
ITEM9_POSITIVE = "item9_positive"
#: PHQ-2 or GAD-2 total of 3 or more.
POSITIVE_SCREEN = "positive_screen"
#: PGIC answer 1 or 2 (very much or much improved).
IMPORTANT_IMPROVEMENT = "important_improvement"
#: A PROMIS form scored without the site's official raw-to-T table.
T_TABLE_MISSING = "t_table_missing"

# Flag rules, per instrument code.
_SAFETY_ITEMS: Mapping[str, tuple[int, str]] = {"phq9": (9, ITEM9_POSITIVE)}
_POSITIVE_SCREEN_AT: Mapping[str, float] = {"phq2": 3, "gad2": 3}
_IMPROVED_ANSWERS: Mapping[str, frozenset[int]] = {"pgic": frozenset({1, 2})}

# Tolerance for comparing differences of means (5.333... - 4.333... is not exactly 1).
_EPS = 1e-9


@dataclass(frozen=True)
class Score:
    code: str
    #: None when the missing-item rule says no score (or PROMIS has no T table).
    total: float | None
    band: str | None
    #: Every scored item answered.
    complete: bool
    flags: frozenset[str]
    #: How many scored items were answered.
    answered: int
    #: Sum of the answered scored items, when the missing-item rule is met. For PROMIS this
    #: is the raw score that the T table converts.
    raw: float | None = None


@dataclass(frozen=True)
class Change:
    baseline: float
    followup: float
    #: followup - baseline (negative is a fall).
    difference: float
    #: difference as a percentage of baseline; None when baseline is 0.
    percent: float | None
    important_improvement: bool
    #: The rule applied, in plain words with its source.
    rule: str


@dataclass(frozen=True)
class _ChangeRule:
    points: float | None = None  # improvement of at least this many points
    percent: float | None = None  # improvement of at least this share of baseline
    band_change: bool = False  # and the band must change as well


_PROMIS_RULE = _ChangeRule(points=3)
_CHANGE_RULES: Mapping[str, _ChangeRule] = {
    "phq9": _ChangeRule(percent=20),
    "gad7": _ChangeRule(points=1.5),
    "peg": _ChangeRule(points=1),
    "bpi_severity": _ChangeRule(percent=30),
    "bpi_interference": _ChangeRule(points=1),
    "promis_pi_4a": _PROMIS_RULE,
    "promis_pi_6a": _PROMIS_RULE,
    "promis_pi_8a": _PROMIS_RULE,
    "pseq10": _ChangeRule(points=7, band_change=True),
    "pam": _ChangeRule(points=3),
}


def score(code: str, answers: Mapping[int, float], *,
          t_score_table: Mapping[int, float] | None = None) -> Score:
    """Score ``answers`` (item number -> numeric answer) for the instrument ``code``.

    A ``None`` answer counts as not answered. Raises ValueError for an unknown code, an item
    the instrument does not have, or an answer that is not one of the item's values.
    ``t_score_table`` (raw sum -> T-score) is the site's official table, PROMIS only.
    """
    instrument = get(code)
    if instrument.rule == "external":
        raise ValueError(f"{code} cannot be scored here: {instrument.short_name} scores are "
                         "recorded from a licensed scorer (store the score and level; "
                         "check_pam checks them)")
    if t_score_table is not None and instrument.rule != "raw_to_t":
        raise ValueError(f"{code} takes no T-score table: only PROMIS forms convert to T")
    if not isinstance(answers, Mapping):
        raise ValueError(f"{code}: answers must map item numbers to answers")
    values = _validated(instrument, answers)

    given = [value for number, value in values.items() if instrument.item(number).scored]
    answered = len(given)
    complete = answered == len(instrument.scored_items)
    flags: set[str] = set()
    safety = _SAFETY_ITEMS.get(code)
    if safety and values.get(safety[0], 0) > 0:
        flags.add(safety[1])

    raw: float | None = None
    total: float | None = None
    if answered >= instrument.min_answered:
        raw = float(sum(given))
        if instrument.rule == "mean":
            total = raw / answered
        elif instrument.rule == "raw_to_t":
            total = None if t_score_table is None else _t_score(code, t_score_table, raw)
        else:  # "sum" and "single"
            total = raw
    if instrument.rule == "raw_to_t" and t_score_table is None:
        flags.add(T_TABLE_MISSING)

    if total is not None:
        threshold = _POSITIVE_SCREEN_AT.get(code)
        if threshold is not None and total >= threshold:
            flags.add(POSITIVE_SCREEN)
        if int(total) in _IMPROVED_ANSWERS.get(code, frozenset()):
            flags.add(IMPORTANT_IMPROVEMENT)
    band = None if total is None else instrument.band_for(total)
    return Score(code=code, total=total, band=band, complete=complete,
                 flags=frozenset(flags), answered=answered, raw=raw)


def _validated(instrument: Instrument, answers: Mapping[int, float]) -> dict[int, int]:
    code = instrument.code
    out: dict[int, int] = {}
    for number, value in answers.items():
        if isinstance(number, bool) or not isinstance(number, numbers.Integral):
            raise ValueError(f"{code}: item numbers must be whole numbers, got {number!r}")
        item = instrument.item(int(number))
        if value is None:
            continue
        out[item.number] = _whole_answer(code, item.number, value, item.low, item.high)
        if out[item.number] not in item.values:
            raise ValueError(f"{code} item {item.number}: answer {out[item.number]} is not one "
                             f"of {list(item.values)}")
    return out


def _whole_answer(code: str, number: int, value: object, low: int, high: int) -> int:
    where = f"{code} item {number}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{where}: answer must be a number from {low} to {high}, "
                         f"got {value!r}")
    as_float = float(value)
    if not math.isfinite(as_float):
        raise ValueError(f"{where}: answer {value!r} is not a finite number")
    if not as_float.is_integer():
        raise ValueError(f"{where}: answer {value!r} must be a whole number from {low} to "
                         f"{high}")
    if not low <= as_float <= high:
        raise ValueError(f"{where}: answer {value!r} is out of range ({low} to {high})")
    return int(as_float)


def _t_score(code: str, table: Mapping[int, float], raw: float) -> float:
    key = int(raw)
    if key not in table:
        raise ValueError(f"{code}: the T-score table has no entry for raw sum {key}")
    t = table[key]
    if isinstance(t, bool) or not isinstance(t, numbers.Real) or not math.isfinite(float(t)):
        raise ValueError(f"{code}: the T-score table gives {t!r} for raw sum {key}, "
                         "not a number")
    low, high = get(code).score_range
    if not low <= float(t) <= high:
        raise ValueError(f"{code}: the T-score table gives {t} for raw sum {key}, outside "
                         f"{low:g} to {high:g}")
    return float(t)


def has_change_rule(code: str) -> bool:
    """True when ``change`` can judge an important improvement for this instrument."""
    get(code)
    return code in _CHANGE_RULES


def change(code: str, baseline_total: float, followup_total: float) -> Change:
    """Compare two totals of the same instrument with its important-improvement rule.

    Raises ValueError for instruments with no such rule (PGIC is itself a change rating;
    the screeners, PHQ-8, PSEQ-2 and MOS-SSS have none published) and for totals outside
    the instrument's range.
    """
    instrument = get(code)
    rule = _CHANGE_RULES.get(code)
    if rule is None:
        raise ValueError(f"{code} has no clinically important change rule: "
                         f"{instrument.important_change}")
    baseline = _total(instrument, "baseline", baseline_total)
    followup = _total(instrument, "followup", followup_total)
    difference = followup - baseline
    percent = None if baseline == 0 else difference / baseline * 100
    # Improvement in the instrument's good direction, in points.
    gain = -difference if instrument.higher_is_worse else difference
    important = gain > 0
    if rule.points is not None:
        important = important and gain >= rule.points - _EPS
    if rule.percent is not None:
        important = important and baseline != 0 and gain / abs(baseline) * 100 >= (
            rule.percent - _EPS)
    if rule.band_change:
        important = important and (instrument.band_for(followup)
                                   != instrument.band_for(baseline))
    return Change(baseline=baseline, followup=followup, difference=difference,
                  percent=percent, important_improvement=important,
                  rule=instrument.important_change)


def _total(instrument: Instrument, name: str, value: object) -> float:
    low, high = instrument.score_range
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{instrument.code}: {name} total must be a number, got {value!r}")
    as_float = float(value)
    if not math.isfinite(as_float) or not low <= as_float <= high:
        raise ValueError(f"{instrument.code}: {name} total {value!r} is outside {low:g} to "
                         f"{high:g}")
    return as_float


def mos_transform_0_100(total: float) -> float:
    """RAND's optional 0-100 transform of a MOS-SSS mean: 100 * (mean - 1) / (5 - 1)."""
    instrument = get("mos_sss")
    mean = _total(instrument, "mean", total)
    low, high = instrument.score_range
    return 100 * (mean - low) / (high - low)


def check_pam(score: float, level: int | None) -> None:
    """Raise ValueError unless a PAM result from a licensed scorer is well formed: a score
    from 0 to 100 and, if given, a level from 1 to 4 (``instruments.pam_level_valid``)."""
    pam_level_valid(score, level)
