"""Answering a questionnaire one question per screen: the patient signed in, the patient
through a secure link (`link_views`), and staff with the patient on the phone or in person.

The three share the screens below; a `Flow` says who answers (the user, or nobody for a
link), in which mode, and where its pages live. Every answer is saved at once through
`services.answer_save`, so a patient who stops comes back to the first question they have
not answered. Plain forms and redirects: no JavaScript needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse

from peercoach.core import audit
from peercoach.core.policy import Perm, actor_for, rule

from . import forms, instruments, selectors, services
from .instruments import Instrument
from .models import Assessment, AssessmentStatus, Mode


@dataclass(frozen=True)
class Flow:
    """Who is answering and where their pages are."""

    #: URL name prefix: "my" (the patient, signed in), "link" or "staff".
    kind: str
    mode: str
    #: The user answering; None for a patient who came through a secure link.
    by: Any
    #: The list the person came from ("Save and finish later" goes back there).
    home_url: str
    #: Carried on every URL of the flow (staff: the mode).
    params: dict[str, str] = field(default_factory=dict)

    @property
    def staff(self) -> bool:
        return self.kind == "staff"

    @property
    def patient_facing(self) -> bool:
        return not self.staff

    def url(self, step: str, assessment_id: int, **extra: Any) -> str:
        url = reverse(f"assessments:{self.kind}_{step}", args=[assessment_id])
        query = {**self.params, **{k: str(v) for k, v in extra.items() if v is not None}}
        return f"{url}?{urlencode(query)}" if query else url


def _number(raw: str | None, count: int) -> int | None:
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) > 3:
        return None
    number = int(raw)
    return number if 1 <= number <= count else None


def _as_choice(value: Any) -> str:
    """A saved answer as the radio value ("2" for 2 or 2.0)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _first_unanswered(instrument: Instrument, answers: dict[int, Any], *,
                      after: int = 0) -> int | None:
    for item in instrument.items:
        if item.number > after and item.number not in answers:
            return item.number
    return None


def lead_in(instrument: Instrument, number: int) -> tuple[str, str]:
    """The recall phrase and instructions shown above a question (not above an unscored
    follow-up question such as PHQ-9 question 10, which has its own words)."""
    item = instrument.item(number)
    if not item.scored:
        return "", ""
    return instrument.recall or "", instrument.instructions or ""


def _cannot_answer(request: HttpRequest, flow: Flow,
                   assessment: Assessment) -> HttpResponse | None:
    """The response to give instead when the questionnaire can't be answered now: sent in,
    closed, or not administrable here (None: it can be answered)."""
    if assessment.status == AssessmentStatus.SUBMITTED:
        return redirect(flow.url("done", assessment.pk))
    if not assessment.is_open:
        messages.info(request, "This questionnaire is closed: nothing more to answer.")
        return redirect(flow.home_url)
    reason = services.why_not_administrable(assessment.instrument)
    if reason:
        return render(request, "assessments/not_available.html", {
            "flow": flow, "assessment": assessment, "reason": reason,
            "instrument": instruments.get(assessment.instrument)})
    return None


def question(request: HttpRequest, flow: Flow, assessment: Assessment) -> HttpResponse:
    """One question per screen. GET without `q`: the first unanswered question."""
    instead = _cannot_answer(request, flow, assessment)
    if instead is not None:
        return instead
    instrument = services.instrument_for_use(assessment.instrument)
    count = len(instrument.items)
    answers = services.draft_answers(assessment)
    source = request.POST if request.method == "POST" else request.GET
    number = _number(source.get("q"), count)
    from_review = source.get("from") == "review"
    if request.method == "POST":
        if number is None:
            return redirect(flow.url("question", assessment.pk))
        form = forms.AnswerForm(request.POST, item=instrument.item(number))
        action = request.POST.get("action", "next")
        if form.is_valid():
            value = form.cleaned_data["answer"]
            if value is None and action == "next":
                form.add_error("answer", 'Choose an answer, or press "Skip this question".')
            else:
                try:
                    if value is not None:
                        services.answer_save(assessment=assessment, answers={number: value},
                                             by=flow.by, mode=flow.mode)
                        answers[number] = value
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    return redirect(_after(request, flow, assessment, instrument, answers,
                                           number, action, from_review))
        status = 200
    else:
        if number is None:
            number = _first_unanswered(instrument, answers)
            if number is None:
                return redirect(flow.url("review", assessment.pk))
        initial = {"answer": _as_choice(answers[number])} if number in answers else None
        form = forms.AnswerForm(initial=initial, item=instrument.item(number))
        status = 200
    item = instrument.item(number)
    recall, instructions = lead_in(instrument, number)
    back_url = (flow.url("question", assessment.pk, q=number - 1) if number > 1
                else flow.home_url)
    return render(request, "assessments/question.html", {
        "flow": flow, "assessment": assessment, "instrument": instrument, "item": item,
        "number": number, "count": count, "form": form, "recall": recall,
        "instructions": instructions, "from_review": from_review, "back_url": back_url,
        "percent": round(100 * (number - 1) / count),
        "action_url": flow.url("question", assessment.pk),
    }, status=status)


