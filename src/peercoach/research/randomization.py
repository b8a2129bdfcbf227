"""Permuted-block randomization sequences. Pure Python: no Django, no database.

Researchers can call this directly, for example to check a study's stored sequence
against its recorded seed::

    >>> from peercoach.research.randomization import block_sequence
    >>> block_sequence(6, ["coaching", "control"], [2, 4], seed=7)  # doctest: +SKIP
    ['control', 'coaching', 'coaching', 'control', 'control', 'coaching']

How a sequence is made: blocks are added one after another until there are `n`
assignments. Each block's size is drawn at random from `block_sizes`; the block holds
every arm in the given ratio (size / sum(ratio) copies of the ratio) in a random order;
the last block is cut off at `n`.

Random numbers come from the standard library's `random.Random(seed)` (Mersenne
Twister): one generator per sequence, used only here, so nothing else in the process
can disturb it. `Random.choice` and `Random.shuffle` have drawn the same numbers for a
given seed since Python 3.2, but Python only promises reproducibility of `random()`
itself, so a sequence is reproducible *for a given Python version*; record the version
with the seed (PeerCoach stores the generated sequence, so a running study never
depends on regenerating it).

The generator draws block by block, so a longer sequence from the same seed starts with
the shorter one: `block_sequence(m, ...)[:n] == block_sequence(n, ...)` for m >= n.
PeerCoach relies on that to extend a stratum's stored sequence when it runs out.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence

__all__ = ["block_sequence", "stratified_sequences", "stratum_seed", "validate_design"]

Seed = int | str | bytes | None


def _is_int(value: object) -> bool:
    # bool is an int subclass; True as a block size or ratio is a mistake, not a 1.
    return isinstance(value, int) and not isinstance(value, bool)


def validate_design(arms: Sequence[str], block_sizes: Sequence[int],
                    ratio: Sequence[int] | None = None) -> tuple[list[str], list[int], list[int]]:
    """Check arms, block sizes and ratio; return them as lists (ratio filled in).

    Raises ValueError naming the problem.
    """
    if isinstance(arms, str | bytes) or not isinstance(arms, Sequence):
        raise ValueError("arms must be a sequence of arm names, e.g. ['coaching', 'control']")
    arm_list = list(arms)
    if len(arm_list) < 2:
        raise ValueError(f"arms: a randomized study needs at least two arms, got {len(arm_list)}")
    for arm in arm_list:
        if not isinstance(arm, str) or not arm:
            raise ValueError(f"arms: every arm name must be a non-empty string, got {arm!r}")
    duplicates = sorted({a for a in arm_list if arm_list.count(a) > 1})
    if duplicates:
        raise ValueError(f"arms: duplicate arm names: {', '.join(duplicates)}")

    if ratio is None:
        ratio_list = [1] * len(arm_list)
    else:
        if isinstance(ratio, str | bytes) or not isinstance(ratio, Sequence):
            raise ValueError("ratio must be a sequence of whole numbers, one per arm")
        ratio_list = list(ratio)
        if len(ratio_list) != len(arm_list):
            raise ValueError(f"ratio has {len(ratio_list)} entries but there are "
                             f"{len(arm_list)} arms; give one whole number per arm")
        for r in ratio_list:
            if not _is_int(r):
                raise ValueError(f"ratio entries must be whole numbers, got {r!r}")
            if r < 1:
                raise ValueError(f"ratio entries must be positive, got {r}")
    unit = sum(ratio_list)

    if isinstance(block_sizes, str | bytes) or not isinstance(block_sizes, Sequence):
        raise ValueError("block_sizes must be a sequence of whole numbers, e.g. [2, 4, 6]")
    size_list = list(block_sizes)
    if not size_list:
        raise ValueError("block_sizes is empty; give at least one block size")
    for size in size_list:
        if not _is_int(size):
            raise ValueError(f"block_sizes entries must be whole numbers, got {size!r}")
        if size < 1 or size % unit:
            raise ValueError(f"block size {size} is not a positive multiple of the ratio's "
                             f"sum ({unit}); every block must hold each arm in the ratio")
    return arm_list, size_list, ratio_list


def _check_seed(seed: object) -> None:
    if seed is not None and not (_is_int(seed) or isinstance(seed, str | bytes)):
        raise ValueError(f"seed must be a whole number, a string, bytes or None, got "
                         f"{type(seed).__name__}")


def block_sequence(n: int, arms: Sequence[str], block_sizes: Sequence[int],
                   ratio: Sequence[int] | None = None, seed: Seed = None) -> list[str]:
    """`n` arm names in permuted blocks of randomly varying size.

    - `arms`: at least two distinct arm names.
    - `block_sizes`: the sizes to choose from at random for each block (a size listed
      twice is chosen twice as often); each must be a positive multiple of sum(ratio).
    - `ratio`: positive whole numbers, one per arm (default: all 1). ECLIPSE's 120:95
      is close to 5:4, which needs block sizes such as 9 and 18.
    - `seed`: an int, str or bytes; the same seed gives the same sequence (for a given
      Python version). None draws a seed from the operating system.

    Every complete block holds each arm exactly ratio[i] * (size / sum(ratio)) times;
    the last block is cut off at `n`. Bad input raises ValueError naming the problem.
    """
    if not _is_int(n):
        raise ValueError(f"n must be a whole number, got {n!r}")
    if n < 0:
        raise ValueError(f"n must be 0 or more, got {n}")
    arm_list, size_list, ratio_list = validate_design(arms, block_sizes, ratio)
    _check_seed(seed)
    rng = random.Random(seed)  # reproducibility, not secrecy: the sequence is concealed
    unit_block = [arm for arm, r in zip(arm_list, ratio_list, strict=True) for _ in range(r)]
    unit = len(unit_block)
    out: list[str] = []
    while len(out) < n:
        size = rng.choice(size_list)
        block = unit_block * (size // unit)
        rng.shuffle(block)
        out.extend(block)
    return out[:n]


def stratum_seed(seed: int | str | bytes, stratum: str) -> int:
    """The seed of one stratum's sequence, derived from the study's seed and the stratum.

    SHA-256 of both, so strata get independent sequences and a stratum nobody foresaw
    still gets the same sequence whenever it is first needed.
    """
    _check_seed(seed)
    if seed is None:
        raise ValueError("a stratified sequence needs a recorded seed, not None")
    raw = seed if isinstance(seed, bytes) else str(seed).encode()
    digest = hashlib.sha256(raw + b"\x1f" + stratum.encode()).digest()
    return int.from_bytes(digest[:8], "big")


def stratified_sequences(strata: Mapping[str, int], arms: Sequence[str],
                         block_sizes: Sequence[int], ratio: Sequence[int] | None = None,
                         *, seed: int | str | bytes) -> dict[str, list[str]]:
    """One block sequence per stratum: {stratum key: its first n assignments}.

    `strata` maps each stratum key (any string, e.g. "gender=female|pain_band=high") to
    how many assignments to make for it. Each stratum's sequence is
    `block_sequence(n, arms, block_sizes, ratio, seed=stratum_seed(seed, key))`, so it
    does not depend on which other strata exist.
    """
    validate_design(arms, block_sizes, ratio)
    return {key: block_sequence(n, arms, block_sizes, ratio, seed=stratum_seed(seed, key))
            for key, n in strata.items()}
