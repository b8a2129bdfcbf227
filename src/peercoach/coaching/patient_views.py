"""The patient's own home: my coach, my next contact, my goals, the manual, a check-in."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from peercoach.core.policy import Perm, actor_for, get_patient, rule
from peercoach.matching.models import Match

from . import forms, selectors, services
from .models import PainCheckIn


def patient_home(request: HttpRequest, patient_id: int) -> HttpResponse:
    """Rendered by the home page for a user whose role is patient."""
    from peercoach.assessments.selectors import open_for_patient
    from peercoach.curriculum.manual import patient_sections
    from peercoach.people.selectors import patient_for_view

    patient = patient_for_view(user=request.user, pk=patient_id)  # audited, like any view
    match = (Match.objects.filter(patient=patient, ended_on__isnull=True)
             .select_related("coach").first())
    ways: list[str] = []
    if match:
        shared = [m for m in patient.preferred_contact_modes
                  if m in match.coach.preferred_contact_modes]
        ways = shared or patient.preferred_contact_modes or match.coach.preferred_contact_modes
    covered = set(selectors.sections_covered(patient))
    return render(request, "coaching/patient_home.html", {
        "patient": patient, "match": match, "ways": ways,
        "next": selectors.next_contact(patient) if match else None,
        "goals": selectors.goals_with_progress(patient),
        "sections": [(s, s.key in covered) for s in patient_sections()],
        "last_check_in": PainCheckIn.objects.filter(patient=patient).first(),
        # Questionnaires whose window has opened: the first thing on the page.
        "questionnaires": open_for_patient(patient.pk),
        "form": forms.PainCheckInForm()})


@require_POST
@rule(Perm.PAIN_CHECK_IN)
def pain_check_in(request: HttpRequest) -> HttpResponse:
    patient_id = actor_for(request.user).patient_id
    if patient_id is None:
        raise Http404("Only patients check in here.")
    patient = get_patient(request.user, patient_id, Perm.PAIN_CHECK_IN)
    form = forms.PainCheckInForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Please answer all four questions with a number from 0 to 10.")
        return redirect("home")
    try:
        services.pain_check_in(patient=patient, by=request.user, **form.cleaned_data)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Thank you. Your check-in is saved.")
    return redirect("home")
