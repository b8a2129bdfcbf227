"""Secure links: a patient without a login answers their questionnaires from a link.

Staff make a link (shown once, or sent by text message or e-mail). Opening it uses it up
(`services.link_open`) and keeps in the browser's session only which link, which patient
and until when; the link pages check that on every request, and that the link was not
stopped since. The token itself is never stored: the database keeps its hash, the audit
trail gets the path with the token blanked out, and messages go straight to the channel.

Wrong links are rate-limited per address in the cache: after `FAIL_LIMIT` failed attempts
within `FAIL_WINDOW`, every link attempt from that address is refused with 429.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any
from urllib.parse import urljoin

from django.conf import settings
from django.contrib import messages
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from peercoach.core import audit
from peercoach.core.middleware import client_ip
from peercoach.core.policy import Perm, get_patient, public, rule
from peercoach.notifications.services import sms_number

from . import forms, instruments, selectors, services
from .answer_views import Flow, done, list_rows, question, review
from .models import Assessment, AssessmentLink, Mode

SESSION_KEY = "assessment_link"
#: Failed link attempts allowed per client address within the window.
FAIL_LIMIT = 10
FAIL_WINDOW = dt.timedelta(minutes=15)

_BLOCKED = ("Too many links that do not work were tried from this network. For safety, "
            "links cannot be opened from here for up to 15 minutes. Please wait and try "
            "again, or call your program team.")
_NO_SESSION = ("To answer your questionnaires, please open the link you were sent again. "
               "If it says it has been used, ask your program team for a new one.")
_ENDED = ("Your time to answer has ended (a link works for a few hours after you open it). "
          "Your answers so far are saved. Please ask your program team for a new link.")


# --- Rate limit -------------------------------------------------------------------------


def _fail_key(request: HttpRequest) -> str:
    return f"assessments:link-failures:{client_ip(request) or 'unknown'}"


def link_blocked(request: HttpRequest) -> bool:
    return int(cache.get(_fail_key(request)) or 0) >= FAIL_LIMIT


def _count_failure(request: HttpRequest) -> None:
    """One more failed attempt. The window starts at the first failure (an atomic
    counter: two attempts at once are both counted)."""
    key, seconds = _fail_key(request), int(FAIL_WINDOW.total_seconds())
    if cache.add(key, 1, seconds):
        return
    try:
        cache.incr(key)
    except ValueError:  # expired between add() and incr()
        cache.add(key, 1, seconds)


def _refused(request: HttpRequest, message: str, status: int) -> HttpResponse:
    response = render(request, "assessments/link_refused.html", {"message": message},
                      status=status)
    if status == 429:
        response["Retry-After"] = str(int(FAIL_WINDOW.total_seconds()))
    return response


# --- Opening a link and the link's session ------------------------------------------------


@public
@never_cache
def link_open(request: HttpRequest, token: str) -> HttpResponse:
    if link_blocked(request):
        return _refused(request, _BLOCKED, 429)
    # The audit trail records the request path; the token must not be stored with it.
    info = audit.current_request_info()
    context = audit.set_request_info(dataclasses.replace(
        info, path=request.path.replace(token, "[token hidden]")))
    try:
        if request.method != "POST":
            # Looking at the link (or a mail scanner fetching it) does not use it up.
            services.link_check(token)
            return render(request, "assessments/link_start.html")
        link = services.link_open(token)
    except services.LinkRefused as exc:
        _count_failure(request)
        return _refused(request, str(exc), exc.status)
    finally:
        audit.reset_request_info(context)
    until = min(link.expires_at, timezone.now() + services.LINK_SESSION)
    # A new session key: a session cookie planted before the link was opened gains nothing.
    request.session.cycle_key()
    request.session[SESSION_KEY] = {"link": link.pk, "patient": link.patient_id,
                                    "until": until.isoformat()}
    return redirect("assessments:link_home")


def link_session(request: HttpRequest) -> tuple[dict[str, Any] | None, str]:
    """The opened link's session, or None and why not."""
    data = request.session.get(SESSION_KEY)
    if not isinstance(data, dict):
        return None, _NO_SESSION
    until = parse_datetime(str(data.get("until", "")))
    live = until is not None and timezone.now() < until
    if live:
        # Staff may stop a link after it was opened; the session ends with it.
        live = AssessmentLink.objects.filter(pk=int(data["link"]), patient_id=int(data["patient"]),
                                             revoked_at__isnull=True).exists()
    if not live:
        request.session.pop(SESSION_KEY, None)
        return None, _ENDED
    return data, ""


