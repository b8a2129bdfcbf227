"""Charts of a study's reports as SVG (matplotlib, Agg), each with a text alternative.

With the style and SVG writer of ``assessments.charts``: deterministic output (fixed hash
salt, no date), text kept as text (``svg.fonttype = none``), a ``<title>`` and ``<desc>`` at
the top with ``role="img"``, Okabe-Ito colours with a distinct marker per series, and every
chart's numbers in a table on the same page. The CONSORT diagram is drawn by hand in
``consort.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib.figure import Figure  # noqa: E402

from peercoach.assessments import instruments  # noqa: E402
from peercoach.assessments.charts import figure_svg, rc_params  # noqa: E402

from .analysis import Analysis, Meta, OutcomeResult  # noqa: E402
from .fidelity import Fidelity  # noqa: E402

BLUE, ORANGE, GREEN, GREY, PURPLE = "#0072B2", "#D55E00", "#009E73", "#555555", "#CC79A7"
ARM_STYLES = [(BLUE, "o"), (ORANGE, "s"), (GREEN, "^"), (PURPLE, "D")]
SALT = "peercoach-research"


def _empty(fig: Figure, message: str) -> None:
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", color=GREY, transform=ax.transAxes)


def _name(code: str) -> str:
    return instruments.get(code).short_name if code in instruments.REGISTRY else code


def _label(outcome: OutcomeResult, meta: Meta) -> str:
    point = meta.time_points.get(outcome.time_point, (outcome.time_point, 0))[0]
    return f"{_name(outcome.instrument)}, {point}"


# --- Between-arm differences (forest plot) -----------------------------------------------------


def _effect_rows(result: Analysis, meta: Meta) -> list[tuple[str, Any, Any]]:
    rows = []
    for outcome in result.outcomes:
        mixed = {e.arm: e for e in (outcome.mixed.effects if outcome.mixed else [])}
        for effect in outcome.ancova:
            arm = meta.arm_names.get(effect.arm, effect.arm)
            rows.append((f"{_label(outcome, meta)}: {arm}", effect, mixed.get(effect.arm)))
    return rows


def describe_effects(result: Analysis, meta: Meta) -> str:
    rows = _effect_rows(result, meta)
    if not rows:
        return ("Not enough data yet: each arm needs at least 2 patients with a baseline and "
                "a follow-up answer.")
    ref = meta.arm_names.get(result.reference, result.reference)
    parts = [f"Differences from {ref} in change from baseline, adjusted for baseline."]
    for label, effect, mixed in rows:
        text = (f"{label}: ANCOVA {effect.difference:+.2f} (95% CI {effect.ci_low:+.2f} to "
                f"{effect.ci_high:+.2f}), n = {effect.n}")
        if mixed is not None:
            text += (f"; mixed model {mixed.difference:+.2f} ({mixed.ci_low:+.2f} to "
                     f"{mixed.ci_high:+.2f})")
        parts.append(text + ".")
    return " ".join(parts)


def effects_svg(result: Analysis, meta: Meta) -> str:
    """Each arm's difference from the control arm, ANCOVA and mixed model, 95% CIs."""
    title = "Difference between arms in change from baseline, adjusted for baseline"
    rows = _effect_rows(result, meta)
    with matplotlib.rc_context(rc_params(salt=SALT)):
        fig = Figure(figsize=(8, 1.4 + 0.55 * max(len(rows), 2)), layout="constrained")
        if not rows:
            _empty(fig, "Not enough data yet (each arm needs 2 patients with both answers)")
        else:
            ax = fig.add_subplot()
            ys = list(range(len(rows)))[::-1]
            for y, (_, effect, mixed) in zip(ys, rows, strict=True):
                ax.errorbar([effect.difference], [y + 0.12],
                            xerr=[[effect.difference - effect.ci_low],
                                  [effect.ci_high - effect.difference]],
                            fmt="o", color=BLUE, capsize=4, markersize=6)
                if mixed is not None:
                    ax.errorbar([mixed.difference], [y - 0.12],
                                xerr=[[mixed.difference - mixed.ci_low],
                                      [mixed.ci_high - mixed.difference]],
                                fmt="s", color=ORANGE, capsize=4, markersize=5,
                                linestyle="none")
            ax.axvline(0, color=GREY, linewidth=1)
            ax.set_yticks(ys)
            ax.set_yticklabels([label for label, _, _ in rows])
            ax.set_ylim(-0.7, len(rows) - 0.3)
            ref = meta.arm_names.get(result.reference, result.reference)
            ax.set_xlabel(f"Difference from {ref} in points (95% CI)\n"
                          "Pain (PEG) and mood scores: below 0 favours the arm")
            ax.grid(axis="x", color="#dddddd", linewidth=0.8)
            ax.plot([], [], "o", color=BLUE, label="ANCOVA")
            ax.plot([], [], "s", color=ORANGE, label="Mixed model (coach random effect)")
            ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False,
                      fontsize="small")
        return figure_svg(fig, title, describe_effects(result, meta), "effects-chart")


