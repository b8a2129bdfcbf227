"""The demo's second program: an ECLIPSE-style randomized study at a second site.

Peer coaching (12 contacts over 6 months, monthly booster calls for the coaches) against a
one-time self-management class, allocated 5:4 (ECLIPSE's 120:95) in permuted blocks of 9
and 18, stratified by gender, with questionnaires at baseline, 6 and 9 months. 120 invented
patients were referred over the past year: some were not eligible (with reasons), some
declined, a few consented and then left, two are still waiting to consent, and the rest
were randomized through the randomization service. Coached patients got coaches and, as in
ECLIPSE, fewer contacts than planned; some withdrew or were lost. So every study report
(fidelity, CONSORT, RE-AIM, outcomes) has something to show.

People, screenings, consents, enrolments, allocations and pairs go through the services
(the rules and the audit trail matter for them). Contacts and supervision attendance are
bulk-created with the same links the services would make (each reached contact fulfils its
planned contact), because logging ~400 contacts one by one would double the demo's load
time. Questionnaires are answered through `demo.assessments.answer_due`. Dates are then
moved back in time, as `demo.loader` does for its own history.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone

from peercoach.core.models import Role, RoleAssignment
from peercoach.people.lifecycle import CoachStatus, PatientStatus
from peercoach.people.models import Coach, Patient
from peercoach.programs.models import Program, Site
from peercoach.programs.protocols import ECLIPSE

STUDY_SITE_CODE = "demo-lakeside"
DEMO_PASSWORD = "peercoach-demo"  # noqa: S105 - demo accounts only, printed on purpose
SEED = 20150801  # ECLIPSE started recruiting in August 2015
PATIENTS = 120
COACHES = 24
#: How the 120 referrals end up (the rest are randomized).
NOT_ELIGIBLE = 12
DECLINED = 8
CONSENTED_THEN_LEFT = 2
AWAITING_CONSENT = 2
#: Days ago the study started recruiting.
STARTED_DAYS_AGO = 400

FIRST = ["Aaron", "Beatriz", "Calvin", "Delores", "Elijah", "Francine", "Gordon", "Hazel",
         "Isaac", "Jolene", "Kenneth", "Loretta", "Marcus", "Nadine", "Oscar", "Priscilla",
         "Quentin", "Rosalind", "Sylvester", "Tamara", "Ulysses", "Vivian", "Walter",
         "Yolanda", "Zachary", "Angela", "Bernard", "Cecilia", "Desmond", "Eleanor"]
LAST = ["Ashford", "Birch", "Crowley", "Delgado", "Eastman", "Fontaine", "Garrison", "Hartley",
        "Ingram", "Jablonski", "Kincaid", "Lockhart", "Montoya", "Norwood", "Oyelaran",
        "Prescott", "Quintero", "Radcliffe", "Saltzman", "Townsend", "Upchurch", "Valdez",
        "Winslow", "Yamamoto", "Zeller", "Albright", "Blackwood", "Carrington", "Donahue"]
REASONS = [
    {"serious_medical_condition": True},
    {"recent_psychiatric_hospitalization": True},
    {"severe_hearing_or_speech_impairment": True},
    {"back_surgery": True},
    {"serious_medical_condition": True, "back_surgery": True},
]
SCREEN_OK: dict[str, Any] = {
    "serious_medical_condition": False, "recent_psychiatric_hospitalization": False,
    "active_suicidal_ideation": False, "severe_hearing_or_speech_impairment": False,
    "back_surgery": False,
}
SECTIONS = ["introduction", "pain-education", "activity-pacing", "relaxation-skills",
            "self-care-skills", "interpersonal-skills", "relapse-prevention",
            "informational-resources"]


def _user(username: str, first: str, last: str) -> Any:
    User = get_user_model()
    user = User(username=username, first_name=first, last_name=last,
                email=f"{username}@example.org")
    user.set_password(DEMO_PASSWORD)
    user.save()
    return user


def _profile(rng: random.Random, index: int, offset: int) -> dict[str, Any]:
    today = timezone.localdate()
    era, age = rng.choice([("vietnam", 73), ("post_vietnam", 63), ("gulf_war", 54),
                           ("post_911", 39)])
    first = FIRST[(index * 7 + offset) % len(FIRST)]
    return {
        "first_name": first,
        "last_name": LAST[(index * 5 + offset * 3) % len(LAST)],
        "date_of_birth": today - dt.timedelta(days=365 * (age + rng.randint(-5, 5))
                                              + rng.randint(0, 300)),
        "phone": f"+1317555{(index + offset) % 100:02d}{offset % 100:02d}"[:12],
        "email": f"lakeside{offset}-{index}@example.org",
        "city": "Lakeside", "state": "IN", "zip_code": rng.choice(["46140", "46142", "46143"]),
        # The name list alternates men's and women's names.
        "gender": "male" if FIRST.index(first) % 2 == 0 else "female",
        "branch": rng.choice(["army", "navy", "air_force", "marine_corps"]),
        "service_era": era,
        "pain_conditions": rng.sample(["low_back", "neck", "knee_oa", "hip_oa", "shoulder",
                                       "widespread"], k=rng.randint(1, 2)),
        "preferred_contact_modes": ["phone"],
        "preferred_contact_times": rng.sample(["morning", "afternoon", "evening"], k=1),
    }


def load_study_demo() -> None:
    """Add the ECLIPSE-style study site to the demo (inside `load_demo`'s transaction)."""
    if Site.objects.filter(code=STUDY_SITE_CODE).exists():
        return
    rng = random.Random(SEED)  # noqa: S311 - fixed seed: the same demo every time
    site = Site.objects.create(code=STUDY_SITE_CODE, name="Lakeside VA Clinic (demo study)")
    program = Program(site=site, name="Peer coaching trial", **ECLIPSE.program_fields())
    program.full_clean()
    program.save()
    # The coordinator also runs the coaches' training and booster calls here.
    coordinator = _user("study_coordinator", "Jordan", "Coordinator")
    statistician = _user("statistician", "Morgan", "Statistician")
    User = get_user_model()
    researcher = User.objects.filter(username="researcher").first()
    assignments = [RoleAssignment(user=coordinator, role=Role.COORDINATOR, site=site),
                   RoleAssignment(user=statistician, role=Role.STATISTICIAN, site=site)]
    if researcher is not None:
        assignments.append(RoleAssignment(user=researcher, role=Role.RESEARCHER, site=site))
    RoleAssignment.objects.bulk_create(assignments)

    from peercoach.assessments.models import TimePoint
    from peercoach.assessments.services import ensure_time_points

    ensure_time_points(program)
    # Pain and depression at each time point, the same questionnaires each time (ECLIPSE
    # asked more; two keep the demo quick to load and still show more than one outcome).
    TimePoint.objects.filter(program=program).update(instruments=["peg", "phq9"])
    coaches = _coaches(rng, program, coordinator, coordinator)
    study = _study(program, coordinator)
    patients = _patients(rng, program, coordinator, study)
    _supervision(rng, program, coordinator, coaches)
    _baselines(rng, coordinator, patients)
    _pairs_and_contacts(rng, program, coordinator, patients, coaches)
    _follow_ups(rng, coordinator, patients)


# --- Coaches, the study ---------------------------------------------------------------------------


def _coaches(rng: random.Random, program: Program, by: Any, supervisor: Any) -> list[Coach]:
    from peercoach.people import services as people
    from peercoach.training.services import attendance_record, guide_read_record, session_create

    today = timezone.localdate()
    training = session_create(
        program=program, by=supervisor, kind="initial",
        held_on=today - dt.timedelta(days=STARTED_DAYS_AGO + 20), trainer="Jordan Coordinator",
        topics="Pain self-management; the coach's role and its limits; listening; goals; the "
               "crisis steps.", hours=2.5)
    coaches = []
    for i in range(COACHES):
        coach = people.coach_create(program=program, by=by, capacity=rng.choice([1, 2, 2]),
                                    completed_self_management_program=True,
                                    **_profile(rng, i, 60))
        people.screening_record(person=coach, by=by,
                                **{k: v for k, v in SCREEN_OK.items() if k != "back_surgery"})
        people.consent_record(person=coach, by=by, form_version="coach-v1",
                              consented_on=today - dt.timedelta(days=STARTED_DAYS_AGO + 30))
        coaches.append(people.coach_transition(coach=coach, to=CoachStatus.IN_TRAINING, by=by,
                                               reason="Booked on the initial training"))
    attendance_record(session=training, by=supervisor, attended={c.pk: True for c in coaches})
    ready = []
    for coach in coaches:
        guide_read_record(coach=coach, by=by,
                          read_on=today - dt.timedelta(days=STARTED_DAYS_AGO + 10))
        ready.append(people.coach_transition(coach=coach, to=CoachStatus.ACTIVE, by=by,
                                             reason="Finished the initial training"))
    return ready


def _study(program: Program, by: Any) -> Any:
    from peercoach.research.models import Study
    from peercoach.research.services import study_create

    study = study_create(
        program=program, by=by, title="Peer coaching versus a one-time class (demo)",
        description="An invented ECLIPSE-style trial for the demo: peer coaching (12 "
                    "contacts over 6 months) against a one-time 2-hour pain "
                    "self-management class, allocated 5:4.",
        block_sizes=[9, 18], strata=["gender"], time_points=["baseline", "6mo", "9mo"],
        arms=[{"name": "Peer coaching", "code": "coaching", "ratio": 5, "target_size": 120,
               "description": "A trained veteran peer coach: 12 contacts over 6 months."},
              {"name": "Self-management class", "code": "class", "kind": "control",
               "ratio": 4, "target_size": 95,
               "description": ECLIPSE.control_arm_offer}],
        start=True, seed=SEED)
    started = timezone.now() - dt.timedelta(days=STARTED_DAYS_AGO)
    Study.objects.filter(pk=study.pk).update(started_at=started)
    study.started_at = started
    return study


# --- Patients: referral to randomization ---------------------------------------------------------


class Enrolled:
    """A randomized patient and what happens to them in the demo."""

    def __init__(self, patient: Patient, arm: str, enrolled_on: dt.date, fate: str) -> None:
        self.patient = patient
        self.arm = arm
        self.enrolled_on = enrolled_on
        #: "stays", "withdrawn" or "lost".
        self.fate = fate
        self.match: Any = None
        #: When the pair ends (or ended): 6 months on, earlier for those who leave.
        self.ends: dt.date | None = None
        self.reached = 0
        self.coach_effect = 0.0
        #: Severity at baseline, 0 (none) to 1 (worst), for the invented answers.
        self.level = 0.5


def _patients(rng: random.Random, program: Program, by: Any, study: Any) -> list[Enrolled]:
    from peercoach.people import services as people
    from peercoach.people.models import Screening
    from peercoach.research.services import randomize

    today = timezone.localdate()
    start = today - dt.timedelta(days=STARTED_DAYS_AGO - 5)
    span = STARTED_DAYS_AGO - 25
    plan = (["not_eligible"] * NOT_ELIGIBLE + ["declined"] * DECLINED
            + ["left"] * CONSENTED_THEN_LEFT)
    plan += ["randomized"] * (PATIENTS - len(plan) - AWAITING_CONSENT)
    rng.shuffle(plan)
    plan += ["awaiting"] * AWAITING_CONSENT  # the latest referrals
    randomized: list[Enrolled] = []
    screened: list[tuple[int, dt.datetime]] = []
    fates = ["withdrawn", "lost", "withdrawn", "lost", "withdrawn"]
    for i, path in enumerate(plan):
        referred = start + dt.timedelta(days=round(span * i / PATIENTS))
        patient = people.referral_create(
            program=program, by=by, source="clinician" if i % 3 else "self",
            referring_clinician_name="Dr. Rivera (primary care)" if i % 3 else "",
            referred_on=referred, referral_reason="Chronic pain; interested in the study.",
            **_profile(rng, i, 0))
        answers = dict(SCREEN_OK)
        if path == "not_eligible":
            answers.update(REASONS[i % len(REASONS)])
        people.screening_record(person=patient, by=by, **answers)
        screened.append((patient.pk, timezone.make_aware(
            dt.datetime.combine(referred + dt.timedelta(days=3), dt.time(10)))))
        if path == "not_eligible" or path == "awaiting":
            continue
        if path == "declined":
            people.patient_transition(patient=patient, to=PatientStatus.WITHDRAWN, by=by,
                                      reason="Declined to take part")
            continue
        people.consent_record(person=patient, by=by, form_version="study-v1",
                              consented_on=min(referred + dt.timedelta(days=7), today))
        if path == "left":
            people.patient_transition(patient=patient, to=PatientStatus.WITHDRAWN, by=by,
                                      reason="Moved away before the study started")
            continue
        patient = people.patient_transition(patient=patient, to=PatientStatus.ENROLLED, by=by,
                                            reason="Baseline visit done")
        allocation = randomize(patient=patient, by=by, study=study)
        enrolled = min(referred + dt.timedelta(days=10), today)
        Patient.objects.filter(pk=patient.pk).update(enrolled_on=enrolled)
        patient.enrolled_on = enrolled
        fate = "stays"
        if len(randomized) % 14 == 5:
            fate = fates[(len(randomized) // 14) % len(fates)]
        randomized.append(Enrolled(patient, allocation.arm.code, enrolled, fate))
    # Screened on the day after referral, not at load time.
    for pk, at in screened:
        Screening.objects.filter(patient_id=pk).update(screened_at=at)
    return randomized


# --- Supervision, pairs and contacts -------------------------------------------------------------


def _supervision(rng: random.Random, program: Program, supervisor: Any,
                 coaches: list[Coach]) -> None:
    """Monthly booster calls for the coaches (ECLIPSE), about 70% attendance."""
    import zoneinfo

    from peercoach.supervision.models import SessionAttendance, SupervisionSession

    zone = zoneinfo.ZoneInfo(program.site.timezone)
    today = timezone.localdate()
    sessions = SupervisionSession.objects.bulk_create([
        SupervisionSession(kind="group", program=program, supervisor=supervisor,
                           created_by=supervisor, duration_minutes=60,
                           dial_in="1-555-0101, access code 2468",
                           notes="Monthly booster: a section of the manual and questions.",
                           starts_at=dt.datetime.combine(
                               today - dt.timedelta(days=STARTED_DAYS_AGO - 30 * k),
                               dt.time(18, 0), tzinfo=zone))
        for k in range(STARTED_DAYS_AGO // 30)])
    reliable = {c.pk: rng.uniform(0.45, 0.95) for c in coaches}
    SessionAttendance.objects.bulk_create([
        SessionAttendance(session=s, coach=c, attended=rng.random() < reliable[c.pk],
                          recorded_by=supervisor) for s in sessions for c in coaches])


def _dose(rng: random.Random) -> int:
    """Reached contacts planned for a coached patient: low adherence, as in ECLIPSE
    (13% reached the 12 the protocol asked for)."""
    return rng.choices(range(13), weights=[4, 6, 7, 8, 9, 10, 10, 9, 8, 7, 6, 4, 9])[0]


def _pairs_and_contacts(rng: random.Random, program: Program, by: Any,
                        patients: list[Enrolled], coaches: list[Coach]) -> None:
    """Pairs in enrolment order; a pair that has ended by the next one's start frees its
    coach first (the patient completes, withdraws or is lost), so capacities hold."""
    from peercoach.coaching.models import Contact, PlannedContact
    from peercoach.coaching.services import NewGoal, goal_create
    from peercoach.matching.models import Match
    from peercoach.matching.services import match_create_manual
    from peercoach.people import services as people

    today = timezone.localdate()
    # Some coaches do better than others (IMPPRESS: ICC 0.28 to 0.56).
    effects = {c.pk: rng.gauss(0, 0.035) for c in coaches}
    current: dict[int, int] = {c.pk: 0 for c in coaches}
    running: list[Enrolled] = []
    contacts: list[Contact] = []
    links: list[tuple[int, int]] = []  # (planned contact id, index into contacts)

    def leave(item: Enrolled) -> None:
        if item.fate == "withdrawn":
            to, reason = PatientStatus.WITHDRAWN, "Too much going on at home"
        elif item.fate == "lost":
            to, reason = PatientStatus.LOST, "No answer to calls or letters for 6 weeks"
        else:
            to, reason = PatientStatus.COMPLETED, "Finished the 6 months of coaching"
        people.patient_transition(patient=item.patient, to=to, by=by, reason=reason)
        Match.objects.filter(pk=item.match.pk).update(ended_on=item.ends)
        current[item.match.coach_id] -= 1

    def end_until(day: dt.date) -> None:
        for item in sorted(running, key=lambda e: e.ends or today):
            if item.ends is not None and item.ends <= day:
                leave(item)
                running.remove(item)

    coached = sorted((e for e in patients if e.arm == "coaching"), key=lambda e: e.enrolled_on)
    for index, item in enumerate(coached):
        start = item.enrolled_on + dt.timedelta(days=7)
        if start > today or index % 25 == 24:
            continue  # not paired yet (a new patient, or no coach with room that week)
        end_until(start)
        free = [c for c in coaches if current[c.pk] < (c.capacity or 1)]
        if not free:
            continue
        coach = free[index % len(free)]
        item.match = match_create_manual(patient=item.patient, coach=coach, by=by,
                                         started_on=start)
        current[coach.pk] += 1
        item.coach_effect = effects[coach.pk]
        item.patient = people.patient_transition(patient=item.patient, to=PatientStatus.ACTIVE,
                                                 by=by, reason="First contact with coach")
        item.ends = start + dt.timedelta(days=program.program_length_days
                                         if item.fate == "stays" else rng.randint(30, 120))
        running.append(item)
        slots = list(PlannedContact.objects.filter(plan__patient=item.patient)
                     .order_by("number"))
        chosen = sorted(rng.sample(range(len(slots)), k=min(_dose(rng), len(slots))))
        for number in chosen:
            slot = slots[number]
            if rng.random() < 0.2:  # late: just after the window closed
                day = slot.window_end + dt.timedelta(days=rng.randint(1, 3))
            else:
                day = slot.due_on + dt.timedelta(days=rng.randint(-3, 3))
            if day >= min(today, item.ends):
                break
            at = dt.datetime.combine(day, dt.time(rng.randint(9, 19), 0),
                                     tzinfo=timezone.get_current_timezone())
            if rng.random() < 0.3:  # a missed call first
                contacts.append(Contact(patient=item.patient, coach=coach, match=item.match,
                                        occurred_at=at - dt.timedelta(days=1), mode="phone",
                                        outcome="no_answer", logged_by=by))
            covered = {SECTIONS[min(number, len(SECTIONS) - 1)]}
            if rng.random() < 0.3:
                covered.add(SECTIONS[rng.randrange(len(SECTIONS))])
            contacts.append(Contact(
                patient=item.patient, coach=coach, match=item.match, occurred_at=at,
                mode=rng.choice(["phone", "phone", "in_person"]), outcome="reached",
                duration_minutes=rng.randint(15, 50), sections=sorted(covered),
                curriculum_percent=rng.choice([25, 50, 50, 75, 75, 100]),
                pain_today=rng.randint(2, 8), logged_by=by))
            links.append((slot.pk, len(contacts) - 1))
            item.reached += 1
    end_until(today)
    Contact.objects.bulk_create(contacts)
    # Each reached contact fulfils its planned contact, as the contact log would.
    for planned_id, position in links:
        PlannedContact.objects.filter(pk=planned_id).update(status="done",
                                                            contact=contacts[position])
    walk = NewGoal(text="Walk to the end of the street after lunch", section="activity-pacing",
                   what="Walk to the end of the street", how_much="10 minutes",
                   when="After lunch", how_often="5 days a week", confidence=8)
    first_reached = {c.patient_id: c for c in reversed(contacts) if c.outcome == "reached"}
    for item in coached:
        contact = first_reached.get(item.patient.pk)
        if contact is not None and rng.random() < 0.6:
            goal = goal_create(patient=item.patient, by=by, data=walk, set_in=contact)
            type(goal).objects.filter(pk=goal.pk).update(created_at=contact.occurred_at)
    # Control patients who leave: some withdraw, some stop answering.
    for item in patients:
        if item.arm == "coaching" or item.fate == "stays":
            continue
        if item.enrolled_on + dt.timedelta(days=60) <= today:
            to = PatientStatus.WITHDRAWN if item.fate == "withdrawn" else PatientStatus.LOST
            people.patient_transition(
                patient=item.patient, to=to, by=by,
                reason="Did not want the follow-up calls" if to == PatientStatus.WITHDRAWN
                else "No answer to calls or letters")


# --- Questionnaires ------------------------------------------------------------------------------


def _baselines(rng: random.Random, by: Any, patients: list[Enrolled]) -> None:
    """Everyone answered the baseline questionnaires at enrolment, before any coaching."""
    from peercoach.assessments.services import schedule_patient
    from peercoach.demo.assessments import answer_due

    for item in patients:
        patient = Patient.objects.select_related("program").get(pk=item.patient.pk)
        schedule_patient(patient)  # re-time the windows to the enrolment date
        item.level = rng.uniform(0.45, 0.8)
        answer_due(patient, by=by, rng=rng, level=item.level, time_point_keys=("baseline",))


def _follow_ups(rng: random.Random, by: Any, patients: list[Enrolled]) -> None:
    """6 and 9 months for most of those far enough along (withdrawn patients are not asked).
    Coached patients improve a little more, and more with more contacts (invented)."""
    from peercoach.assessments.models import Assessment, AssessmentStatus
    from peercoach.assessments.services import mark_missed
    from peercoach.demo.assessments import answer_due

    today = timezone.localdate()
    for item in patients:
        gain = rng.gauss(0.04, 0.05)
        if item.arm == "coaching":
            gain += 0.02 + 0.008 * item.reached + item.coach_effect
        for key, day, answers in (("6mo", 180, 0.85), ("9mo", 270, 0.8)):
            opens = item.enrolled_on + dt.timedelta(days=day - 14)
            if opens > today - dt.timedelta(days=3) or rng.random() > answers:
                continue
            drift = 0.0 if key == "6mo" else rng.gauss(-0.01, 0.02)
            answer_due(item.patient, by=by, rng=rng,
                       level=max(0.05, item.level - gain - drift), time_point_keys=(key,))
    # Windows that closed without answers are recorded as missed (kept for CONSORT).
    closed = Assessment.objects.filter(
        patient_id__in=[e.patient.pk for e in patients],
        status__in=(AssessmentStatus.DUE, AssessmentStatus.IN_PROGRESS), closes_on__lt=today)
    for assessment in closed:
        mark_missed(assessment=assessment, by=by, reason="No answer in the window")
