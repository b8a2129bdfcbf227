"""Compatibility scores between patients and coaches: a documented, weighted sum.

Free of Django (researchers can call it on their own data). Scores for a whole program
are computed at once with numpy, so 5,000 x 2,500 pairs take about a second; plain-
language explanations are built only for the pairs the solver picks.

Each component is a number from 0 to 1 (gender can be -1, see below); the score is
``sum(weight[c] * component[c])``. The defaults below can be changed per program.

======================  =======  ==========================================================
component               default  value
======================  =======  ==========================================================
``era``                 2        1 if both served in the same era; else, if both ages are
                                 known, ``1 - |age gap| / age_window`` (0 past the window)
``pain``                3        share of the patient's pain conditions the coach also has
``challenges``          1        share of the patient's other life challenges the coach shares
``gender``              2        1 if the same gender, else 0. If the patient asked for a
                                 coach of a given gender: 1 when the coach is, -1 when not
``language``            3        1 if they share a language, else 0
``contact``             1        half for sharing a way to talk (phone, in person, ...), half
                                 for sharing a time of day; a side that gave none counts as
                                 flexible
``distance``            1        when either prefers meeting in person: ``1 - miles /
                                 max_miles`` (0 past it; 0.5 if a ZIP is unknown); when
                                 neither does, 1 (distance does not matter)
======================  =======  ==========================================================

Settings in the same dictionary: ``age_window`` (years, default 10) and ``max_miles``
(default 30).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from operator import attrgetter
from typing import Any

import numpy as np
from numpy.typing import NDArray

COMPONENTS = ("era", "pain", "challenges", "gender", "language", "contact", "distance")

DEFAULT_WEIGHTS: dict[str, float] = {
    "era": 2.0, "pain": 3.0, "challenges": 1.0, "gender": 2.0, "language": 3.0,
    "contact": 1.0, "distance": 1.0, "age_window": 10.0, "max_miles": 30.0,
}

#: Vocabulary for explanations (kept here so this module needs no Django import).
ERA_WORDS = {"korea": "Korean War", "vietnam": "Vietnam", "post_vietnam": "post-Vietnam",
             "gulf_war": "Gulf War", "post_911": "post-9/11"}
PAIN_WORDS = {"low_back": "low back pain", "neck": "neck pain", "knee_oa": "knee arthritis",
              "hip_oa": "hip arthritis", "shoulder": "shoulder pain",
              "widespread": "widespread pain", "other": "other pain"}
CHALLENGE_WORDS = {"weight": "weight", "sleep": "sleep", "mood": "mood",
                   "caregiving": "caring for someone", "work": "work", "money": "money worries",
                   "mobility": "getting around", "transport": "transport"}
MODE_WORDS = {"phone": "phone calls", "in_person": "meeting in person", "video": "video calls",
              "text": "text messages"}
TIME_WORDS = {"morning": "mornings", "afternoon": "afternoons", "evening": "evenings",
              "weekend": "weekends"}
GENDER_NOUNS = {"male": "men", "female": "women", "nonbinary": "non-binary"}
GENDER_NOUN = {"male": "a man", "female": "a woman", "nonbinary": "non-binary"}
LANGUAGE_WORDS = {"en": "English", "es": "Spanish"}

_SET_FIELDS = {
    "pain": tuple(PAIN_WORDS), "challenges": tuple(CHALLENGE_WORDS),
    "modes": tuple(MODE_WORDS), "times": tuple(TIME_WORDS),
}


@dataclass(frozen=True)
class Person:
    """What matching knows about one patient or coach."""

    key: Any
    age: float | None = None
    service_era: str = ""
    gender: str = ""
    gender_preference: str = ""
    language: str = "en"
    pain: frozenset[str] = field(default_factory=frozenset)
    challenges: frozenset[str] = field(default_factory=frozenset)
    modes: frozenset[str] = field(default_factory=frozenset)
    times: frozenset[str] = field(default_factory=frozenset)
    zip_code: str = ""


def merged_weights(overrides: Mapping[str, Any] | None) -> dict[str, float]:
    """Defaults with a program's overrides; unknown names or bad values are refused."""
    weights = dict(DEFAULT_WEIGHTS)
    for name, value in (overrides or {}).items():
        if name not in DEFAULT_WEIGHTS:
            raise ValueError(f"Unknown matching weight '{name}'.")
        try:
            number = float(value)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"Weight '{name}' must be a number, not {value!r}.") from exc
        if not np.isfinite(number) or number < 0:
            raise ValueError(f"Weight '{name}' must be zero or more.")
        if name in ("age_window", "max_miles") and number == 0:
            raise ValueError(f"'{name}' must be more than zero.")
        weights[name] = number
    return weights


