"""Read and check the item-text file a licensed site loads (``peercoach load-instrument``).

Free of Django. The file is TOML; ``docs/instruments.md`` describes it and ``samples/``
holds one placeholder file per licensed instrument::

    instrument = "bpi_interference"
    licence_holder = "MD Anderson Cancer Center"
    licence_reference = "Agreement 2026-123"     # optional
    recall = "..."                               # optional, replaces the registry's
    instructions = "..."                         # optional

    [items]                                      # every item, no more, none empty
    1 = "..."

    [options]                                    # optional anchor labels: value = label
    0 = "..."

    [t_scores]                                   # PROMIS only, and required there:
    4 = 40.0                                     # raw sum = T-score, for every raw sum

Every problem raises ``LicenceFileError`` naming the file and what to fix.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any, NoReturn

from .instruments import REGISTRY, Instrument, Licence, Option, get

MAX_FILE_BYTES = 1_048_576  # 1 MB: item text for any instrument is a few kilobytes
T_SCORE_MIN = 10.0
T_SCORE_MAX = 90.0
#: The sample files in ``samples/`` name this holder, so a loader can refuse or warn.
EXAMPLE_HOLDER_PREFIX = "EXAMPLE ONLY"

_KEYS = ("instrument", "licence_holder", "licence_reference", "recall", "instructions",
         "items", "options", "t_scores")
_WHOLE = re.compile(r"-?[0-9]+")

_Fail = Callable[[str], NoReturn]


class LicenceFileError(ValueError):
    """The licence file cannot be loaded; the message says why."""


@dataclass(frozen=True)
class LicensedText:
    code: str
    licence_holder: str
    licence_reference: str
    items: dict[int, str]
    option_labels: dict[int, str]
    #: Raw sum -> T-score (PROMIS only; empty otherwise).
    t_scores: dict[int, float]
    recall: str | None
    instructions: str | None
    #: SHA-256 of the file's bytes, to record exactly what was loaded.
    sha256: str

    @property
    def is_example(self) -> bool:
        """True for the shipped placeholder files, which must never score real patients."""
        return self.licence_holder.startswith(EXAMPLE_HOLDER_PREFIX)


def licensed_codes() -> tuple[str, ...]:
    """Codes of the instruments whose text a site loads."""
    return tuple(code for code, ins in REGISTRY.items() if ins.licence is Licence.LICENSED)


def parse_licensed_text(data: bytes | str, *, filename: str = "") -> LicensedText:
    """Parse and check a licence file; raise LicenceFileError with a specific message."""
    prefix = f"{filename}: " if filename else ""

    def fail(message: str) -> NoReturn:
        raise LicenceFileError(prefix + message)

    if isinstance(data, str):
        try:
            raw = data.encode("utf-8")
        except UnicodeEncodeError:
            fail("the text cannot be encoded as UTF-8")
    else:
        raw = bytes(data)
    if len(raw) > MAX_FILE_BYTES:
        fail(f"the file is {len(raw):,} bytes; the limit is 1 MB ({MAX_FILE_BYTES:,} bytes)")
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        fail(f"not UTF-8 text (bad byte at offset {exc.start})")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        fail(f"not valid TOML: {exc}")

    unknown = sorted(set(doc) - set(_KEYS))
    if unknown:
        fail(f"unknown key(s) {', '.join(unknown)}; allowed keys are {', '.join(_KEYS)}")

    instrument = _instrument(doc.get("instrument"), fail)
    holder = _text(doc, "licence_holder", fail, required=True)
    assert holder is not None
    reference = _text(doc, "licence_reference", fail) or ""
    recall = _text(doc, "recall", fail)
    instructions = _text(doc, "instructions", fail)
    items = _items(instrument, doc.get("items"), fail)
    options = _options(instrument, doc.get("options"), fail)
    t_scores = _t_scores(instrument, doc.get("t_scores"), fail)
    return LicensedText(code=instrument.code, licence_holder=holder,
                        licence_reference=reference, items=items, option_labels=options,
                        t_scores=t_scores, recall=recall, instructions=instructions,
                        sha256=hashlib.sha256(raw).hexdigest())


def _instrument(code: Any, fail: _Fail) -> Instrument:
    licensed = ", ".join(licensed_codes())
    if code is None:
        fail(f"'instrument' is missing; it names one of: {licensed}")
    if not isinstance(code, str):
        fail(f"'instrument' must be text such as \"bpi_interference\", got {code!r}")
    try:
        instrument = get(code)
    except ValueError:
        fail(f"unknown instrument {code!r}; licensed instruments are: {licensed}")
    if instrument.licence is Licence.FREE:
        fail(f"{code} ships its own text, so there is nothing to load; licence files are "
             f"for: {licensed}")
    if instrument.licence is Licence.EXTERNAL_SCORE:
        fail(f"{code} is an external score only: PeerCoach records the score from a licensed "
             "scorer and never loads its items")
    return instrument


def _text(doc: dict[str, Any], key: str, fail: _Fail, *, required: bool = False) -> str | None:
    value = doc.get(key)
    if value is None:
        if required:
            fail(f"'{key}' is missing: name who holds the licence")
        return None
    if not isinstance(value, str):
        fail(f"'{key}' must be text, got {value!r}")
    if not value.strip():
        fail(f"'{key}' is empty")
    return value.strip()


def _table(name: str, value: Any, fail: _Fail) -> dict[str, Any]:
    if not isinstance(value, dict):
        fail(f"[{name}] must be a table (a [{name}] section), got {value!r}")
    return value


def _numbered(name: str, table: dict[str, Any], fail: _Fail) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for key, value in table.items():
        if not _WHOLE.fullmatch(key):
            fail(f"[{name}] key {key!r} is not a whole number")
        if int(key) in out:
            fail(f"[{name}] has {int(key)} twice")
        out[int(key)] = value
    return out


def _items(instrument: Instrument, value: Any, fail: _Fail) -> dict[int, str]:
    count = len(instrument.items)
    if value is None:
        fail(f"the [items] table is missing; {instrument.code} needs items 1 to {count}")
    items = _numbered("items", _table("items", value, fail), fail)
    expected = set(range(1, count + 1))
    extra = sorted(set(items) - expected)
    if extra:
        fail(f"{instrument.code} has no item {_list(extra)}; its items are 1 to {count}")
    missing = sorted(expected - set(items))
    if missing:
        fail(f"item {_list(missing)} missing; {instrument.code} needs items 1 to {count}")
    out: dict[int, str] = {}
    for number in sorted(items):
        text = items[number]
        if not isinstance(text, str):
            fail(f"item {number} must be text, got {text!r}")
        if not text.strip():
            fail(f"item {number} is empty")
        out[number] = text.strip()
    return out


def _options(instrument: Instrument, value: Any, fail: _Fail) -> dict[int, str]:
    if value is None:
        return {}
    allowed = sorted({v for item in instrument.items for v in item.values})
    low, high = allowed[0], allowed[-1]
    out: dict[int, str] = {}
    for number, label in sorted(_numbered("options", _table("options", value, fail),
                                          fail).items()):
        if number not in allowed:
            fail(f"option value {number} is outside the answer range of {instrument.code} "
                 f"({low} to {high})")
        if not isinstance(label, str) or not label.strip():
            fail(f"option {number} must be non-empty text, got {label!r}")
        out[number] = label.strip()
    return out


def _t_scores(instrument: Instrument, value: Any, fail: _Fail) -> dict[int, float]:
    if instrument.rule != "raw_to_t":
        if value is not None:
            fail(f"[t_scores] only apply to PROMIS forms; {instrument.code} is scored as a "
                 f"{instrument.rule}")
        return {}
    low, high = instrument.raw_range
    if value is None:
        fail(f"{instrument.code} needs a [t_scores] table from the official scoring manual: "
             f"a T-score for every raw sum from {low} to {high}")
    table = _numbered("t_scores", _table("t_scores", value, fail), fail)
    expected = set(range(low, high + 1))
    outside = sorted(set(table) - expected)
    if outside:
        fail(f"[t_scores] has raw sum {_list(outside)}, outside {low} to {high}")
    missing = sorted(expected - set(table))
    if missing:
        fail(f"[t_scores] must cover every raw sum from {low} to {high}; missing "
             f"{_list(missing)}")
    out: dict[int, float] = {}
    for raw_sum in sorted(table):
        t = table[raw_sum]
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t):
            fail(f"[t_scores] raw sum {raw_sum}: {t!r} is not a number")
        if not T_SCORE_MIN <= t <= T_SCORE_MAX:
            fail(f"[t_scores] raw sum {raw_sum}: T-score {t} is outside {T_SCORE_MIN:g} to "
                 f"{T_SCORE_MAX:g}")
        if raw_sum - 1 in out and t < out[raw_sum - 1]:
            # A sum-score table rises with the raw sum; a fall is a typing mistake.
            fail(f"[t_scores] fall from {out[raw_sum - 1]:g} at raw sum {raw_sum - 1} to "
                 f"{t:g} at raw sum {raw_sum}")
        out[raw_sum] = float(t)
    return out


def _list(numbers: list[int]) -> str:
    return ", ".join(str(n) for n in numbers)


def apply_licensed_text(instrument: Instrument, licensed: LicensedText) -> Instrument:
    """A copy of ``instrument`` with the site's item text, anchor labels, recall and
    instructions filled in. The T-score table is passed to ``scoring.score`` separately."""
    if instrument.code != licensed.code:
        raise ValueError(f"the licence file is for {licensed.code}, not {instrument.code}")
    if not instrument.needs_loaded_text:
        raise ValueError(f"{instrument.code} does not load licensed text")
    items = tuple(
        dataclasses.replace(
            item,
            text=licensed.items[item.number],
            options=tuple(Option(o.value, licensed.option_labels.get(o.value, o.label))
                          for o in item.options),
        )
        for item in instrument.items
    )
    return dataclasses.replace(
        instrument,
        items=items,
        recall=licensed.recall or instrument.recall,
        instructions=licensed.instructions or instrument.instructions,
    )


def sample_file(code: str) -> bytes:
    """The shipped placeholder licence file for ``code`` (for tests, docs and the demo)."""
    if code not in licensed_codes():
        raise ValueError(f"no sample licence file for {code!r}; samples exist for: "
                         f"{', '.join(licensed_codes())}")
    return (resources.files("peercoach.assessments").joinpath("samples")
            .joinpath(f"{code}.toml").read_bytes())
