"""Every write about assessments: schedules, answers, submissions, corrections, links.

Each function is atomic, validates through the scoring module, and writes the audit
trail in the same transaction. A PHQ-9 item 9 answer above 0 opens a safety event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from peercoach.core import audit
from peercoach.core.models import AuditAction
from peercoach.people.lifecycle import PatientStatus
from peercoach.people.models import Patient
from peercoach.programs.models import Program

from . import instruments, scoring
from .instruments import Licence
from .licensed_text import LicensedText
from .models import (
    OPEN_STATUSES,
    Assessment,
    AssessmentLink,
    AssessmentStatus,
    ExternalScore,
    InstrumentText,
    Mode,
    ResponseVersion,
    TimePoint,
)
from .windows import window_for

#: The default time points when a program has none yet: built from the program's
#: assessment days. Only instruments PeerCoach may ship are asked by default; a site with
#: a licence adds the licensed ones (BPI, PROMIS, PSEQ, MOS) on the time point page.
BASELINE_INSTRUMENTS = ["peg", "phq9", "gad7"]
FOLLOW_UP_INSTRUMENTS = ["peg", "phq9", "gad7", "pgic"]
ITEM9_FLAG = "item9_positive"
LINK_LIFETIME = dt.timedelta(days=7)
#: After the link is opened, the patient's browser may keep answering for this long.
LINK_SESSION = dt.timedelta(hours=4)
STAFF_MODES = (Mode.PHONE, Mode.IN_PERSON)
#: Follow-up is still asked of patients who finished coaching (and of those lost to it:
#: outcomes of drop-outs matter for an intention-to-treat analysis).
SCHEDULED_STATUSES = (PatientStatus.ENROLLED, PatientStatus.ACTIVE, PatientStatus.COMPLETED,
                      PatientStatus.LOST)


def _label_for(day: int) -> tuple[str, str]:
    if day == 0:
        return "baseline", "Baseline"
    months = round(day / 30)
    return f"{months}mo", f"{months} months"


def ensure_time_points(program: Program) -> list[TimePoint]:
    """The program's time points, made from its assessment days the first time."""
    existing = list(program.time_points.all())
    if existing:
        return existing
    made = []
    for day in sorted(set(program.assessment_days or [0])):
        key, label = _label_for(day)
        made.append(TimePoint(
            program=program, key=key, label=label, day=day,
            window_before_days=0 if day == 0 else 14,
            window_after_days=14 if day else 21, before_first_contact=day == 0,
            instruments=list(BASELINE_INSTRUMENTS if day == 0 else FOLLOW_UP_INSTRUMENTS)))
    TimePoint.objects.bulk_create(made, ignore_conflicts=True)
    return list(program.time_points.all())


def time_point_save(*, time_point: TimePoint, by: Any) -> TimePoint:
    is_new = time_point.pk is None
    with transaction.atomic():
        time_point.full_clean()
        time_point.save()
        audit.record(actor=by, action=AuditAction.CREATE if is_new else AuditAction.UPDATE,
                     target=time_point, details={"instruments": time_point.instruments})
    return time_point


def _arm_code(patient: Patient) -> str | None:
    """The patient's study arm, when the program is run as a study."""
    allocation = getattr(patient, "allocation", None)
    arm = getattr(allocation, "arm", None)
    return getattr(arm, "code", None)


def _first_contact_on(patient: Patient) -> dt.date | None:
    from peercoach.coaching.models import PlannedContact

    return (PlannedContact.objects.filter(plan__patient=patient, plan__ended_on__isnull=True)
            .order_by("due_on").values_list("due_on", flat=True).first())


def schedule_patient(patient: Patient) -> int:
    """Make (or re-time) the patient's assessments for every time point of the program.

    Idempotent: existing assessments keep their answers; open ones follow changes of the
    enrollment date or the first contact. Returns how many were created.
    """
    if patient.enrolled_on is None or patient.status not in SCHEDULED_STATUSES:
        return 0
    first_contact = _first_contact_on(patient)
    arm = _arm_code(patient)
    created = 0
    with transaction.atomic():
        existing = {(a.time_point_id, a.instrument): a
                    for a in Assessment.objects.select_for_update().filter(
                        patient=patient, time_point__isnull=False)}
        for point in ensure_time_points(patient.program):
            if point.arms and arm not in point.arms:
                continue
            window = window_for(enrolled_on=patient.enrolled_on, day=point.day,
                                before=point.window_before_days,
                                after=point.window_after_days,
                                before_first_contact=point.before_first_contact,
                                first_contact_on=first_contact)
            for code in point.instruments:
                current = existing.get((point.pk, code))
                if current is None:
                    Assessment.objects.create(
                        patient=patient, time_point=point, instrument=code,
                        opens_on=window.opens_on, due_on=window.due_on,
                        closes_on=window.closes_on)
                    created += 1
                elif current.is_open and (current.opens_on, current.due_on,
                                          current.closes_on) != (window.opens_on,
                                                                 window.due_on,
                                                                 window.closes_on):
                    current.opens_on, current.due_on = window.opens_on, window.due_on
                    current.closes_on = window.closes_on
                    current.save(update_fields=["opens_on", "due_on", "closes_on",
                                                "updated_at"])
        if created:
            audit.record(actor=None, action=AuditAction.CREATE, target=patient,
                         details={"assessments_scheduled": created})
    return created


