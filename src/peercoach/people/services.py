"""Every write to a patient or coach record: atomic, validated, audited.

Views, the API, commands and imports call these; none of them saves these models
directly.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from peercoach.core import audit
from peercoach.core.models import AuditAction
from peercoach.programs.models import Program

from .choices import ReferralSource
from .lifecycle import CoachStatus, PatientStatus, check_transition
from .models import Coach, Consent, Patient, Screening, StatusChange

#: Fields a coordinator may edit on a profile through `*_update`.
PROFILE_FIELDS = (
    "first_name", "last_name", "preferred_name", "date_of_birth", "phone", "email",
    "address_line", "city", "state", "zip_code", "preferred_contact_modes",
    "preferred_contact_times", "language", "gender", "is_veteran", "branch", "service_era",
    "pain_conditions", "life_challenges",
)
PATIENT_FIELDS = PROFILE_FIELDS + ("coach_gender_preference",)
COACH_FIELDS = PROFILE_FIELDS + ("capacity", "completed_self_management_program")


class StaleEditError(ValidationError):
    """Somebody else saved the record after this edit was started."""


def _record_status(person: Patient | Coach, *, to: str, by: Any, reason: str,
                   at: dt.datetime, from_status: str) -> StatusChange:
    change = StatusChange(
        patient=person if isinstance(person, Patient) else None,
        coach=person if isinstance(person, Coach) else None,
        from_status=from_status,
        to_status=to,
        reason=reason,
        changed_by=by,
        changed_at=at,
    )
    change.full_clean()
    change.save()
    return change


def referral_create(
    *,
    program: Program,
    by: Any,
    source: str,
    referred_on: dt.date | None = None,
    referred_by: Any = None,
    referring_clinician_name: str = "",
    referral_reason: str = "",
    external_ref: str = "",
    **profile: Any,
) -> Patient:
    """Create a patient at the start of the path: status "referred"."""
    unknown = set(profile) - set(PATIENT_FIELDS)
    if unknown:
        raise TypeError(f"Unknown patient fields: {', '.join(sorted(unknown))}")
    if source not in ReferralSource.values:
        raise ValidationError({"referral_source": f"Unknown referral source '{source}'."})
    now = timezone.now()
    patient = Patient(
        program=program,
        referral_source=source,
        referred_on=referred_on or timezone.localdate(),
        referred_by=referred_by,
        referring_clinician_name=referring_clinician_name,
        referral_reason=referral_reason,
        external_ref=external_ref,
        status=PatientStatus.REFERRED,
        status_changed_at=now,
        **profile,
    )
    if patient.referred_on > timezone.localdate():
        raise ValidationError({"referred_on": "The referral date is in the future."})
    with transaction.atomic():
        patient.full_clean()
        patient.save()
        _record_status(patient, to=PatientStatus.REFERRED, by=by, reason="Referral", at=now,
                       from_status="")
        patient.status = PatientStatus.REFERRED
        audit.record(actor=by, action=AuditAction.CREATE, target=patient,
                     details={"source": source})
    return patient


def coach_create(*, program: Program, by: Any, user: Any = None, **profile: Any) -> Coach:
    """Register a coach candidate."""
    unknown = set(profile) - set(COACH_FIELDS)
    if unknown:
        raise TypeError(f"Unknown coach fields: {', '.join(sorted(unknown))}")
    now = timezone.now()
    coach = Coach(program=program, user=user, status=CoachStatus.CANDIDATE,
                  status_changed_at=now, **profile)
    with transaction.atomic():
        coach.full_clean()
        coach.save()
        _record_status(coach, to=CoachStatus.CANDIDATE, by=by, reason="Registered", at=now,
                       from_status="")
        audit.record(actor=by, action=AuditAction.CREATE, target=coach)
    return coach


def _update(person: Patient | Coach, *, by: Any, expected_version: int | None,
            allowed: tuple[str, ...], changes: dict[str, Any]) -> Patient | Coach:
    unknown = set(changes) - set(allowed)
    if unknown:
        raise TypeError(f"These fields cannot be edited here: {', '.join(sorted(unknown))}")
    model = type(person)
    with transaction.atomic():
        # Lock the row so two saves cannot interleave between the check and the write.
        current = model.objects.select_for_update().get(pk=person.pk)
        if expected_version is not None and current.version != expected_version:
            raise StaleEditError(
                "Someone else saved changes to this record while you were editing. "
                "Reload the page to see them, then make your change again."
            )
        before = audit.snapshot(current)
        for key, value in changes.items():
            setattr(current, key, value)
        current.full_clean()
        changed = audit.diff(before, audit.snapshot(current))
        if not changed:
            return current
        current.version += 1
        current.save()
        audit.record(actor=by, action=AuditAction.UPDATE, target=current,
                     details={"changed": changed})
    return current


def patient_update(*, patient: Patient, by: Any, expected_version: int | None = None,
                   **changes: Any) -> Patient:
    result = _update(patient, by=by, expected_version=expected_version,
                     allowed=PATIENT_FIELDS, changes=changes)
    assert isinstance(result, Patient)
    return result


def coach_update(*, coach: Coach, by: Any, expected_version: int | None = None,
                 **changes: Any) -> Coach:
    result = _update(coach, by=by, expected_version=expected_version,
                     allowed=COACH_FIELDS, changes=changes)
    assert isinstance(result, Coach)
    return result


def _transition(person: Patient | Coach, *, to: str, by: Any, reason: str,
                allow_screening_outcome: bool = False) -> Patient | Coach:
    kind = "patient" if isinstance(person, Patient) else "coach"
    model = type(person)
    with transaction.atomic():
        current = model.objects.select_for_update().get(pk=person.pk)
        if (kind == "patient" and not allow_screening_outcome
                and to in (PatientStatus.ELIGIBLE, PatientStatus.NOT_ELIGIBLE)):
            raise ValidationError("Record a screening to mark a patient eligible or not.")
        check_transition(kind, current.status, to, reason)
        now = timezone.now()
        _record_status(current, to=to, by=by, reason=reason, at=now,
                       from_status=current.status)
        old = current.status
        current.status = to
        current.status_changed_at = now
        fields = ["status", "status_changed_at", "updated_at"]
        if isinstance(current, Patient) and to == PatientStatus.ENROLLED:
            current.enrolled_on = timezone.localdate()
            fields.append("enrolled_on")
        current.save(update_fields=fields)
        audit.record(actor=by, action=AuditAction.TRANSITION, target=current,
                     details={"from": old, "to": to, "reason": reason})
    _after_transition(current, old_status=old, by=by, reason=reason)
    return current


def _after_transition(person: Patient | Coach, *, old_status: str, by: Any, reason: str) -> None:
    """Leaving ends a person's current pairs: the other side goes back to the matching pool.

    A coach who pauses leaves their patients too, so nobody waits for calls that are not
    coming; the next matching proposal finds those patients a new coach. Enrolling
    schedules the outcome questionnaires; withdrawing stops asking them.
    """
    from peercoach.assessments import services as assessments
    from peercoach.matching import services as matching

    if isinstance(person, Patient) and person.status == PatientStatus.ENROLLED:
        assessments.schedule_patient(person)
    if isinstance(person, Patient) and person.status == PatientStatus.WITHDRAWN:
        assessments.cancel_open_for(person, by=by, reason=reason or "withdrawn")
    leaving = {PatientStatus.WITHDRAWN, PatientStatus.COMPLETED, PatientStatus.LOST,
               CoachStatus.RETIRED, CoachStatus.PAUSED}
    if person.status in leaving:
        matching.matches_end_for(person=person, by=by, reason=reason or person.status)
    # Lost to follow-up can come back, so only leaving for good ends the contact plan.
    if isinstance(person, Patient) and person.status in (PatientStatus.WITHDRAWN,
                                                         PatientStatus.COMPLETED):
        from peercoach.coaching.plans import plan_end

        plan_end(patient=person, by=by, reason=reason or person.status)


def patient_transition(*, patient: Patient, to: str, by: Any, reason: str = "") -> Patient:
    """Move a patient along their path. Refused with a clear message when not allowed."""
    if to == PatientStatus.ENROLLED and not patient.consents.exists():
        raise ValidationError("Record the patient's consent before enrolling them.")
    result = _transition(patient, to=to, by=by, reason=reason)
    assert isinstance(result, Patient)
    return result


def coach_transition(*, coach: Coach, to: str, by: Any, reason: str = "") -> Coach:
    if to == CoachStatus.IN_TRAINING:
        latest = coach.screenings.first()
        if latest is None or not latest.eligible:
            raise ValidationError("A coach needs a passed screening before training.")
        if not coach.consents.exists():
            raise ValidationError("Record the coach's consent before training.")
    result = _transition(coach, to=to, by=by, reason=reason)
    assert isinstance(result, Coach)
    return result


SCREENING_REASONS = {
    "serious_medical_condition": "A serious medical condition that precludes taking part.",
    "recent_psychiatric_hospitalization":
        "A psychiatric or substance-use hospitalization in the last 6 months.",
    "active_suicidal_ideation": "Active suicidal ideation.",
    "severe_hearing_or_speech_impairment": "A severe hearing or speech impairment.",
    "back_surgery": "Prior or pending back surgery.",
}


def screening_record(
    *,
    person: Patient | Coach,
    by: Any,
    serious_medical_condition: bool,
    recent_psychiatric_hospitalization: bool,
    active_suicidal_ideation: bool,
    severe_hearing_or_speech_impairment: bool,
    back_surgery: bool | None = None,
    notes: str = "",
) -> Screening:
    """Record a screening, decide eligibility with its reasons, and move the person on.

    Active suicidal ideation is not just "not eligible": it opens an urgent safety
    event for the supervisor, and the page shows the crisis steps.
    """
    is_patient = isinstance(person, Patient)
    if is_patient and back_surgery is None:
        raise ValidationError({"back_surgery": "Answer the back surgery question for patients."})
    if not is_patient:
        back_surgery = None
    answers = {
        "serious_medical_condition": serious_medical_condition,
        "recent_psychiatric_hospitalization": recent_psychiatric_hospitalization,
        "active_suicidal_ideation": active_suicidal_ideation,
        "severe_hearing_or_speech_impairment": severe_hearing_or_speech_impairment,
        "back_surgery": back_surgery,
    }
    reasons = [SCREENING_REASONS[key] for key, value in answers.items() if value]
    eligible = not reasons
    if is_patient:
        allowed_from = {PatientStatus.REFERRED, PatientStatus.ELIGIBLE, PatientStatus.NOT_ELIGIBLE}
        if person.status not in allowed_from:
            raise ValidationError(
                f"Only referred or already screened patients can be screened; this patient is "
                f"{PatientStatus(person.status).label.lower()}."
            )
    elif person.status != CoachStatus.CANDIDATE:
        raise ValidationError("Only coach candidates are screened.")
    now = timezone.now()
    with transaction.atomic():
        screening = Screening(
            patient=person if isinstance(person, Patient) else None,
            coach=person if isinstance(person, Coach) else None,
            notes=notes, eligible=eligible, reasons=reasons,
            screened_by=by, screened_at=now, **answers,
        )
        screening.full_clean()
        screening.save()
        audit.record(actor=by, action=AuditAction.CREATE, target=screening,
                     details={"eligible": eligible, "reasons": reasons})
        if is_patient:
            target = PatientStatus.ELIGIBLE if eligible else PatientStatus.NOT_ELIGIBLE
            if person.status != target:
                _transition(person, to=target, by=by, reason="; ".join(reasons) or "Screened",
                            allow_screening_outcome=True)
        if active_suicidal_ideation:
            from peercoach.supervision.services import safety_event_raise

            safety_event_raise(
                person=person, by=by, source="screening",
                summary="Active suicidal ideation reported at screening.",
                crisis_steps_shown=True,
            )
    person.refresh_from_db()
    return screening


def consent_record(*, person: Patient | Coach, by: Any, consented_on: dt.date,
                   form_version: str) -> Consent:
    is_patient = isinstance(person, Patient)
    if consented_on > timezone.localdate():
        raise ValidationError({"consented_on": "The consent date is in the future."})
    if is_patient and person.status != PatientStatus.ELIGIBLE:
        raise ValidationError("Only a patient screened as eligible can consent.")
    if not is_patient:
        latest = person.screenings.first()
        if latest is None or not latest.eligible:
            raise ValidationError("Screen the coach (and pass) before recording consent.")
    with transaction.atomic():
        consent = Consent(
            patient=person if isinstance(person, Patient) else None,
            coach=person if isinstance(person, Coach) else None,
            consented_on=consented_on, form_version=form_version.strip(),
            recorded_by=by, recorded_at=timezone.now(),
        )
        consent.full_clean()
        consent.save()
        audit.record(actor=by, action=AuditAction.CREATE, target=consent,
                     details={"form_version": consent.form_version})
        if is_patient:
            _transition(person, to=PatientStatus.CONSENTED, by=by,
                        reason=f"Consent form {consent.form_version}")
    person.refresh_from_db()
    return consent
