"""Proposing, adjusting and confirming matches for a whole program.

A coordinator asks for a proposal; PeerCoach scores every possible pair
(`scoring.py`), finds the optimal set (`solver.py`) and explains each pair. The
coordinator locks pairs they like and rejects pairs they don't, proposes again (locked
pairs stay, rejected pairs are never proposed again), and confirms. Confirmed pairs
become `Match` records carrying who proposed and confirmed them, the score breakdown
and the weights used.

Rematching needs nothing special: people who leave a pair go back to the pool, and
the next proposal fills the gaps among waiting patients and free coach places,
without touching confirmed pairs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from peercoach.core import audit
from peercoach.core.models import AuditAction
from peercoach.people.models import Coach, Patient
from peercoach.programs.models import Program

# `planner` is imported in `plan_matches`: it brings in scipy (the solver), which would
# otherwise load with the URL map through the matching views and API.
from . import pool, scoring
from .models import (
    DoNotPair,
    MatchSource,
    PairState,
    Proposal,
    ProposalStatus,
    ProposedPair,
    UnmatchedPatient,
)

if TYPE_CHECKING:
    from .planner import PlanResult, Site


@dataclass
class PlannedPair:
    patient: Patient
    coach: Coach
    score: float
    components: dict[str, float]
    explanation: str
    state: str = PairState.PROPOSED


@dataclass
class Plan:
    """The outcome of one matching run, before anything is saved."""

    weights: dict[str, float]
    pairs: list[PlannedPair] = field(default_factory=list)
    unmatched: list[tuple[Patient, str]] = field(default_factory=list)
    solve_seconds: float = 0.0


def plan_matches(program: Program, *, locked: list[tuple[Patient, Coach]] | None = None,
                 rejected: set[tuple[int, int]] | None = None) -> Plan:
    """Compute the best pairs for the program's waiting patients and free coach places."""
    from . import planner

    gathered = _gather(program, locked or [], rejected or set())
    if gathered.site is None:
        return gathered.plan
    return _finish(gathered, planner.plan_site(gathered.site))


def plan_programs(programs: Iterable[Program], *, workers: int | None = None
                  ) -> dict[int, Plan]:
    """Proposals for many programs at once, saving nothing (a dry run across a system).

    Each program is matched within itself, as `plan_matches` does. The people are read
    from the database here, program by program; the plans are then computed several at
    a time by `planner.plan_sites`, which touches no database.
    """
    from . import planner

    gathered = [_gather(program, [], set()) for program in programs]
    plans = {g.program_id: g.plan for g in gathered if g.site is None}
    todo = [(g, g.site) for g in gathered if g.site is not None]
    for index, result in planner.plan_sites([site for _, site in todo], workers=workers):
        plans[todo[index][0].program_id] = _finish(todo[index][0], result)
    return plans


@dataclass
class _Gathered:
    """One program's pool, read from the database, ready for `planner.plan`."""

    program_id: int
    plan: Plan  # holds the locked pairs already
    patients: list[Patient]
    coaches: list[Coach]
    site: Site | None = None  # None when nobody is waiting


def _gather(program: Program, locked: list[tuple[Patient, Coach]],
            rejected: set[tuple[int, int]]) -> _Gathered:
    from . import planner

    weights = scoring.merged_weights(program.matching_weights)
    today = timezone.localdate()
    plan = Plan(weights=weights)
    for patient, coach in locked:
        p, c = pool.as_person(patient, today), pool.as_person(coach, today)
        components = scoring.pair_components(p, c, weights)
        total = round(sum(weights[n] * v for n, v in components.items()), 4)
        plan.pairs.append(PlannedPair(patient, coach, total, components,
                                      scoring.explain(p, c, components), PairState.LOCKED))
    locked_patients = {p.pk for p, _ in locked}
    patients = [p for p in pool.waiting_patients(program) if p.pk not in locked_patients]
    if not patients:
        return _Gathered(program.pk, plan, [], [])
    active = list(pool.coaches_with_load(program))
    coaches = pool.available_coaches(program)
    locked_per_coach = Counter(c.pk for _, c in locked)
    capacities = [max(0, c.free - locked_per_coach[c.pk]) for c in coaches]  # type: ignore[attr-defined]
    dnp, rej = _forbidden(patients, coaches, rejected)
    facts = planner.PoolFacts(active_coaches=len(active),
                              ready_coaches=sum(_is_ready(c) for c in active))
    site = planner.Site([pool.as_person(p, today) for p in patients],
                        [pool.as_person(c, today) for c in coaches],
                        capacities, weights, do_not_pair=dnp, rejected=rej, facts=facts)
    return _Gathered(program.pk, plan, patients, coaches, site)