def schedule_all(program: Program | None = None) -> int:
    """Schedule every enrolled patient who has none yet (the periodic job's catch-up)."""
    patients = Patient.objects.filter(
        enrolled_on__isnull=False, status__in=SCHEDULED_STATUSES,
    ).exclude(assessments__time_point__isnull=False).select_related("program")
    if program is not None:
        patients = patients.filter(program=program)
    return sum(schedule_patient(p) for p in patients)


# --- Instruments a site may administer ----------------------------------------------


def loaded_text(code: str) -> InstrumentText | None:
    return InstrumentText.objects.filter(code=code).first()


_UNSET: Any = object()


def instrument_for_use(code: str, text: InstrumentText | None = _UNSET
                       ) -> instruments.Instrument:
    """The instrument with the site's licensed text filled in, if it needs one.
    `text`: the site's loaded text when the caller already has it (lists)."""
    instrument = instruments.get(code)
    if instrument.licence == Licence.LICENSED:
        text = loaded_text(code) if text is _UNSET else text
        if text is not None:
            from .licensed_text import apply_licensed_text

            instrument = apply_licensed_text(instrument, _as_licensed(text))
    return instrument


def why_not_administrable(code: str, *, loaded: bool | None = None) -> str | None:
    """None when the questionnaire can be given here; otherwise the reason, in words.
    `loaded`: whether the site's licensed text is loaded, when the caller knows."""
    instrument = instruments.get(code)
    if instrument.licence == Licence.EXTERNAL_SCORE:
        return (f"{instrument.short_name} is scored by its licensed vendor; record the score "
                "and level instead.")
    if instrument.licence == Licence.LICENSED:
        if loaded is None:
            loaded = loaded_text(code) is not None
        if not loaded:
            return (f"{instrument.short_name} is licensed. PeerCoach ships its scoring, not "
                    "its questions: a site that holds the licence loads them with "
                    "`peercoach load-instrument FILE`.")
    return None


def _as_licensed(text: InstrumentText) -> LicensedText:
    return LicensedText(
        code=text.code, licence_holder=text.licence_holder,
        licence_reference=text.licence_reference,
        items={int(k): v for k, v in text.items.items()},
        option_labels={int(k): v for k, v in text.option_labels.items()},
        t_scores={int(k): float(v) for k, v in text.t_scores.items()},
        recall=text.recall, instructions=text.instructions, sha256=text.sha256)


def t_score_table(code: str) -> dict[int, float] | None:
    if instruments.get(code).rule != "raw_to_t":
        return None
    text = loaded_text(code)
    return {int(k): float(v) for k, v in text.t_scores.items()} if text else None


def instrument_text_load(*, licensed: LicensedText, by: Any) -> InstrumentText:
    """Store (or replace) a licensed site's item text, parsed and checked beforehand."""
    with transaction.atomic():
        row, created = InstrumentText.objects.update_or_create(
            code=licensed.code,
            defaults={
                "licence_holder": licensed.licence_holder,
                "licence_reference": licensed.licence_reference,
                "recall": licensed.recall or "", "instructions": licensed.instructions or "",
                "items": {str(k): v for k, v in licensed.items.items()},
                "option_labels": {str(k): v for k, v in licensed.option_labels.items()},
                "t_scores": {str(k): v for k, v in licensed.t_scores.items()},
                "sha256": licensed.sha256,
                "loaded_by": by if getattr(by, "pk", None) else None,
                "loaded_at": timezone.now()})
        audit.record(actor=by, action=AuditAction.IMPORT, target=row,
                     details={"instrument": licensed.code, "sha256": licensed.sha256,
                              "replaced": not created})
    return row


# --- Answering ----------------------------------------------------------------------