@lru_cache(maxsize=1)
def _zip_coordinates() -> dict[str, tuple[float, float]]:
    """ZIP code centroids from the `zipcodes` package (shipped offline, MIT licence)."""
    import zipcodes

    coords: dict[str, tuple[float, float]] = {}
    for entry in zipcodes.list_all():
        try:
            coords[entry["zip_code"]] = (float(entry["lat"]), float(entry["long"]))
        except (KeyError, TypeError, ValueError):
            continue
    return coords


class _Encoded:
    """One side's attributes as numpy arrays, each built on first use.

    A component reads one or two attributes; building only those keeps a whole-program
    scoring run (seven components, two sides each) from encoding everything 14 times.
    """

    def __init__(self, people: Sequence[Person], codebook: dict[str, int]) -> None:
        self.people = people
        self.n = len(people)
        # Shared with the other side's encoding so equal strings get equal codes; one
        # book per scoring run, so runs in parallel threads never share a counter.
        self.codebook = codebook

    @cached_property
    def age(self) -> NDArray[np.float64]:
        return np.array([p.age if p.age is not None else np.nan for p in self.people],
                        dtype=np.float64)

    @cached_property
    def era(self) -> NDArray[np.int64]:
        return _codes([p.service_era if p.service_era not in ("", "none") else None
                       for p in self.people], self.codebook)

    @cached_property
    def gender(self) -> NDArray[np.int64]:
        return _codes([p.gender or None for p in self.people], self.codebook)

    @cached_property
    def preference(self) -> NDArray[np.int64]:
        return _codes([p.gender_preference or None for p in self.people], self.codebook)

    @cached_property
    def language(self) -> NDArray[np.int64]:
        return _codes([p.language or None for p in self.people], self.codebook)

    @cached_property
    def sets(self) -> dict[str, NDArray[np.int64]]:
        return {name: np.array([_mask(getattr(p, name), vocab) for p in self.people],
                               dtype=np.int64) for name, vocab in _SET_FIELDS.items()}

    @cached_property
    def in_person(self) -> NDArray[np.bool_]:
        return np.array(["in_person" in p.modes for p in self.people], dtype=bool)

    @cached_property
    def _latlon(self) -> list[tuple[float, float] | None]:
        coords = _zip_coordinates()
        return [coords.get((p.zip_code or "")[:5]) for p in self.people]

    @cached_property
    def has_zip(self) -> NDArray[np.bool_]:
        return np.array([c is not None for c in self._latlon], dtype=bool)

    @cached_property
    def lat(self) -> NDArray[np.float64]:
        return np.radians(np.array([c[0] if c else 0.0 for c in self._latlon]))

    @cached_property
    def lon(self) -> NDArray[np.float64]:
        return np.radians(np.array([c[1] if c else 0.0 for c in self._latlon]))


def _codes(values: Iterable[str | None], codebook: dict[str, int]) -> NDArray[np.int64]:
    """Strings to integer codes from `codebook` (added as met); None is -1 (never equal)."""
    out = []
    for value in values:
        if value is None:
            out.append(-1)
        else:
            out.append(codebook.setdefault(value, len(codebook)))
    return np.array(out, dtype=np.int64)


@lru_cache(maxsize=4096)  # people share a few hundred distinct sets: each is coded once
def _mask(values: frozenset[str], vocab: tuple[str, ...]) -> int:
    return sum(1 << i for i, word in enumerate(vocab) if word in values)


def _popcount(x: NDArray[np.int64]) -> NDArray[np.float64]:
    return np.bitwise_count(x).astype(np.float64)


#: Which attributes each component reads, per side (patient, coach). Components are
#: computed once per distinct combination of these and then gathered for every pair:
#: attributes have few distinct values, so this is much less work than pair by pair.
_COMPONENT_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "era": (("service_era", "age"), ("service_era", "age")),
    "pain": (("pain",), ("pain",)),
    "challenges": (("challenges",), ("challenges",)),
    "gender": (("gender", "gender_preference"), ("gender",)),
    "language": (("language",), ("language",)),
    "contact": (("modes", "times"), ("modes", "times")),
    # Of the contact modes, distance reads only whether in person is one of them.
    "distance": (("zip_code", "in_person"), ("zip_code", "in_person")),
}