def _after(request: HttpRequest, flow: Flow, assessment: Assessment, instrument: Instrument,
           answers: dict[int, Any], number: int, action: str, from_review: bool) -> str:
    if action == "back":
        return (flow.url("question", assessment.pk, q=number - 1) if number > 1
                else flow.home_url)
    if action == "later":
        messages.success(request, "Your answers are saved. When you come back, you will start "
                                  "at the first question you have not answered.")
        return flow.home_url
    if from_review:
        return flow.url("review", assessment.pk)
    # Forward only: past the last unanswered question comes the review screen, which
    # lists any question skipped on the way.
    following = _first_unanswered(instrument, answers, after=number)
    if following is None:
        return flow.url("review", assessment.pk)
    return flow.url("question", assessment.pk, q=following)


def review(request: HttpRequest, flow: Flow, assessment: Assessment) -> HttpResponse:
    """Every answer with a "Change" link, then "Send in"."""
    instead = _cannot_answer(request, flow, assessment)
    if instead is not None:
        return instead
    if request.method == "POST":
        try:
            services.submit(assessment=assessment, by=flow.by, mode=flow.mode)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(flow.url("review", assessment.pk))
        return redirect(flow.url("done", assessment.pk))
    instrument = services.instrument_for_use(assessment.instrument)
    answers = services.draft_answers(assessment)
    rows = [{"item": item,
             "answer": forms.option_words(item, answers.get(item.number), numbered=flow.staff),
             "answered": item.number in answers,
             "change_url": flow.url("question", assessment.pk, q=item.number, **{
                 "from": "review"})}
            for item in instrument.items]
    missing = sum(1 for row in rows if not row["answered"])
    return render(request, "assessments/review.html", {
        "flow": flow, "assessment": assessment, "instrument": instrument, "rows": rows,
        "missing": missing, "answered": len(rows) - missing,
        "submit_url": flow.url("review", assessment.pk)})


def done(request: HttpRequest, flow: Flow, assessment: Assessment) -> HttpResponse:
    """After sending in (or correcting): thanks, and the crisis steps at once when PHQ-9
    question 9 was answered above 0."""
    if assessment.status != AssessmentStatus.SUBMITTED:
        if assessment.is_open:
            return redirect(flow.url("question", assessment.pk))
        return redirect(flow.home_url)
    flagged = services.ITEM9_FLAG in (assessment.flags or [])
    latest = assessment.versions.order_by("-number").first()
    following = (selectors.next_open_after(assessment.patient_id, assessment)
                 if flow.patient_facing else None)
    staff_next = None
    if flow.staff and flow.params.get("mode"):
        after = selectors.next_open_after(assessment.patient_id, assessment)
        if after is not None and not services.why_not_administrable(after.instrument):
            staff_next = flow.url("question", after.pk)
    event = None
    if flagged and flow.staff:
        from peercoach.supervision.models import SafetyEvent, SafetySource

        event = (SafetyEvent.objects.filter(patient_id=assessment.patient_id,
                                            source=SafetySource.ASSESSMENT)
                 .order_by("-raised_at").first())
    return render(request, "assessments/done.html", {
        "flow": flow, "assessment": assessment, "flagged": flagged, "version": latest,
        "event": event,
        "instrument": instruments.get(assessment.instrument),
        "next_url": flow.url("question", following.pk) if following else None,
        "staff_next_url": staff_next, "trajectory_url": _trajectory_url(flow)})


def _trajectory_url(flow: Flow) -> str | None:
    """The patient's own progress page (written with the reports), when it exists."""
    if flow.kind != "my":
        return None
    try:
        return reverse("assessments:my_trajectory")
    except NoReverseMatch:
        return None


# --- The patient, signed in ---------------------------------------------------------------


def _my_flow(request: HttpRequest) -> Flow:
    return Flow(kind="my", mode=Mode.SELF, by=request.user,
                home_url=reverse("assessments:my_list"))


