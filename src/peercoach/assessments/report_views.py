"""Pages of results: a patient's pain trajectory, outcome reports, the clinician summary.

Thin views: they ask the policy, call one builder (``trajectories``, ``outcomes``,
``summary``), write the audit trail (a "view" for pages and charts, an "export" for CSV
and PDF downloads) and render.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from peercoach.core import audit
from peercoach.core.downloads import csv_download
from peercoach.core.models import AuditAction
from peercoach.core.policy import (
    Perm,
    actor_for,
    coaches_for,
    get_patient,
    has_perm,
    patients_for,
    programs_for,
    rule,
    sites_for,
    with_identified_flag,
)

# `charts` (matplotlib) and `summary_pdf` (fpdf) are imported inside the views that use
# them: they would otherwise cost every process that loads the URL map a second or more.
from . import instruments, outcomes, scoring, summary, trajectories

# --- The trajectory ----------------------------------------------------------------------


def _may_see_questionnaires(user: Any, patient: Any) -> bool:
    """PHQ-9, GAD-7 and the rest: only for users who may see questionnaire scores."""
    return (has_perm(user, Perm.ASSESSMENT_VIEW)
            and patients_for(user, Perm.ASSESSMENT_VIEW).filter(pk=patient.pk).exists())


def _trajectory(request: HttpRequest, patient_id: Any) -> trajectories.Trajectory:
    patient = get_patient(request.user, patient_id, Perm.TRAJECTORY_VIEW)
    return trajectories.build(patient,
                              include_other=_may_see_questionnaires(request.user, patient),
                              dated=bool(getattr(patient, "identified", False)))


def _patient_label(patient: Any) -> str:
    return patient.display_name if getattr(patient, "identified", False) else patient.study_id


@rule(Perm.TRAJECTORY_VIEW)
def trajectory(request: HttpRequest, patient_id: int) -> HttpResponse:
    from . import charts

    found = _trajectory(request, patient_id)
    audit.record_view(request.user, found.patient, page="trajectory",
                      questionnaires=found.shows_others)
    return render(request, "assessments/trajectory.html", {
        "patient": found.patient, "trajectory": found, "rows": found.points,
        "svg": charts.inline(charts.trajectory_svg(found)),
        "description": charts.describe_trajectory(found),
        "baseline_words": trajectories.baseline_words(found),
        "patient_label": _patient_label(found.patient)})


@rule(Perm.TRAJECTORY_VIEW)
def trajectory_svg(request: HttpRequest, patient_id: int) -> HttpResponse:
    from . import charts

    found = _trajectory(request, patient_id)
    audit.record_view(request.user, found.patient, page="trajectory", format="svg")
    return HttpResponse(charts.trajectory_svg(found), content_type="image/svg+xml")


@rule(Perm.TRAJECTORY_VIEW)
def trajectory_csv(request: HttpRequest, patient_id: int) -> HttpResponse:
    found = _trajectory(request, patient_id)
    audit.record(actor=request.user, action=AuditAction.EXPORT, target=found.patient,
                 details={"page": "trajectory", "format": "csv",
                          "questionnaires": found.shows_others})
    when = "date" if found.dated else "day_since_enrollment"
    rows: list[list[Any]] = [
        [p.on.isoformat() if found.dated else p.day, p.measure_label, f"{p.value:.2f}", "",
         p.source_label, p.detail] for p in found.points]
    rows += [[o.on.isoformat() if found.dated else o.day, o.name,
              "" if o.total is None else f"{o.total:.2f}", o.band, "Questionnaire",
              o.time_point] for o in found.others]
    return csv_download(f"trajectory-{found.patient.study_id}.csv",
                        [when, "measure", "value", "band", "source", "time_point"], rows)


@rule(Perm.ASSESSMENT_SELF)
def my_trajectory(request: HttpRequest) -> HttpResponse:
    """The signed-in patient's own pain scores, in big text and plain words.

    ``ASSESSMENT_SELF`` is the patients' own permission: only a patient has a trajectory
    of their own (staff reach patients' trajectories from their pages).
    """
    from . import charts

    patient = get_patient(request.user, actor_for(request.user).patient_id,
                          Perm.TRAJECTORY_VIEW)
    found = trajectories.build(patient, include_other=False, dated=True)
    audit.record_view(request.user, patient, page="my_trajectory")
    return render(request, "assessments/trajectory_mine.html", {
        "patient": patient, "trajectory": found, "rows": found.points,
        "svg": charts.inline(charts.trajectory_svg(found, big=True)),
        "sentence": trajectories.plain_summary(found)})


# --- Outcome reports ------------------------------------------------------------------------


class OutcomeFilters(forms.Form):
    group_by = forms.ChoiceField(label="Group by", required=False,
                                 choices=list(outcomes.GROUPINGS.items()))
    program = forms.TypedChoiceField(label="Program", required=False, coerce=int,
                                     empty_value=None)
    site = forms.TypedChoiceField(label="Site", required=False, coerce=int, empty_value=None)
    coach = forms.TypedChoiceField(label="Coach", required=False, coerce=int, empty_value=None)
    instrument = forms.ChoiceField(label="Questionnaire", required=False)
    time_point = forms.ChoiceField(label="Follow-up", required=False)

    def __init__(self, data: Any, *, user: Any) -> None:
        super().__init__(data)
        from .models import TimePoint

        programs = list(programs_for(user, Perm.OUTCOME_REPORT).order_by("name"))
        self.programs = programs
        every: list[tuple[Any, str]] = [("", "All")]
        self._choices("program", every + [(p.pk, p.name) for p in programs])
        self._choices("site", every + sorted({(p.site_id, p.site.name) for p in programs},
                                             key=lambda c: c[1]))
        # Researchers see coaches' study ids, never their names.
        coaches = with_identified_flag(
            coaches_for(user, Perm.OUTCOME_REPORT).only(
                "id", "first_name", "last_name", "preferred_name", "study_id"),
            user, kind="coach").order_by("last_name", "first_name", "id")
        self._choices("coach", every + [
            (c.pk, c.display_name if c.identified else f"Coach {c.study_id}") for c in coaches])
        self._choices("instrument", every + [
            (code, item.short_name) for code, item in instruments.REGISTRY.items()
            if scoring.has_change_rule(code)])
        points = (TimePoint.objects.filter(program__in=[p.pk for p in programs], day__gt=0,
                                           before_first_contact=False)
                  .order_by("day", "key").values_list("key", "label"))
        self._choices("time_point", every + list(dict(points).items()))

    def _choices(self, name: str, choices: list[tuple[Any, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_valid() else {}
        return {"group_by": data.get("group_by") or "program",
                "program_id": data.get("program"), "site_id": data.get("site"),
                "coach_id": data.get("coach"), "instrument": data.get("instrument") or "",
                "time_point": data.get("time_point") or ""}


def _outcome_report(request: HttpRequest) -> tuple[OutcomeFilters, outcomes.Report,
                                                   dict[str, Any]]:
    form = OutcomeFilters(request.GET or None, user=request.user)
    chosen = form.values()
    return form, outcomes.report(user=request.user, **chosen), chosen


def _audit_report(request: HttpRequest, form: OutcomeFilters, chosen: dict[str, Any],
                  action: AuditAction, fmt: str) -> None:
    """Reports have no one subject: the event names the program or site reported on."""
    target: Any = next((p for p in form.programs if p.pk == chosen["program_id"]), None)
    if target is None and chosen["site_id"]:
        target = next((p.site for p in form.programs if p.site_id == chosen["site_id"]), None)
    if target is None:
        target = sites_for(request.user, Perm.OUTCOME_REPORT).order_by("pk").first()
    if target is not None:
        audit.record(actor=request.user, action=action, target=target,
                     details={"page": "outcomes", "format": fmt,
                              **{k: v for k, v in chosen.items() if v}})


@rule(Perm.OUTCOME_REPORT)
def outcome_report(request: HttpRequest) -> HttpResponse:
    from . import charts

    form, found, chosen = _outcome_report(request)
    _audit_report(request, form, chosen, AuditAction.VIEW, "html")
    query = request.GET.urlencode()
    return render(request, "assessments/report_outcomes.html", {
        "form": form, "report": found, "rows": found.rows, "query": query,
        "svg": charts.inline(charts.outcomes_svg(found.rows)),
        "description": charts.describe_outcomes(found.rows),
        "attribution": outcomes.ATTRIBUTION_RULE, "min_n": outcomes.MIN_N,
        "group_label": outcomes.GROUPINGS[found.group_by],
        "rules": [(instruments.get(code).short_name, text) for code, text in found.rules.items()],
        "without_rule": [instruments.get(c).short_name for c in found.without_rule]})


def _round(value: float | None, places: int = 3) -> str:
    return "" if value is None else f"{value:.{places}f}"


@rule(Perm.OUTCOME_REPORT)
def outcome_report_csv(request: HttpRequest) -> HttpResponse:
    form, found, chosen = _outcome_report(request)
    _audit_report(request, form, chosen, AuditAction.EXPORT, "csv")
    rows = []
    for row in found.rows:
        s = row.summary
        rows.append([
            found.group_by, row.group, row.instrument_name, row.time_point_label, s.n,
            _round(s.mean_change) if s.enough else "", _round(s.ci_low), _round(s.ci_high),
            s.improved if s.enough else "", _round(s.share) if s.enough else "",
            _round(s.share_low), _round(s.share_high),
            "" if s.enough else outcomes.NOT_ENOUGH, found.rules[row.instrument]])
    return csv_download("outcomes.csv", [
        "group_by", "group", "instrument", "time_point", "n", "mean_change", "ci95_low",
        "ci95_high", "improved", "share_improved", "share_ci95_low", "share_ci95_high",
        "note", "important_improvement_rule"], rows)


@rule(Perm.OUTCOME_REPORT)
def outcome_report_svg(request: HttpRequest) -> HttpResponse:
    from . import charts

    form, found, chosen = _outcome_report(request)
    _audit_report(request, form, chosen, AuditAction.VIEW, "svg")
    return HttpResponse(charts.outcomes_svg(found.rows), content_type="image/svg+xml")


# --- The clinician summary ---------------------------------------------------------------


@rule(Perm.CLINICIAN_SUMMARY)
def clinician_summary(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient(request.user, patient_id, Perm.CLINICIAN_SUMMARY)
    found = summary.build(patient)
    audit.record_view(request.user, patient, page="clinician_summary",
                      identified=found.identified)
    return render(request, "assessments/summary.html", {"patient": patient, "summary": found})


@rule(Perm.CLINICIAN_SUMMARY)
def clinician_summary_pdf(request: HttpRequest, patient_id: int) -> HttpResponse:
    patient = get_patient(request.user, patient_id, Perm.CLINICIAN_SUMMARY)
    from .summary_pdf import summary_pdf

    found = summary.build(patient)
    audit.record(actor=request.user, action=AuditAction.EXPORT, target=patient,
                 details={"page": "clinician_summary", "format": "pdf",
                          "identified": found.identified})
    response = HttpResponse(summary_pdf(found), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="summary-{patient.study_id}.pdf"'
    return response
