"""The solver: exact, capacity-respecting, cardinality first (checked by brute force)."""

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peercoach.matching import solver
from peercoach.matching.solver import solve, total_score


@st.composite
def instances(draw):
    n = draw(st.integers(0, 5))
    m = draw(st.integers(0, 4))
    scores = draw(st.lists(st.lists(st.floats(-5, 20, allow_nan=False, width=32),
                                    min_size=m, max_size=m), min_size=n, max_size=n))
    caps = draw(st.lists(st.integers(0, 2), min_size=m, max_size=m))
    allowed = draw(st.lists(st.lists(st.booleans(), min_size=m, max_size=m),
                            min_size=n, max_size=n))
    return (np.array(scores, dtype=float).reshape(n, m), caps,
            np.array(allowed, dtype=bool).reshape(n, m))


def brute_force(scores, caps, allowed):
    """(most pairs, best total) over every assignment: an independent optimum."""
    n, m = scores.shape
    best = (0, 0.0)
    for choice in itertools.product([None, *range(m)], repeat=n):
        used = [0] * m
        ok = True
        total = 0.0
        for i, j in enumerate(choice):
            if j is None:
                continue
            if not allowed[i, j]:
                ok = False
                break
            used[j] += 1
            total += scores[i, j]
        if ok and all(u <= c for u, c in zip(used, caps, strict=True)):
            best = max(best, (sum(j is not None for j in choice), total))
    return best


def greedy(scores, caps, allowed):
    left = list(caps)
    taken, pairs = set(), []
    order = sorted(((scores[i, j], i, j) for i in range(scores.shape[0])
                    for j in range(scores.shape[1]) if allowed[i, j]), reverse=True)
    for _, i, j in order:
        if i not in taken and left[j] > 0:
            taken.add(i)
            left[j] -= 1
            pairs.append((i, j))
    return pairs


@settings(max_examples=300, deadline=None)
@given(instances())
def test_solver_is_optimal_and_feasible(instance):
    scores, caps, allowed = instance
    pairs = solve(scores, caps, allowed)
    patients = [i for i, _ in pairs]
    assert len(patients) == len(set(patients)), "a patient matched twice"
    for j, cap in enumerate(caps):
        assert sum(1 for _, c in pairs if c == j) <= cap, "capacity exceeded"
    assert all(allowed[i, j] for i, j in pairs), "a forbidden pair"
    count, total = brute_force(scores, caps, allowed)
    assert len(pairs) == count, "not as many patients matched as possible"
    assert total_score(scores, pairs) == pytest.approx(total, abs=1e-6)
    mine = (len(pairs), total_score(scores, pairs))
    theirs = greedy(scores, caps, allowed)
    assert mine >= (len(theirs), total_score(scores, theirs) - 1e-6)


def test_prefers_more_pairs_over_a_higher_total():
    # One coach place each; pairing patient 0 with coach 0 scores best alone (10) but
    # leaves patient 1 without anyone: the solver pairs both.
    scores = [[10, 1], [9, -100]]
    allowed = [[True, True], [True, False]]
    assert solve(scores, [1, 1], np.array(allowed)) == [(0, 1), (1, 0)]


def test_capacity_is_expanded():
    assert solve([[5], [4], [3]], [2]) == [(0, 0), (1, 0)]


def test_empty_inputs():
    assert solve(np.zeros((0, 3)), [1, 1, 1]) == []
    assert solve(np.zeros((2, 0)), []) == []
    assert solve([[1.0]], [0]) == []


@pytest.mark.parametrize("scores,caps,allowed,message", [
    ([[1, 2]], [1], None, "one number per coach"),
    ([[1, 2]], [1, -1], None, "must not be negative"),
    ([[float("nan"), 2]], [1, 1], None, "NaN"),
    ([[float("inf"), 2]], [1, 1], None, "infinite"),
    ([1, 2], [1, 1], None, "2-D"),
    ([[1, 2]], [1, 1], [[True]], "same shape"),
    ([[1, 2]], [1, 1], [[1, 0]], "booleans"),
    ([[1, 2]], [1, 1.5], None, "whole numbers"),
    ([["a", 2]], [1, 1], None, "numbers"),
])
def test_bad_input_is_refused_clearly(scores, caps, allowed, message):
    with pytest.raises(ValueError, match=message):
        solve(scores, caps, None if allowed is None else np.array(allowed))


# --- Column prices: the fast path for nearly square problems -----------------------------