# --- Important improvement per arm -------------------------------------------------------------


def describe_improvement(result: Analysis, meta: Meta) -> str:
    parts = []
    for outcome in result.outcomes:
        for share in outcome.improvement:
            if share.share is None:
                continue
            arm = meta.arm_names.get(share.arm, share.arm)
            text = f"{_label(outcome, meta)}, {arm}: {share.improved} of {share.n} " \
                   f"({share.share:.0%})"
            if share.ci_low is not None and share.ci_high is not None:
                text += f", 95% CI {share.ci_low:.0%} to {share.ci_high:.0%}"
            parts.append(text + ".")
    if not parts:
        return "No patient has a baseline and a follow-up answer yet."
    return "Share of patients with a clinically important improvement. " + " ".join(parts)


def improvement_svg(result: Analysis, meta: Meta) -> str:
    title = "Patients with a clinically important improvement, by arm"
    groups = [(o, [s for s in o.improvement if s.share is not None]) for o in result.outcomes]
    groups = [(o, shares) for o, shares in groups if shares]
    arms = list(dict.fromkeys(s.arm for _, shares in groups for s in shares))
    with matplotlib.rc_context(rc_params(salt=SALT)):
        fig = Figure(figsize=(8, 1.6 + 0.5 * max(len(groups), 2)), layout="constrained")
        if not groups:
            _empty(fig, "No patient has a baseline and a follow-up answer yet")
        else:
            ax = fig.add_subplot()
            height = 0.8 / max(len(arms), 1)
            ys = list(range(len(groups)))[::-1]
            for index, arm in enumerate(arms):
                colour, marker = ARM_STYLES[index % len(ARM_STYLES)]
                xs, yy, lo, hi = [], [], [], []
                for y, (_, shares) in zip(ys, groups, strict=True):
                    share = next((s for s in shares if s.arm == arm), None)
                    if share is None or share.share is None:
                        continue
                    offset = (index - (len(arms) - 1) / 2) * height
                    xs.append(share.share * 100)
                    yy.append(y + offset)
                    lo.append(share.share * 100 - (share.ci_low or share.share) * 100)
                    hi.append((share.ci_high or share.share) * 100 - share.share * 100)
                ax.barh(yy, xs, height=height * 0.9, color=colour, alpha=0.75,
                        label=meta.arm_names.get(arm, arm),
                        hatch="" if index == 0 else "//", edgecolor="white")
                ax.errorbar(xs, yy, xerr=[lo, hi], fmt="none", ecolor="#222222", capsize=3,
                            linewidth=1)
            ax.set_yticks(ys)
            ax.set_yticklabels([_label(o, meta) for o, _ in groups])
            ax.set_xlim(0, 100)
            ax.set_xlabel("Patients with an important improvement (%), 95% Wilson CI")
            ax.grid(axis="x", color="#dddddd", linewidth=0.8)
            ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(arms),
                      frameon=False, fontsize="small")
        return figure_svg(fig, title, describe_improvement(result, meta), "improvement-chart")


# --- Dose-response -------------------------------------------------------------------------------


