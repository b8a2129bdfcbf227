"""Properties of the pure permuted-block generator (no Django, no database)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peercoach.research.randomization import (
    block_sequence,
    stratified_sequences,
    stratum_seed,
    validate_design,
)


@st.composite
def designs(draw):
    """Arms, a ratio, block sizes (multiples of the ratio's sum), a seed and n."""
    k = draw(st.integers(min_value=2, max_value=4))
    arms = [f"arm{i}" for i in range(k)]
    ratio = draw(st.lists(st.integers(min_value=1, max_value=5), min_size=k, max_size=k))
    unit = sum(ratio)
    multiples = draw(st.lists(st.integers(min_value=1, max_value=4), min_size=1, max_size=3))
    sizes = [unit * m for m in multiples]
    seed = draw(st.integers(min_value=0, max_value=2**62))
    n = draw(st.integers(min_value=0, max_value=150))
    return arms, ratio, sizes, seed, n


@settings(max_examples=200, deadline=None)
@given(designs())
def test_length_and_arm_names(design):
    arms, ratio, sizes, seed, n = design
    sequence = block_sequence(n, arms, sizes, ratio, seed=seed)
    assert len(sequence) == n
    assert set(sequence) <= set(arms)


@settings(max_examples=200, deadline=None)
@given(designs())
def test_same_seed_same_sequence_and_longer_ones_extend_shorter_ones(design):
    arms, ratio, sizes, seed, n = design
    first = block_sequence(n, arms, sizes, ratio, seed=seed)
    assert block_sequence(n, arms, sizes, ratio, seed=seed) == first
    assert block_sequence(n + 37, arms, sizes, ratio, seed=seed)[:n] == first


@settings(max_examples=200, deadline=None)
@given(designs())
def test_every_complete_block_is_balanced_in_the_ratio(design):
    """Walk the generator's own block boundaries: replay its draws with the same seed."""
    import random

    arms, ratio, sizes, seed, n = design
    sequence = block_sequence(n, arms, sizes, ratio, seed=seed)
    rng = random.Random(seed)
    position = 0
    unit = sum(ratio)
    while position < n:
        size = rng.choice(sizes)
        rng.shuffle([None] * size)  # consume the shuffle's draws as the generator does
        block = sequence[position:position + size]
        counts = Counter(block)
        if len(block) == size:  # a complete block: every arm exactly in the ratio
            assert all(counts[a] == r * size // unit for a, r in zip(arms, ratio, strict=True))
            assert size in sizes
        else:  # the last block, cut off at n: a prefix of a valid block
            assert all(counts[a] <= r * size // unit for a, r in zip(arms, ratio, strict=True))
        position += size


@settings(max_examples=200, deadline=None)
@given(designs())
def test_imbalance_never_exceeds_half_the_largest_block(design):
    """Cumulative balance, a consequence of whole blocks: at any point each arm is within
    one block's share of its target."""
    arms, ratio, sizes, seed, n = design
    sequence = block_sequence(n, arms, sizes, ratio, seed=seed)
    unit = sum(ratio)
    largest = max(sizes)
    counts: Counter[str] = Counter()
    for i, arm in enumerate(sequence, start=1):
        counts[arm] += 1
        for a, r in zip(arms, ratio, strict=True):
            assert abs(counts[a] - i * r / unit) <= r * largest / unit


def test_a_known_sequence_is_pinned():
    """A change here changes every stored study's regenerated sequence: say so in the
    changelog and keep the old generator for running studies."""
    assert block_sequence(12, ["A", "B"], [2, 4, 6], seed=2026) == list("ABBBABAABAAB")
    assert block_sequence(10, ["coaching", "control"], [9, 18], [5, 4], seed=7) == (
        ["coaching"] * 3 + ["control"] * 4 + ["coaching"] * 3)


def test_unequal_ratio_like_eclipse():
    sequence = block_sequence(9 * 24, ["coaching", "control"], [9, 18], [5, 4], seed=1)
    counts = Counter(sequence)
    assert counts == {"coaching": 120, "control": 96}


def test_string_and_bytes_seeds():
    assert block_sequence(10, ["A", "B"], [2, 4], seed="trial-1") == \
        block_sequence(10, ["A", "B"], [2, 4], seed="trial-1")
    assert len(block_sequence(10, ["A", "B"], [2, 4], seed=b"x")) == 10
    assert len(block_sequence(10, ["A", "B"], [2, 4])) == 10  # no seed: random


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"n": 4, "arms": ["A"], "block_sizes": [2]}, "at least two arms"),
    ({"n": 4, "arms": [], "block_sizes": [2]}, "at least two arms"),
    ({"n": 4, "arms": "AB", "block_sizes": [2]}, "sequence of arm names"),
    ({"n": 4, "arms": ["A", "A"], "block_sizes": [2]}, "duplicate arm names: A"),
    ({"n": 4, "arms": ["A", ""], "block_sizes": [2]}, "non-empty string"),
    ({"n": 4, "arms": ["A", 3], "block_sizes": [2]}, "non-empty string"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": [3]}, "block size 3 is not a positive "
                                                       "multiple of the ratio's sum (2)"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": [0]}, "block size 0"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": [-2]}, "block size -2"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": [4], "ratio": [2, 1]}, "multiple of the "
                                                                         "ratio's sum (3)"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": []}, "block_sizes is empty"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": [2.0]}, "whole numbers"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": [True]}, "whole numbers"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": 2}, "sequence of whole numbers"),
    ({"n": -1, "arms": ["A", "B"], "block_sizes": [2]}, "n must be 0 or more"),
    ({"n": 2.5, "arms": ["A", "B"], "block_sizes": [2]}, "n must be a whole number"),
    ({"n": True, "arms": ["A", "B"], "block_sizes": [2]}, "n must be a whole number"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": [2], "ratio": [1]}, "ratio has 1 entries"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": [2], "ratio": [1, 1, 1]}, "ratio has 3"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": [2], "ratio": [0, 2]}, "must be positive"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": [2], "ratio": [-1, 3]}, "must be positive"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": [2], "ratio": [1.0, 1]}, "whole numbers"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": [2], "ratio": [True, 1]}, "whole numbers"),
    ({"n": 4, "arms": ["A", "B"], "block_sizes": [2], "seed": 1.5}, "seed must be"),
])
def test_bad_input_raises_value_error_naming_the_problem(kwargs, message):
    with pytest.raises(ValueError) as info:
        block_sequence(**kwargs)
    assert message in str(info.value)


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=2, max_value=5), st.integers(min_value=1, max_value=30))
def test_a_block_size_that_is_not_a_multiple_is_refused(k, size):
    arms = [f"a{i}" for i in range(k)]
    if size % k:
        with pytest.raises(ValueError, match="not a positive multiple"):
            block_sequence(5, arms, [size])
    else:
        assert len(block_sequence(5, arms, [size])) == 5


