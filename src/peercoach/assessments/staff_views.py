"""Staff pages: one patient's questionnaires and their versions, corrections, missed
questionnaires, PAM scores from the licensed scorer, a program's time points and the
instrument list.

Reading needs ASSESSMENT_VIEW (researchers see the records de-identified: study ID and
days since enrollment instead of names and dates); changing needs ASSESSMENT_ADMINISTER,
time points ASSESSMENT_MANAGE. Detail pages are audited.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from peercoach.core import audit
from peercoach.core.policy import Perm, get_patient, has_perm, patients_for, rule

from . import forms, instruments, selectors, services
from .models import AssessmentStatus, Mode, ResponseVersion, TimePoint


def _may(user: Any, perm: Perm, patient_id: int) -> bool:
    return has_perm(user, perm) and patients_for(user, perm).filter(pk=patient_id).exists()


def shown_date(patient: Any, when: dt.date | dt.datetime | None) -> str:
    """A date as this reader may see it: the date (and time), or for a de-identified
    reader (researchers) the day counted from enrollment."""
    if when is None:
        return ""
    local = timezone.localtime(when) if isinstance(when, dt.datetime) else None
    day = local.date() if local is not None else when
    assert isinstance(day, dt.date)
    if getattr(patient, "identified", False):
        text = f"{day:%b} {day.day}, {day.year}"
        return f"{text} {local:%H:%M}" if local is not None else text
    if patient.enrolled_on is None:
        return str(day.year)
    return f"day {(day - patient.enrolled_on).days}"


def who_answered(version: ResponseVersion) -> str:
    if version.submitted_by_id is not None and version.submitted_by is not None:
        user = version.submitted_by
        return user.get_full_name() or user.get_username()
    if version.mode == Mode.LINK:
        return "The patient (secure link)"
    return "The patient"


# --- One patient's questionnaires -------------------------------------------------------------


@rule(Perm.ASSESSMENT_VIEW)
def patient_assessments(request: HttpRequest, pk: int) -> HttpResponse:
    patient = selectors.patient_for_assessments(request.user, pk)
    groups = selectors.patient_assessments(patient)
    rows = [row for group in groups for row in group.rows]
    for row in rows:
        a = row.assessment
        row.due_shown = shown_date(patient, a.due_on)  # type: ignore[attr-defined]
        row.window_shown = (  # type: ignore[attr-defined]
            f"{shown_date(patient, a.opens_on)} to {shown_date(patient, a.closes_on)}")
        row.submitted_shown = shown_date(patient, a.submitted_at)  # type: ignore[attr-defined]
    can_administer = _may(request.user, Perm.ASSESSMENT_ADMINISTER, patient.pk)
    return render(request, "assessments/patient_assessments.html", {
        "patient": patient, "groups": groups, "rows": rows, "can_administer": can_administer,
        "live_links": selectors.live_links(patient) if can_administer else [],
        "external": selectors.external_scores(patient),
        "missed_form": forms.MissedForm() if can_administer else None,
        "pam": instruments.get("pam")})


def _version_rows(instrument: instruments.Instrument,
                  answers: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for item in instrument.items:
        value = answers.get(str(item.number))
        rows.append({"item": item, "answer": forms.option_words(item, value, numbered=True),
                     "answered": value is not None})
    return rows


@rule(Perm.ASSESSMENT_VIEW)
def assessment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One questionnaire: every submitted version (who, when, how, why), read-only."""
    assessment = selectors.assessment_for(request.user, pk, Perm.ASSESSMENT_VIEW)
    patient = get_patient(request.user, assessment.patient_id, Perm.ASSESSMENT_VIEW)
    audit.record_view(request.user, assessment,
                      identified=bool(getattr(patient, "identified", False)))
    instrument = services.instrument_for_use(assessment.instrument)
    versions = []
    for version in reversed(selectors.versions_of(assessment)):
        versions.append({
            "version": version, "who": who_answered(version),
            "when": shown_date(patient, version.submitted_at),
            "mode": selectors.mode_label(version.mode),
            "rows": _version_rows(instrument, version.answers)})
    draft = ({str(k): v["value"] for k, v in assessment.draft.items()}
             if assessment.is_open and assessment.draft else {})
    return render(request, "assessments/assessment_detail.html", {
        "assessment": assessment, "patient": patient, "instrument": instrument,
        "versions": versions, "draft_rows": _version_rows(instrument, draft) if draft else [],
        "status": selectors.status_of(assessment, selectors.today()),
        "due_shown": shown_date(patient, assessment.due_on),
        "can_administer": _may(request.user, Perm.ASSESSMENT_ADMINISTER, patient.pk),
        "why_not": services.why_not_administrable(assessment.instrument)
        if assessment.is_open else None})