@settings(max_examples=300, deadline=None)
@given(instances())
def test_priced_solve_is_optimal_and_feasible(instance):
    """Prices and square padding forced on every instance, whatever its shape."""
    scores, caps, allowed = instance
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(solver, "_PRICE_MIN_CELLS", 0)
        mp.setattr(solver, "_PRICE_MAX_SPARE", 1.0)
        pairs = solve(scores, caps, allowed)
    patients = [i for i, _ in pairs]
    assert len(patients) == len(set(patients))
    for j, cap in enumerate(caps):
        assert sum(1 for _, c in pairs if c == j) <= cap
    assert all(allowed[i, j] for i, j in pairs)
    count, total = brute_force(scores, caps, allowed)
    assert len(pairs) == count
    assert total_score(scores, pairs) == pytest.approx(total, abs=1e-6)


@pytest.mark.parametrize("family", ["ties", "integers", "floats", "structured"])
@pytest.mark.parametrize("shape", [(40, 20), (40, 21), (40, 19), (37, 25)])
def test_priced_equals_plain_on_larger_instances(family, shape, monkeypatch):
    """Same count and total with and without prices (tight capacities, forbidden pairs)."""
    rng = np.random.default_rng([len(family), *shape])
    n, m = shape
    if family == "ties":
        scores = rng.choice([0.0, 0.5, 1.0], size=shape)
    elif family == "integers":
        scores = rng.integers(-3, 4, size=shape).astype(float)
    elif family == "floats":
        scores = rng.normal(0.0, 5.0, size=shape)
    else:  # a popular-coach structure: coach quality plus a little of each pair
        scores = rng.random(m)[None, :] * 10 + rng.integers(0, 3, size=shape)
    caps = rng.integers(0, 4, size=m)
    allowed = rng.random(shape) > 0.2
    allowed[0] = False  # a patient nobody may coach
    plain = solve(scores, caps, allowed)
    monkeypatch.setattr(solver, "_PRICE_MIN_CELLS", 0)
    monkeypatch.setattr(solver, "_PRICE_MAX_SPARE", 1.0)
    priced = solve(scores, caps, allowed)
    assert len(priced) == len(plain)
    assert total_score(scores, priced) == pytest.approx(total_score(scores, plain), abs=1e-9)
    assert all(allowed[i, j] for i, j in priced)
    assert np.all(np.bincount([j for _, j in priced], minlength=m) <= caps)


def test_nearly_square_programs_use_prices_and_stay_optimal(monkeypatch):
    """600 patients, 300 coaches of capacity 2: priced by default; same optimum as plain."""
    rng = np.random.default_rng(7)
    scores = rng.random(300)[None, :] * 6 + rng.integers(0, 4, size=(600, 300)) * 1.5
    caps = np.full(300, 2)
    assert solver._use_prices(600, 600)
    priced = solve(scores, caps)
    monkeypatch.setattr(solver, "_PRICE_MIN_CELLS", 10**18)
    plain = solve(scores, caps)
    assert len(priced) == len(plain) == 600
    assert total_score(scores, priced) == pytest.approx(total_score(scores, plain), abs=1e-9)


def test_prices_do_not_change_the_optimum_of_a_square_problem():
    """The argument the fast path rests on: column prices shift every assignment alike."""
    from scipy.optimize import linear_sum_assignment

    rng = np.random.default_rng(3)
    cost = rng.integers(0, 5, size=(30, 30)).astype(float)
    r, c = linear_sum_assignment(cost)
    for _ in range(20):
        prices = rng.normal(0, 50, size=30)
        r2, c2 = linear_sum_assignment(cost + prices)
        assert cost[r2, c2].sum() == cost[r, c].sum()


def test_auction_prices_one_per_place():
    rng = np.random.default_rng(5)
    benefit = rng.random((50, 20)).astype(np.float32)
    caps = rng.integers(0, 4, size=20)
    prices = solver.auction_prices(benefit, np.arange(50), caps, 0.25)
    assert prices.shape == (caps.sum(),)
    assert np.all(np.isfinite(prices)) and np.all(prices >= 0)


def test_patients_nobody_may_coach_keep_their_indices():
    scores = [[9.0, 9.0], [1.0, 2.0], [5.0, 1.0]]
    allowed = np.array([[False, False], [True, True], [True, True]])
    assert solve(scores, [1, 1], allowed) == [(1, 1), (2, 0)]