#: Fields that `_FieldCodes` derives from a person's attributes.
_DERIVED_FIELDS = {"in_person": lambda p: "in_person" in p.modes}


@dataclass(frozen=True)
class ComponentTable:
    """One component on distinct attribute combinations, and who has which."""

    values: NDArray[np.float32]  # distinct patient keys x distinct coach keys
    patient_index: NDArray[np.intp]  # per patient: row in `values`
    coach_index: NDArray[np.intp]  # per coach: column in `values`

    def full(self) -> NDArray[np.float32]:
        return self.values[np.ix_(self.patient_index, self.coach_index)]

    def at(self, patient: int, coach: int) -> float:
        return float(self.values[self.patient_index[patient], self.coach_index[coach]])


class _FieldCodes:
    """Per field, an integer code per person (equal values, equal codes), built once.

    A component reads one or two fields; its distinct combinations come from these codes
    with numpy instead of a Python tuple per person per component.
    """

    def __init__(self, people: Sequence[Person]) -> None:
        self.people = people
        self._codes: dict[str, NDArray[np.intp]] = {}

    def __getitem__(self, name: str) -> NDArray[np.intp]:
        codes = self._codes.get(name)
        if codes is None:
            derived = _DERIVED_FIELDS.get(name)
            values = list(map(derived or attrgetter(name), self.people))
            # Codes in order of first appearance; dict and map run in C, not a loop here.
            code_of = {value: k for k, value in enumerate(dict.fromkeys(values))}
            codes = self._codes[name] = np.fromiter(
                map(code_of.__getitem__, values), dtype=np.intp, count=len(values))
        return codes


def _factorize(side: _FieldCodes, fields: tuple[str, ...]
               ) -> tuple[list[Person], NDArray[np.intp]]:
    """The distinct combinations of `fields` (one person each) and each person's."""
    combined = np.zeros(len(side.people), dtype=np.intp)
    for name in fields:
        codes = side[name]
        combined = combined * (int(codes.max(initial=0)) + 1) + codes
    _, first, index = np.unique(combined, return_index=True, return_inverse=True)
    return [side.people[i] for i in first.tolist()], index.reshape(-1).astype(np.intp)


def component_tables(patients: Sequence[Person], coaches: Sequence[Person],
                     weights: Mapping[str, float]) -> dict[str, ComponentTable]:
    tables = {}
    patient_codes, coach_codes = _FieldCodes(patients), _FieldCodes(coaches)
    for name, (patient_fields, coach_fields) in _COMPONENT_KEYS.items():
        p_reps, p_idx = _factorize(patient_codes, patient_fields)
        c_reps, c_idx = _factorize(coach_codes, coach_fields)
        codebook: dict[str, int] = {}
        values = _COMPUTE[name](_Encoded(p_reps, codebook), _Encoded(c_reps, codebook),
                                weights)
        tables[name] = ComponentTable(values.astype(np.float32), p_idx, c_idx)
    return tables


def _era(P: _Encoded, C: _Encoded, w: Mapping[str, float]) -> NDArray[np.float64]:
    same_era = (P.era[:, None] == C.era[None, :]) & (P.era[:, None] >= 0)
    age_gap = np.abs(P.age[:, None] - C.age[None, :])
    by_age = np.nan_to_num(np.clip(1.0 - age_gap / w["age_window"], 0.0, 1.0), nan=0.0)
    return np.where(same_era, 1.0, by_age)


def _shared_share(name: str) -> Any:
    def compute(P: _Encoded, C: _Encoded, w: Mapping[str, float]) -> NDArray[np.float64]:
        mine = P.sets[name]
        shared = _popcount(mine[:, None] & C.sets[name][None, :])
        total = np.broadcast_to(_popcount(mine)[:, None], shared.shape)
        return np.divide(shared, total, out=np.zeros_like(shared), where=total > 0)
    return compute


def _gender(P: _Encoded, C: _Encoded, w: Mapping[str, float]) -> NDArray[np.float64]:
    same = (P.gender[:, None] == C.gender[None, :]) & (P.gender[:, None] >= 0)
    wants = P.preference[:, None] >= 0
    meets = P.preference[:, None] == C.gender[None, :]
    return np.where(wants, np.where(meets, 1.0, -1.0), same.astype(np.float64))