def test_n_zero_is_empty():
    assert block_sequence(0, ["A", "B"], [2], seed=1) == []


def test_validate_design_fills_in_the_ratio():
    assert validate_design(("A", "B"), (2, 4)) == (["A", "B"], [2, 4], [1, 1])


def test_strata_get_independent_reproducible_sequences():
    made = stratified_sequences({"gender=male": 20, "gender=female": 20}, ["A", "B"], [2, 4],
                                seed=99)
    again = stratified_sequences({"gender=female": 20}, ["A", "B"], [2, 4], seed=99)
    assert made["gender=female"] == again["gender=female"]
    assert made["gender=male"] != made["gender=female"]
    assert stratum_seed(99, "gender=male") != stratum_seed(99, "gender=female")
    assert stratum_seed(99, "x") == stratum_seed("99", "x")  # the seed's text is what counts
    with pytest.raises(ValueError, match="recorded seed"):
        stratum_seed(None, "x")  # type: ignore[arg-type]


def test_module_imports_no_django():
    code = ("import sys; import peercoach.research.randomization as r; "
            "r.block_sequence(4, ['A', 'B'], [2], seed=1); "
            "bad = sorted(m for m in sys.modules if m == 'django' or m.startswith('django.')); "
            "print(','.join(bad))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""
