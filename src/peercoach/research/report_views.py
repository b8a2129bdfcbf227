"""A study's reports: fidelity (while it runs), the CONSORT flow, RE-AIM and the outcome
analysis, as pages with tables and charts, and as CSV, SVG and PDF downloads.

Who: `Perm.STUDY_REPORT` at the study's site. Figures by arm need `ALLOCATION_VIEW` there
as well (without it the CONSORT flow pools the arms, fidelity leaves out the arm table,
and the RE-AIM and outcome pages say so instead of comparing arms). Names are shown only
to users who may see the person's identity (`with_identified_flag`): researchers and
statisticians see study IDs. Every page is audited as a view of the study, every download
as an export.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from peercoach.assessments import instruments
from peercoach.core import audit
from peercoach.core.downloads import attachment, csv_download
from peercoach.core.models import AuditAction
from peercoach.core.policy import Perm, actor_for, rule, with_identified_flag
from peercoach.people.models import Coach, Patient

# The charts (matplotlib) and the analysis (pandas; statsmodels and scipy as it runs) are
# imported inside the views that use them: at module level they would load with the URL map
# and add seconds to every server start and test run.
from . import consort, fidelity, selectors
from .models import Study

if TYPE_CHECKING:
    from . import analysis, reaim

PAIRS_PER_PAGE = 50
#: How long an analysis of the same data is kept (the key is a hash of the data).
ANALYSIS_CACHE_SECONDS = 3600
FIDELITY_LEVELS = ("pair", "coach", "site", "arm", "patient")


def _study(request: HttpRequest, pk: Any) -> tuple[Study, bool]:
    """The study (404 when missing or out of scope) and whether arms may be shown."""
    study = selectors.get_study(request.user, pk, Perm.STUDY_REPORT)
    arm_level = study.program.site_id in actor_for(request.user).sites_with(
        Perm.ALLOCATION_VIEW)
    return study, arm_level


def _audit(request: HttpRequest, study: Study, report: str, fmt: str = "html") -> None:
    action = AuditAction.VIEW if fmt in ("html", "svg") else AuditAction.EXPORT
    audit.record(actor=request.user, action=action, target=study,
                 details={"report": report, "format": fmt})


def _r(value: float | None, places: int = 3) -> str:
    return "" if value is None else f"{value:.{places}f}"


def _slug(study: Study) -> str:
    return f"study-{study.pk}"


# --- Names, for those who may see them ---------------------------------------------------------


def _patient_labels(user: Any, ids: Iterable[int]) -> dict[int, str]:
    rows = with_identified_flag(Patient.objects.filter(pk__in=list(ids)), user).values_list(
        "pk", "study_id", "first_name", "preferred_name", "last_name", "identified")
    return {pk: (f"{preferred or first} {last}".strip() if identified else study_id)
            for pk, study_id, first, preferred, last, identified in rows}


def _coach_labels(user: Any, ids: Iterable[int]) -> dict[int, str]:
    rows = with_identified_flag(Coach.objects.filter(pk__in=list(ids)), user,
                                kind="coach").values_list(
        "pk", "study_id", "first_name", "preferred_name", "last_name", "identified")
    return {pk: (f"{preferred or first} {last}".strip() if identified else f"Coach {study_id}")
            for pk, study_id, first, preferred, last, identified in rows}


def _reports_nav(study: Study, current: str, arm_level: bool) -> dict[str, Any]:
    return {"study": study, "current": current, "arm_level": arm_level}


@rule(Perm.STUDY_REPORT)
def reports(request: HttpRequest, pk: int) -> HttpResponse:
    """The study's reports, with the headline numbers of each."""
    study, arm_level = _study(request, pk)
    flow = consort.build(study)
    _audit(request, study, "index")
    return render(request, "research/reports/index.html", {
        **_reports_nav(study, "index", arm_level), "flow": flow})


# --- Fidelity ------------------------------------------------------------------------------------


def _fidelity(request: HttpRequest, pk: Any) -> tuple[Study, bool, fidelity.Fidelity]:
    study, arm_level = _study(request, pk)
    return study, arm_level, fidelity.build(study)


def _pair_order(row: fidelity.PairRow) -> tuple[Any, ...]:
    # Current pairs first, the furthest behind their plan first: what needs attention.
    completion = row.tally.reached / row.tally.due if row.tally.due else 1.0
    return (row.ended_on is not None, completion, row.started_on, row.match_id)