def _language(P: _Encoded, C: _Encoded, w: Mapping[str, float]) -> NDArray[np.float64]:
    return ((P.language[:, None] == C.language[None, :])
            & (P.language[:, None] >= 0)).astype(np.float64)


def _contact(P: _Encoded, C: _Encoded, w: Mapping[str, float]) -> NDArray[np.float64]:
    total = np.zeros((P.n, C.n))
    for name in ("modes", "times"):
        a, b = P.sets[name][:, None], C.sets[name][None, :]
        flexible = (a == 0) | (b == 0)
        total += np.where(flexible | ((a & b) != 0), 0.5, 0.0)
    return total


def _distance(P: _Encoded, C: _Encoded, w: Mapping[str, float]) -> NDArray[np.float64]:
    matters = P.in_person[:, None] | C.in_person[None, :]
    known = P.has_zip[:, None] & C.has_zip[None, :]
    near = np.where(known, np.clip(1.0 - _miles(P, C) / w["max_miles"], 0.0, 1.0), 0.5)
    return np.where(matters, near, 1.0)


_COMPUTE = {
    "era": _era, "pain": _shared_share("pain"), "challenges": _shared_share("challenges"),
    "gender": _gender, "language": _language, "contact": _contact, "distance": _distance,
}


def _miles(P: _Encoded, C: _Encoded) -> NDArray[np.float64]:
    """Great-circle distance between ZIP centroids (haversine), in miles."""
    dlat = C.lat[None, :] - P.lat[:, None]
    dlon = C.lon[None, :] - P.lon[:, None]
    a = (np.sin(dlat / 2) ** 2
         + np.cos(P.lat)[:, None] * np.cos(C.lat)[None, :] * np.sin(dlon / 2) ** 2)
    return 3958.8 * 2 * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def component_matrices(patients: Sequence[Person], coaches: Sequence[Person],
                       weights: Mapping[str, float] | None = None
                       ) -> dict[str, NDArray[np.float32]]:
    """Each component for every pair, as n_patients x n_coaches float32 arrays."""
    w = merged_weights(weights)
    return {name: t.full() for name, t in component_tables(patients, coaches, w).items()}


def _merge(a: ComponentTable, b: ComponentTable, wa: float, wb: float) -> ComponentTable:
    """One table for ``wa * a + wb * b`` over the combinations of both tables' keys.

    Its values are float64 (the weighted sum), unlike the float32 tables it comes from.
    """
    def combine(x: NDArray[np.intp], y: NDArray[np.intp]
                ) -> tuple[NDArray[np.intp], NDArray[np.intp], NDArray[np.intp]]:
        _, first, index = np.unique(x * (int(y.max(initial=0)) + 1) + y,
                                    return_index=True, return_inverse=True)
        return x[first], y[first], index.reshape(-1).astype(np.intp)

    pa, pb, p_idx = combine(a.patient_index, b.patient_index)
    ca, cb, c_idx = combine(a.coach_index, b.coach_index)
    values = (wa * a.values[np.ix_(pa, ca)].astype(np.float64)
              + wb * b.values[np.ix_(pb, cb)])
    return ComponentTable(values, p_idx, c_idx)


