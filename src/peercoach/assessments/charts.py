"""Charts as SVG (matplotlib, Agg, no pyplot state): the pain trajectory and the outcome
report's mean changes.

The output is deterministic (a fixed ``svg.hashsalt``, no date in the metadata), embeds no
fonts (``svg.fonttype = none``: text stays text, readable by screen readers and search)
and opens with a ``<title>`` and a ``<desc>``, with ``role="img"`` pointing at them. Every
page that shows a chart shows the same numbers in a table as well.

Colours are from the Okabe-Ito palette, distinguishable with colour blindness; each series
also has its own marker and line style, so nothing depends on colour alone.
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import matplotlib

matplotlib.use("Agg")

from matplotlib import dates as mdates  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from . import instruments  # noqa: E402
from .trajectories import Point, Source, Trajectory, baseline_words  # noqa: E402

BLUE, ORANGE, GREEN, GREY = "#0072B2", "#D55E00", "#009E73", "#555555"
SALT = "peercoach"


def rc_params(*, big: bool = False, salt: str = SALT) -> Any:
    """The matplotlib settings of every PeerCoach chart (research's with its own `salt`)."""
    return {
        "svg.hashsalt": salt,
        "svg.fonttype": "none",
        "font.family": "sans-serif",
        "font.sans-serif": ["DejaVu Sans"],
        "font.size": 15 if big else 11,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.titlesize": "medium",
    }


def figure_svg(fig: Figure, title: str, description: str, chart_id: str) -> str:
    """The figure as an SVG file that opens with its `title` and `description`."""
    buffer = io.BytesIO()
    # No date in the metadata: the same numbers always give the same file.
    fig.savefig(buffer, format="svg", metadata={"Date": None, "Title": title})
    text = buffer.getvalue().decode("utf-8")
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    accessible = (f' role="img" aria-labelledby={quoteattr(title_id + " " + desc_id)}>\n'
                  f"<title id={quoteattr(title_id)}>{escape(title)}</title>\n"
                  f"<desc id={quoteattr(desc_id)}>{escape(description)}</desc>")
    return re.sub(r"(<svg\b[^>]*?)>", lambda m: m.group(1) + accessible, text, count=1)


def inline(svg: str) -> str:
    """The SVG to put inside an HTML page: no XML declaration or doctype, and as wide as
    its container (the viewBox keeps the proportions)."""
    start = svg.find("<svg")
    body = svg[start:] if start >= 0 else svg

    def fluid(match: re.Match[str]) -> str:
        tag = re.sub(r'\s(width|height)="[^"]*"', "", match.group(0))
        return tag.replace("<svg", '<svg width="100%" style="max-width: 52rem; height: auto"', 1)

    return re.sub(r"<svg\b[^>]*>", fluid, body, count=1)


def _x(point: Point, dated: bool) -> float:
    if dated:
        return float(mdates.date2num(point.local))
    midnight = point.local.replace(hour=0, minute=0, second=0, microsecond=0)
    return point.day + (point.local - midnight).total_seconds() / 86400


def describe_trajectory(trajectory: Trajectory) -> str:
    """The chart in words (its <desc>)."""
    peg, pain = trajectory.peg, trajectory.pain
    if not trajectory.has_data:
        return "No PEG scores or pain ratings yet."
    parts = [f"{len(peg)} PEG score{'s' if len(peg) != 1 else ''} and {len(pain)} pain "
             f"rating{'s' if len(pain) != 1 else ''}, on a scale of 0 to 10 where lower is "
             "better."]
    base, latest = trajectory.baseline, trajectory.latest
    if base is not None:
        parts.append(f"Baseline PEG {base.value:.1f} from {baseline_words(trajectory)}.")
    if latest is not None and trajectory.change is not None:
        verdict = ("an important improvement" if trajectory.change.important_improvement
                   else "not an important improvement")
        parts.append(f"Latest PEG {latest.value:.1f} ({trajectory.when(latest)}): a change "
                     f"of {trajectory.change.difference:+.1f} points, {verdict}.")
    if trajectory.threshold is not None:
        parts.append(f"The shaded band marks PEG scores of {trajectory.threshold:.1f} or lower, "
                     "an important improvement on the baseline.")
    return " ".join(parts)


def trajectory_svg(trajectory: Trajectory, *, big: bool = False) -> str:
    title = "Pain scores over time"
    with matplotlib.rc_context(rc_params(big=big)):
        fig = Figure(figsize=(8, 4.8) if not big else (8, 5.6), layout="constrained")
        ax = fig.add_subplot()
        dated = trajectory.dated
        ax.set_ylim(0, 10)
        ax.set_yticks(range(0, 11, 2))
        ax.set_ylabel("Score (0 to 10, lower is better)")
        ax.grid(axis="y", color="#dddddd", linewidth=0.8)
        if not trajectory.has_data:
            ax.text(0.5, 0.5, "No pain scores yet", transform=ax.transAxes, ha="center",
                    va="center", color=GREY)
            ax.set_xticks([])
        else:
            if trajectory.threshold is not None:
                ax.axhspan(0, trajectory.threshold, color=GREEN, alpha=0.13, linewidth=0,
                           label=f"Important improvement (PEG {trajectory.threshold:.1f} "
                                 "or lower)")
            if trajectory.baseline is not None:
                ax.axhline(trajectory.baseline.value, color=GREY, linestyle=":",
                           linewidth=1.2, label=f"Baseline PEG {trajectory.baseline.value:.1f}")
            peg, pain = trajectory.peg, trajectory.pain
            if peg:
                ax.plot([_x(p, dated) for p in peg], [p.value for p in peg], color=BLUE,
                        linewidth=2, label="PEG score")
                for source, marker, size, name in (
                        (Source.QUESTIONNAIRE, "s", 9, "PEG questionnaire"),
                        (Source.CHECK_IN, "o", 6, "PEG check-in")):
                    chosen = [p for p in peg if p.source == source]
                    if chosen:
                        ax.plot([_x(p, dated) for p in chosen], [p.value for p in chosen],
                                linestyle="none", marker=marker, markersize=size, color=BLUE,
                                markeredgecolor="white", label=name)
            if pain:
                ax.plot([_x(p, dated) for p in pain], [p.value for p in pain], color=ORANGE,
                        linewidth=1.5, linestyle="--", marker="^", markersize=6,
                        label="Pain today")
            if dated:
                locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
                ax.xaxis.set_major_locator(locator)
                ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            else:
                ax.set_xlabel("Days since enrollment")
            # Outside the axes, below them: constrained layout makes room for it.
            handles, labels = ax.get_legend_handles_labels()
            fig.legend(handles, labels, loc="outside lower center", ncol=2 if big else 3,
                       frameon=False, fontsize="small")
        return figure_svg(fig, title, describe_trajectory(trajectory), "trajectory-chart")


def describe_outcomes(rows: Sequence[Any]) -> str:
    shown = [row for row in rows if row.summary.enough]
    if not shown:
        return "Not enough data yet: a mean change needs at least 2 patients with both answers."
    parts = []
    for row in shown:
        s = row.summary
        parts.append(f"{row.instrument_name}, {row.time_point_label}, {row.group}: mean change "
                     f"{s.mean_change:+.2f} (95% CI {s.ci_low:+.2f} to {s.ci_high:+.2f}), "
                     f"n = {s.n}.")
    return " ".join(parts)


def outcomes_svg(rows: Sequence[Any]) -> str:
    """Mean change from baseline with 95% CI whiskers, one panel per instrument."""
    title = "Mean change from baseline, with 95% confidence intervals"
    shown = [row for row in rows if row.summary.enough]
    panels: dict[str, list[Any]] = defaultdict(list)
    for row in shown:
        panels[row.instrument].append(row)
    with matplotlib.rc_context(rc_params()):
        height = 1.2 + sum(0.9 + 0.42 * len(p) for p in panels.values()) if panels else 2.5
        fig = Figure(figsize=(8, height), layout="constrained")
        if not panels:
            ax = fig.add_subplot()
            ax.axis("off")
            ax.text(0.5, 0.5, "Not enough data yet (needs at least 2 patients with both "
                    "answers)", ha="center", va="center", color=GREY, transform=ax.transAxes)
        else:
            axes = fig.subplots(len(panels), 1, squeeze=False,
                                height_ratios=[0.9 + 0.42 * len(p) for p in panels.values()])
            for ax, (code, panel) in zip(axes[:, 0], panels.items(), strict=True):
                _outcome_panel(ax, code, panel)
        return figure_svg(fig, title, describe_outcomes(rows), "outcomes-chart")


def _outcome_panel(ax: Any, code: str, panel: list[Any]) -> None:
    instrument = instruments.get(code)
    ys = list(range(len(panel)))[::-1]
    means = [row.summary.mean_change for row in panel]
    lower = [row.summary.mean_change - row.summary.ci_low for row in panel]
    upper = [row.summary.ci_high - row.summary.mean_change for row in panel]
    colours = [GREY if row.group_id is None else BLUE for row in panel]
    for y, mean, lo, hi, colour in zip(ys, means, lower, upper, colours, strict=True):
        ax.errorbar([mean], [y], xerr=[[lo], [hi]], fmt="o", color=colour, capsize=4,
                    markersize=6, linewidth=1.5)
    ax.axvline(0, color=GREY, linewidth=1)
    ax.set_yticks(ys)
    ax.set_yticklabels([f"{row.group}, {row.time_point_label} (n = {row.summary.n})"
                        for row in panel])
    better = "below" if instrument.higher_is_worse else "above"
    ax.set_title(f"{instrument.short_name}: change from baseline ({better} 0 is better)",
                 loc="left")
    ax.set_xlabel("Mean change in points (95% CI)")
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.set_ylim(-0.7, len(panel) - 0.3)