@rule(Perm.STUDY_REPORT)
def fidelity_page(request: HttpRequest, pk: int) -> HttpResponse:
    from peercoach.assessments import charts as assessment_charts

    from . import charts

    study, arm_level, found = _fidelity(request, pk)
    pairs = sorted(found.pairs, key=_pair_order)
    page = Paginator(pairs, PAIRS_PER_PAGE).get_page(request.GET.get("page"))
    shown = list(page.object_list)
    patients = _patient_labels(request.user, {r.patient_id for r in shown})
    coaches = _coach_labels(request.user, {c.key for c in found.coaches}
                            | {r.coach_id for r in shown})
    arm_names = {a.key: a.name for a in found.arms}
    coach_rows = sorted(found.coaches, key=lambda c: (c.tally.completion or 0,
                                                      coaches.get(c.key, "")))
    coached = [a.pk for a in study.arms.all() if a.gets_coach]
    _audit(request, study, "fidelity")
    return render(request, "research/reports/fidelity.html", {
        **_reports_nav(study, "fidelity", arm_level), "fidelity": found, "page": page,
        "pairs": [(row, patients.get(row.patient_id, ""), coaches.get(row.coach_id, ""),
                   arm_names.get(row.arm_id or 0, "")) for row in shown],
        "coach_rows": [(c, coaches.get(c.key, "")) for c in coach_rows],
        "doses": found.doses if arm_level else [],
        "svg": assessment_charts.inline(charts.doses_svg(found, coached))
        if arm_level else "",
        "description": charts.describe_doses(found) if arm_level else "",
        "levels": FIDELITY_LEVELS if arm_level else tuple(
            level for level in FIDELITY_LEVELS if level != "arm")})


def _tally_cells(t: fidelity.Tally) -> list[Any]:
    return [t.n_patients, t.planned, t.due, t.reached, _r(t.completion), t.on_time,
            _r(t.on_time_share), _r(t.sections_mean, 2), t.goals, _r(t.curriculum_mean, 1),
            t.supervision_attended, t.supervision_recorded, _r(t.supervision_share)]


TALLY_HEADER = ["patients", "planned", "due_so_far", "reached", "completion", "on_time",
                "on_time_share", "sections_mean", "goals", "curriculum_percent_mean",
                "supervision_attended", "supervision_recorded", "supervision_share"]


@rule(Perm.STUDY_REPORT)
def fidelity_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """?level=pair (default), coach, site, arm or patient (the dose each patient received)."""
    study, arm_level, found = _fidelity(request, pk)
    level = request.GET.get("level", "pair")
    if level not in FIDELITY_LEVELS or (level == "arm" and not arm_level):
        level = "pair"
    _audit(request, study, f"fidelity-{level}", "csv")
    arms = {a.key: a.name for a in found.arms} if arm_level else {}
    name = f"{_slug(study)}-fidelity-{level}.csv"
    if level == "pair":
        patients = _patient_labels(request.user, {r.patient_id for r in found.pairs})
        coaches = _coach_labels(request.user, {r.coach_id for r in found.pairs})
        return csv_download(
            name, ["patient", "coach", "arm", "started_on", "ended_on", *TALLY_HEADER],
            ([patients.get(r.patient_id, ""), coaches.get(r.coach_id, ""),
              arms.get(r.arm_id or 0, ""), r.started_on.isoformat(),
              r.ended_on.isoformat() if r.ended_on else "", *_tally_cells(r.tally)]
             for r in found.pairs))
    if level == "patient":
        patients = _patient_labels(request.user, {p.patient_id for p in found.patients})
        return csv_download(
            name, ["patient", "arm", "planned", "due_so_far", "reached", "on_time", "sections",
                   "goals"],
            ([patients.get(p.patient_id, ""), arms.get(p.arm_id or 0, ""), p.planned, p.due,
              p.reached, p.on_time, p.sections, p.goals] for p in found.patients))
    groups = {"coach": found.coaches, "site": found.sites, "arm": found.arms}[level]
    labels = (_coach_labels(request.user, {g.key for g in groups}) if level == "coach"
              else {g.key: g.name for g in groups})
    return csv_download(name, [level, "pairs", *TALLY_HEADER],
                        ([labels.get(g.key, ""), g.pairs, *_tally_cells(g.tally)]
                         for g in groups))


# --- CONSORT -------------------------------------------------------------------------------------


def _flow(request: HttpRequest, pk: Any) -> tuple[Study, bool, consort.Flow]:
    study, arm_level = _study(request, pk)
    flow = consort.build(study)
    return study, arm_level, flow if arm_level else consort.pooled(flow)