def _finish(gathered: _Gathered, result: PlanResult) -> Plan:
    """The plan with the solver's pairs and reasons put back on the database rows."""
    plan, patients, coaches = gathered.plan, gathered.patients, gathered.coaches
    plan.solve_seconds = result.seconds
    plan.pairs += [PlannedPair(patients[p.patient], coaches[p.coach], p.score, p.components,
                               p.explanation) for p in result.pairs]
    plan.unmatched = [(patients[i], reason) for i, reason in result.unmatched]
    return plan


def _forbidden(patients: list[Patient], coaches: list[Coach], rejected: set[tuple[int, int]]
               ) -> tuple[np.ndarray, np.ndarray]:
    """Boolean matrices of pairs ruled out by "do not pair" (or self) and by rejection."""
    row = {p.pk: i for i, p in enumerate(patients)}
    col = {c.pk: j for j, c in enumerate(coaches)}
    dnp = np.zeros((len(patients), len(coaches)), dtype=bool)
    rej = np.zeros_like(dnp)
    for patient_id, coach_id in DoNotPair.objects.filter(
            patient_id__in=row, coach_id__in=col).values_list("patient_id", "coach_id"):
        dnp[row[patient_id], col[coach_id]] = True
    # Nobody coaches themselves (a patient who also became a coach).
    by_user = {c.user_id: j for j, c in enumerate(coaches) if c.user_id}
    by_former = {c.former_patient_id: j for j, c in enumerate(coaches) if c.former_patient_id}
    for i, patient in enumerate(patients):
        same = [by_user.get(patient.user_id) if patient.user_id else None,
                by_former.get(patient.pk)]
        for j in same:
            if j is not None:
                dnp[i, j] = True
    for patient_id, coach_id in rejected:
        if patient_id in row and coach_id in col:
            rej[row[patient_id], col[coach_id]] = True
    return dnp, rej


def _is_ready(coach: Coach) -> bool:
    from peercoach.training.readiness import checklist

    return checklist(coach).ready


# --- Writes --------------------------------------------------------------------------


def proposal_propose(*, program: Program, by: Any) -> Proposal:
    """Make a new proposal; an open one is replaced, keeping its locks and rejections."""
    with transaction.atomic():
        previous = (Proposal.objects.select_for_update()
                    .filter(program=program, status=ProposalStatus.OPEN).first())
        locked: list[tuple[Patient, Coach]] = []
        rejected: set[tuple[int, int]] = set()
        if previous is not None:
            waiting = set(pool.waiting_patients(program).values_list("pk", flat=True))
            free = {c.pk for c in pool.available_coaches(program)}
            for pair in previous.pairs.select_related("patient", "coach"):
                if pair.state == PairState.REJECTED:
                    rejected.add((pair.patient_id, pair.coach_id))
                elif (pair.state == PairState.LOCKED and pair.patient_id in waiting
                      and pair.coach_id in free):
                    locked.append((pair.patient, pair.coach))
            previous.status = ProposalStatus.SUPERSEDED
            previous.save(update_fields=["status"])
        plan = plan_matches(program, locked=locked, rejected=rejected)
        proposal = Proposal.objects.create(
            program=program, created_by=by, created_at=timezone.now(), weights=plan.weights,
            previous=previous, solve_seconds=plan.solve_seconds)
        ProposedPair.objects.bulk_create(
            [ProposedPair(proposal=proposal, patient=p.patient, coach=p.coach, score=p.score,
                          components=p.components, explanation=p.explanation, state=p.state)
             for p in plan.pairs]
            + [ProposedPair(proposal=proposal, patient=patient, coach=coach, score=0,
                            components={}, explanation="Rejected by the coordinator.",
                            state=PairState.REJECTED)
               for patient, coach in _rejected_pairs(rejected)],
            batch_size=2000)
        UnmatchedPatient.objects.bulk_create(
            [UnmatchedPatient(proposal=proposal, patient=patient, reason=reason)
             for patient, reason in plan.unmatched], batch_size=2000)
        audit.record(actor=by, action=AuditAction.CREATE, target=proposal, details={
            "pairs": len(plan.pairs), "unmatched": len(plan.unmatched),
            "site": program.site_id})
    return proposal


