"""Making and ending pairs, by hand or from a confirmed proposal (see proposals.py).

A current Match is what "a coach's patients" means to the authorization policy.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from peercoach.core import audit
from peercoach.core.models import AuditAction
from peercoach.people.lifecycle import CoachStatus
from peercoach.people.models import Coach, Patient

from .models import Announcement, AnnouncementAudience, DoNotPair, Match, MatchSource
from .pool import PAIRABLE_PATIENT_STATUSES, is_same_person


def _study_refusals(patient: Patient) -> list[str]:
    """A study's rules: no coach for a control arm, and no coach before randomization."""
    from peercoach.research.models import Allocation, Study, StudyStatus

    allocation = Allocation.objects.filter(patient=patient).select_related("arm").first()
    if allocation is not None:
        if not allocation.arm.gets_coach:
            return ["This patient's study arm does not include a coach."]
        return []
    if Study.objects.filter(program_id=patient.program_id,
                            status=StudyStatus.RECRUITING).exists():
        return ["This program is running a study: randomize the patient before pairing."]
    return []


def match_create(*, patient: Patient, coach: Coach, by: Any, source: str = MatchSource.MANUAL,
                 started_on: dt.date | None = None, note: str = "",
                 proposal: Any = None, score: float | None = None,
                 components: dict[str, float] | None = None,
                 weights: dict[str, float] | None = None, explanation: str = "") -> Match:
    """Make a pair, by hand or from a proposal, with every rule checked again here."""
    from peercoach.training.readiness import checklist

    started_on = started_on or timezone.localdate()
    with transaction.atomic():
        patient = Patient.objects.select_for_update().get(pk=patient.pk)
        coach = Coach.objects.select_for_update().select_related("program").get(pk=coach.pk)
        errors: list[str] = []
        if patient.program_id != coach.program_id:
            errors.append("The coach and the patient are in different programs.")
        if patient.status not in PAIRABLE_PATIENT_STATUSES:
            errors.append("Only enrolled or active patients can be paired with a coach.")
        if coach.status != CoachStatus.ACTIVE:
            errors.append("Only active coaches can take patients.")
        else:
            missing = checklist(coach).missing
            if missing:
                errors.append("This coach is not ready yet: " + "; ".join(missing) + ".")
        if is_same_person(patient, coach):
            errors.append("Nobody can coach themselves.")
        errors.extend(_study_refusals(patient))
        if DoNotPair.objects.filter(patient=patient, coach=coach).exists():
            errors.append("These two are marked “do not pair”.")
        if Match.objects.filter(patient=patient, ended_on__isnull=True).exists():
            errors.append("This patient already has a coach; end that pair first.")
        current = Match.objects.filter(coach=coach, ended_on__isnull=True).count()
        if current >= coach.effective_capacity:
            errors.append(
                f"This coach already has {current} patient(s), their limit "
                f"({coach.effective_capacity})."
            )
        if started_on > timezone.localdate():
            errors.append("A pair cannot start in the future.")
        if errors:
            raise ValidationError(errors)
        match = Match(patient=patient, coach=coach, started_on=started_on, source=source,
                      note=note, created_by=by, proposal=proposal,
                      proposed_by=proposal.created_by if proposal is not None else None,
                      score=score, score_components=components or {}, weights=weights or {},
                      explanation=explanation)
        match.full_clean()
        match.save()
        from peercoach.coaching.plans import plan_for_pair

        plan_for_pair(patient=patient, started_on=started_on, by=by)
        # Coach and patient are told; the notifications work delivers these.
        Announcement.objects.bulk_create([
            Announcement(match=match, audience=AnnouncementAudience.COACH),
            Announcement(match=match, audience=AnnouncementAudience.PATIENT)])
        audit.record(actor=by, action=AuditAction.CREATE, target=match,
                     details={"coach_id": coach.pk, "source": source, "score": score})
    return match


def match_create_manual(*, patient: Patient, coach: Coach, by: Any,
                        started_on: dt.date | None = None, note: str = "") -> Match:
    """Pair a coach with a patient by hand, with every rule the matcher also keeps."""
    return match_create(patient=patient, coach=coach, by=by, started_on=started_on, note=note)


def match_end(*, match: Match, by: Any, reason: str, ended_on: dt.date | None = None) -> Match:
    if not reason.strip():
        raise ValidationError("Say why the pair is ending.")
    ended_on = ended_on or timezone.localdate()
    with transaction.atomic():
        match = Match.objects.select_for_update().get(pk=match.pk)
        if match.ended_on is not None:
            raise ValidationError("This pair has already ended.")
        if ended_on < match.started_on:
            raise ValidationError("A pair cannot end before it started.")
        match.ended_on = ended_on
        match.end_reason = reason.strip()
        match.ended_by = by
        match.save(update_fields=["ended_on", "end_reason", "ended_by", "updated_at"])
        audit.record(actor=by, action=AuditAction.UPDATE, target=match,
                     details={"ended": str(ended_on), "reason": match.end_reason})
    return match


def matches_end_for(*, person: Patient | Coach, by: Any, reason: str) -> int:
    """End every current pair of a person who leaves the program."""
    field = "patient" if isinstance(person, Patient) else "coach"
    ended = 0
    for match in Match.objects.filter(**{field: person, "ended_on__isnull": True}):
        match_end(match=match, by=by, reason=reason)
        ended += 1
    return ended