@rule(Perm.STUDY_REPORT)
def consort_page(request: HttpRequest, pk: int) -> HttpResponse:
    from peercoach.assessments import charts as assessment_charts

    study, arm_level, flow = _flow(request, pk)
    layout = consort.diagram(flow)
    _audit(request, study, "consort")
    return render(request, "research/reports/consort.html", {
        **_reports_nav(study, "consort", arm_level), "flow": flow,
        "svg": assessment_charts.inline(consort.svg(layout)),
        "description": layout.description, "rows": flow.rows()})


@rule(Perm.STUDY_REPORT)
def consort_svg(request: HttpRequest, pk: int) -> HttpResponse:
    study, _, flow = _flow(request, pk)
    _audit(request, study, "consort", "svg")
    return attachment(consort.svg(consort.diagram(flow)), "image/svg+xml",
                      f"{_slug(study)}-consort.svg")


def _subtitle(flow: consort.Flow) -> str:
    when = timezone.localtime(flow.counted_at)
    outcome = f"; primary outcome: {flow.instrument_name}" if flow.instrument_name else ""
    return (f"Counted from live data on {when:%b} {when.day}, {when.year} at "
            f"{when:%H:%M}{outcome}. Study {'recruiting' if flow.recruiting else 'closed'}.")


@rule(Perm.STUDY_REPORT)
def consort_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    study, _, flow = _flow(request, pk)
    _audit(request, study, "consort", "pdf")
    body = consort.pdf(consort.diagram(flow), notes=flow.definitions,
                       subtitle=_subtitle(flow))
    return attachment(body, "application/pdf", f"{_slug(study)}-consort.pdf")


@rule(Perm.STUDY_REPORT)
def consort_csv(request: HttpRequest, pk: int) -> HttpResponse:
    study, _, flow = _flow(request, pk)
    _audit(request, study, "consort", "csv")
    return csv_download(f"{_slug(study)}-consort.csv", ["arm", "box", "n"], flow.rows())


# --- RE-AIM ---------------------------------------------------------------------------------------


def _analysis(study: Study, *, mixed: bool) -> tuple[analysis.Analysis, analysis.Meta]:
    """The analysis, computed once per distinct data set (mixed models take seconds)."""
    from . import analysis

    frame, meta = analysis.load_frame(study)
    key = f"research:analysis:{study.pk}:{int(mixed)}:{analysis.fingerprint(frame)}"
    result = cache.get(key)
    if result is None:
        from peercoach.assessments import instruments as registry

        result = analysis.analyse(frame, meta.reference, meta.coached_arms, mixed=mixed,
                                  order=list(registry.REGISTRY))
        days = {k: day for k, (_, day) in meta.time_points.items()}
        result.outcomes.sort(key=lambda o: (list(registry.REGISTRY).index(o.instrument)
                                            if o.instrument in registry.REGISTRY else 999,
                                            days.get(o.time_point, 0)))
        cache.set(key, result, ANALYSIS_CACHE_SECONDS)
    return result, meta


def _reaim(request: HttpRequest, pk: Any) -> tuple[Study, bool, reaim.Summary | None]:
    from . import reaim

    study, arm_level = _study(request, pk)
    if not arm_level:
        return study, arm_level, None
    result, meta = _analysis(study, mixed=False)
    return study, arm_level, reaim.build(study, result=result, meta=meta)


@rule(Perm.STUDY_REPORT)
def reaim_page(request: HttpRequest, pk: int) -> HttpResponse:
    study, arm_level, summary = _reaim(request, pk)
    _audit(request, study, "re-aim")
    return render(request, "research/reports/reaim.html", {
        **_reports_nav(study, "reaim", arm_level), "summary": summary})


@rule(Perm.STUDY_REPORT)
def reaim_csv(request: HttpRequest, pk: int) -> HttpResponse:
    study, _, summary = _reaim(request, pk)
    _audit(request, study, "re-aim", "csv")
    rows = ([d.name, f.label, f.value, f.how] for d in (summary.dimensions if summary else [])
            for f in d.figures)
    return csv_download(f"{_slug(study)}-re-aim.csv",
                        ["dimension", "figure", "value", "how_computed"], rows)


# --- Outcome analysis ---------------------------------------------------------------------------


def _name(code: str) -> str:
    return instruments.get(code).short_name if code in instruments.REGISTRY else code


