"""The synthetic demo program. Every person here is invented; phone numbers are 555-01xx.

`load_demo` is idempotent: it loads once into an empty database and does nothing the
next time, so running `peercoach demo` twice never duplicates data.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from peercoach.core.models import Role, RoleAssignment
from peercoach.matching.services import match_create_manual
from peercoach.people import services as people
from peercoach.people.lifecycle import CoachStatus, PatientStatus
from peercoach.people.models import Coach, Patient
from peercoach.programs.models import Program, Site
from peercoach.programs.protocols import IMPPRESS

DEMO_PASSWORD = "peercoach-demo"  # noqa: S105
DEMO_SITE_CODE = "demo-riverside"

FIRST = ["James", "Maria", "Robert", "Linda", "Michael", "Patricia", "William", "Barbara",
         "David", "Elizabeth", "Richard", "Jennifer", "Joseph", "Susan", "Thomas", "Dorothy",
         "Charles", "Karen", "Daniel", "Nancy", "Anthony", "Betty", "Mark", "Sandra",
         "Donald", "Ruth", "Steven", "Sharon"]
LAST = ["Alvarez", "Brooks", "Castillo", "Dawson", "Ellison", "Fairbanks", "Gaines", "Holloway",
        "Iverson", "Jennings", "Kowalski", "Lindqvist", "Mercer", "Nakamura", "Okafor",
        "Pruitt", "Quinlan", "Rasmussen", "Sandoval", "Thibodeaux", "Underwood", "Vance",
        "Whitfield", "Yates", "Zimmerman", "Abernathy", "Beaumont", "Calloway"]

#: Patients 1..20 end up in these states: every lifecycle state is represented.
PATIENT_PLAN = (
    [PatientStatus.ACTIVE] * 4 + [PatientStatus.ENROLLED] * 3 + [PatientStatus.REFERRED] * 3
    + [PatientStatus.ELIGIBLE] * 2 + [PatientStatus.NOT_ELIGIBLE] * 2
    + [PatientStatus.CONSENTED] * 2 + [PatientStatus.COMPLETED] * 2
    + [PatientStatus.WITHDRAWN] * 1 + [PatientStatus.LOST] * 1
)
COACH_PLAN = ([CoachStatus.ACTIVE] * 5 + [CoachStatus.IN_TRAINING] * 2
              + [CoachStatus.CANDIDATE] * 1)


def _user(username: str, first: str, last: str, *, superuser: bool = False):
    User = get_user_model()
    user = User(username=username, first_name=first, last_name=last,
                email=f"{username}@example.org", is_superuser=superuser, is_staff=superuser)
    user.set_password(DEMO_PASSWORD)
    user.save()
    return user


def _profile(rng: random.Random, index: int, offset: int) -> dict[str, Any]:
    today = timezone.localdate()
    era, age = rng.choice([("vietnam", 74), ("post_vietnam", 64), ("gulf_war", 55),
                           ("post_911", 40)])
    born = today - dt.timedelta(days=365 * (age + rng.randint(-4, 4)) + rng.randint(0, 300))
    return {
        "first_name": FIRST[(index + offset) % len(FIRST)],
        "last_name": LAST[(index * 3 + offset) % len(LAST)],
        "date_of_birth": born,
        "phone": f"+1317555{index + offset:04d}"[:12],
        "email": f"demo{offset}{index}@example.org",
        "address_line": f"{100 + index} Elm Street",
        "city": "Riverside", "state": "IN",
        "zip_code": rng.choice(["46201", "46202", "46203", "46218", "46220"]),
        # The name list alternates men's and women's names.
        "gender": "male" if (index + offset) % len(FIRST) % 2 == 0 else "female",
        "branch": rng.choice(["army", "navy", "air_force", "marine_corps"]),
        "service_era": era,
        "pain_conditions": rng.sample(["low_back", "neck", "knee_oa", "hip_oa", "shoulder",
                                       "widespread"], k=rng.randint(1, 2)),
        "life_challenges": rng.sample(["weight", "sleep", "mood", "caregiving", "work", "money",
                                       "mobility", "transport"], k=rng.randint(0, 3)),
        "preferred_contact_modes": rng.choice([["phone"], ["phone", "in_person"]]),
        "preferred_contact_times": rng.sample(["morning", "afternoon", "evening"], k=1),
    }


SCREEN_OK: dict[str, Any] = {
    "serious_medical_condition": False, "recent_psychiatric_hospitalization": False,
    "active_suicidal_ideation": False, "severe_hearing_or_speech_impairment": False,
}


def load_demo() -> bool:
    """Load the demo program into an empty database. Returns False if it is already there."""
    if Site.objects.filter(code=DEMO_SITE_CODE).exists():
        return False
    rng = random.Random(20261121)  # noqa: S311 - fixed seed: the same demo every time
    with transaction.atomic():
        site = Site.objects.create(code=DEMO_SITE_CODE, name="Riverside VA Medical Center (demo)")
        program = Program(site=site, name="Peer pain coaching", **IMPPRESS.program_fields())
        program.full_clean()
        program.save()
        admin = _user("admin", "Avery", "Admin", superuser=True)
        staff = {}
        for username, first, last, role in (
            ("coordinator", "Casey", "Coordinator", Role.COORDINATOR),
            ("supervisor", "Dr. Sam", "Supervisor", Role.SUPERVISOR),
            ("clinician", "Dr. Cam", "Clinician", Role.CLINICIAN),
            ("researcher", "Riley", "Researcher", Role.RESEARCHER),
        ):
            staff[role] = _user(username, first, last)
            RoleAssignment.objects.create(user=staff[role], role=role, site=site)
        RoleAssignment.objects.create(user=admin, role=Role.SITE_ADMIN, site=site)
        coordinator = staff[Role.COORDINATOR]
        training = _demo_training(program, staff[Role.SUPERVISOR])
        coaches = [_demo_coach(rng, program, i, status, coordinator, training)
                   for i, status in enumerate(COACH_PLAN, start=1)]
        patients = [_demo_patient(rng, program, i, status, coordinator, staff[Role.CLINICIAN])
                    for i, status in enumerate(PATIENT_PLAN, start=1)]
        # Last season's patients come first: their pairs have ended before today's start.
        _demo_past_cohort(rng, program, coaches, coordinator)
        _demo_pairs(patients, coaches, coordinator)
        _demo_matching_round(program, patients, coordinator)
        _demo_history(program)
        _demo_assessments(rng, program, patients, coaches, coordinator)
        # A second site running an ECLIPSE-style randomized study (demo/study.py).
        from peercoach.demo.study import load_study_demo

        load_study_demo()
    return True


def _demo_assessments(rng: random.Random, program: Program, patients: list[Patient],
                      coaches: list[Coach], by: Any) -> None:
    """Questionnaires: today's patients answered their baseline (one has not: overdue),
    the two who completed also their 4-month follow-up."""
    from peercoach.assessments.services import schedule_patient
    from peercoach.demo.assessments import answer_due

    today = timezone.localdate()
    back = {PatientStatus.ACTIVE: 37, PatientStatus.COMPLETED: 127,
            PatientStatus.WITHDRAWN: 127, PatientStatus.LOST: 127}
    for index, (patient, status) in enumerate(zip(patients, PATIENT_PLAN, strict=True)):
        if status not in back:
            continue
        Patient.objects.filter(pk=patient.pk).update(
            enrolled_on=today - dt.timedelta(days=back[status]))
        patient.refresh_from_db()
        schedule_patient(patient)
        if status == PatientStatus.ACTIVE and index == 2:
            continue  # the pair that went quiet: baseline still missing, the alert shows it
        keys = ("baseline", "4mo") if status == PatientStatus.COMPLETED else ("baseline",)
        answer_due(patient, by=by, rng=rng, level=rng.uniform(0.45, 0.75), time_point_keys=keys)


def _demo_past_cohort(rng: random.Random, program: Program, coaches: list[Coach],
                      by: Any) -> None:
    """16 patients who went through the program last season (before today's pairs)."""
    from peercoach.assessments.services import schedule_patient
    from peercoach.demo.assessments import answer_due
    from peercoach.matching.models import Match

    today = timezone.localdate()
    active_coaches = [c for c in coaches if c.status == CoachStatus.ACTIVE]
    for i in range(16):
        profile = _profile(rng, 21 + i, 7)
        patient = people.referral_create(
            program=program, by=by, source="self", referred_on=today - dt.timedelta(days=330),
            referral_reason="Chronic pain; interested in peer support.", **profile)
        people.screening_record(person=patient, by=by, back_surgery=False, **SCREEN_OK)
        people.consent_record(person=patient, by=by, form_version="patient-v1",
                              consented_on=today - dt.timedelta(days=320))
        patient = people.patient_transition(patient=patient, to=PatientStatus.ENROLLED, by=by,
                                            reason="Attended the orientation class")
        enrolled = today - dt.timedelta(days=300 + i)
        Patient.objects.filter(pk=patient.pk).update(enrolled_on=enrolled)
        patient.refresh_from_db()
        coach = active_coaches[i % len(active_coaches)]
        match = match_create_manual(patient=patient, coach=coach, by=by,
                                    started_on=enrolled + dt.timedelta(days=10))
        patient = people.patient_transition(patient=patient, to=PatientStatus.ACTIVE, by=by,
                                            reason="First contact with coach")
        finished = i != 15
        patient = people.patient_transition(
            patient=patient, to=PatientStatus.COMPLETED if finished else PatientStatus.LOST,
            by=by, reason="Finished the program" if finished else "No answer for 6 weeks")
        Match.objects.filter(pk=match.pk).update(ended_on=enrolled + dt.timedelta(days=130))
        schedule_patient(patient)
        baseline = rng.uniform(0.45, 0.8)
        answer_due(patient, by=by, rng=rng, level=baseline, time_point_keys=("baseline",))
        if finished and i % 7 != 6:  # a few never answered the follow-up
            # Most improve a little; some do not (as in the trials, not everyone gains).
            answer_due(patient, by=by, rng=rng, time_point_keys=("4mo",),
                       level=max(0.05, baseline - rng.uniform(-0.05, 0.3)))


def _demo_history(program: Program) -> None:
    """Contact history for the hand-made pairs: on track, behind, gone quiet."""
    from peercoach.coaching.services import ContactInput, NewGoal, contact_log
    from peercoach.matching.models import Match

    pairs = list(Match.objects.filter(patient__program=program, ended_on__isnull=True,
                                      source="manual").select_related("patient", "coach__user")
                 .order_by("id"))
    now = timezone.now()

    def reached(match: Match, days_ago: int, sections: list[str], percent: int, pain: int,
                goal: NewGoal | None = None, check_ins: dict[int, tuple[str, str]] | None = None
                ) -> None:
        contact_log(patient=match.patient, coach=match.coach, by=match.coach.user,
                    data=ContactInput(occurred_at=now - dt.timedelta(days=days_ago, hours=3),
                                      mode="phone", outcome="reached", duration_minutes=25,
                                      sections=sections, curriculum_percent=percent,
                                      pain_today=pain, notes="Good talk."),
                    new_goals=[goal] if goal else [], check_ins=check_ins or {})

    def missed(match: Match, days_ago: int, outcome: str = "no_answer") -> None:
        contact_log(patient=match.patient, coach=match.coach, by=match.coach.user,
                    data=ContactInput(occurred_at=now - dt.timedelta(days=days_ago, hours=5),
                                      mode="phone", outcome=outcome))

    walk = NewGoal(text="Walk to the mailbox and back after lunch", section="activity-pacing",
                   what="Walk to the mailbox and back", how_much="10 minutes",
                   when="After lunch", how_often="5 days a week", confidence=8)
    breathe = NewGoal(text="Slow breathing before bed", section="relaxation-skills",
                      what="Slow breathing", how_much="5 minutes", when="Before bed",
                      how_often="Every night", confidence=9)
    if len(pairs) >= 1:  # on track
        on_track = pairs[0]
        reached(on_track, 23, ["introduction", "pain-education"], 60, 6, walk)
        goal = on_track.patient.goals.get()
        reached(on_track, 9, ["activity-pacing"], 75, 5, breathe,
                {goal.pk: ("most", "Walked 4 days")})
    if len(pairs) >= 2:  # behind: reached once, then no answer twice
        behind = pairs[1]
        reached(behind, 24, ["introduction"], 50, 7)
        missed(behind, 10)
        missed(behind, 7)
        missed(behind, 4, "left_message")
    if len(pairs) >= 3:  # gone quiet: one talk a month ago, nothing since
        reached(pairs[2], 27, ["introduction"], 25, 8)
    if len(pairs) >= 4:  # a safety concern flagged yesterday, still open for the supervisor
        contact_log(patient=pairs[3].patient, coach=pairs[3].coach, by=pairs[3].coach.user,
                    data=ContactInput(occurred_at=now - dt.timedelta(days=1), mode="phone",
                                      outcome="reached", duration_minutes=30,
                                      curriculum_percent=25, pain_today=8, safety_concern=True,
                                      concerns="Said things have felt hopeless lately."))
    from peercoach.supervision.alerts import scan
    from peercoach.supervision.services import help_request

    if len(pairs) >= 2:
        help_request(coach=pairs[1].coach, by=pairs[1].coach.user,
                     message="I keep missing him. Should I try a letter?")
    _demo_supervision(program, [p.coach for p in pairs])
    scan()


def _demo_supervision(program: Program, coaches: list[Coach]) -> None:
    """A weekly group call with two past calls (notes, attendance, tips) and a check-in."""
    import zoneinfo

    from django.contrib.auth import get_user_model

    from peercoach.supervision import session_services as sup

    supervisor = get_user_model().objects.get(username="supervisor")
    zone = zoneinfo.ZoneInfo(program.site.timezone)
    today = timezone.localdate()
    sup.schedule_create(program=program, by=supervisor, weekday=2, time=dt.time(18, 0),
                        starts_on=today, supervisor=supervisor, every_weeks=1,
                        dial_in="1-555-0100, access code 4321")
    unique = list({c.pk: c for c in coaches}.values())
    for weeks_ago, notes, tip in (
        (2, "Talked about keeping calls on the manual while still catching up.",
         "Start with two minutes of catching up, then ask: shall we look at this week's "
         "section?"),
        (1, "Shared ways to reach patients who do not answer.",
         "If he never picks up, ask what time of day suits him and send a short text first."),
    ):
        starts = dt.datetime.combine(today - dt.timedelta(weeks=weeks_ago), dt.time(18, 0),
                                     tzinfo=zone)
        session = sup.session_create(program=program, by=supervisor, kind="group",
                                     starts_at=starts, supervisor=supervisor,
                                     dial_in="1-555-0100, access code 4321")
        sup.attendance_record(session=session, by=supervisor,
                              attended={c.pk: i != weeks_ago for i, c in enumerate(unique)})
        sup.session_notes(session=session, by=supervisor, notes=notes,
                          follow_ups="Everyone: try it this week and tell us next time.")
        sup.tip_share(program=program, by=unique[0].user, text=tip, author_coach=unique[0],
                      session=session)
    sup.wellbeing_record(coach=unique[0], by=unique[0].user, pain=5, stress=4, mood=7,
                         note="Knee is sore this week, but coaching helps me keep going.")


def _demo_training(program: Program, supervisor: Any) -> Any:
    from peercoach.training.services import session_create

    return session_create(
        program=program, by=supervisor, kind="initial",
        held_on=timezone.localdate() - dt.timedelta(days=75), trainer="Dr. Sam Supervisor",
        topics="Pain self-management basics; the coach's role and its limits; listening and "
               "encouragement; setting goals; when and how to reach the supervisor; the "
               "crisis steps.", hours=3)


def _demo_matching_round(program: Program, patients: list[Patient], by: Any) -> None:
    """Enrolled patients get coaches through a confirmed proposal; then one more patient
    enrolls and is left waiting for the next round."""
    from peercoach.matching.proposals import proposal_confirm, proposal_propose

    proposal = proposal_propose(program=program, by=by)
    proposal_confirm(proposal=proposal, by=by)
    waiting = next(p for p, s in zip(patients, PATIENT_PLAN, strict=True)
                   if s == PatientStatus.CONSENTED)
    people.patient_transition(patient=waiting, to=PatientStatus.ENROLLED, by=by,
                              reason="Attended the orientation class")


def _demo_coach(rng: random.Random, program: Program, i: int, status: str, by: Any,
                training: Any) -> Coach:
    profile = _profile(rng, i, 40)
    user = _user(f"coach{i}", str(profile["first_name"]), str(profile["last_name"]))
    coach = people.coach_create(program=program, by=by, user=user,
                                completed_self_management_program=True, **profile)
    if status == CoachStatus.CANDIDATE:
        return coach
    people.screening_record(person=coach, by=by, **SCREEN_OK)
    people.consent_record(person=coach, by=by, form_version="coach-v1",
                          consented_on=timezone.localdate() - dt.timedelta(days=60))
    coach = people.coach_transition(coach=coach, to=CoachStatus.IN_TRAINING, by=by,
                                    reason="Booked on the initial training")
    from peercoach.training.services import attendance_record, guide_read_record

    # Active coaches did everything; one coach in training came to the training but has
    # not read the guide yet, so the readiness checklist has something to show.
    attendance_record(session=training, by=by, attended={coach.pk: status == CoachStatus.ACTIVE
                                                          or i % 2 == 0})
    if status == CoachStatus.ACTIVE:
        guide_read_record(coach=coach, by=by,
                          read_on=timezone.localdate() - dt.timedelta(days=70))
        coach = people.coach_transition(coach=coach, to=CoachStatus.ACTIVE, by=by,
                                        reason="Finished the initial training")
    return coach


def _demo_patient(rng: random.Random, program: Program, i: int, status: str, by,
                  clinician) -> Patient:
    profile = _profile(rng, i, 0)
    user = _user(f"patient{i}", str(profile["first_name"]), str(profile["last_name"]))
    referred_by_clinician = i % 2 == 0
    patient = people.referral_create(
        program=program, by=clinician if referred_by_clinician else by,
        source="clinician" if referred_by_clinician else "self",
        referred_by=clinician if referred_by_clinician else None,
        referred_on=timezone.localdate() - dt.timedelta(days=90 - i),
        referral_reason="Chronic pain; interested in peer support.", **profile,
    )
    Patient.objects.filter(pk=patient.pk).update(user=user)
    patient.refresh_from_db()
    if status == PatientStatus.REFERRED:
        return patient
    if status == PatientStatus.NOT_ELIGIBLE:
        people.screening_record(person=patient, by=by, back_surgery=True,
                                **{**SCREEN_OK, "serious_medical_condition": i % 2 == 0})
        return patient
    people.screening_record(person=patient, by=by, back_surgery=False, **SCREEN_OK)
    if status == PatientStatus.ELIGIBLE:
        return patient
    people.consent_record(person=patient, by=by, form_version="patient-v1",
                          consented_on=timezone.localdate() - dt.timedelta(days=40))
    if status == PatientStatus.CONSENTED:
        return patient
    people.patient_transition(patient=patient, to=PatientStatus.ENROLLED, by=by,
                              reason="Attended the orientation class")
    return patient


def _demo_pairs(patients: list[Patient], coaches: list[Coach], by) -> None:
    """coach1 has two patients; the other patients who got as far as a coach get one each.

    Leavers (completed, withdrawn, lost) are paired first and then leave, which ends
    their pair and frees the coach again, so the history shows ended pairs too.
    """
    active_coaches = [c for c in coaches if c.status == CoachStatus.ACTIVE]
    start = timezone.localdate() - dt.timedelta(days=30)
    reasons = {PatientStatus.COMPLETED: "Finished all 8 contacts",
               PatientStatus.WITHDRAWN: "Caring for a sick partner; no time now",
               PatientStatus.LOST: "No answer to calls or letters for 6 weeks"}
    leavers = [(p, s) for p, s in zip(patients, PATIENT_PLAN, strict=True) if s in reasons]
    staying = [p for p, s in zip(patients, PATIENT_PLAN, strict=True) if s == PatientStatus.ACTIVE]
    for index, (patient, target) in enumerate(leavers):
        coach = active_coaches[1 + index % (len(active_coaches) - 1)]
        match_create_manual(patient=patient, coach=coach, by=by,
                            started_on=start - dt.timedelta(days=90))
        patient = people.patient_transition(patient=patient, to=PatientStatus.ACTIVE, by=by,
                                            reason="First contact with coach")
        people.patient_transition(patient=patient, to=target, by=by, reason=reasons[target])
    slots = [active_coaches[0], active_coaches[0], *active_coaches[1:]]
    for patient, coach in zip(staying, slots, strict=False):
        match_create_manual(patient=patient, coach=coach, by=by, started_on=start,
                            note="Both prefer morning phone calls")
        people.patient_transition(patient=patient, to=PatientStatus.ACTIVE, by=by,
                                  reason="First contact with coach")
