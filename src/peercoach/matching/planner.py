"""The matching run without Django: scores, the optimal pairs, explanations and reasons.

`proposals.plan_matches` gathers the people from the database and calls `plan`;
benchmarks and researchers can call `plan` on their own data, and `plan_sites` on many
sites at once (a national run: matching within each site).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
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


#: Pairs ruled out: a boolean patients x coaches array, or (patient, coach) index pairs.
Forbidden = NDArray[np.bool_] | NDArray[np.intp] | Sequence[tuple[int, int]] | None


def _as_mask(forbidden: Forbidden, shape: tuple[int, int]) -> NDArray[np.bool_]:
    """The ruled-out pairs as a boolean array (built only while its site is planned)."""
    if forbidden is None:
        return np.zeros(shape, dtype=bool)
    array = np.asarray(forbidden)
    if array.dtype == np.bool_:
        if array.shape != shape:
            raise ValueError(f"A mask of ruled-out pairs must be {shape}, not {array.shape}.")
        return array
    mask = np.zeros(shape, dtype=bool)
    if array.size:
        pairs = array.reshape(-1, 2).astype(np.intp)
        if (pairs < 0).any() or (pairs >= np.array(shape)).any():
            raise ValueError(f"A ruled-out pair is outside {shape[0]} patients x "
                             f"{shape[1]} coaches.")
        mask[pairs[:, 0], pairs[:, 1]] = True
    return mask


@dataclass(frozen=True)
class PoolFacts:
    """What the reasons for "not matched" need to know beyond the free places."""

    active_coaches: int
    ready_coaches: int


def plan(patients: Sequence[scoring.Person], coaches: Sequence[scoring.Person],
         capacities: Sequence[int] | NDArray[np.int64], weights: Mapping[str, float],
         *, do_not_pair: Forbidden = None, rejected: Forbidden = None,
         facts: PoolFacts | None = None) -> PlanResult:
    """Score every pair, solve exactly, explain each pair and each patient left over.

    `do_not_pair` and `rejected` rule pairs out: a boolean patients x coaches array, or
    (patient index, coach index) pairs.
    """
    started = time.perf_counter()
    shape = (len(patients), len(coaches))
    dnp = _as_mask(do_not_pair, shape)
    rej = _as_mask(rejected, shape)
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
    # The weighted total of the rounded components, added in the same order as a sum()
    # over each pair's components would add them (so the same float64 result).
    weighted = np.zeros(len(pairs))
    for name in names:
        weighted += weights[name] * np.array(looked_up[name], dtype=np.float64)
    totals = [round(v, 4) for v in weighted.tolist()]
    for k, (i, j) in enumerate(pairs):
        components = {name: looked_up[name][k] for name in names}
        result.pairs.append(PlannedPair(i, j, totals[k], components,
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


@dataclass(frozen=True)
class Site:
    """One site's (or program's) matching inputs: the arguments of `plan`."""

    patients: Sequence[scoring.Person]
    coaches: Sequence[scoring.Person]
    capacities: Sequence[int] | NDArray[np.int64]
    weights: Mapping[str, float]
    do_not_pair: Forbidden = None
    rejected: Forbidden = None
    facts: PoolFacts | None = None

    @property
    def cells(self) -> int:
        """Patients x coach places: what the exact solve's working arrays grow with."""
        return len(self.patients) * int(np.asarray(self.capacities, dtype=np.int64).sum())


#: While they are solved, sites together may hold at most this many (patient, coach
#: place) cells: about 23 bytes each at the peak of `plan` (the cost matrix, the scores,
#: the float32 copy the auction reads), so about 700 MB. A larger site runs on its own.
MAX_CONCURRENT_CELLS = 30_000_000


def default_workers() -> int:
    """One worker per CPU this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def plan_sites(sites: Iterable[Site], *, workers: int | None = None,
               max_cells: int = MAX_CONCURRENT_CELLS) -> Iterator[tuple[int, PlanResult]]:
    """`plan` for many independent sites, several at a time; yields (index, result).

    Results come as sites finish, not in input order: the index says which site each is.
    Sites are read from `sites` only a few ahead of the workers, so a caller can load
    them one by one and never hold a whole country's people at once; giving the largest
    first balances the work best.

    Why threads and not processes: the exact solve (scipy's `linear_sum_assignment`) and
    the array work of scoring release the GIL, so two sites really run at once, and the
    people and the results need no copying between processes. The plain-Python parts
    (explanations, encoding attributes) still take turns.

    Memory: a site starts only while the sites being solved stay under `max_cells`
    cells together (a site larger than that starts once nothing else runs), so the
    peak stays near that of the largest site alone.
    """
    workers = workers or default_workers()
    lookahead = 4 * workers
    source = iter(enumerate(sites))
    waiting: list[tuple[int, Site]] = []
    running: dict[Future[PlanResult], tuple[int, int]] = {}
    passed_over: dict[int, int] = {}  # how often a waiting site let a later one go first
    exhausted = False
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="plan-site") as pool:
        while True:
            while not exhausted and len(waiting) < lookahead:
                item = next(source, None)
                if item is None:
                    exhausted = True
                else:
                    waiting.append(item)
            in_use = sum(cells for _, cells in running.values())
            for item in list(waiting):
                if len(running) >= workers:
                    break
                index, site = item
                cells = site.cells
                if running and in_use + cells > max_cells:
                    passed_over[index] = passed_over.get(index, 0) + 1
                    if passed_over[index] > lookahead:
                        break  # it has waited long enough: nothing overtakes it now
                    continue  # a smaller site further on may fit now
                waiting.remove(item)
                running[pool.submit(plan_site, site)] = (index, cells)
                in_use += cells
            if not running:
                return
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                index, _ = running.pop(future)
                yield index, future.result()


def plan_site(site: Site) -> PlanResult:
    """`plan` on one `Site`."""
    return plan(site.patients, site.coaches, site.capacities, site.weights,
                do_not_pair=site.do_not_pair, rejected=site.rejected, facts=site.facts)
