"""The signed-in user's notification preferences; failed deliveries and their retry for
staff; a patient's reminder settings."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from peercoach.core.policy import Perm, authenticated, get_patient, has_perm, is_id, rule

from . import selectors, services
from .forms import PatientPreferenceForm, PreferenceForm
from .models import PatientChannel, PatientPreference, Preference, Status


@authenticated
def preferences(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    pref = Preference.objects.filter(user=user).first() or Preference(user=user)
    if request.method == "POST":
        form = PreferenceForm(request.POST)
        if form.is_valid():
            try:
                services.preference_update(user=user, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "Your notification settings are saved.")
                return redirect("notifications:preferences")
    else:
        form = PreferenceForm(initial={
            "email_enabled": pref.email_enabled, "sms_enabled": pref.sms_enabled,
            "phone": pref.phone, "quiet_start": pref.quiet_start, "quiet_end": pref.quiet_end})
    return render(request, "notifications/preferences.html", {
        "form": form, "email": user.email})


def _row_context(request: HttpRequest) -> dict[str, Any]:
    # The actor is cached for the request: these cost no query.
    return {"can_edit_patients": has_perm(request.user, Perm.PATIENT_EDIT)}


@rule(Perm.SAFETY_VIEW)
def failed_deliveries(request: HttpRequest) -> HttpResponse:
    """Messages that could not be handed to their channel (still retrying, or given up),
    and reminders that could not be sent at all (and why)."""
    deliveries = list(selectors.deliveries_needing_attention(request.user))
    return render(request, "notifications/failed.html", {
        "deliveries": deliveries, **_row_context(request),
        "failed_ids": [d.pk for d in deliveries if d.status == Status.FAILED]})


@require_POST
@rule(Perm.SAFETY_VIEW)
def retry(request: HttpRequest, pk: int) -> HttpResponse:
    """Put one failed delivery back in the outbox (404 outside the user's sites)."""
    row = selectors.get_delivery(request.user, pk)
    try:
        services.notification_retry(notification_id=row.pk, by=request.user)
    except ValidationError as exc:
        note, ok = " ".join(exc.messages), False
    else:
        note, ok = "Back in the outbox: it is being sent again.", True
    if request.htmx:  # type: ignore[attr-defined]
        # The row as it is now (without a job queue it may already have been sent).
        return render(request, "notifications/_delivery_row.html", {
            "d": selectors.get_delivery(request.user, pk), "note": note, "note_ok": ok,
            **_row_context(request)})
    (messages.success if ok else messages.error)(request, note)
    return redirect("notifications:failed")


@require_POST
@rule(Perm.SAFETY_VIEW)
def retry_shown(request: HttpRequest) -> HttpResponse:
    """"Retry all shown": every failed delivery the page listed (posted as `id`)."""
    ids = [int(v) for v in request.POST.getlist("id") if is_id(v)]
    if not ids:
        messages.info(request, "There was no failed message to retry.")
        return redirect("notifications:failed")
    result = services.notifications_retry(notification_ids=ids, by=request.user)
    if result.retried:
        n = len(result.retried)
        messages.success(request, f"{n} message{'s are' if n != 1 else ' is'} back in the "
                                  "outbox and being sent again.")
    if result.refused:
        n = len(result.refused)
        reasons = sorted(set(result.refused.values()))
        messages.error(request, f"{n} message{'s were' if n != 1 else ' was'} not retried: "
                                + " ".join(reasons))
    return redirect("notifications:failed")


@rule(Perm.PATIENT_EDIT)
def patient_reminders(request: HttpRequest, pk: int) -> HttpResponse:
    """Staff: how (and whether) a patient gets reminders, and the latest ones sent."""
    patient = get_patient(request.user, pk, Perm.PATIENT_EDIT)
    pref = PatientPreference.objects.filter(patient=patient).first()
    if request.method == "POST":
        form = PatientPreferenceForm(request.POST)
        if form.is_valid():
            try:
                services.patient_preference_update(patient=patient, by=request.user,
                                                   **form.cleaned_data)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, "The patient's reminder settings are saved.")
                return redirect("notifications:patient_reminders", pk=patient.pk)
    else:
        form = PatientPreferenceForm(initial={
            "reminders_enabled": pref.reminders_enabled if pref else True,
            "channel": pref.channel if pref else PatientChannel.AUTO,
            "quiet_start": pref.quiet_start if pref else None,
            "quiet_end": pref.quiet_end if pref else None})
    start, end = services.patient_quiet_hours(pref)
    return render(request, "notifications/patient_reminders.html", {
        "patient": patient, "form": form, "pref": pref,
        "has_login": patient.user_id is not None,
        "route": services.patient_route(patient, pref), "quiet": (start, end),
        "reminders": selectors.patient_reminders(patient)})