def describe_dose(outcome: OutcomeResult, meta: Meta) -> str:
    dose = outcome.dose
    if dose is None:
        return (f"{_label(outcome, meta)}: not enough coached patients with both answers for "
                "a dose-response line.")
    return (f"{_label(outcome, meta)}: change from baseline against reached coach contacts for "
            f"{dose.n} coached patients. The fitted line changes by {dose.slope:+.2f} points "
            f"per contact (95% CI {dose.ci_low:+.2f} to {dose.ci_high:+.2f}). The dose was "
            "not randomized, so this shows an association, not an effect.")


def dose_svg(outcome: OutcomeResult, meta: Meta, chart_id: str = "dose-chart") -> str:
    title = f"Change from baseline against reached contacts: {_label(outcome, meta)}"
    dose = outcome.dose
    with matplotlib.rc_context(rc_params(salt=SALT)):
        fig = Figure(figsize=(7, 4.2), layout="constrained")
        if dose is None:
            _empty(fig, "Not enough coached patients with both answers yet")
        else:
            ax = fig.add_subplot()
            xs = [d for d, _ in dose.points]
            ys = [c for _, c in dose.points]
            ax.scatter(xs, ys, color=BLUE, alpha=0.6, s=22, marker="o",
                       label="One coached patient")
            top = max(xs) if xs else 1
            ax.plot([0, top], [dose.intercept, dose.intercept + dose.slope * top],
                    color=ORANGE, linewidth=2, linestyle="--",
                    label=f"Fitted line: {dose.slope:+.2f} points per contact")
            ax.axhline(0, color=GREY, linewidth=0.8)
            ax.set_xlabel("Reached coach contacts")
            ax.set_ylabel(f"Change in {_name(outcome.instrument)} (points)")
            ax.grid(color="#eeeeee", linewidth=0.8)
            ax.legend(loc="best", frameon=False, fontsize="small")
        return figure_svg(fig, title, describe_dose(outcome, meta), chart_id)


# --- Dose received (fidelity) --------------------------------------------------------------------


def describe_doses(fidelity: Fidelity) -> str:
    parts = []
    for dose in fidelity.doses:
        if not dose.n:
            continue
        parts.append(f"{dose.name}: {dose.n} patients, median {dose.median:.0f} reached "
                     f"contacts (quartiles {dose.q1:.0f} to {dose.q3:.0f}); {dose.at_target} "
                     f"had {dose.target} or more.")
    return " ".join(parts) or "Nobody has been randomized yet."


def doses_svg(fidelity: Fidelity, arm_ids: Sequence[int] | None = None) -> str:
    """How many reached contacts each patient received: one histogram per arm."""
    title = "Reached coach contacts per randomized patient"
    chosen = [d for d in fidelity.doses if d.n and (arm_ids is None or d.arm_id in arm_ids)]
    values = {d.arm_id: [p.reached for p in fidelity.patients if p.arm_id == d.arm_id]
              for d in chosen}
    with matplotlib.rc_context(rc_params(salt=SALT)):
        fig = Figure(figsize=(8, 3.8), layout="constrained")
        if not chosen:
            _empty(fig, "Nobody has been randomized yet")
        else:
            ax = fig.add_subplot()
            top = max(max(v) for v in values.values()) if values else 0
            top = max(top, fidelity.target)
            bins = [b - 0.5 for b in range(top + 2)]
            for index, dose in enumerate(chosen):
                colour, _ = ARM_STYLES[index % len(ARM_STYLES)]
                # The first arm as bars, any other as an outline on top of them.
                ax.hist(values[dose.arm_id], bins=bins,
                        histtype="bar" if index == 0 else "step",
                        alpha=0.8 if index == 0 else 1.0, linewidth=2, color=colour,
                        edgecolor="white" if index == 0 else colour,
                        linestyle="-" if index == 0 else "--",
                        label=f"{dose.name} (n = {dose.n})")
            ax.axvline(fidelity.target - 0.5, color=GREY, linestyle=":",
                       label=f"Protocol: {fidelity.target} contacts")
            ax.set_xlabel("Reached contacts")
            ax.set_ylabel("Patients")
            ax.legend(loc="upper right", frameon=False, fontsize="small")
        return figure_svg(fig, title, describe_doses(fidelity), "doses-chart")
