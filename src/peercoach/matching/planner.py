"""The matching run without Django: scores, the optimal pairs, explanations and reasons.

`proposals.plan_matches` gathers the people from the database and calls `plan`;
benchmarks and researchers can call `plan` on their own data.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from . import scoring, solver


@dataclass(frozen=True)
class PlannedPair:
    patient: int  # index into the patients given to `plan`
    coach: int  # index into the coaches given to `plan`
    score: float
    components: dict[str, float]
    explanation: str


@dataclass
class PlanResult:
    pairs: list[PlannedPair] = field(default_factory=list)
    #: (patient index, reason) for every patient left without a coach.
    unmatched: list[tuple[int, str]] = field(default_factory=list)
    seconds: float = 0.0


@dataclass(frozen=True)
class PoolFacts:
    """What the reasons for "not matched" need to know beyond the free places."""

    active_coaches: int
    ready_coaches: int


def plan(patients: Sequence[scoring.Person], coaches: Sequence[scoring.Person],
         capacities: Sequence[int] | NDArray[np.int64], weights: Mapping[str, float],
         *, do_not_pair: NDArray[np.bool_] | None = None,
         rejected: NDArray[np.bool_] | None = None,
         facts: PoolFacts | None = None) -> PlanResult:
    """Score every pair, solve exactly, explain each pair and each patient left over."""
    started = time.perf_counter()
    shape = (len(patients), len(coaches))
    dnp = np.zeros(shape, dtype=bool) if do_not_pair is None else do_not_pair
    rej = np.zeros(shape, dtype=bool) if rejected is None else rejected
    caps = np.asarray(capacities, dtype=np.int64)
    facts = facts or PoolFacts(active_coaches=len(coaches), ready_coaches=len(coaches))
    result = PlanResult()
    if not patients:
        return result
    tables = scoring.component_tables(patients, coaches, weights)
    scores = scoring.score_from_tables(tables, weights, shape)
    pairs = solver.solve(scores, caps, ~(dnp | rej))
    del scores
    # Each chosen pair's components, looked up for all pairs at once (rounded as recorded).
    rows = np.fromiter((i for i, _ in pairs), dtype=np.intp, count=len(pairs))
    cols = np.fromiter((j for _, j in pairs), dtype=np.intp, count=len(pairs))
    looked_up = {name: [round(v, 4) for v in
                        t.values[t.patient_index[rows], t.coach_index[cols]].tolist()]
                 for name, t in tables.items()}
    names = list(looked_up)
    for k, (i, j) in enumerate(pairs):
        components = {name: looked_up[name][k] for name in names}
        total = round(sum(weights[name] * value for name, value in components.items()), 4)
        result.pairs.append(PlannedPair(i, j, total, components,
                                        scoring.explain(patients[i], coaches[j], components)))
    matched = np.zeros(len(patients), dtype=bool)
    matched[[i for i, _ in pairs]] = True
    room = caps > 0
    for left in np.flatnonzero(~matched):
        index = int(left)
        result.unmatched.append((index, why_unmatched(index, facts, room, dnp, rej)))
    result.seconds = time.perf_counter() - started
    return result


def why_unmatched(i: int, facts: PoolFacts, room: NDArray[np.bool_],
                  dnp: NDArray[np.bool_], rejected: NDArray[np.bool_]) -> str:
    """Why patient i has no coach, in words a coordinator can act on."""
    if facts.active_coaches == 0:
        return "No active coach in this program."
    if facts.ready_coaches == 0:
        return "No active coach is ready yet (training or checklist not complete)."
    if not room.any():
        return "Every ready coach is at capacity."
    blocked_dnp = dnp[i] & room
    blocked_rej = rejected[i] & room
    if (blocked_dnp | blocked_rej).sum() == room.sum():
        if not blocked_rej.any():
            return "Only coaches marked “do not pair” with this patient have room."
        if not blocked_dnp.any():
            return "Every coach with room was rejected for this patient."
        return "Every coach with room is ruled out (do not pair, or rejected)."
    return "More patients than free coach places: the places went to other patients."