def score_from_tables(tables: Mapping[str, ComponentTable], weights: Mapping[str, float],
                      shape: tuple[int, int]) -> NDArray[np.float64]:
    """The weighted sum of the components for every pair (n_patients x n_coaches).

    Spreading a table over every pair is the costly part (one read and one add per pair
    per table), so tables whose combined keys are few are merged first: a table over the
    combinations of two tables' keys costs its own size, far less than a pass over every
    pair when, say, genders and languages combine into a dozen coach keys. The sum is the
    same; only the order of additions differs (the last bits of the float64 total).
    """
    cells = shape[0] * shape[1]
    parts = [(weights[name], t) for name, t in tables.items() if weights[name]]
    parts.sort(key=lambda wt: wt[1].values.size)
    merged: list[ComponentTable] = []
    for weight, table in parts:
        if merged:
            last = merged[-1]
            rows = np.unique(last.patient_index * (int(table.patient_index.max(initial=0)) + 1)
                             + table.patient_index).size
            cols = np.unique(last.coach_index * (int(table.coach_index.max(initial=0)) + 1)
                             + table.coach_index).size
            if rows * cols <= cells // 8:
                merged[-1] = _merge(last, table, 1.0, weight)
                continue
        merged.append(table if weight == 1.0 else ComponentTable(
            weight * table.values.astype(np.float64),  # type: ignore[arg-type]
            table.patient_index, table.coach_index))
    total = np.zeros(shape, dtype=np.float64)
    # By blocks of rows, so that each table's spread rows are added while still in cache.
    step = max(1, (1 << 17) // max(1, shape[1]))
    for start in range(0, shape[0], step):
        block = total[start:start + step]
        for table in merged:
            block += table.values[table.patient_index[start:start + step]][:, table.coach_index]
    return total


def score_matrix(patients: Sequence[Person], coaches: Sequence[Person],
                 weights: Mapping[str, float] | None = None) -> NDArray[np.float64]:
    """The weighted total for every pair (n_patients x n_coaches)."""
    w = merged_weights(weights)
    tables = component_tables(patients, coaches, w)
    return score_from_tables(tables, w, (len(patients), len(coaches)))


def pair_components(patient: Person, coach: Person,
                    weights: Mapping[str, float] | None = None) -> dict[str, float]:
    """The components of one pair (for the record kept with a confirmed match)."""
    w = merged_weights(weights)
    return {name: round(t.at(0, 0), 4)
            for name, t in component_tables([patient], [coach], w).items()}


def explain(patient: Person, coach: Person, components: Mapping[str, float]) -> str:
    """Plain-language reasons this pair fits, built from the score components."""
    reasons: list[str] = []
    if patient.service_era and patient.service_era == coach.service_era \
            and patient.service_era in ERA_WORDS:
        reasons.append(f"both served in the {ERA_WORDS[patient.service_era]} era")
    elif components.get("era", 0) > 0 and patient.age is not None and coach.age is not None:
        reasons.append(f"their ages are {abs(round(patient.age - coach.age))} years apart")
    shared_pain = sorted(patient.pain & coach.pain)
    if shared_pain:
        reasons.append("both have " + _and(PAIN_WORDS[p] for p in shared_pain))
    shared_ch = sorted(patient.challenges & coach.challenges)
    if shared_ch:
        reasons.append("both deal with " + _and(CHALLENGE_WORDS[c] for c in shared_ch))
    if patient.gender_preference:
        noun = GENDER_NOUN.get(patient.gender_preference, patient.gender_preference)
        if components.get("gender", 0) > 0:
            reasons.append(f"the patient asked for a coach who is {noun}")
        else:
            reasons.append(f"the patient asked for a coach who is {noun}, and this coach "
                           "is not")
    elif components.get("gender", 0) > 0 and patient.gender in GENDER_NOUNS:
        reasons.append(f"both are {GENDER_NOUNS[patient.gender]}")
    if components.get("language", 0) > 0 and patient.language not in ("", "en"):
        reasons.append(f"both speak {LANGUAGE_WORDS.get(patient.language, patient.language)}")
    elif components.get("language", 1) == 0:
        reasons.append("they do not share a language")
    modes = sorted(patient.modes & coach.modes)
    times = sorted(patient.times & coach.times)
    if modes:
        what = _and(MODE_WORDS[m] for m in modes)
        when = f" in the {_and(TIME_WORDS[t] for t in times)}" if times else ""
        reasons.append(f"both prefer {what}{when}".replace("in the weekends", "at weekends"))
    if "in_person" in patient.modes | coach.modes:
        miles = _pair_miles(patient, coach)
        if miles is not None:
            reasons.append(f"they live about {max(1, round(miles))} miles apart")
    if not reasons:
        return "No strong common ground; the best available pair."
    text = "; ".join(reasons)
    return text[0].upper() + text[1:] + "."


def _pair_miles(patient: Person, coach: Person) -> float | None:
    """Haversine distance for one pair (the same formula as `_miles`, without arrays)."""
    coords = _zip_coordinates()
    a, b = coords.get(patient.zip_code[:5]), coords.get(coach.zip_code[:5])
    if a is None or b is None:
        return None
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 3958.8 * 2 * math.asin(math.sqrt(min(1.0, max(0.0, h))))


def _and(words: Iterable[str]) -> str:
    items = list(words)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
