"""The SVG charts: well-formed, accessible (title, desc, role), deterministic, no fonts."""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

from django.test import Client
from django.urls import reverse

from peercoach.assessments import charts, outcomes, trajectories
from peercoach.assessments.outcomes import Row, summarize
from peercoach.coaching.models import PainCheckIn

from ..factories import submitted_assessment, time_point

SVG = "{http://www.w3.org/2000/svg}"


def _parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg.encode())
    assert root.tag == f"{SVG}svg"
    return root


def _assert_accessible(svg: str, title: str) -> ET.Element:
    root = _parse(svg)
    # The title and description come first, and role="img" names them.
    assert root[0].tag == f"{SVG}title" and root[0].text == title
    assert root[1].tag == f"{SVG}desc" and root[1].text
    assert root.get("role") == "img"
    ids = root.get("aria-labelledby", "").split()
    assert ids == [root[0].get("id"), root[1].get("id")]
    assert "@font-face" not in svg and "http://" not in svg.replace(
        "http://www.w3.org", "").replace("http://purl.org", "").replace(
        "http://creativecommons.org", "").replace("http://matplotlib.org", "")
    return root


def _trajectory(world: Any, dated: bool = True) -> trajectories.Trajectory:
    patient = world.patient
    start = dt.datetime(2026, 2, 2, 15, tzinfo=dt.UTC)
    submitted_assessment(patient, "peg", 7.0, point=time_point(world.program_a), at=start)
    for day, score in ((14, 6), (40, 5)):
        PainCheckIn.objects.create(patient=patient, at=start + dt.timedelta(days=day),
                                   pain=score, peg_pain=score, peg_enjoyment=score,
                                   peg_activity=score)
    return trajectories.build(patient, include_other=False, dated=dated)


def test_trajectory_svg_is_well_formed_and_accessible(world: Any) -> None:
    found = _trajectory(world)
    svg = charts.trajectory_svg(found)
    assert svg.startswith("<?xml")
    root = _assert_accessible(svg, "Pain scores over time")
    desc = root[1].text or ""
    assert "Baseline PEG 7.0" in desc and "Latest PEG 5.0" in desc
    assert "important improvement" in desc
    # Text stays text (svg.fonttype "none"): screen readers and search can read it.
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "Important improvement (PEG 6.0 or lower)" in texts
    assert "Pain today" in texts


def test_charts_are_deterministic(world: Any) -> None:
    found = _trajectory(world)
    assert charts.trajectory_svg(found) == charts.trajectory_svg(found)
    rows = [Row(1, "Program A", "peg", "PEG", "4mo", "4 months",
                summarize([-2.0, -1.0, 0.5], [True, True, False]))]
    assert charts.outcomes_svg(rows) == charts.outcomes_svg(rows)


def test_de_identified_chart_counts_days(world: Any) -> None:
    root = _parse(charts.trajectory_svg(_trajectory(world, dated=False)))
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "Days since enrollment" in texts and "2026" not in texts


def test_empty_trajectory_chart(world: Any) -> None:
    found = trajectories.build(world.other_patient, include_other=False, dated=True)
    root = _assert_accessible(charts.trajectory_svg(found), "Pain scores over time")
    assert root[1].text == "No PEG scores or pain ratings yet."


def test_outcomes_svg_has_whiskers_per_group_and_skips_small_groups() -> None:
    rows = [
        Row(None, "All patients", "peg", "PEG", "4mo", "4 months",
            summarize([-2.0, -1.0, 0.5, -1.5], [True, True, False, True])),
        Row(1, "Program A", "peg", "PEG", "4mo", "4 months",
            summarize([-2.0, -1.0, 0.5], [True, True, False])),
        Row(2, "Program B", "peg", "PEG", "4mo", "4 months", summarize([-1.5], [True])),
        Row(1, "Program A", "phq9", "PHQ-9", "4mo", "4 months",
            summarize([-3.0, -5.0], [True, True])),
    ]
    svg = charts.outcomes_svg(rows)
    root = _assert_accessible(svg, "Mean change from baseline, with 95% confidence intervals")
    desc = root[1].text or ""
    assert "PEG, 4 months, Program A: mean change -0.83" in desc
    assert "Program B" not in desc  # n = 1: not drawn
    texts = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "Program A, 4 months (n = 3)" in texts and "PHQ-9" in texts


def test_outcomes_svg_without_data() -> None:
    root = _assert_accessible(charts.outcomes_svg([]),
                              "Mean change from baseline, with 95% confidence intervals")
    assert (root[1].text or "").startswith("Not enough data yet")


def test_inline_svg_drops_the_prolog_and_fits_its_container(world: Any) -> None:
    svg = charts.inline(charts.trajectory_svg(_trajectory(world)))
    assert svg.startswith("<svg") and "<?xml" not in svg and "DOCTYPE" not in svg
    root = _parse(svg)
    assert root.get("width") == "100%" and root.get("height") is None
    assert root.get("viewBox")


def test_svg_downloads(world: Any) -> None:
    _trajectory(world)
    client = Client()
    client.force_login(world.coordinator)
    response = client.get(reverse("assessments:trajectory_svg", args=[world.patient.pk]))
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    _assert_accessible(response.content.decode(), "Pain scores over time")
    response = client.get(reverse("assessments:outcomes_svg"))
    assert response.status_code == 200 and response["Content-Type"] == "image/svg+xml"
    _parse(response.content.decode())


def test_describe_outcomes_lists_what_the_chart_draws() -> None:
    rows = [Row(1, "Site", "peg", "PEG", "4mo", "4 months",
                summarize([-1.0, -3.0], [True, True]))]
    assert outcomes.MIN_N == 2
    assert charts.describe_outcomes(rows).startswith(
        "PEG, 4 months, Site: mean change -2.00 (95% CI")