@rule(Perm.ASSESSMENT_ADMINISTER)
def correct(request: HttpRequest, pk: int) -> HttpResponse:
    """Correct a submitted questionnaire: all answers on one form and a reason; the
    earlier version is kept."""
    assessment = selectors.assessment_for(request.user, pk, Perm.ASSESSMENT_ADMINISTER)
    if assessment.status != AssessmentStatus.SUBMITTED:
        messages.info(request, "Only a questionnaire that was sent in can be corrected.")
        return redirect("assessments:assessment_detail", assessment.pk)
    instrument = services.instrument_for_use(assessment.instrument)
    history = selectors.versions_of(assessment)
    latest = history[-1]
    current = {int(k): v for k, v in latest.answers.items()}
    form = forms.CorrectionForm(request.POST or None, instrument=instrument, current=current)
    if request.method == "POST" and form.is_valid():
        answers = {k: v for k, v in form.answers().items() if v is not None}
        try:
            version = services.correct(assessment=assessment, answers=answers,
                                       by=request.user, mode=form.cleaned_data["mode"],
                                       reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            if services.ITEM9_FLAG in version.flags:
                # The crisis steps, at once, for whoever entered the answer.
                return redirect("assessments:staff_done", assessment.pk)
            messages.success(request, f"Saved as version {version.number}. Version "
                                      f"{latest.number} is kept.")
            return redirect("assessments:assessment_detail", assessment.pk)
    elif request.method != "POST":
        audit.record_view(request.user, assessment, page="correct")
    return render(request, "assessments/correct.html", {
        "assessment": assessment, "patient": assessment.patient, "instrument": instrument,
        "form": form, "latest": latest,
        "history": [{"version": v, "who": who_answered(v),
                     "mode": selectors.mode_label(v.mode)} for v in reversed(history)]})


@require_POST
@rule(Perm.ASSESSMENT_ADMINISTER)
def mark_missed(request: HttpRequest, pk: int) -> HttpResponse:
    assessment = selectors.assessment_for(request.user, pk, Perm.ASSESSMENT_ADMINISTER)
    form = forms.MissedForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Say why the questionnaire was missed.")
    else:
        try:
            services.mark_missed(assessment=assessment, by=request.user,
                                 reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"{instruments.get(assessment.instrument).short_name} "
                                      "marked as missed.")
    return redirect("assessments:patient_assessments", assessment.patient_id)


@rule(Perm.ASSESSMENT_ADMINISTER)
def external_score(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a PAM score and level from the licensed scorer."""
    patient = get_patient(request.user, pk, Perm.ASSESSMENT_ADMINISTER)
    form = forms.ExternalScoreForm(request.POST or None, program=patient.program)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.external_score_record(
                patient=patient, instrument="pam", score=data["score"], level=data["level"],
                measured_on=data["measured_on"], source=data["source"], by=request.user,
                time_point=data["time_point"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "PAM score recorded.")
            return redirect("assessments:patient_assessments", patient.pk)
    return render(request, "assessments/external_score.html", {
        "patient": patient, "form": form, "pam": instruments.get("pam")})


# --- Time points and instruments ------------------------------------------------------------


def _save_time_point(request: HttpRequest, form: forms.TimePointForm) -> bool:
    if not form.is_valid():
        return False
    try:
        services.time_point_save(time_point=form.instance, by=request.user)
    except ValidationError as exc:
        if hasattr(exc, "error_dict"):
            for name, errors in exc.error_dict.items():
                form.add_error(name if name in form.fields else None, errors)
        else:
            form.add_error(None, exc)
        return False
    return True


@rule(Perm.ASSESSMENT_MANAGE)
def time_points(request: HttpRequest, pk: int) -> HttpResponse:
    """The program's time points, and a form to add one."""
    program = selectors.program_for(request.user, pk)
    loaded = selectors.loaded_codes()
    if request.method == "POST" and request.POST.get("action") == "defaults":
        made = services.ensure_time_points(program)
        messages.success(request, f"The program has {len(made)} time points.")
        return redirect("assessments:time_points", program.pk)
    form = forms.TimePointForm(request.POST or None, instance=TimePoint(program=program),
                               loaded=loaded)
    if request.method == "POST" and _save_time_point(request, form):
        messages.success(request, f"Time point {form.instance.label} added.")
        return redirect("assessments:time_points", program.pk)
    rows = [{"point": point,
             "instruments": [instruments.get(c) for c in point.instruments
                             if c in instruments.REGISTRY],
             "not_ready": [instruments.get(c).short_name for c in point.instruments
                           if c in instruments.REGISTRY
                           and not selectors.answerable(c, loaded)]}
            for point in TimePoint.objects.filter(program=program).order_by("day", "key")]
    return render(request, "assessments/time_points.html", {
        "program": program, "rows": rows, "form": form,
        "instrument_list_url": reverse("assessments:instrument_list")})


@rule(Perm.ASSESSMENT_MANAGE)
def time_point_edit(request: HttpRequest, pk: int) -> HttpResponse:
    point = selectors.time_point_for(request.user, pk)
    title = point.label  # before the form changes the instance
    form = forms.TimePointForm(request.POST or None, instance=point,
                               loaded=selectors.loaded_codes())
    if request.method == "POST" and _save_time_point(request, form):
        messages.success(request, f"Time point {point.label} saved. Questionnaires already "
                                  "scheduled keep their instruments.")
        return redirect("assessments:time_points", point.program_id)
    return render(request, "assessments/time_point_edit.html", {
        "point": point, "title": title, "program": point.program, "form": form})


@rule(Perm.ASSESSMENT_VIEW)
def instrument_list(request: HttpRequest) -> HttpResponse:
    return render(request, "assessments/instrument_list.html", {
        "rows": selectors.instrument_rows()})
