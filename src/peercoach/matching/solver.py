"""The matching solver: the best set of coach–patient pairs for a whole program at once.

Public and free of Django so researchers can call it directly::

    from peercoach.matching.solver import solve
    pairs = solve(scores, capacities, allowed)

What "best" means, in this order:

1. **As many patients matched as possible** (maximum cardinality): nobody is left
   without a coach to make someone else's pair a little better.
2. Among all matchings of that size, **the largest total score**.

It is an exact optimum, not a greedy pass. Each coach with capacity ``c`` is expanded
into ``c`` identical columns (one per free slot) and the resulting assignment problem is
solved by ``scipy.optimize.linear_sum_assignment`` (a shortest-augmenting-path, Hungarian-
type exact algorithm). Cardinality comes first because every allowed pair gets a bonus
larger than the whole range of possible score differences: trading one pair for a better
total can never pay. Forbidden pairs are worth nothing, the same as leaving a patient
unmatched, so an optimal assignment never needs one; any that the solver returns (on ties)
are dropped. Patients with no allowed coach and coach places nobody may take are left out
of the solve (they cannot be in any matching).

**Column prices (speed only, exactness unchanged).** On nearly square problems (as many
patients as coach places, give or take 3 %) with structured scores like PeerCoach's, the
augmenting-path solver is slow: many patients want the same few coaches, and every
augmentation explores them all. A cheap approximate auction (Bertsekas; ε-scaling, all
unassigned patients bidding at once, on float32 scores) first finds a price ``p[j]`` per
column: how contested that place is. The assignment problem is then made exactly square
by adding all-zero dummy rows, and ``p[j]`` is added to every entry of column ``j``.

Why this cannot change the answer: in a square assignment every column is used exactly
once, so adding ``p[j]`` to column ``j`` adds the same ``sum(p)`` to the cost of *every*
assignment; the set of optimal assignments is the same whatever the prices (they may be
poor, or wrong: they only change how long the solve takes). The dummy rows cost 0 in every
column, so an assignment of the square problem restricted to the real rows is an assignment
of the rectangular one with the same cost, and every rectangular assignment extends to a
square one (dummies take the columns left over) with the same cost: both have the same
optima. The exact solve is still ``linear_sum_assignment``; the auction is never trusted
for the result. Measured on one program of 5,000 patients and 2,500 coaches: 11 s of
solve become about 3 (benchmarks/README.md). Away from square, free places end the
augmenting paths early, the plain solve is already fast and dummy rows would slow it down,
so prices are not used.

Exact means exact in float64: scores, the bonus and the prices are added in double
precision (about 1e-11 relative to the bonus per pair), as ``linear_sum_assignment`` itself
computes. Two matchings whose totals differ by less than that may be taken for equal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import linear_sum_assignment

__all__ = ["auction_prices", "solve", "total_score"]


def _validate(
    scores: ArrayLike, capacities: Sequence[int] | ArrayLike, allowed: ArrayLike | None
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_]]:
    try:
        matrix = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"scores must be a 2-D array of numbers: {exc}") from exc
    if matrix.ndim != 2:
        raise ValueError(
            f"scores must be 2-D (patients x coaches); got {matrix.ndim} dimension(s)."
        )
    n_patients, n_coaches = matrix.shape
    if np.isnan(matrix).any():
        row, col = np.argwhere(np.isnan(matrix))[0]
        raise ValueError(f"scores contain NaN (first at patient {row}, coach {col}).")
    if np.isinf(matrix).any():
        row, col = np.argwhere(np.isinf(matrix))[0]
        raise ValueError(
            f"scores contain an infinite value (first at patient {row}, coach {col}); "
            "use allowed=False to forbid a pair."
        )
    caps_raw = np.asarray(capacities)
    if caps_raw.ndim != 1 or caps_raw.shape[0] != n_coaches:
        raise ValueError(
            f"capacities must list one number per coach: scores has {n_coaches} coach "
            f"column(s), capacities has shape {caps_raw.shape}."
        )
    if caps_raw.size and not np.all(np.mod(caps_raw, 1) == 0):
        raise ValueError("capacities must be whole numbers.")
    caps = caps_raw.astype(np.int64)
    if (caps < 0).any():
        raise ValueError(f"capacities must not be negative (coach {int(np.argmin(caps))}).")
    if allowed is None:
        mask = np.ones((n_patients, n_coaches), dtype=bool)
    else:
        mask = np.asarray(allowed)
        if mask.shape != matrix.shape:
            raise ValueError(
                f"allowed must have the same shape as scores: {mask.shape} != {matrix.shape}."
            )
        if mask.dtype != np.bool_:
            raise ValueError("allowed must be an array of booleans (True allows a pair).")
    return matrix, caps, mask


#: The auction's step sizes, as fractions of the score range (ε-scaling: coarse to fine).
#: Finer prices make the exact solve faster; coarse ones alone can make it slower.
_EPS_DIVISORS = (4, 16, 64, 256, 1024, 4096, 16384)
#: Prices are used on problems of at least this many cells (smaller ones take milliseconds)
_PRICE_MIN_CELLS = 250_000
#: ... whose larger side has at most this share of places more than the smaller side.
_PRICE_MAX_SPARE = 0.03
#: Per ε step: at most this many bidding rounds, and the step ends once this share of the
#: bidders hold a place (the last few can take many rounds; the exact solve finishes them).
#: On small problems a round costs mostly numpy's per-call overhead, so the long tail of
#: rounds costs more than the exact solve saves: they stop earlier (measured on 150 sites
#: of 667 patients: auction 2.4 s -> 1.2 s, solve in all 3.3 s -> 2.2 s).
_AUCTION_ROUNDS = 300
_AUCTION_DONE = 0.99
_AUCTION_DONE_SMALL = 0.95
_AUCTION_SMALL_CELLS = 2_000_000
#: The whole auction stops after this many bids per bidder (a price war on tied scores).
_AUCTION_BIDS_PER_BIDDER = 40


def _use_prices(small: int, large: int) -> bool:
    """Whether to price columns before the exact solve (see the module docstring)."""
    return small * large >= _PRICE_MIN_CELLS and large - small <= _PRICE_MAX_SPARE * large


def auction_prices(benefit: NDArray[np.float32], bidder_rows: NDArray[np.intp],
                   capacities: NDArray[np.int64], step: float) -> NDArray[np.float64]:
    """Approximate prices per place from a forward auction (a heuristic for speed only).

    Args:
        benefit: rows x objects; bidder ``b`` values object ``j`` at
            ``benefit[bidder_rows[b], j]`` (higher is better).
        bidder_rows: which row of ``benefit`` each bidder uses (two places of one coach
            are two bidders with the same row).
        capacities: places per object; object ``j`` has ``capacities[j]`` places, each
            priced on its own (a bidder takes the cheapest place of the object it likes).
        step: the first ε; it is divided by 4 per phase down to ``step / 4**6``.

    Returns:
        One price per place, in the order ``np.repeat(np.arange(objects), capacities)``.

    Each round every bidder without a place bids for its best object at its cheapest
    place, raising that place's price by (best value - second best value + ε); each object
    takes the highest bid and its previous holder bids again later. Between phases only
    the bidders no longer within the new ε of their best keep bidding (the rest keep their
    places). A bidder within ε of its best at the end is "ε-happy": prices are then close
    to the optimal dual of the assignment problem, which is what the exact solve needs.
    """
    bidders = bidder_rows.size
    n_objects = benefit.shape[1]
    width = int(capacities.max())
    exists = np.arange(width)[None, :] < capacities[:, None]
    price = np.where(exists, 0.0, np.inf)
    holder = np.full((n_objects, width), -1, dtype=np.intp)
    obj_of = np.full(bidders, -1, dtype=np.intp)
    place_of = np.full(bidders, -1, dtype=np.intp)
    cheapest = price.argmin(axis=1)
    p1 = price[np.arange(n_objects), cheapest]
    # The second-cheapest place of each object: a bidder's alternative to its best place.
    p2 = np.partition(price, 1, axis=1)[:, 1] if width > 1 else np.full(n_objects, np.inf)
    top = np.empty(n_objects)
    budget = _AUCTION_BIDS_PER_BIDDER * bidders
    done = _AUCTION_DONE_SMALL if bidders * n_objects < _AUCTION_SMALL_CELLS else _AUCTION_DONE
    for phase in range(len(_EPS_DIVISORS)):
        eps = step * _EPS_DIVISORS[0] / _EPS_DIVISORS[phase]
        if phase:  # bidders no longer within eps of their best value bid again
            held = np.flatnonzero(obj_of >= 0)
            values = benefit[bidder_rows[held]] - p1.astype(np.float32)
            own = (benefit[bidder_rows[held], obj_of[held]]
                   - price[obj_of[held], place_of[held]])
            unhappy = held[own < values.max(axis=1) - eps]
            del values
            holder[obj_of[unhappy], place_of[unhappy]] = -1
            obj_of[unhappy] = place_of[unhappy] = -1
        for _ in range(_AUCTION_ROUNDS):
            free = np.flatnonzero(obj_of < 0)
            if free.size == 0 or free.size < (1.0 - done) * bidders or budget <= 0:
                break
            budget -= free.size
            rows = bidder_rows[free]
            values = benefit[rows] - p1.astype(np.float32)
            at = np.arange(free.size)
            best = values.argmax(axis=1)
            v1 = values[at, best].astype(np.float64)
            values[at, best] = -np.inf
            v2 = np.maximum(values.max(axis=1), benefit[rows, best] - p2[best])
            del values
            gap = v1 - v2
            gap[~np.isfinite(gap)] = 0.0  # an object with no alternative: bid the step
            bid = p1[best] + gap + eps
            top[best] = -np.inf
            np.maximum.at(top, best, bid)
            winners = np.flatnonzero(bid == top[best])
            objects, first = np.unique(best[winners], return_index=True)
            winners = winners[first]
            places = cheapest[objects]
            outbid = holder[objects, places]
            outbid = outbid[outbid >= 0]
            obj_of[outbid] = place_of[outbid] = -1
            holder[objects, places] = free[winners]
            obj_of[free[winners]] = objects
            place_of[free[winners]] = places
            price[objects, places] = bid[winners]
            sub = price[objects]
            cheapest[objects] = sub.argmin(axis=1)
            p1[objects] = sub.min(axis=1)
            if width > 1:
                p2[objects] = np.partition(sub, 1, axis=1)[:, 1]
    return price[exists]


def solve(
    scores: ArrayLike,
    capacities: Sequence[int] | ArrayLike,
    allowed: ArrayLike | None = None,
) -> list[tuple[int, int]]:
    """Return the optimal (patient index, coach index) pairs.

    Args:
        scores: n_patients x n_coaches array-like of floats; higher is a better pair.
        capacities: one non-negative whole number per coach: how many more patients
            that coach can take.
        allowed: optional boolean array shaped like ``scores``; False forbids a pair.

    Returns:
        Pairs sorted by patient index. First as many patients as possible are matched,
        then the total score is maximized. Each patient appears at most once; no coach
        appears more often than their capacity; no forbidden pair appears.

    Raises:
        ValueError: shapes that disagree, negative or fractional capacities, NaN or
            infinite scores, or a non-boolean ``allowed``.
    """
    matrix, caps, mask = _validate(scores, capacities, allowed)
    # Patients nobody may coach cannot be matched: leave them out of the solve.
    patient_ids = np.flatnonzero(mask.any(axis=1))
    if patient_ids.size < matrix.shape[0]:
        matrix, mask = matrix[patient_ids], mask[patient_ids]
    n_patients, n_coaches = matrix.shape
    # A coach never needs more slots than there are patients who could use them.
    useful = np.minimum(caps, mask.sum(axis=0))
    if n_patients == 0 or useful.sum() == 0:
        return []
    slot_coach = np.repeat(np.arange(n_coaches), useful)
    hi = float(np.max(matrix, where=mask, initial=-np.inf))
    lo = float(np.min(matrix, where=mask, initial=np.inf))
    # Any matching of k+1 pairs must beat any matching of k pairs: the bonus per pair
    # exceeds the largest possible difference in total score between two matchings.
    bonus = (hi - lo + 1.0) * (min(n_patients, slot_coach.size) + 1)
    # The cost matrix is handed to scipy wide (it would copy a tall one to transpose it):
    # `small` rows (patients, or coach places when those are fewer) x `large` columns.
    tall = n_patients > slot_coach.size
    small, large = (slot_coach.size, n_patients) if tall else (n_patients, slot_coach.size)
    prices = None
    if _use_prices(small, large):
        benefit = matrix.astype(np.float32)
        benefit -= np.float32(lo)
        benefit[~mask] = -bonus  # forbidden: worth the bonus less than any allowed pair
        step = (hi - lo + 1.0) / _EPS_DIVISORS[0]
        if tall:  # the coach places bid for patients
            prices = auction_prices(np.ascontiguousarray(benefit.T), slot_coach,
                                    np.ones(n_patients, dtype=np.int64), step)
        else:  # the patients bid for coach places
            prices = auction_prices(benefit, np.arange(n_patients), useful, step)
        del benefit
    # Memory matters at 5,000 x 5,000 slots: the cost matrix is built once and changed in
    # place, as a minimization (maximize=True makes scipy negate it into another copy).
    cost = np.empty((large if prices is not None else small, large))
    real = cost[:small]
    if tall:
        np.take(matrix.T, slot_coach, axis=0, out=real)
        forbid = ~mask.T[slot_coach]
    else:
        np.take(matrix, slot_coach, axis=1, out=real)
        forbid = ~mask[:, slot_coach]
    real -= lo
    real += bonus
    np.negative(real, out=real)
    real[forbid] = 0.0  # forbidden pairs are worth nothing, like staying unmatched
    del forbid, real
    if prices is not None:
        cost[small:] = 0.0  # dummy rows: square, so column prices change no optimum
        cost += prices
    r, c = linear_sum_assignment(cost)
    del cost
    keep = r < small
    r, c = r[keep], c[keep]
    rows, cols = (c, r) if tall else (r, c)
    coaches = slot_coach[cols]
    keep = mask[rows, coaches]
    return sorted(zip(patient_ids[rows[keep]].tolist(), coaches[keep].tolist(), strict=True))


def total_score(scores: ArrayLike, pairs: Sequence[tuple[int, int]]) -> float:
    """The sum of scores over `pairs` (for reports and benchmarks)."""
    matrix = np.asarray(scores, dtype=np.float64)
    return float(sum(matrix[p, c] for p, c in pairs))
