"""Pages for studies: set-up, enrolment and randomization, allocations, the sequence.

Nothing here shows a slot that has not been taken, except the statistician's sequence
page (audited). What the other pages show depends only on allocations already made.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from peercoach.core import audit
from peercoach.core.policy import (
    Perm,
    actor_for,
    has_perm,
    is_id,
    patients_for,
    programs_for,
    rule,
    with_identified_flag,
)

from . import selectors, services, strata
from .forms import ArmForm, StudyForm, add_errors
from .models import StratumFactor, Study, StudyStatus


def _study_flags(request: HttpRequest, study: Study) -> dict[str, Any]:
    site = study.program.site_id
    actor = actor_for(request.user)
    return {
        "can_manage": site in actor.sites_with(Perm.STUDY_MANAGE),
        "can_randomize": site in actor.sites_with(Perm.STUDY_RANDOMIZE),
        "can_see_sequence": site in selectors.sequence_sites(request.user),
    }


@rule(Perm.ALLOCATION_VIEW)
def study_list(request: HttpRequest) -> HttpResponse:
    studies = list(selectors.with_arms(selectors.studies_for(request.user))
                   .order_by("-created_at", "-id")[:200])
    return render(request, "research/study_list.html", {
        "studies": studies, "can_manage": has_perm(request.user, Perm.STUDY_MANAGE)})


@rule(Perm.STUDY_MANAGE)
def study_create(request: HttpRequest) -> HttpResponse:
    programs = programs_for(request.user, Perm.STUDY_MANAGE)
    form = StudyForm(request.POST or None, programs=programs)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            study = services.study_create(
                program=d["program"], by=request.user, title=d["title"],
                registration_id=d["registration_id"], description=d["description"],
                block_sizes=d["block_sizes"], strata=d["strata"], time_points=d["time_points"])
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, "Study saved as a draft. Add its arms, then start "
                                      "recruiting.")
            return redirect("research:study_detail", pk=study.pk)
    return render(request, "research/study_form.html", {"form": form, "study": None})


@rule(Perm.ALLOCATION_VIEW)
def study_detail(request: HttpRequest, pk: int) -> HttpResponse:
    study = selectors.get_study(request.user, pk)
    arms = list(study.arms.all())
    names = dict(StratumFactor.choices)
    return render(request, "research/study_detail.html", {
        "study": study, "arms": arms, **_study_flags(request, study),
        "strata_labels": [names[f] for f in strata.ordered_factors(study)],
        "target_total": sum(a.target_size or 0 for a in arms),
        "ratio": ":".join(str(a.ratio) for a in arms)})


@rule(Perm.STUDY_MANAGE)
def study_edit(request: HttpRequest, pk: int) -> HttpResponse:
    study = selectors.get_study(request.user, pk, Perm.STUDY_MANAGE)
    form = StudyForm(request.POST or None, study=study,
                     initial=StudyForm.initial_for(study))
    if request.method == "POST" and form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k in services.STUDY_FIELDS}
        try:
            services.study_update(study=study, by=request.user, **fields)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, "Study saved.")
            return redirect("research:study_detail", pk=study.pk)
    return render(request, "research/study_form.html", {"form": form, "study": study})


@require_POST
@rule(Perm.STUDY_MANAGE)
def study_start(request: HttpRequest, pk: int) -> HttpResponse:
    study = selectors.get_study(request.user, pk, Perm.STUDY_MANAGE)
    try:
        services.study_start(study=study, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Recruiting has started. The allocation sequence is "
                                  "generated and concealed.")
    return redirect("research:study_detail", pk=study.pk)


@require_POST
@rule(Perm.STUDY_MANAGE)
def study_close(request: HttpRequest, pk: int) -> HttpResponse:
    study = selectors.get_study(request.user, pk, Perm.STUDY_MANAGE)
    try:
        services.study_close(study=study, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The study is closed: nobody more can be randomized.")
    return redirect("research:study_detail", pk=study.pk)


@rule(Perm.STUDY_MANAGE)
def arm_create(request: HttpRequest, pk: int) -> HttpResponse:
    study = selectors.get_study(request.user, pk, Perm.STUDY_MANAGE)
    if not study.is_draft:
        messages.error(request, "This study has started recruiting: its arms are fixed.")
        return redirect("research:study_detail", pk=study.pk)
    form = ArmForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            services.arm_create(study=study, by=request.user, **d)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, f"Arm “{d['name']}” added.")
            return redirect("research:study_detail", pk=study.pk)
    return render(request, "research/arm_form.html", {"form": form, "study": study,
                                                      "arm": None})


@rule(Perm.STUDY_MANAGE)
def arm_edit(request: HttpRequest, pk: int) -> HttpResponse:
    arm = selectors.get_arm(request.user, pk, Perm.STUDY_MANAGE)
    study = arm.study
    initial = {"name": arm.name, "code": arm.code, "kind": arm.kind, "ratio": arm.ratio,
               "target_size": arm.target_size, "gets_coach": arm.gets_coach,
               "description": arm.description}
    form = ArmForm(request.POST or None, initial=initial, frozen=not study.is_draft)
    if request.method == "POST" and form.is_valid():
        try:
            services.arm_update(arm=arm, by=request.user, **form.cleaned_data)
        except ValidationError as exc:
            add_errors(form, exc)
        else:
            messages.success(request, "Arm saved.")
            return redirect("research:study_detail", pk=study.pk)
    return render(request, "research/arm_form.html", {"form": form, "study": study, "arm": arm})


# --- Enrolment and randomization ------------------------------------------------------------


@rule(Perm.STUDY_RANDOMIZE)
def enrolment(request: HttpRequest, pk: int) -> HttpResponse:
    """Patients of the program on their way in; enrolled, eligible ones can be randomized."""
    study = selectors.get_study(request.user, pk, Perm.STUDY_RANDOMIZE)
    page = Paginator(selectors.enrolment(request.user, study), 50).get_page(
        request.GET.get("page"))
    rows = [(p, *selectors.enrolment_row(p)) for p in page]
    return render(request, "research/enrolment.html", {
        "study": study, "page": page, "rows": rows,
        "recruiting": study.status == StudyStatus.RECRUITING})


def _program_patient(request: HttpRequest, study: Study, raw: Any) -> Any:
    qs = with_identified_flag(patients_for(request.user, Perm.PATIENT_VIEW)
                              .filter(program_id=study.program_id), request.user)
    patient = qs.filter(pk=raw).first() if is_id(raw) else None
    if patient is None:
        raise Http404("No such patient in this study's program.")
    return patient


@rule(Perm.STUDY_RANDOMIZE)
def randomize(request: HttpRequest, pk: int) -> HttpResponse:
    """GET ?patient=id: the confirmation page. POST (from it): randomize, for good."""
    study = selectors.get_study(request.user, pk, Perm.STUDY_RANDOMIZE)
    raw = request.POST.get("patient") if request.method == "POST" else request.GET.get(
        "patient")
    if not raw:
        if request.method == "POST":
            messages.error(request, "Choose a patient to randomize.")
        return redirect("research:enrolment", pk=study.pk)
    patient = _program_patient(request, study, raw)
    if request.method == "POST" and request.POST.get("confirm") == "yes":
        try:
            allocation = services.randomize(patient=patient, by=request.user, study=study)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("research:enrolment", pk=study.pk)
        who = patient.display_name if patient.identified else patient.study_id
        messages.success(request, f"{who} was randomized to {allocation.arm.name}.")
        return redirect("research:allocation_list", pk=study.pk)
    if hasattr(patient, "allocation"):
        problems = ["This patient has already been randomized."]
    else:
        problems = services.ineligibility(patient, study)
    return render(request, "research/randomize_confirm.html", {
        "study": study, "patient": patient, "problems": problems,
        "recruiting": study.status == StudyStatus.RECRUITING,
        "stratum": strata.describe(strata.stratum_key(study, patient, timezone.now()))})


@rule(Perm.ALLOCATION_VIEW)
def allocation_list(request: HttpRequest, pk: int) -> HttpResponse:
    study = selectors.get_study(request.user, pk)
    page = Paginator(selectors.allocations_for(request.user, study), 50).get_page(
        request.GET.get("page"))
    return render(request, "research/allocation_list.html", {
        "study": study, "page": page, **_study_flags(request, study)})


# --- The sequence (statistician; unblinding) --------------------------------------------------


@rule(Perm.SEQUENCE_VIEW)
def sequence(request: HttpRequest, pk: int) -> HttpResponse:
    """The stored sequence of each stratum with the allocations made. Every view audited."""
    study = selectors.sequence_study(request.user, pk)
    stratum = request.GET.get("stratum", "")
    rows = list(selectors.strata_of(study))
    if stratum and stratum not in {r.key for r in rows}:
        raise Http404("No such stratum.")
    page = Paginator(selectors.slots(study, stratum or None), 200).get_page(
        request.GET.get("page"))
    audit.record_view(request.user, study, sequence=True, stratum=stratum,
                      page=page.number)
    taken = selectors.taken_per_stratum(study)
    arms = list(study.arms.order_by("id"))
    query = urlencode({"stratum": stratum}) if stratum else ""
    return render(request, "research/sequence.html", {
        "study": study, "page": page, "stratum": stratum, "arms": arms,
        "strata": [(r, strata.describe(r.key), taken.get(r.key, 0)) for r in rows],
        "query_string": query, "codes": [a.code for a in arms],
        "ratio": [a.ratio for a in arms],
        "study_url": reverse("research:study_detail", args=[study.pk])})