def _score(code: str, answers: Mapping[int, float]) -> scoring.Score:
    try:
        return scoring.score(code, answers, t_score_table=t_score_table(code))
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc


def _check_can_answer(assessment: Assessment, mode: str) -> None:
    if not assessment.is_open:
        raise ValidationError("This questionnaire has already been sent in; staff can correct "
                              "it, which keeps the earlier answers.")
    reason = why_not_administrable(assessment.instrument)
    if reason:
        raise ValidationError(reason)
    if mode not in Mode.values or mode == Mode.EXTERNAL:
        raise ValidationError(f"Unknown way of answering: {mode!r}.")


def draft_answers(assessment: Assessment) -> dict[int, float]:
    return {int(k): v["value"] for k, v in assessment.draft.items()}


def answer_save(*, assessment: Assessment, answers: Mapping[int, float | None], by: Any,
                mode: str) -> Assessment:
    """Save some answers (a partial save can be resumed). None clears an answer."""
    with transaction.atomic():
        current = Assessment.objects.select_for_update().get(pk=assessment.pk)
        _check_can_answer(current, mode)
        kept = {k: v for k, v in answers.items() if v is not None}
        _score(current.instrument, kept)  # raises on an unknown item or out-of-range value
        now = timezone.now()
        by_id = by.pk if getattr(by, "is_authenticated", False) else None
        draft = dict(current.draft)
        for item, value in answers.items():
            if value is None:
                draft.pop(str(item), None)
            else:
                draft[str(item)] = {"value": value, "at": now.isoformat(), "by": by_id,
                                    "mode": mode}
        current.draft = draft
        if current.status == AssessmentStatus.DUE and draft:
            current.status = AssessmentStatus.IN_PROGRESS
            current.started_at = now
        current.save(update_fields=["draft", "status", "started_at", "updated_at"])
        audit.record(actor=by, action=AuditAction.UPDATE, target=current,
                     details={"items": sorted(int(i) for i in answers), "mode": mode})
    return current


def _raise_item9(assessment: Assessment, by: Any) -> Any:
    from peercoach.supervision.models import SafetySource
    from peercoach.supervision.services import safety_event_raise

    raiser = by if getattr(by, "is_authenticated", False) else None
    return safety_event_raise(
        person=assessment.patient, by=raiser, source=SafetySource.ASSESSMENT,
        summary=("PHQ-9 question 9 (thoughts of being better off dead or of self-harm) was "
                 "answered above 0. Contact the patient today."),
        crisis_steps_shown=True)


def _new_version(current: Assessment, *, answers: dict[int, float], answered: dict[str, Any],
                 by: Any, mode: str, reason: str, now: dt.datetime) -> ResponseVersion:
    result = _score(current.instrument, answers)
    version = ResponseVersion(
        assessment=current, number=current.version + 1,
        answers={str(k): v for k, v in sorted(answers.items())}, answered=answered,
        total=result.total, band=result.band or "", complete=result.complete,
        flags=sorted(result.flags), mode=mode,
        submitted_by=by if getattr(by, "is_authenticated", False) else None,
        submitted_at=now, reason=reason)
    version.full_clean()
    version.save()
    current.version = version.number
    current.total, current.band = result.total, result.band or ""
    current.complete, current.flags = result.complete, sorted(result.flags)
    return version


def submit(*, assessment: Assessment, by: Any, mode: str) -> ResponseVersion:
    """Send in the saved answers as version 1. Item 9 above 0 opens a safety event."""
    with transaction.atomic():
        current = Assessment.objects.select_for_update().select_related(
            "patient__program").get(pk=assessment.pk)
        _check_can_answer(current, mode)
        answers = draft_answers(current)
        if not answers:
            raise ValidationError("Answer at least one question before sending it in.")
        now = timezone.now()
        version = _new_version(current, answers=answers, answered=dict(current.draft), by=by,
                               mode=mode, reason="", now=now)
        current.status = AssessmentStatus.SUBMITTED
        current.submitted_at = now
        current.draft = {}
        current.save()
        audit.record(actor=by, action=AuditAction.CREATE, target=version,
                     details={"instrument": current.instrument, "mode": mode,
                              "complete": version.complete})
        if ITEM9_FLAG in version.flags:
            _raise_item9(current, by)
    return version