def _rejected_pairs(rejected: set[tuple[int, int]]) -> list[tuple[Patient, Coach]]:
    """Rejections carry forward, so a rejected pair is never proposed again."""
    if not rejected:
        return []
    patients = Patient.objects.in_bulk({p for p, _ in rejected})
    coaches = Coach.objects.in_bulk({c for _, c in rejected})
    return [(patients[p], coaches[c]) for p, c in sorted(rejected)
            if p in patients and c in coaches]


def proposal_pair_set_state(*, pair: ProposedPair, state: str, by: Any) -> ProposedPair:
    """Lock, reject or release one proposed pair."""
    if state not in PairState.values:
        raise ValidationError(f"'{state}' is not a pair state.")
    with transaction.atomic():
        pair = ProposedPair.objects.select_for_update().select_related("proposal").get(
            pk=pair.pk)
        if pair.proposal.status != ProposalStatus.OPEN:
            raise ValidationError("This proposal is closed; propose again to make changes.")
        if state == PairState.LOCKED:
            clash = pair.proposal.pairs.filter(patient=pair.patient,
                                               state=PairState.LOCKED).exclude(pk=pair.pk)
            if clash.exists():
                raise ValidationError("Another pair for this patient is already locked.")
        pair.state = state
        pair.save(update_fields=["state"])
        audit.record(actor=by, action=AuditAction.UPDATE, target=pair,
                     details={"state": state})
    return pair


def proposal_confirm(*, proposal: Proposal, by: Any) -> list[Any]:
    """Turn every pair that is not rejected into a Match. All or nothing."""
    from .services import match_create

    with transaction.atomic():
        proposal = Proposal.objects.select_for_update().get(pk=proposal.pk)
        if proposal.status != ProposalStatus.OPEN:
            raise ValidationError("This proposal is no longer open.")
        pairs = list(proposal.pairs.exclude(state=PairState.REJECTED)
                     .select_related("patient", "coach__program"))
        if not pairs:
            raise ValidationError("There is no pair to confirm.")
        matches, problems = [], []
        for pair in pairs:
            try:
                matches.append(match_create(
                    patient=pair.patient, coach=pair.coach, by=by, source=MatchSource.PROPOSED,
                    proposal=proposal, score=pair.score, components=pair.components,
                    weights=proposal.weights, explanation=pair.explanation))
            except ValidationError as exc:
                problems.append(f"{pair.coach} + {pair.patient}: {' '.join(exc.messages)}")
        if problems:
            raise ValidationError(["Some pairs are no longer possible; propose again."]
                                  + problems)
        proposal.status = ProposalStatus.CONFIRMED
        proposal.confirmed_by = by
        proposal.confirmed_at = timezone.now()
        proposal.save(update_fields=["status", "confirmed_by", "confirmed_at"])
        audit.record(actor=by, action=AuditAction.UPDATE, target=proposal,
                     details={"confirmed": len(matches), "site": proposal.program.site_id})
    return matches


def do_not_pair_add(*, patient: Patient, coach: Coach, reason: str, by: Any) -> DoNotPair:
    if not reason.strip():
        raise ValidationError("Say why this pair must not be made.")
    if patient.program_id != coach.program_id:
        raise ValidationError("The coach and the patient are in different programs.")
    with transaction.atomic():
        rule, created = DoNotPair.objects.get_or_create(
            patient=patient, coach=coach,
            defaults={"reason": reason.strip(), "created_by": by})
        if not created:
            raise ValidationError("This pair is already marked “do not pair”.")
        audit.record(actor=by, action=AuditAction.CREATE, target=rule,
                     details={"coach_id": coach.pk})
    return rule
