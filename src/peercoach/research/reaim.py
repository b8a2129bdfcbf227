"""The RE-AIM summary of a study: reach, effectiveness, adoption, implementation and
maintenance (Glasgow et al., Front Public Health 2019;7:64), each figure with a plain
sentence of how it is computed.

It is assembled from the other reports (the CONSORT flow, fidelity and the outcome
analysis) plus a few counts of its own: the eligible patients' gender and age, safety
events, the program's coaches and training, and what is still running today. Numbers
PeerCoach cannot know (clinics approached, cost) are named as such rather than guessed.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from . import analysis as analysis_mod
from . import consort as consort_mod
from . import fidelity as fidelity_mod

DIMENSIONS = {
    "reach": ("Reach", "How many of the people who could take part did, and whether they "
              "are like those who did not."),
    "effectiveness": ("Effectiveness", "The effect on the outcomes that matter to patients, "
                      "harms included."),
    "adoption": ("Adoption", "The settings and the people delivering the program (coaches) "
                 "who take it up."),
    "implementation": ("Implementation", "Whether the program is delivered as planned: "
                       "fidelity, dose, consistency."),
    "maintenance": ("Maintenance", "Whether effects last (6 months or more after the last "
                    "contact) and whether the program keeps running."),
}
#: RE-AIM's individual maintenance: outcomes 6 months or more after the last contact.
MAINTENANCE_DAYS = 180


@dataclass(frozen=True)
class Figure:
    label: str
    value: str
    how: str


@dataclass
class Dimension:
    key: str
    name: str
    definition: str
    figures: list[Figure] = field(default_factory=list)


@dataclass
class Summary:
    dimensions: list[Dimension]
    counted_on: dt.date


def _pct(k: int, n: int) -> str:
    return f"{k} of {n} ({k / n:.0%})" if n else f"{k} of {n}"


def _share(value: float | None) -> str:
    return "no data yet" if value is None else f"{value:.0%}"


def _num(value: float | None, places: int = 1) -> str:
    return "no data yet" if value is None else f"{value:.{places}f}"


def _age(born: dt.date | None, on: dt.date) -> int | None:
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _profile(rows: Sequence[tuple[str, dt.date | None]], on: dt.date) -> str:
    if not rows:
        return "nobody"
    women = sum(1 for gender, _ in rows if gender == "female")
    ages = [a for a in (_age(born, on) for _, born in rows) if a is not None]
    age = f", median age {statistics.median(ages):.0f}" if ages else ""
    return f"{len(rows)} patients, {women / len(rows):.0%} women{age}"


def build(study: Any, *, flow: consort_mod.Flow | None = None,
          fidelity: fidelity_mod.Fidelity | None = None,
          result: analysis_mod.Analysis | None = None,
          meta: analysis_mod.Meta | None = None, today: dt.date | None = None) -> Summary:
    """The summary of `study`; the other reports are built here unless passed in."""
    from django.db.models import Count, Max
    from django.utils import timezone

    from peercoach.assessments import instruments
    from peercoach.assessments.models import Assessment, AssessmentStatus
    from peercoach.coaching.models import Contact, Outcome
    from peercoach.matching.models import Match
    from peercoach.people.lifecycle import CoachStatus
    from peercoach.people.models import Coach, Patient
    from peercoach.supervision.models import SafetyEvent
    from peercoach.training.models import Attendance, SessionKind

    today = today or timezone.localdate()
    flow = flow or consort_mod.build(study)
    fidelity = fidelity or fidelity_mod.build(study, today=today)
    if result is None or meta is None:
        result, meta, _ = analysis_mod.run(study, mixed=False, today=today)
    program = study.program
    coached_ids = {a.arm_id for a in flow.arms if a.gets_coach}

    # --- Reach --------------------------------------------------------------------------
    eligible = [p for p in flow.people if p.eligible is not False]
    randomized_ids = [p.patient_id for p in flow.people if p.arm_id is not None]
    not_randomized_ids = [p.patient_id for p in eligible if p.arm_id is None]
    profiles = {pk: (gender, born) for pk, gender, born in Patient.objects.filter(
        pk__in=[p.patient_id for p in eligible]).values_list("pk", "gender", "date_of_birth")}
    reach = Dimension("reach", *DIMENSIONS["reach"])
    reach.figures += [
        Figure("Randomized of those eligible", _pct(flow.randomized, len(eligible)),
               "Patients randomized divided by patients assessed for eligibility whose latest "
               "screening did not exclude them (the CONSORT flow's counts)."),
        Figure("Assessed for eligibility", str(flow.assessed),
               "Patients of the program screened while the study ran, plus anyone "
               "randomized."),
        Figure("Why eligible patients did not take part",
               f"{flow.declined} declined, {flow.other_excluded} consented but left before "
               f"randomization, {flow.awaiting} not yet randomized",
               "From the CONSORT flow: eligible and never consented (declined), consented "
               "and never randomized (other), or still on the way in."),
        Figure("Who took part", _profile([profiles[i] for i in randomized_ids
                                          if i in profiles], today),
               "Recorded gender and age today of the randomized patients."),
        Figure("Eligible but not randomized", _profile([profiles[i] for i in not_randomized_ids
                                                        if i in profiles], today),
               "The same for eligible patients who were not randomized, to compare: are "
               "those who took part like those who did not?"),
    ]

    # --- Effectiveness -------------------------------------------------------------------
    eff = Dimension("effectiveness", *DIMENSIONS["effectiveness"])
    primary = flow.instrument
    names = {a.code: a.name for a in flow.arms}
    # The study's follow-up time points, in order (from the CONSORT flow: the program's).
    points = [(key, (label, i)) for i, (key, label) in enumerate(flow.time_points)]
    # The first follow-up (ECLIPSE's primary endpoint) and the last.
    shown = points[:1] + points[-1:] if len(points) > 1 else points
    if not shown:
        shown = [("", ("follow-up", 0))]
    for key, (label, _) in shown:
        found = next((o for o in result.outcomes
                      if o.instrument == primary and o.time_point == key), None)
        name = instruments.get(primary).short_name if primary else "the primary outcome"
        if found is None or not found.ancova:
            eff.figures.append(Figure(
                f"{name} at {label}: difference between arms", "not enough data yet",
                "ANCOVA of the follow-up score on the baseline score and the arm, once both "
                f"arms have at least {analysis_mod.MIN_PER_ARM} patients with both answers."))
            continue
        for effect in found.ancova:
            eff.figures.append(Figure(
                f"{name} at {label}: {names.get(effect.arm, effect.arm)} minus "
                f"{names.get(effect.reference, effect.reference)}",
                f"{effect.difference:+.2f} points (95% CI {effect.ci_low:+.2f} to "
                f"{effect.ci_high:+.2f}), n = {effect.n}",
                "The arm coefficient of an ordinary least squares model of the follow-up "
                "score on the baseline score and the arm (ANCOVA): the difference in change "
                "from baseline, adjusted for baseline."))
        for share in found.improvement:
            eff.figures.append(Figure(
                f"{name} at {label}: important improvement, {names.get(share.arm, share.arm)}",
                _pct(share.improved, share.n),
                "Patients whose change meets the questionnaire's clinically important "
                "improvement rule, of those with both answers."))
    events = dict(SafetyEvent.objects.filter(patient__allocation__study=study)
                  .values("patient__allocation__arm_id")
                  .annotate(n=Count("patient_id", distinct=True))
                  .values_list("patient__allocation__arm_id", "n"))
    for arm in flow.arms:
        eff.figures.append(Figure(
            f"Patients with a safety event, {arm.name}",
            _pct(int(events.get(arm.arm_id, 0)), arm.allocated),
            "Randomized patients with at least one safety event (screening, a coach's "
            "concern, crisis words in a note, or PHQ-9 item 9), any time."))

    # --- Adoption ---------------------------------------------------------------------------
    adoption = Dimension("adoption", *DIMENSIONS["adoption"])
    coaches = Coach.objects.filter(program=program)
    recruited = coaches.count()
    trained = (Attendance.objects.filter(session__program=program, attended=True,
                                         session__kind=SessionKind.INITIAL)
               .values("coach_id").distinct().count())
    delivering = len(fidelity.coaches)
    adoption.figures += [
        Figure("Coaches trained of those recruited", _pct(trained, recruited),
               "Coaches of the program who attended an initial training session, of every "
               "coach registered in the program."),
        Figure("Coaches who took a study patient of those trained", _pct(delivering, trained),
               "Coaches with at least one pair with a randomized patient, of the trained "
               "coaches."),
        Figure("Patients per coach",
               _num(statistics.mean([c.tally.n_patients for c in fidelity.coaches]))
               if fidelity.coaches else "no data yet",
               "Mean number of randomized patients each of those coaches coached (ECLIPSE: "
               "each coach started with one and 47% kept to one)."),
        Figure("Settings", f"1 site ({study.program.site.name})",
               "The study runs in one program at one site. PeerCoach does not record the "
               "clinics that were approached, so the share of settings that adopted the "
               "program cannot be computed here."),
    ]

    # --- Implementation ----------------------------------------------------------------------
    impl = Dimension("implementation", *DIMENSIONS["implementation"])
    for row in fidelity.arms:
        if row.key not in coached_ids:
            continue
        t = row.tally
        dose = next(d for d in fidelity.doses if d.arm_id == row.key)
        days = sum(((p.ended_on or today) - p.started_on).days for p in fidelity.pairs
                   if p.arm_id == row.key)
        per_month = t.reached / days * 30.4 if days > 0 else None
        impl.figures += [
            Figure(f"Reached the protocol's {fidelity.target} contacts, {row.name}",
                   _pct(dose.at_target, dose.n),
                   f"Randomized patients of the arm with at least {fidelity.target} reached "
                   "contacts (ECLIPSE: 13% had 12 or more)."),
            Figure(f"Contacts completed against plan, {row.name}",
                   f"{t.reached} of {t.planned} planned ({_share(t.completion)})",
                   "Reached contacts divided by the contacts the plans scheduled."),
            Figure(f"On time, {row.name}", _share(t.on_time_share),
                   "Reached contacts that fulfilled a planned contact inside its window, of "
                   "all reached contacts."),
            Figure(f"Contacts per month of coaching, {row.name}", _num(per_month),
                   "Reached contacts divided by the months the arm's pairs have run (to "
                   "their end, or today)."),
            Figure(f"Manual sections covered per patient, {row.name}",
                   f"{_num(t.sections_mean)} of {fidelity.n_sections}",
                   "Distinct manual sections ticked in a patient's reached contacts, "
                   "averaged over the arm's patients."),
            Figure(f"Curriculum share of contacts, {row.name}",
                   "no data yet" if t.curriculum_mean is None
                   else f"{t.curriculum_mean:.0f}%",
                   "Mean of the coaches' estimates of the share of each reached contact "
                   "spent on the manual and goals (the rest was social)."),
            Figure(f"Supervision attendance, {row.name}", _share(t.supervision_share),
                   "Supervision calls attended by the arm's coaches, of those recorded for "
                   "them since the study started."),
        ]
    impl.figures.append(Figure(
        "Adaptations and cost", "not recorded",
        "PeerCoach records contacts, not adaptations or costs; note them in the study's "
        "description or your own log."))

    # --- Maintenance -----------------------------------------------------------------------
    maint = Dimension("maintenance", *DIMENSIONS["maintenance"])
    last_contact = dict(Contact.objects.filter(patient__allocation__study=study,
                                               outcome=Outcome.REACHED)
                        .values("patient_id").annotate(last=Max("occurred_at"))
                        .values_list("patient_id", "last"))
    last_answer = dict(Assessment.objects.filter(
        patient__allocation__study=study, status=AssessmentStatus.SUBMITTED,
        time_point__before_first_contact=False, time_point__day__gt=0,
        submitted_at__isnull=False)
        .values("patient_id").annotate(last=Max("submitted_at"))
        .values_list("patient_id", "last"))
    coached_patients = [p.patient_id for p in flow.people if p.arm_id in coached_ids]
    long_after = sum(1 for pid in coached_patients
                     if pid in last_contact and pid in last_answer
                     and (last_answer[pid] - last_contact[pid]).days >= MAINTENANCE_DAYS)
    with_both = sum(1 for pid in coached_patients if pid in last_contact and pid in last_answer)
    maint.figures.append(Figure(
        "Outcomes measured 6 months or more after the last contact",
        _pct(long_after, with_both),
        "Coached patients whose latest follow-up answers came at least 180 days after their "
        "last reached contact (RE-AIM's individual maintenance), of coached patients with "
        "both."))
    if len(points) > 1:
        key, (label, _) = points[-1]
        found = next((o for o in result.outcomes
                      if o.instrument == primary and o.time_point == key), None)
        if found is not None and found.ancova:
            effect = found.ancova[0]
            maint.figures.append(Figure(
                f"Difference between arms at the last follow-up ({label})",
                f"{effect.difference:+.2f} points (95% CI {effect.ci_low:+.2f} to "
                f"{effect.ci_high:+.2f})",
                "The ANCOVA difference at the latest time point (for ECLIPSE-style programs "
                "9 months: 3 months after coaching ends, short of RE-AIM's 6)."))
    current_pairs = Match.objects.filter(patient__program=program,
                                         ended_on__isnull=True).count()
    recent = Contact.objects.filter(patient__program=program, outcome=Outcome.REACHED,
                                    occurred_at__gte=timezone.now() - dt.timedelta(days=30)
                                    ).count()
    active = coaches.filter(status=CoachStatus.ACTIVE).count()
    maint.figures += [
        Figure("Program running today",
               ("yes" if program.is_active else "no")
               + f": {current_pairs} current pairs, {active} active coaches",
               "Whether the program is active, with its current pairs and active coaches "
               "(all patients of the program, in the study or not)."),
        Figure("Reached contacts in the last 30 days", str(recent),
               "Contacts in which a coach reached a patient of the program in the last 30 "
               "days."),
        Figure("Recruitment", "recruiting" if flow.recruiting else "closed",
               "The study's status: recruiting, or closed to new patients."),
    ]
    return Summary(dimensions=[reach, eff, adoption, impl, maint], counted_on=today)