def correct(*, assessment: Assessment, answers: Mapping[int, float], by: Any, mode: str,
            reason: str) -> ResponseVersion:
    """Staff correct a submitted questionnaire: a new version; the old one is kept."""
    if not reason.strip():
        raise ValidationError("Say why the answers are being corrected.")
    if mode not in STAFF_MODES:
        raise ValidationError("Corrections are made by staff, on the phone or in person.")
    with transaction.atomic():
        current = Assessment.objects.select_for_update().select_related(
            "patient__program").get(pk=assessment.pk)
        if current.status != AssessmentStatus.SUBMITTED:
            raise ValidationError("Only a questionnaire that was sent in can be corrected.")
        previous = current.versions.order_by("-number").first()
        assert previous is not None
        clean = {int(k): v for k, v in answers.items() if v is not None}
        if not clean:
            raise ValidationError("A correction needs at least one answer.")
        now = timezone.now()
        by_id = by.pk if getattr(by, "is_authenticated", False) else None
        answered = {str(k): (previous.answered.get(str(k))
                             if previous.answers.get(str(k)) == v else
                             {"value": v, "at": now.isoformat(), "by": by_id, "mode": mode})
                    for k, v in clean.items()}
        version = _new_version(current, answers=clean, answered=answered, by=by, mode=mode,
                               reason=reason.strip(), now=now)
        current.save()
        audit.record(actor=by, action=AuditAction.UPDATE, target=version,
                     details={"instrument": current.instrument, "version": version.number,
                              "reason": reason.strip()})
        if ITEM9_FLAG in version.flags and ITEM9_FLAG not in previous.flags:
            _raise_item9(current, by)
    return version


def mark_missed(*, assessment: Assessment, by: Any, reason: str) -> Assessment:
    if not reason.strip():
        raise ValidationError("Say why the questionnaire was missed.")
    with transaction.atomic():
        current = Assessment.objects.select_for_update().get(pk=assessment.pk)
        if not current.is_open:
            raise ValidationError("Only a questionnaire that is still due can be marked missed.")
        current.status = AssessmentStatus.MISSED
        current.save(update_fields=["status", "updated_at"])
        audit.record(actor=by, action=AuditAction.TRANSITION, target=current,
                     details={"to": "missed", "reason": reason.strip()})
    return current


def cancel_open_for(patient: Patient, *, by: Any, reason: str) -> int:
    """A patient who leaves the program is not asked any more (answers already given stay)."""
    with transaction.atomic():
        rows = Assessment.objects.filter(patient=patient, status__in=OPEN_STATUSES)
        count = rows.update(status=AssessmentStatus.CANCELLED, updated_at=timezone.now())
        if count:
            audit.record(actor=by, action=AuditAction.UPDATE, target=patient,
                         details={"assessments_cancelled": count, "reason": reason})
    return count


def external_score_record(*, patient: Patient, instrument: str, score: float,
                          level: int | None, measured_on: dt.date, source: str,
                          by: Any, time_point: TimePoint | None = None) -> ExternalScore:
    """Record a score from a licensed scorer (PAM). PeerCoach never computes it."""
    definition = instruments.get(instrument)
    if definition.licence != Licence.EXTERNAL_SCORE:
        raise ValidationError(f"{definition.short_name} is scored by PeerCoach; give its answers.")
    try:
        instruments.pam_level_valid(score, level)
    except ValueError as exc:
        raise ValidationError(str(exc)) from exc
    if not source.strip():
        raise ValidationError("Say who scored it.")
    with transaction.atomic():
        row = ExternalScore(patient=patient, instrument=instrument, score=score, level=level,
                            measured_on=measured_on, source=source.strip(), recorded_by=by,
                            time_point=time_point)
        row.full_clean()
        row.save()
        audit.record(actor=by, action=AuditAction.CREATE, target=row,
                     details={"instrument": instrument})
    return row


# --- Secure links -------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def link_create(*, patient: Patient, by: Any, sent_via: str = "") -> tuple[AssessmentLink, str]:
    """A new single-use link; returns the row and the token (shown or sent once, never
    stored). Earlier unused links of the patient stop working."""
    if not Assessment.objects.filter(patient=patient, status__in=OPEN_STATUSES).exists():
        raise ValidationError("This patient has no questionnaire due.")
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        AssessmentLink.objects.filter(patient=patient, used_at__isnull=True,
                                      revoked_at__isnull=True).update(revoked_at=now)
        link = AssessmentLink.objects.create(
            patient=patient, token_hash=_hash(token), created_by=by, created_at=now,
            expires_at=now + LINK_LIFETIME, sent_via=sent_via)
        audit.record(actor=by, action=AuditAction.CREATE, target=link,
                     details={"sent_via": sent_via})
    return link, token


