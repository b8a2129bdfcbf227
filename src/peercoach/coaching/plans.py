"""Writes to contact plans: create on first pairing, move, shift, pause, extend, end."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from peercoach.core import audit
from peercoach.core.models import AuditAction
from peercoach.people.models import Patient

from . import schedule
from .models import ContactPlan, PlannedContact, PlannedStatus


def _slots(plan: ContactPlan) -> list[schedule.Slot]:
    return [schedule.Slot(p.number, p.due_on, p.window_start, p.window_end)
            for p in plan.planned.order_by("number")]


def _open_numbers(plan: ContactPlan) -> list[int]:
    return list(plan.planned.filter(status=PlannedStatus.PLANNED).order_by("number")
                .values_list("number", flat=True))


def _save_slots(plan: ContactPlan, slots: list[schedule.Slot], *, reason: str = "") -> None:
    """Write changed slots back; only not-yet-done contacts may move."""
    existing = {p.number: p for p in plan.planned.all()}
    for slot in slots:
        row = existing.get(slot.number)
        if row is None:
            PlannedContact.objects.create(plan=plan, number=slot.number, due_on=slot.due,
                                          window_start=slot.start, window_end=slot.end,
                                          moved_reason=reason)
            continue
        if (row.due_on, row.window_start, row.window_end) == (slot.due, slot.start, slot.end):
            continue
        if row.status != PlannedStatus.PLANNED:
            status = row.get_status_display().lower()
            raise ValidationError(f"Contact {row.number} is already {status}; it cannot move.")
        row.due_on, row.window_start, row.window_end = slot.due, slot.start, slot.end
        row.moved_reason = reason
        row.save(update_fields=["due_on", "window_start", "window_end", "moved_reason"])


def _as_validation(exc: schedule.ScheduleError) -> ValidationError:
    return ValidationError(str(exc))


def plan_for_pair(*, patient: Patient, started_on: dt.date, by: Any) -> ContactPlan:
    """The patient's plan when a pair starts: a new one, or the open one carried over.

    Carried over to a new coach, the remaining contacts keep their dates; if the gap
    between coaches left the next contact overdue, the rest of the plan moves so the next
    one is due half an interval after the new pair starts (and the program lengthens).
    """
    program = patient.program
    plan = ContactPlan.objects.filter(patient=patient, ended_on__isnull=True).first()
    if plan is None:
        if ContactPlan.objects.filter(patient=patient).exists():
            raise ValidationError("This patient's contact plan has ended.")
        plan = ContactPlan.objects.create(
            patient=patient, started_on=started_on,
            interval_days=program.days_between_contacts, span_days=program.program_length_days)
        try:
            slots = schedule.make_plan(started_on, program.contacts_per_patient,
                                       program.days_between_contacts,
                                       program.program_length_days)
        except schedule.ScheduleError as exc:
            raise _as_validation(exc) from exc
        _save_slots(plan, slots)
        audit.record(actor=by, action=AuditAction.CREATE, target=plan,
                     details={"contacts": len(slots)})
        # Baseline questionnaires are due before the first contact: re-time them.
        from peercoach.assessments.services import schedule_patient

        schedule_patient(patient)
        return plan
    next_open = plan.planned.filter(status=PlannedStatus.PLANNED).order_by("number").first()
    if next_open is not None and next_open.due_on < started_on:
        target = started_on + dt.timedelta(days=schedule.first_offset(plan.interval_days))
        gap = (target - next_open.due_on).days
        plan_pause(plan=plan, from_number=next_open.number, days=gap, by=by,
                   reason="New coach: the rest of the plan starts again")
    return plan


def plan_move_contact(*, planned: PlannedContact, new_due: dt.date, by: Any,
                      reason: str) -> PlannedContact:
    if not reason.strip():
        raise ValidationError("Say why the contact is moving.")
    with transaction.atomic():
        plan = ContactPlan.objects.select_for_update().get(pk=planned.plan_id)
        if planned.status != PlannedStatus.PLANNED:
            raise ValidationError("Only a contact that is still planned can move.")
        try:
            slots = schedule.move_one(_slots(plan), planned.number, new_due, plan.interval_days,
                                      plan.started_on, plan.span_days)
        except schedule.ScheduleError as exc:
            raise _as_validation(exc) from exc
        _save_slots(plan, slots, reason=reason)
        audit.record(actor=by, action=AuditAction.UPDATE, target=plan, details={
            "moved": planned.number, "to": str(new_due), "reason": reason})
    planned.refresh_from_db()
    return planned


def plan_shift_rest(*, plan: ContactPlan, from_number: int, days: int, by: Any,
                    reason: str) -> ContactPlan:
    if not reason.strip():
        raise ValidationError("Say why the plan is shifting.")
    if days == 0:
        raise ValidationError("Shift by at least one day.")
    with transaction.atomic():
        plan = ContactPlan.objects.select_for_update().get(pk=plan.pk)
        _refuse_done(plan, from_number)
        try:
            slots = schedule.shift_from(_slots(plan), from_number, days, plan.interval_days,
                                        plan.started_on, plan.span_days)
        except schedule.ScheduleError as exc:
            raise _as_validation(exc) from exc
        _save_slots(plan, slots, reason=reason)
        audit.record(actor=by, action=AuditAction.UPDATE, target=plan, details={
            "shifted_from": from_number, "days": days, "reason": reason})
    return plan


def plan_pause(*, plan: ContactPlan, days: int, by: Any, reason: str,
               from_number: int | None = None) -> ContactPlan:
    """A pause (hospital stay, caring for someone) moves the rest of the plan later."""
    if not reason.strip():
        raise ValidationError("Say why the plan is pausing.")
    with transaction.atomic():
        plan = ContactPlan.objects.select_for_update().get(pk=plan.pk)
        numbers = _open_numbers(plan)
        if not numbers:
            raise ValidationError("There is no planned contact left to move.")
        start_at = from_number if from_number is not None else numbers[0]
        _refuse_done(plan, start_at)
        try:
            slots, span = schedule.pause(_slots(plan), start_at, days, plan.interval_days,
                                         plan.started_on, plan.span_days)
        except schedule.ScheduleError as exc:
            raise _as_validation(exc) from exc
        plan.span_days = span
        plan.save(update_fields=["span_days", "updated_at"])
        _save_slots(plan, slots, reason=f"Pause: {reason}")
        audit.record(actor=by, action=AuditAction.UPDATE, target=plan, details={
            "paused_days": days, "from": start_at, "reason": reason})
    return plan


def plan_extend(*, plan: ContactPlan, extra: int, by: Any, reason: str) -> ContactPlan:
    if not reason.strip():
        raise ValidationError("Say why the plan is being extended.")
    with transaction.atomic():
        plan = ContactPlan.objects.select_for_update().get(pk=plan.pk)
        if plan.ended_on is not None:
            raise ValidationError("This plan has ended.")
        try:
            slots, span = schedule.extend(_slots(plan), extra, plan.interval_days,
                                          plan.started_on, plan.span_days)
        except schedule.ScheduleError as exc:
            raise _as_validation(exc) from exc
        plan.span_days = span
        plan.save(update_fields=["span_days", "updated_at"])
        _save_slots(plan, slots, reason=f"Extended: {reason}")
        audit.record(actor=by, action=AuditAction.UPDATE, target=plan,
                     details={"extended_by": extra, "reason": reason})
    return plan


def plan_end(*, patient: Patient, by: Any, reason: str) -> None:
    """The patient left the program: cancel what is left of the plan."""
    plan = ContactPlan.objects.filter(patient=patient, ended_on__isnull=True).first()
    if plan is None:
        return
    with transaction.atomic():
        plan.planned.filter(status=PlannedStatus.PLANNED).update(status=PlannedStatus.CANCELLED)
        plan.ended_on = timezone.localdate()
        plan.end_reason = reason
        plan.save(update_fields=["ended_on", "end_reason", "updated_at"])
        audit.record(actor=by, action=AuditAction.UPDATE, target=plan,
                     details={"ended": True, "reason": reason})


def _refuse_done(plan: ContactPlan, from_number: int) -> None:
    done = plan.planned.filter(number__gte=from_number).exclude(status=PlannedStatus.PLANNED)
    if done.exists():
        raise ValidationError(f"Contact {done.first().number} is already done; shift from a "  # type: ignore[union-attr]
                              "later contact.")