def _my_assessment(request: HttpRequest, pk: Any) -> Assessment:
    """One of the patient's own questionnaires whose window has opened (404 otherwise)."""
    assessment = selectors.assessment_for(request.user, pk, Perm.ASSESSMENT_SELF)
    if assessment.opens_on > selectors.today():
        raise Http404("This questionnaire is not open yet.")
    return assessment


@rule(Perm.ASSESSMENT_SELF)
def my_list(request: HttpRequest) -> HttpResponse:
    patient_id = actor_for(request.user).patient_id
    if patient_id is None:
        raise Http404("Only patients fill in their questionnaires here.")
    flow = _my_flow(request)
    due = selectors.open_for_patient(patient_id)
    return render(request, "assessments/my_list.html", {
        "flow": flow, "rows": list_rows(flow, due), "trajectory_url": _trajectory_url(flow)})


def list_rows(flow: Flow, due: list[Assessment]) -> list[dict[str, Any]]:
    on = selectors.today()
    rows = []
    for a in due:
        instrument = instruments.get(a.instrument)
        rows.append({"assessment": a, "instrument": instrument, "answered": len(a.draft),
                     "count": len(instrument.items), "url": flow.url("question", a.pk),
                     "by": a.closes_on if a.closes_on >= on else None})
    return rows


@rule(Perm.ASSESSMENT_SELF)
def my_question(request: HttpRequest, pk: int) -> HttpResponse:
    return question(request, _my_flow(request), _my_assessment(request, pk))


@rule(Perm.ASSESSMENT_SELF)
def my_review(request: HttpRequest, pk: int) -> HttpResponse:
    return review(request, _my_flow(request), _my_assessment(request, pk))


@rule(Perm.ASSESSMENT_SELF)
def my_done(request: HttpRequest, pk: int) -> HttpResponse:
    return done(request, _my_flow(request), _my_assessment(request, pk))


# --- Staff with the patient ---------------------------------------------------------------


def _staff_mode(request: HttpRequest) -> str | None:
    mode = request.POST.get("mode") or request.GET.get("mode")
    return mode if mode in services.STAFF_MODES else None


def _staff_flow(request: HttpRequest, assessment: Assessment, mode: str | None) -> Flow:
    return Flow(kind="staff", mode=mode or Mode.PHONE, by=request.user,
                home_url=reverse("assessments:patient_assessments",
                                 args=[assessment.patient_id]),
                params={"mode": mode} if mode else {})


def _staff_assessment(request: HttpRequest, pk: Any) -> Assessment:
    return selectors.assessment_for(request.user, pk, Perm.ASSESSMENT_ADMINISTER)


@rule(Perm.ASSESSMENT_ADMINISTER)
def staff_start(request: HttpRequest, pk: int) -> HttpResponse:
    """Fill in with the patient: choose phone or in person, then the same screens."""
    assessment = _staff_assessment(request, pk)
    flow = _staff_flow(request, assessment, None)
    instead = _cannot_answer(request, flow, assessment)
    if instead is not None:
        return instead
    form = forms.StaffModeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        mode = form.cleaned_data["mode"]
        return redirect(_staff_flow(request, assessment, mode).url("question", assessment.pk))
    audit.record_view(request.user, assessment, page="fill in")
    instrument = services.instrument_for_use(assessment.instrument)
    return render(request, "assessments/staff_start.html", {
        "flow": flow, "assessment": assessment, "instrument": instrument, "form": form,
        "answered": len(assessment.draft)})


def _staff_step(request: HttpRequest, pk: int, step: Any) -> HttpResponse:
    assessment = _staff_assessment(request, pk)
    mode = _staff_mode(request)
    if mode is None:
        return redirect("assessments:staff_start", assessment.pk)
    response: HttpResponse = step(request, _staff_flow(request, assessment, mode), assessment)
    return response


@rule(Perm.ASSESSMENT_ADMINISTER)
def staff_question(request: HttpRequest, pk: int) -> HttpResponse:
    return _staff_step(request, pk, question)


@rule(Perm.ASSESSMENT_ADMINISTER)
def staff_review(request: HttpRequest, pk: int) -> HttpResponse:
    return _staff_step(request, pk, review)


@rule(Perm.ASSESSMENT_ADMINISTER)
def staff_done(request: HttpRequest, pk: int) -> HttpResponse:
    assessment = _staff_assessment(request, pk)
    return done(request, _staff_flow(request, assessment, _staff_mode(request)), assessment)