class LinkRefused(Exception):
    """The link can't be used; the message says why in words a patient understands.

    `status` is the HTTP answer: 404 for a token that never existed, 410 (gone) for a link
    that did but is used, replaced, revoked or expired."""

    def __init__(self, message: str, status: int = 410) -> None:
        super().__init__(message)
        self.status = status


def _refuse_unusable(link: AssessmentLink | None, now: dt.datetime) -> AssessmentLink:
    if link is None:
        raise LinkRefused("This link is not valid. Please check it or ask for a new one.",
                          status=404)
    if link.revoked_at is not None:
        raise LinkRefused("This link was replaced by a newer one. Please use the newest "
                          "link you were sent.")
    if link.used_at is not None:
        raise LinkRefused("This link has already been used. Please ask for a new one.")
    if now >= link.expires_at:
        raise LinkRefused("This link has expired. Please ask for a new one.")
    return link


def link_check(token: str, *, now: dt.datetime | None = None) -> AssessmentLink:
    """Is the link still usable? Does not use it up: e-mail scanners and message previews
    fetch links before the patient does, so only pressing Start (`link_open`) spends it."""
    link = AssessmentLink.objects.filter(token_hash=_hash(token)).first()
    return _refuse_unusable(link, now or timezone.now())


def link_open(token: str, *, now: dt.datetime | None = None) -> AssessmentLink:
    """Use a link once. Raises LinkRefused for a wrong, used, revoked or expired link."""
    now = now or timezone.now()
    with transaction.atomic():
        link = _refuse_unusable(
            AssessmentLink.objects.select_for_update().select_related("patient")
            .filter(token_hash=_hash(token)).first(), now)
        link.used_at = now
        link.save(update_fields=["used_at"])
        audit.record(actor=None, action=AuditAction.VIEW, target=link,
                     details={"opened": True})
    return link


def link_revoke(*, link: AssessmentLink, by: Any, reason: str = "") -> AssessmentLink:
    """Stop a link: unused, it can no longer be opened; opened, its browser session ends
    at the next page (the link pages check the link on every request)."""
    with transaction.atomic():
        current = AssessmentLink.objects.select_for_update().get(pk=link.pk)
        if current.revoked_at is None:
            current.revoked_at = timezone.now()
            current.save(update_fields=["revoked_at"])
            audit.record(actor=by, action=AuditAction.UPDATE, target=current,
                         details={"revoked": True, "reason": reason.strip()})
    return current


#: The whole message: that something is waiting, never what (no health information).
LINK_MESSAGE = ("PeerCoach: you have a questionnaire to fill in. Open this link to answer "
                "(it works once, for 7 days): {url}")
LINK_SUBJECT = "A questionnaire to fill in"


def link_send(*, patient: Patient, by: Any, channel: str,
              url_for: Callable[[str], str]) -> AssessmentLink:
    """Make a new link and send it to the patient by text message ("sms") or e-mail.

    Sent straight through the channel, not through the notifications outbox: the outbox
    keeps each message's text, and the token must not be stored anywhere. The delivery
    (channel and provider id; not the address, not the text) goes on the audit trail.
    If the channel refuses, the link is revoked and ValidationError says why.
    `url_for(token)` makes the absolute address of the link.
    """
    from peercoach.notifications.channels import (
        DeliveryError,
        OutgoingMessage,
        send_email,
        send_sms,
    )
    from peercoach.notifications.services import sms_number

    if channel == "sms":
        address = sms_number(patient.phone or "")
        if not address:
            raise ValidationError("The patient record has no mobile number that can take "
                                  "text messages.")
        send, what = send_sms, "text message"
    elif channel == "email":
        address = (patient.email or "").strip()
        if not address:
            raise ValidationError("The patient record has no e-mail address.")
        send, what = send_email, "e-mail"
    else:
        raise ValidationError(f"Unknown way of sending: {channel!r}.")
    link, token = link_create(patient=patient, by=by, sent_via=channel)
    message = OutgoingMessage(address=address, subject=LINK_SUBJECT,
                              body=LINK_MESSAGE.format(url=url_for(token)),
                              idempotency_key=f"assessment-link:{link.pk}")
    try:
        provider_id = send(message)
    except DeliveryError as exc:
        link_revoke(link=link, by=by, reason=f"the {what} could not be sent")
        raise ValidationError(f"The {what} could not be sent ({exc}). The link was cancelled: "
                              "try again, or give the link another way.") from exc
    with transaction.atomic():
        audit.record(actor=by, action=AuditAction.UPDATE, target=link,
                     details={"sent": channel, "provider_id": str(provider_id)[:200]})
    return link
