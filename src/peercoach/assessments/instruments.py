"""Outcome instruments as data: items, answer options, scoring rule, bands and licence.

Free of Django, so researchers can score their own data with it. ``docs/instruments.md``
explains every instrument and cites a source for each rule; the comments here say why a
choice was made where the sources are silent.

Three kinds of licence (``Licence``):

* FREE: PeerCoach ships the item text (PHQ-9/-8/-2, GAD-7/-2 under Pfizer's "no permission
  required" statement, PEG, PGIC).
* LICENSED: only the structure and scoring ship. Item text is ``None`` until a licensed site
  loads its own text (``peercoach load-instrument FILE``, see ``licensed_text.py``).
* EXTERNAL_SCORE: nothing of the instrument ships. PeerCoach stores a score computed by a
  licensed scorer (PAM).

Items are numbered from 1 within each instrument. Every answer is a whole number.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType


class Licence(StrEnum):
    FREE = "free"
    LICENSED = "licensed"
    EXTERNAL_SCORE = "external_score"


#: How the total is computed from the scored items.
RULES = frozenset({"sum", "mean", "single", "raw_to_t", "external"})


@dataclass(frozen=True)
class Option:
    value: int
    #: None for points of a numeric scale with no words, and for licensed anchors not loaded.
    label: str | None


@dataclass(frozen=True)
class Item:
    number: int
    text: str | None
    options: tuple[Option, ...]
    loinc: str | None = None
    scored: bool = True

    @property
    def values(self) -> tuple[int, ...]:
        return tuple(option.value for option in self.options)

    @property
    def low(self) -> int:
        return min(self.values)

    @property
    def high(self) -> int:
        return max(self.values)


@dataclass(frozen=True)
class Band:
    """A labelled range of totals; both edges are inclusive."""

    low: float
    high: float
    label: str


@dataclass(frozen=True)
class Instrument:
    code: str
    name: str
    short_name: str
    recall: str
    instructions: str | None
    items: tuple[Item, ...]
    rule: str
    #: Missing-item rule: a total needs at least this many scored items answered.
    min_answered: int
    bands: tuple[Band, ...]
    higher_is_worse: bool
    score_range: tuple[float, float]
    important_change: str
    loinc_panel: str | None
    loinc_total: str | None
    copyright: str
    citation: str
    licence: Licence
    licence_note: str

    def __post_init__(self) -> None:
        problems = list(_problems(self))
        if problems:
            raise ValueError(f"Instrument {self.code!r} is inconsistent: " + "; ".join(problems))

    def item(self, number: int) -> Item:
        if (isinstance(number, int) and not isinstance(number, bool)
                and 1 <= number <= len(self.items)):
            return self.items[number - 1]
        if not self.items:
            raise ValueError(f"{self.code} has no items (it is an external score)")
        raise ValueError(f"{self.code} has no item {number!r}; its items are 1 to "
                         f"{len(self.items)}")

    @property
    def needs_loaded_text(self) -> bool:
        return self.licence is Licence.LICENSED

    @property
    def has_item_text(self) -> bool:
        """True when every item has its words (always for FREE; LICENSED once loaded)."""
        return bool(self.items) and all(item.text is not None for item in self.items)

    @property
    def scored_items(self) -> tuple[Item, ...]:
        return tuple(item for item in self.items if item.scored)

    @property
    def raw_range(self) -> tuple[int, int]:
        """Lowest and highest possible sum of the scored items (PROMIS: the raw score)."""
        scored = self.scored_items
        return sum(item.low for item in scored), sum(item.high for item in scored)

    def band_for(self, total: float) -> str | None:
        """The label of the band holding ``total``, or None when the instrument has no bands.

        A mean can fall between two published bands (BPI 4.5 lies between "0-4" and "5-6");
        it takes the lower band: a score reaches a band only when it reaches the band's
        lower edge.
        """
        if not self.bands:
            return None
        low, high = self.score_range
        if not low <= total <= high:
            raise ValueError(f"{self.code}: total {total} is outside {low:g} to {high:g}")
        label = self.bands[0].label
        for band in self.bands:
            if band.low <= total:
                label = band.label
        return label


def _problems(ins: Instrument) -> list[str]:
    out: list[str] = []
    if not re.fullmatch(r"[a-z][a-z0-9_]*", ins.code):
        out.append("code must be lowercase letters, digits and underscores")
    if ins.rule not in RULES:
        out.append(f"unknown rule {ins.rule!r}")
    if [item.number for item in ins.items] != list(range(1, len(ins.items) + 1)):
        out.append("items must be numbered 1, 2, 3, ... in order")
    if any(not item.options for item in ins.items):
        out.append("every item needs answer options")
    scored = sum(1 for item in ins.items if item.scored)
    if ins.rule == "external":
        if ins.items or ins.min_answered:
            out.append("an external score has no items")
    elif not 1 <= ins.min_answered <= scored:
        out.append(f"min_answered must be between 1 and {scored}")
    if ins.rule == "single" and scored != 1:
        out.append("the 'single' rule needs exactly one scored item")
    low, high = ins.score_range
    if not low < high:
        out.append("score_range must rise")
    previous_high: float | None = None
    for band in ins.bands:
        if not low <= band.low <= band.high <= high:
            out.append(f"band {band.label!r} lies outside the score range")
        if previous_high is not None and band.low <= previous_high:
            out.append(f"band {band.label!r} overlaps or is out of order")
        previous_high = band.high
    if ins.bands and (ins.bands[0].low != low or ins.bands[-1].high != high):
        out.append("bands must start and end at the edges of the score range")
    if ins.licence is Licence.FREE and any(item.text is None for item in ins.items):
        out.append("a free instrument ships the text of every item")
    return out


# --- shared answer scales ---------------------------------------------------------------


def _scale(low: int, high: int, anchors: Mapping[int, str] | None = None) -> tuple[Option, ...]:
    anchors = anchors or {}
    return tuple(Option(value, anchors.get(value)) for value in range(low, high + 1))


def _labelled(*labels: str, start: int = 0) -> tuple[Option, ...]:
    return tuple(Option(start + i, label) for i, label in enumerate(labels))


_FREQUENCY = _labelled("Not at all", "Several days", "More than half the days",
                       "Nearly every day")
_DIFFICULTY = _labelled("Not difficult at all", "Somewhat difficult", "Very difficult",
                        "Extremely difficult")
_PAIN_0_10 = _scale(0, 10, {0: "No pain", 10: "Pain as bad as you can imagine"})
_INTERFERES_0_10 = _scale(0, 10, {0: "Does not interfere", 10: "Completely interferes"})
_PGIC = _labelled("Very much improved", "Much improved", "Minimally improved", "No change",
                  "Minimally worse", "Much worse", "Very much worse", start=1)


def _free_items(texts: tuple[str, ...], options: tuple[Option, ...],
                loinc: tuple[str | None, ...] = ()) -> tuple[Item, ...]:
    codes = loinc or (None,) * len(texts)
    return tuple(Item(n, text, options, code)
                 for n, (text, code) in enumerate(zip(texts, codes, strict=True), start=1))


def _licensed_items(count: int, options: tuple[Option, ...]) -> tuple[Item, ...]:
    return tuple(Item(n, None, options) for n in range(1, count + 1))


# --- PHQ and GAD (Pfizer: no permission required) --------------------------------------

PFIZER_COPYRIGHT = (
    "Copyright © Pfizer Inc. Developed by Drs. Robert L. Spitzer, Janet B.W. Williams, "
    "Kurt Kroenke and colleagues, with an educational grant from Pfizer Inc. "
    "No permission required to reproduce, translate, display or distribute."
)
_PFIZER_NOTE = ("Free: Pfizer's statement allows reproduction, translation, display and "
                "distribution without permission. Keep the copyright line with the items.")
_NO_PRORATION = ("No proration: every scored item must be answered (the sources give no "
                 "missing-item rule, so PeerCoach takes the conservative choice).")

#: Lower edges and labels of a band set; each band ends one below the next one's lower edge
#: (totals are whole numbers) and the last at the top of the score range.
_Cuts = tuple[tuple[int, str], ...]

_SEVERITY_CUTS: _Cuts = ((0, "Minimal"), (5, "Mild"), (10, "Moderate"))
_SCREEN_CUTS: _Cuts = ((0, "Negative screen"), (3, "Positive screen"))


def _cut_bands(cuts: _Cuts, top: int) -> tuple[Band, ...]:
    highs = [*(low - 1 for low, _ in cuts[1:]), top]
    return tuple(Band(low, high, label) for (low, label), high in zip(cuts, highs, strict=True))


@dataclass(frozen=True)
class _PfizerFamily:
    """The shared parts of the PHQ or GAD forms: each form asks the first ``size`` items of
    the full form on the frequency scale, scores their sum and needs all of them."""

    prefix: str
    name: str
    instructions: str
    texts: tuple[str, ...]
    #: The full form's severity bands; the 2-item screeners use ``_SCREEN_CUTS``.
    severity: _Cuts

    def form(self, size: int, *, important_change: str, loinc_panel: str | None,
             loinc_total: str | None, citation: str, note: str,
             loinc: tuple[str | None, ...] = (), unscored: tuple[Item, ...] = (),
             cuts: _Cuts | None = None) -> Instrument:
        top = size * _FREQUENCY[-1].value
        return Instrument(
            code=f"{self.prefix.lower()}{size}",
            name=f"{self.name}-{size}",
            short_name=f"{self.prefix}-{size}",
            recall="Over the last 2 weeks",
            instructions=self.instructions,
            items=_free_items(self.texts[:size], _FREQUENCY, loinc) + unscored,
            rule="sum",
            min_answered=size,
            bands=_cut_bands(self.severity if cuts is None else cuts, top),
            higher_is_worse=True,
            score_range=(0, top),
            important_change=important_change,
            loinc_panel=loinc_panel,
            loinc_total=loinc_total,
            copyright=PFIZER_COPYRIGHT,
            citation=citation,
            licence=Licence.FREE,
            licence_note=f"{_PFIZER_NOTE} {note} {_NO_PRORATION}",
        )

    def screener(self, *, loinc_panel: str | None, loinc_total: str | None,
                 citation: str) -> Instrument:
        """The 2-item screener: a total of 3 or more is positive and calls for the full form."""
        short_name, full = f"{self.prefix}-2", f"{self.prefix}-{len(self.texts)}"
        return self.form(
            2, cuts=_SCREEN_CUTS, loinc_panel=loinc_panel, loinc_total=loinc_total,
            citation=citation,
            important_change=f"None: the {short_name} is a screener, not a measure of change.",
            note=f"A total of 3 or more is a positive screen (give the full {full}).")


_PHQ = _PfizerFamily(
    prefix="PHQ",
    name="Patient Health Questionnaire",
    instructions="How often have you been bothered by any of the following problems?",
    texts=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself — or that you are a failure or have let yourself or "
        "your family down",
        "Trouble concentrating on things, such as reading the newspaper or watching "
        "television",
        "Moving or speaking so slowly that other people could have noticed? Or the "
        "opposite — being so fidgety or restless that you have been moving around a lot "
        "more than usual",
        "Thoughts that you would be better off dead or of hurting yourself in some way",
    ),
    severity=_SEVERITY_CUTS + ((15, "Moderately severe"), (20, "Severe")),
)
_PHQ_DIFFICULTY_TEXT = (
    "If you checked off any problems, how difficult have these problems made it for you to "
    "do your work, take care of things at home, or get along with other people?"
)
# LOINC question codes for PHQ-9 items 1-7 as listed at https://loinc.org/69729-2 (see
# domain-facts 1.4). Item 8's code is truncated in that source and item 9's is unverified,
# so both stay None rather than guessed.
_PHQ9_LOINC = ("44250-9", "44255-8", "44259-0", "44254-1", "44251-7", "44258-2", "44252-5",
               None, None)

PHQ9 = _PHQ.form(
    9,
    loinc=_PHQ9_LOINC,
    unscored=(Item(10, _PHQ_DIFFICULTY_TEXT, _DIFFICULTY, scored=False),),
    important_change=(
        "Improvement: a fall of at least 20% from baseline (Kounali et al., Psychol Med 2020: "
        "about -20%, roughly 1.7 points, at moderate baseline severity; milder patients need "
        "larger relative falls)."
    ),
    loinc_panel="44249-1",
    loinc_total="44261-6",
    citation=("Kroenke K, Spitzer RL, Williams JBW. The PHQ-9: validity of a brief depression "
              "severity measure. J Gen Intern Med 2001;16(9):606-13."),
    note=("Item 10 (difficulty) is asked but not scored. Any answer above 0 on item 9 is a "
          "safety event whatever the total."),
)

# PHQ-9 without item 9: the only way to avoid collecting suicidality data. Item LOINC codes
# are left None: the verified list in domain-facts is given for the PHQ-9 panel.
PHQ8 = _PHQ.form(
    8,
    important_change=("None applied: Kounali 2020 estimated change for the PHQ-9; no PHQ-8 "
                      "estimate was found."),
    loinc_panel=None,
    loinc_total=None,
    citation=("Kroenke K, Strine TW, Spitzer RL, Williams JBW, Berry JT, Mokdad AH. The PHQ-8 "
              "as a measure of current depression in the general population. J Affect Disord "
              "2009;114(1-3):163-73."),
    note="Bands are the PHQ-9 cut-points (Kroenke 2009) on a 0-24 range.",
)

PHQ2 = _PHQ.screener(
    loinc_panel="55757-9",
    loinc_total="55758-7",
    citation=("Kroenke K, Spitzer RL, Williams JBW. The Patient Health Questionnaire-2: "
              "validity of a two-item depression screener. Med Care 2003;41(11):1284-92."),
)

_GAD = _PfizerFamily(
    prefix="GAD",
    name="Generalized Anxiety Disorder",
    instructions="How often have you been bothered by the following problems?",
    texts=(
        "Feeling nervous, anxious or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid as if something awful might happen",
    ),
    severity=_SEVERITY_CUTS + ((15, "Severe"),),
)
# Item codes as listed at https://loinc.org/69729-2 and in the HL7 PHR format IG example.
_GAD7_LOINC = ("69725-0", "68509-9", "69733-4", "69734-2", "69735-9", "69689-8", "69736-7")

GAD7 = _GAD.form(
    7,
    loinc=_GAD7_LOINC,
    important_change=(
        "Improvement: a fall of at least 1.5 points, so 2 or more on whole-number totals "
        "(Kounali et al., Psychol Med 2020: about -1.5 points, -26.8%, at moderate baseline)."
    ),
    loinc_panel="69737-5",
    loinc_total="70274-6",
    citation=("Spitzer RL, Kroenke K, Williams JBW, Löwe B. A brief measure for assessing "
              "generalized anxiety disorder: the GAD-7. Arch Intern Med 2006;166(10):1092-7."),
    note="A total of 10 or more is the usual screening cut-off.",
)

GAD2 = _GAD.screener(
    loinc_panel=None,  # GAD-2 codes are unverified in domain-facts
    loinc_total=None,
    citation=("Kroenke K, Spitzer RL, Williams JBW, Monahan PO, Löwe B. Anxiety disorders in "
              "primary care: prevalence, impairment, comorbidity, and detection. Ann Intern Med "
              "2007;146(5):317-25."),
)

# --- PEG and PGIC ------------------------------------------------------------------------

PEG = Instrument(
    code="peg",
    name="Pain, Enjoyment of life and General activity scale",
    short_name="PEG",
    recall="In the past week",
    instructions="Choose the one number that best describes your answer.",
    items=(
        Item(1, "What number best describes your pain on average in the past week?",
             _PAIN_0_10),
        Item(2, "What number best describes how, during the past week, pain has interfered "
             "with your enjoyment of life?", _INTERFERES_0_10),
        Item(3, "What number best describes how, during the past week, pain has interfered "
             "with your general activity?", _INTERFERES_0_10),
    ),
    rule="mean",
    min_answered=3,
    bands=(),  # Krebs 2009 publishes no bands; third-party ones are unofficial
    higher_is_worse=True,
    score_range=(0, 10),
    important_change=(
        "Improvement: a fall of at least 1 point (Reed et al., J Pain 2024;25(1):142-52: "
        "anchor-based MID 1.0-1.75 pooled from six trials). The common 30% responder rule is "
        "reported as the percent change but not applied."
    ),
    loinc_panel=None,
    loinc_total=None,
    copyright=("Krebs EE, Lorenz KA, Bair MJ, et al., 2009. The items are adapted from the Brief "
               "Pain Inventory (Charles S. Cleeland, PhD)."),
    citation=("Krebs EE, Lorenz KA, Bair MJ, Damush TM, Wu J, Sutherland JM, Asch SM, "
              "Kroenke K. Development and initial validation of the PEG, a three-item scale "
              "assessing pain intensity and interference. J Gen Intern Med 2009;24(6):733-8. "
              "doi:10.1007/s11606-009-0981-1"),
    licence=Licence.FREE,
    licence_note=("No licence statement found; published open access by VA investigators and "
                  "widely treated as free. Its items derive from the copyrighted BPI: get "
                  "written confirmation before shipping it in a commercial product. Score = "
                  "mean of the three items. No official bands. " + _NO_PRORATION),
)

PGIC = Instrument(
    code="pgic",
    name="Patient Global Impression of Change",
    short_name="PGIC",
    recall="Since the start of the program",
    instructions=None,
    items=(Item(1, "Since the start of the program, my overall status is:", _PGIC),),
    rule="single",
    min_answered=1,
    bands=tuple(Band(o.value, o.value, o.label or "") for o in _PGIC),
    higher_is_worse=True,
    score_range=(1, 7),
    important_change=("None: the PGIC is itself the anchor. Answers 1-2 (very much or much "
                      "improved) are a clinically important improvement (Farrar et al., "
                      "Pain 2001)."),
    loinc_panel=None,
    loinc_total=None,
    copyright="No owner statement found; the PhenX Toolkit publishes the item (protocol 860801).",
    citation=("Farrar JT, Young JP Jr, LaMoreaux L, Werth JL, Poole RM. Clinical importance of "
              "changes in chronic pain intensity measured on an 11-point numerical pain rating "
              "scale. Pain 2001;94(2):149-58. PhenX protocol 860801: "
              "https://phenx.org/protocols/view/860801"),
    licence=Licence.FREE,
    licence_note=("No licence found; generally regarded as freely usable (confirm). PhenX "
                  "words the question 'Since the start of the study'; PeerCoach says "
                  "'program'."),
)

# --- Licensed: structure and scoring only ------------------------------------------------

_BPI_COPYRIGHT = "Copyright Charles S. Cleeland, PhD (MD Anderson Cancer Center)."
_BPI_CITATION = ("Cleeland CS, Ryan KM. Pain assessment: global use of the Brief Pain "
                 "Inventory. Ann Acad Med Singapore 1994;23(2):129-38.")
_BPI_NOTE = ("Licensed: the BPI may not be used or reproduced without permission from Charles "
             "S. Cleeland or his designee, fees may apply, and it may not be modified "
             "(BPI User Guide). PeerCoach ships no item text; a licensed site loads its own.")
_BPI_RECALL = "Set by the site's licensed version (the last 24 hours or the last week)"
_BPI_BANDS = (Band(0, 4, "Mild"), Band(5, 6, "Moderate"), Band(7, 10, "Severe"))
_NRS_0_10 = _scale(0, 10)

BPI_SEVERITY = Instrument(
    code="bpi_severity",
    name="Brief Pain Inventory (short form): pain severity",
    short_name="BPI severity",
    recall=_BPI_RECALL,
    instructions=None,
    # Items 1-4 are worst, least and average pain, and pain right now (BPI-SF items 3-6).
    items=_licensed_items(4, _NRS_0_10),
    rule="mean",
    # The sources only say "mean of the 4 items": all four are required (no proration).
    min_answered=4,
    bands=_BPI_BANDS,
    higher_is_worse=True,
    score_range=(0, 10),
    important_change=("Improvement: a fall of at least 30% (IMMPACT, Dworkin et al., J Pain "
                      "2008: 30% on a 0-10 pain scale is a moderately important change)."),
    loinc_panel=None,
    loinc_total=None,
    copyright=_BPI_COPYRIGHT,
    citation=_BPI_CITATION,
    licence=Licence.LICENSED,
    licence_note=_BPI_NOTE + " Severity = mean of the 4 items, all 4 needed. ePPOC bands.",
)

BPI_INTERFERENCE = Instrument(
    code="bpi_interference",
    name="Brief Pain Inventory (short form): pain interference",
    short_name="BPI interference",
    recall=_BPI_RECALL,
    instructions=None,
    items=_licensed_items(7, _NRS_0_10),
    rule="mean",
    min_answered=4,  # the BPI's own rule: valid when at least 4 of the 7 are answered
    bands=_BPI_BANDS,
    higher_is_worse=True,
    score_range=(0, 10),
    important_change=("Improvement: a fall of at least 1 point (IMMPACT, Dworkin et al., J Pain "
                      "2008)."),
    loinc_panel=None,
    loinc_total=None,
    copyright=_BPI_COPYRIGHT,
    citation=_BPI_CITATION,
    licence=Licence.LICENSED,
    licence_note=_BPI_NOTE + " Interference = mean of the answered items, when at least 4 of "
    "the 7 are answered. ePPOC bands.",
)


def _promis(size: int) -> Instrument:
    return Instrument(
        code=f"promis_pi_{size}a",
        name=f"PROMIS Pain Interference, short form {size}a",
        short_name=f"PROMIS PI {size}a",
        recall="In the past 7 days",
        instructions=None,
        items=_licensed_items(size, _scale(1, 5)),
        rule="raw_to_t",
        # Sources in hand are silent on missing items: all items needed, no proration.
        min_answered=size,
        bands=(),
        higher_is_worse=True,
        score_range=(10, 90),  # T-scores (mean 50, SD 10); the bounds a loaded table may use
        important_change=("Improvement: a fall of at least 3 T-score points, the top of the "
                          "2-3 point MID found in pain samples (Chen, Kroenke, ..., Krebs, "
                          "Bair, Damush: https://experts.umn.edu/en/publications/"
                          "estimating-minimally-important-differences-for-the-promis-pain-in)."),
        loinc_panel=None,
        loinc_total=None,
        copyright="© PROMIS Health Organization and PROMIS Cooperative Group.",
        citation=("Amtmann D, Cook KF, Jensen MP, et al. Development of a PROMIS item bank to "
                  "measure pain interference. Pain 2010;150(1):173-82."),
        licence=Licence.LICENSED,
        licence_note=("Free for one's own research and clinical use; commercial use or "
                      "integration into proprietary technology needs written permission "
                      "(HealthMeasures). The raw sum becomes a T-score only through the official "
                      "table the site loads; PeerCoach holds no T values."),
    )


PROMIS_PI_4A = _promis(4)
PROMIS_PI_6A = _promis(6)
PROMIS_PI_8A = _promis(8)

_PSEQ_COPYRIGHT = "Copyright M. K. Nicholas."
_PSEQ_NOTE = ("Treated as licensed: secondary sources call it free to use, but that is "
              "unconfirmed; confirm with the author or the University of Sydney before "
              "distributing it. PeerCoach ships no item text.")

PSEQ10 = Instrument(
    code="pseq10",
    name="Pain Self-Efficacy Questionnaire",
    short_name="PSEQ-10",
    recall="At present (no recall period)",
    instructions=None,
    items=_licensed_items(10, _scale(0, 6)),
    rule="sum",
    min_answered=10,
    # ePPOC bands; lower is worse.
    bands=(Band(0, 19, "Severe"), Band(20, 30, "Moderate"), Band(31, 40, "Mild"),
           Band(41, 60, "Minimal")),
    higher_is_worse=False,
    score_range=(0, 60),
    important_change=("Improvement: a rise of at least 7 points that also moves the score into "
                      "another band (ePPOC, cited at https://measurely.com.au/outcome-measures/"
                      "pain-self-efficacy-questionnaire/)."),
    loinc_panel=None,
    loinc_total=None,
    copyright=_PSEQ_COPYRIGHT,
    citation=("Nicholas MK. The pain self-efficacy questionnaire: taking pain into account. "
              "Eur J Pain 2007;11(2):153-63."),
    licence=Licence.LICENSED,
    licence_note=_PSEQ_NOTE + " " + _NO_PRORATION,
)

PSEQ2 = Instrument(
    code="pseq2",
    name="Pain Self-Efficacy Questionnaire, 2-item short form",
    short_name="PSEQ-2",
    recall="At present (no recall period)",
    instructions=None,
    items=_licensed_items(2, _scale(0, 6)),
    rule="sum",
    min_answered=2,
    bands=(),
    higher_is_worse=False,
    score_range=(0, 12),
    important_change="None found.",
    loinc_panel=None,
    loinc_total=None,
    copyright=_PSEQ_COPYRIGHT,
    citation=("Nicholas MK, McGuire BE, Asghari A. A 2-item short form of the Pain Self-efficacy "
              "Questionnaire: development and psychometric evaluation of PSEQ-2. J Pain "
              "2015;16(2):153-63."),
    licence=Licence.LICENSED,
    licence_note=_PSEQ_NOTE + " Items 1-2 are the work and normal-life items; UNVERIFIED that "
    "they are PSEQ-10 items 5 and 9. Score it as its own instrument, not from a PSEQ-10 "
    "response. " + _NO_PRORATION,
)

MOS_SSS = Instrument(
    code="mos_sss",
    name="MOS Social Support Survey",
    short_name="MOS-SSS",
    recall="When you need it (no recall period)",
    instructions=None,
    # The 19 functional items (the survey's items 2-20). The write-in count of close friends
    # and relatives is not scored and not held here. Answer labels are unverified.
    items=_licensed_items(19, _scale(1, 5)),
    rule="mean",
    min_answered=19,
    bands=(),
    higher_is_worse=False,
    score_range=(1, 5),
    important_change="None found.",
    loinc_panel=None,
    loinc_total=None,
    copyright="RAND Corporation.",
    citation=("Sherbourne CD, Stewart AL. The MOS social support survey. Soc Sci Med "
              "1991;32(6):705-14. Scoring: https://www.rand.org/health-care/surveys_tools/mos/"
              "social-support/scoring.html"),
    licence=Licence.LICENSED,
    licence_note=("Treated as licensed: RAND posts it free, but one catalogue says a licence is "
                  "needed (confirm with RAND). Overall score = mean of the 19 functional items "
                  "(1-5); the 0-100 transform is available separately. Subscales are not "
                  "scored because item numbering differs between sources. " + _NO_PRORATION),
)

# --- External score only -----------------------------------------------------------------

PAM = Instrument(
    code="pam",
    name="Patient Activation Measure",
    short_name="PAM",
    recall="Set by the licensed scorer",
    instructions=None,
    items=(),
    rule="external",
    min_answered=0,
    bands=(),  # levels 1-4 come from the licensed scorer with the score
    higher_is_worse=False,
    score_range=(0, 100),
    important_change=("Improvement: a gain of at least 3 points (quality measure CBE #2483: "
                      "patients with a 3-point gain within 12 months)."),
    loinc_panel=None,
    loinc_total=None,
    copyright="Insignia Health, a Phreesia company.",
    citation=("Hibbard JH, Mahoney ER, Stockard J, Tusler M. Development and testing of a short "
              "form of the patient activation measure. Health Serv Res 2005;40(6 Pt 1):"
              "1918-30."),
    licence=Licence.EXTERNAL_SCORE,
    licence_note=("Licensed, with a proprietary scoring algorithm. PeerCoach holds neither the "
                  "items nor the algorithm: it records the 0-100 score and level 1-4 that a "
                  "licensed scorer produced."),
)

REGISTRY: Mapping[str, Instrument] = MappingProxyType({
    instrument.code: instrument
    for instrument in (PHQ9, PHQ8, PHQ2, GAD7, GAD2, PEG, PGIC, BPI_SEVERITY, BPI_INTERFERENCE,
                       PROMIS_PI_4A, PROMIS_PI_6A, PROMIS_PI_8A, PSEQ10, PSEQ2, MOS_SSS, PAM)
})


def get(code: str) -> Instrument:
    try:
        return REGISTRY[code]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown instrument {code!r}. Known: {', '.join(REGISTRY)}") from None


def pam_level_valid(score: float, level: int | None) -> None:
    """Raise ValueError naming the problem unless a PAM result is well formed.

    The score must be a number from 0 to 100 and the level, when the scorer gave one, a whole
    number from 1 to 4. Whether the level matches the score is the licensed scorer's
    business: the cut-points belong to the licensor and are not held here.
    """
    if (isinstance(score, bool) or not isinstance(score, numbers.Real)
            or not math.isfinite(float(score)) or not 0 <= float(score) <= 100):
        raise ValueError(f"PAM score must be a number from 0 to 100, got {score!r}")
    if level is not None and (isinstance(level, bool) or not isinstance(level, numbers.Integral)
                              or not 1 <= int(level) <= 4):
        raise ValueError(f"PAM level must be a whole number from 1 to 4, got {level!r}")