def _link_flow() -> Flow:
    return Flow(kind="link", mode=Mode.LINK, by=None, home_url=reverse("assessments:link_home"))


def _link_assessment(data: dict[str, Any], pk: Any) -> Assessment:
    assessment = selectors.assessment_for_patient(int(data["patient"]), pk)
    if assessment.opens_on > selectors.today():
        raise Http404("This questionnaire is not open yet.")
    return assessment


@public
@never_cache
def link_home(request: HttpRequest) -> HttpResponse:
    data, why = link_session(request)
    if data is None:
        return _refused(request, why, 403)
    flow = _link_flow()
    due = selectors.open_for_patient(int(data["patient"]))
    return render(request, "assessments/link_home.html", {
        "flow": flow, "rows": list_rows(flow, due), "until": parse_datetime(str(data["until"]))})


def _link_step(request: HttpRequest, pk: int, step: Any) -> HttpResponse:
    data, why = link_session(request)
    if data is None:
        return _refused(request, why, 403)
    response: HttpResponse = step(request, _link_flow(), _link_assessment(data, pk))
    return response


@public
@never_cache
def link_question(request: HttpRequest, pk: int) -> HttpResponse:
    return _link_step(request, pk, question)


@public
@never_cache
def link_review(request: HttpRequest, pk: int) -> HttpResponse:
    return _link_step(request, pk, review)


@public
@never_cache
def link_done(request: HttpRequest, pk: int) -> HttpResponse:
    return _link_step(request, pk, done)


@public
@require_POST
def link_finish(request: HttpRequest) -> HttpResponse:
    """"I have finished": the browser forgets the link at once."""
    request.session.pop(SESSION_KEY, None)
    return render(request, "assessments/link_finished.html")


# --- Staff make, send and stop links ---------------------------------------------------------


def absolute_link(request: HttpRequest, token: str) -> str:
    path = reverse("assessments:link_open", args=[token])
    base = getattr(settings, "PEERCOACH_SITE_URL", "")
    return urljoin(base, path) if base else request.build_absolute_uri(path)


@rule(Perm.ASSESSMENT_ADMINISTER)
@never_cache
def link_create(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_patient(request.user, pk, Perm.ASSESSMENT_ADMINISTER)
    due = selectors.open_for_patient(patient.pk)
    sms_to = patient.phone_display if sms_number(patient.phone or "") else ""
    form = forms.LinkForm(request.POST or None, sms_to=sms_to, email_to=patient.email or "")
    if request.method == "POST" and form.is_valid():
        how = form.cleaned_data["how"]
        try:
            if not due:
                raise ValidationError("Nothing can be answered now: no questionnaire of this "
                                      "patient has opened.")
            if how == "show":
                link, token = services.link_create(patient=patient, by=request.user,
                                                   sent_via="shown")
                return render(request, "assessments/link_shown.html", {
                    "patient": patient, "link": link, "url": absolute_link(request, token)})
            link = services.link_send(patient=patient, by=request.user, channel=how,
                                      url_for=lambda token: absolute_link(request, token))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            what = "text message" if how == "sms" else "e-mail"
            until = timezone.localtime(link.expires_at)
            messages.success(request, f"The link was sent by {what}. It works once, until "
                             f"{until:%b} {until.day} at {until:%H:%M}.")
            return redirect("assessments:patient_assessments", patient.pk)
    if request.method != "POST":
        audit.record_view(request.user, patient, page="questionnaire link")
    return render(request, "assessments/link_create.html", {
        "patient": patient, "form": form, "due": due, "live": selectors.live_links(patient),
        "due_names": [instruments.get(a.instrument).short_name for a in due],
        "lifetime_days": services.LINK_LIFETIME.days,
        "session_hours": int(services.LINK_SESSION.total_seconds() // 3600)})


@require_POST
@rule(Perm.ASSESSMENT_ADMINISTER)
def link_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop every link of the patient that still works."""
    patient = get_patient(request.user, pk, Perm.ASSESSMENT_ADMINISTER)
    live = selectors.live_links(patient)
    for link in live:
        services.link_revoke(link=link, by=request.user, reason="stopped by staff")
    if live:
        messages.success(request, "The link was stopped: it cannot be used any more.")
    else:
        messages.info(request, "There was no link to stop.")
    return redirect("assessments:patient_assessments", patient.pk)