@rule(Perm.STUDY_REPORT)
def outcomes_page(request: HttpRequest, pk: int) -> HttpResponse:
    from peercoach.assessments import charts as assessment_charts

    from . import analysis, charts

    study, arm_level = _study(request, pk)
    context: dict[str, Any] = _reports_nav(study, "outcomes", arm_level)
    if arm_level:
        result, meta = _analysis(study, mixed=True)
        primary = meta.instruments[0] if meta.instruments else None
        flow_primary = consort.primary_instrument(list(study.program.time_points.all()))
        primary = flow_primary if flow_primary in meta.instruments else primary
        dose_charts = [
            (outcome, assessment_charts.inline(charts.dose_svg(
                outcome, meta, chart_id=f"dose-{outcome.instrument}-{outcome.time_point}")),
             charts.describe_dose(outcome, meta))
            for outcome in result.outcomes if outcome.instrument == primary]
        context.update({
            "result": result, "meta": meta,
            "outcomes": [(o, _name(o.instrument),
                          meta.time_points.get(o.time_point, (o.time_point, 0))[0],
                          [(meta.arm_names.get(a, a), n) for a, n in o.n_by_arm.items()])
                         for o in result.outcomes],
            "arm_names": meta.arm_names,
            "reference_name": meta.arm_names.get(meta.reference, meta.reference),
            "effects_svg": assessment_charts.inline(charts.effects_svg(result, meta)),
            "effects_description": charts.describe_effects(result, meta),
            "improvement_svg": assessment_charts.inline(charts.improvement_svg(result, meta)),
            "improvement_description": charts.describe_improvement(result, meta),
            "dose_charts": dose_charts, "primary_name": _name(primary) if primary else "",
            "rules": [(_name(code), instruments.get(code).important_change)
                      for code in meta.instruments if code in instruments.REGISTRY],
            "min_per_arm": analysis.MIN_PER_ARM, "min_coaches": analysis.MIN_COACHES})
    _audit(request, study, "outcomes")
    return render(request, "research/reports/outcomes.html", context)


@rule(Perm.STUDY_REPORT)
def outcomes_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """One row per questionnaire, time point and arm: every number of the page."""
    study, arm_level = _study(request, pk)
    _audit(request, study, "outcomes", "csv")
    header = ["instrument", "time_point", "arm", "reference_arm", "n_arm", "ancova_difference",
              "ancova_ci95_low", "ancova_ci95_high", "ancova_p", "ancova_n",
              "mixed_difference", "mixed_ci95_low", "mixed_ci95_high", "mixed_p", "icc",
              "coach_variance", "residual_variance", "coaches", "improved", "share_improved",
              "share_ci95_low", "share_ci95_high", "share_difference", "share_diff_ci95_low",
              "share_diff_ci95_high", "dose_slope", "dose_ci95_low", "dose_ci95_high",
              "dose_n", "notes"]
    rows: list[list[Any]] = []
    if arm_level:
        result, meta = _analysis(study, mixed=True)
        for o in result.outcomes:
            point = meta.time_points.get(o.time_point, (o.time_point, 0))[0]
            effects = {e.arm: e for e in o.ancova}
            mixed = {e.arm: e for e in (o.mixed.effects if o.mixed else [])}
            shares = {s.arm: s for s in o.improvement}
            for arm, n in o.n_by_arm.items():
                e, m, s = effects.get(arm), mixed.get(arm), shares.get(arm)
                d = o.dose if arm in meta.coached_arms else None
                rows.append([
                    _name(o.instrument), point, meta.arm_names.get(arm, arm),
                    meta.arm_names.get(result.reference, result.reference), n,
                    _r(e.difference) if e else "", _r(e.ci_low) if e else "",
                    _r(e.ci_high) if e else "", _r(e.p_value, 4) if e else "",
                    e.n if e else "",
                    _r(m.difference) if m else "", _r(m.ci_low) if m else "",
                    _r(m.ci_high) if m else "", _r(m.p_value, 4) if m else "",
                    _r(o.mixed.icc) if o.mixed else "",
                    _r(o.mixed.coach_variance) if o.mixed else "",
                    _r(o.mixed.residual_variance) if o.mixed else "",
                    o.mixed.coaches if o.mixed else "",
                    s.improved if s else "", _r(s.share) if s else "",
                    _r(s.ci_low) if s else "", _r(s.ci_high) if s else "",
                    _r(s.difference) if s else "", _r(s.diff_low) if s else "",
                    _r(s.diff_high) if s else "",
                    _r(d.slope) if d else "", _r(d.ci_low) if d else "",
                    _r(d.ci_high) if d else "", d.n if d else "", " ".join(o.notes)])
    return csv_download(f"{_slug(study)}-outcomes.csv", header, rows)
