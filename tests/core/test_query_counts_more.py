"""Query counts of the matching, training, staff, audit and program pages and API lists.

Same method as test_query_counts.py: measured with n rows, then 3n; the count must be
the pinned number both times, and the page must really show more rows the second time.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from peercoach.core import audit
from peercoach.core.models import Role, RoleAssignment
from peercoach.matching.proposals import proposal_propose
from peercoach.people.lifecycle import PatientStatus
from peercoach.training.models import Attendance
from peercoach.training.services import session_create

from ..factories import CoachFactory, PatientFactory, UserFactory, staff

N = 3


def _waiting_and_coaches(world: Any, n: int) -> None:
    for _ in range(n):
        PatientFactory(program=world.program_a, status=PatientStatus.ENROLLED)
        CoachFactory(program=world.program_a, capacity=1)


def _sessions(world: Any, n: int) -> None:
    for i in range(n):
        session = session_create(program=world.program_a, by=world.supervisor, kind="booster",
                                 held_on=dt.date(2026, 3, 1 + i % 28), trainer="T",
                                 topics="x", hours=1)
        Attendance.objects.create(session=session, coach=world.coach, attended=True,
                                  recorded_by=world.supervisor)


def _coaches(world: Any, n: int) -> None:
    for _ in range(n):
        CoachFactory(program=world.program_a)


def _staff(world: Any, n: int) -> None:
    for _ in range(n):
        staff(Role.COORDINATOR, world.site_a)


def _audit(world: Any, n: int) -> None:
    for _ in range(n):
        audit.record_view(UserFactory(), world.patient)


def _programs(world: Any, n: int) -> None:
    from ..factories import ProgramFactory

    for _ in range(n):
        ProgramFactory(site=world.site_a)


def _propose(world: Any) -> None:
    proposal_propose(program=world.program_a, by=world.coordinator)


def _count(response: Any) -> int:
    if response["Content-Type"].startswith("application/json"):
        return len(response.json()["results"])
    context = response.context
    for key in ("pairs", "sessions", "rows", "programs", "contacts", "studies", "deliveries"):
        if context.get(key) is not None:
            return len(context[key])
    return len(context["page"].object_list)


#: (name, url builder, role, grow, after-grow hook, pinned queries)
CASES: list[tuple[str, Callable[[Any], str], str, Callable[[Any, int], None],
                  Callable[[Any], None] | None, int]] = [
    ("matching", lambda w: f"/matching/programs/{w.program_a.pk}/", "coordinator",
     # 18: one is "does a study recruit here?" (nobody is paired before randomization).
     _waiting_and_coaches, _propose, 18),
    ("training", lambda w: "/training/", "supervisor", _sessions, None, 9),
    ("session", lambda w: "/training/sessions/{session}/", "supervisor", _coaches, None, 8),
    ("staff", lambda w: "/staff/", "site_admin", _staff, None, 9),
    ("audit", lambda w: "/audit/", "site_admin", _audit, None, 7),
    ("programs", lambda w: "/programs/", "coordinator", _programs, None, 6),
    ("api-proposals", lambda w: "/api/v1/match-proposals/", "coordinator",
     _waiting_and_coaches, _propose, 10),
    ("api-matches", lambda w: "/api/v1/matches/", "coordinator", _waiting_and_coaches,
     lambda w: _confirm(w), 8),
    ("api-contacts", lambda w: "/api/v1/contacts/", "coach",
     lambda w, n: _contacts(w, n), None, 8),
    ("api-goals", lambda w: "/api/v1/goals/", "coach",
     lambda w, n: _contacts(w, n), None, 8),
    ("api-plans", lambda w: "/api/v1/contact-plans/", "coordinator",
     lambda w, n: _patients_with_plans(w, n), None, 9),
    ("api-manual-progress", lambda w: "/api/v1/manual-progress/", "coordinator",
     lambda w, n: _patients_with_plans(w, n), None, 9),
    ("caseload", lambda w: "/coaching/caseload/", "coach",
     lambda w, n: _patients_with_plans(w, n), None, 8),
    # One narrow query orders every pair (quietest first), then facts for the page only.
    ("pairs", lambda w: "/coaching/pairs/", "coordinator",
     lambda w, n: _patients_with_plans(w, n), None, 9),
    ("plan-page", lambda w: f"/coaching/patients/{w.patient.pk}/", "coordinator",
     lambda w, n: _contacts(w, n), None, 13),
    ("supervision-calls", lambda w: "/supervision/calls/", "coach",
     lambda w, n: _supervision_calls(w, n), None, 8),
    ("supervision-calls-staff", lambda w: "/supervision/calls/", "supervisor",
     lambda w, n: _supervision_calls(w, n), None, 8),
    ("supervision-tips", lambda w: "/supervision/tips/", "coach",
     lambda w, n: _tips(w, n), None, 8),
    ("supervision-wellbeing", lambda w: "/supervision/wellbeing/", "supervisor",
     lambda w, n: _wellbeing(w, n), None, 6),
    ("api-alerts", lambda w: "/api/v1/alerts/", "supervisor",
     lambda w, n: _help_requests(w, n), None, 8),
    ("api-safety-events", lambda w: "/api/v1/safety-events/", "supervisor",
     lambda w, n: _safety_events(w, n), None, 8),
    ("api-supervision-sessions", lambda w: "/api/v1/supervision-sessions/", "supervisor",
     lambda w, n: _supervision_calls(w, n), None, 9),
    ("api-supervision-sessions-coach", lambda w: "/api/v1/supervision-sessions/", "coach",
     lambda w, n: _supervision_calls(w, n), None, 9),
    ("api-tips", lambda w: "/api/v1/tips/", "coach", lambda w, n: _tips(w, n), None, 8),
    ("api-wellbeing-checks", lambda w: "/api/v1/wellbeing-checks/", "supervisor",
     lambda w, n: _wellbeing(w, n), None, 8),
    ("notifications-failed", lambda w: "/notifications/failed/", "supervisor",
     lambda w, n: _failed_deliveries(w, n), None, 6),
    ("studies", lambda w: "/studies/", "coordinator", lambda w, n: _studies(w, n), None, 7),
    ("allocations", lambda w: f"/studies/{_study(w).pk}/allocations/", "coordinator",
     lambda w, n: _randomized(w, n), None, 9),
    ("allocations-researcher", lambda w: f"/studies/{_study(w).pk}/allocations/",
     "researcher", lambda w, n: _randomized(w, n), None, 9),
    ("api-studies", lambda w: "/api/v1/studies/", "coordinator",
     lambda w, n: _studies(w, n), None, 9),
    ("api-allocations", lambda w: "/api/v1/allocations/", "coordinator",
     lambda w, n: _randomized(w, n), None, 8),
    ("api-study-arms", lambda w: "/api/v1/study-arms/", "supervisor",
     lambda w, n: _studies(w, n), None, 8),
    # The API lists added with assessments, sites and programs, training, the trail, and
    # the delivery log.
    ("api-assessments", lambda w: "/api/v1/assessments/", "coordinator",
     lambda w, n: _questionnaires(w, n), None, 8),
    ("api-assessment-responses", lambda w: "/api/v1/assessment-responses/", "coordinator",
     lambda w, n: _questionnaires(w, n), None, 8),
    ("api-external-scores", lambda w: "/api/v1/external-scores/", "coordinator",
     lambda w, n: _external_scores(w, n), None, 8),
    ("api-time-points", lambda w: "/api/v1/time-points/", "coordinator",
     lambda w, n: _time_points(w, n), None, 8),
    ("api-sites", lambda w: "/api/v1/sites/", "coordinator", lambda w, n: _sites(w, n), None,
     8),
    ("api-programs", lambda w: "/api/v1/programs/", "coordinator",
     lambda w, n: _programs(w, n), None, 8),
    ("api-training-sessions", lambda w: "/api/v1/training-sessions/", "supervisor",
     lambda w, n: _sessions(w, n), None, 9),
    ("api-audit-events", lambda w: "/api/v1/audit-events/", "site_admin",
     lambda w, n: _audit_views(w, n), None, 8),
    ("api-export-jobs", lambda w: "/api/v1/export-jobs/", "researcher",
     lambda w, n: _export_jobs(w, n), None, 8),
    ("api-supervision-schedules", lambda w: "/api/v1/supervision-schedules/", "supervisor",
     lambda w, n: _group_schedules(w, n), None, 8),
    ("api-deliveries", lambda w: "/api/v1/deliveries/", "supervisor",
     lambda w, n: _failed_deliveries(w, n), None, 8),
    # Questionnaires: one patient's page (staff), the patient's own list, time points.
    ("assessments-patient", lambda w: f"/assessments/patients/{w.patient.pk}/",
     "coordinator", lambda w, n: _questionnaires(w, n), None, 13),
    ("assessments-mine", lambda w: "/assessments/me/", "patient",
     lambda w, n: _questionnaires(w, n), None, 7),
    ("assessments-time-points", lambda w: f"/assessments/programs/{w.program_a.pk}/time-points/",
     "coordinator", lambda w, n: _time_points(w, n), None, 8),
    # The export jobs page: the form's programs and studies, then the user's jobs.
    ("exports", lambda w: "/studies/exports/", "researcher",
     lambda w, n: _export_jobs(w, n), None, 8),
]


def _failed_deliveries(world: Any, n: int) -> None:
    """n failed messages to users (some retried once) and n reminders not sent to
    patients without a login."""
    from django.utils import timezone

    from peercoach.notifications.models import Notification

    now = timezone.now()
    for _ in range(n):
        user = UserFactory()
        Notification.objects.create(
            recipient=user, site=world.site_a, channel="email", address="a@example.org",
            template_key="coach_contact_due", body="x", status="failed", attempts=6,
            idempotency_key=f"qc:{user.pk}", due_at=now, last_error="SMTP refused",
            retried_by=world.supervisor if user.pk % 2 else None, retried_at=now)
        patient = PatientFactory(program=world.program_a)
        Notification.objects.create(
            patient=patient, site=world.site_a, template_key="patient_contact_planned",
            body="x", status="not_sent", idempotency_key=f"qc:p{patient.pk}", due_at=now,
            last_error="Not sent: no phone")


def _contacts(world: Any, n: int) -> None:
    """n more contacts and goals for the world's patient (with a plan)."""
    from django.utils import timezone

    from peercoach.coaching.models import Contact, ContactPlan, Goal
    from peercoach.coaching.plans import plan_for_pair

    if not ContactPlan.objects.filter(patient=world.patient).exists():
        plan_for_pair(patient=world.patient, started_on=dt.date(2026, 2, 1),
                      by=world.coordinator)
    match = world.patient.matches.get(ended_on__isnull=True)
    for _ in range(n):
        Contact.objects.create(patient=world.patient, coach=world.coach, match=match,
                               occurred_at=timezone.now(), mode="phone", outcome="reached",
                               duration_minutes=10, curriculum_percent=50,
                               sections=["introduction"], logged_by=world.coach_user)
        Goal.objects.create(patient=world.patient, text="Walk", section="introduction",
                            what="w", how_much="h", when="w", how_often="o", confidence=8,
                            created_by=world.coach_user)


def _patients_with_plans(world: Any, n: int) -> None:
    from peercoach.coaching.plans import plan_for_pair

    from ..factories import pair

    for _ in range(n):
        patient = PatientFactory(program=world.program_a)
        pair(patient, world.coach, world.coordinator)
        plan_for_pair(patient=patient, started_on=dt.date(2026, 2, 1), by=world.coordinator)


def _supervision_calls(world: Any, n: int) -> None:
    """n past group calls with attendance and a tip each, and n check-ins of the coach."""
    from django.utils import timezone

    from peercoach.supervision import session_services as sv

    for i in range(n):
        when = timezone.now() - dt.timedelta(days=3 + i)
        call = sv.session_create(program=world.program_a, by=world.supervisor, kind="group",
                                 starts_at=when, supervisor=world.supervisor)
        sv.attendance_record(session=call, by=world.supervisor,
                             attended={world.coach.pk: True, world.other_coach.pk: False})
        sv.tip_share(program=world.program_a, by=world.coach_user, text="tip",
                     author_coach=world.coach, session=call)
        sv.session_create(program=world.program_a, by=world.supervisor, kind="individual",
                          coach=world.coach, starts_at=when, supervisor=world.supervisor)


def _tips(world: Any, n: int) -> None:
    from peercoach.supervision import session_services as sv

    for _ in range(n):
        coach = CoachFactory(program=world.program_a, user=UserFactory())
        sv.tip_share(program=world.program_a, by=coach.user, text="tip", author_coach=coach)
        sv.tip_share(program=world.program_a, by=world.supervisor, text="staff tip")


def _wellbeing(world: Any, n: int) -> None:
    from peercoach.supervision import session_services as sv

    for _ in range(n):
        coach = CoachFactory(program=world.program_a)
        for pain in (3, 5):
            sv.wellbeing_record(coach=coach, by=world.supervisor, pain=pain, stress=4, mood=6)


def _help_requests(world: Any, n: int) -> None:
    from peercoach.supervision import services as sv

    for _ in range(n):
        sv.help_request(coach=CoachFactory(program=world.program_a), by=world.coach_user,
                        message="help")


def _safety_events(world: Any, n: int) -> None:
    from peercoach.supervision import services as sv

    for _ in range(n):
        sv.safety_event_raise(person=PatientFactory(program=world.program_a),
                              by=world.coach_user, source="contact", summary="x",
                              crisis_steps_shown=True)


def _study(world: Any) -> Any:
    """The recruiting study of program A (made on first use)."""
    from peercoach.research.models import Study

    from ..factories import two_arm_study

    return (Study.objects.filter(program=world.program_a).first()
            or two_arm_study(world.program_a, world.coordinator, strata=("gender",)))


def _studies(world: Any, n: int) -> None:
    from ..factories import ProgramFactory, two_arm_study

    for _ in range(n):
        two_arm_study(ProgramFactory(site=world.site_a), world.coordinator)


def _randomized(world: Any, n: int) -> None:
    from peercoach.research.services import randomize

    from ..factories import eligible_patient

    for i in range(n):
        randomize(patient=eligible_patient(world.program_a,
                                           gender="female" if i % 2 else "male"),
                  by=world.coordinator, study=_study(world))


def _export_jobs(world: Any, n: int) -> None:
    """n finished exports of the researcher's, of a program and of a study."""
    from django.utils import timezone

    from peercoach.research.exports.models import ExportJob

    study = _study(world)
    for i in range(n):
        ExportJob.objects.create(format="csv", requested_by=world.researcher, status="done",
                                 kind="study" if i % 2 else "program", study=study if i % 2
                                 else None, program=None if i % 2 else world.program_a,
                                 file_name=f"x{i}.zip", finished_at=timezone.now())


def _confirm(world: Any) -> None:
    from peercoach.matching.proposals import proposal_confirm

    proposal_confirm(proposal=proposal_propose(program=world.program_a, by=world.coordinator),
                     by=world.coordinator)


def _group_schedules(world: Any, n: int) -> None:
    from peercoach.supervision.models import GroupSchedule

    for i in range(n):
        GroupSchedule.objects.create(program=world.program_a, weekday=i % 7,
                                     time=dt.time(18, 0), starts_on=dt.date(2026, 3, 3),
                                     supervisor=world.supervisor, created_by=world.supervisor)


def _external_scores(world: Any, n: int) -> None:
    from peercoach.assessments.models import ExternalScore

    for i in range(n):
        ExternalScore.objects.create(patient=world.patient, instrument="pam", score=50 + i,
                                     level=2, measured_on=dt.date(2026, 3, 1), source="Vendor",
                                     recorded_by=world.coordinator)


def _sites(world: Any, n: int) -> None:
    from ..factories import SiteFactory

    for _ in range(n):
        RoleAssignment.objects.create(user=world.coordinator, role=Role.COORDINATOR,
                                      site=SiteFactory())


def _audit_views(world: Any, n: int) -> None:
    for _ in range(n):
        audit.record_view(world.coordinator, world.patient)


def _questionnaires(world: Any, n: int) -> None:
    """n sent-in PEGs (with a version), n open PHQ-9s and n licensed BPIs not loaded."""
    from ..factories import answer_all, open_assessment

    for _ in range(n):
        answer_all(open_assessment(world.patient, "peg"), {1: 5, 2: 5, 3: 5},
                   by=world.patient_user)
        open_assessment(world.patient, "phq9")
        open_assessment(world.patient, "bpi_severity")


def _time_points(world: Any, n: int) -> None:
    from peercoach.assessments.models import TimePoint

    start = TimePoint.objects.filter(program=world.program_a).count()
    for i in range(start, start + n):
        TimePoint.objects.create(program=world.program_a, key=f"tp{i}", label=f"Point {i}",
                                 day=30 * (i + 1), instruments=["peg", "phq9", "bpi_severity"])


@pytest.mark.parametrize(("name", "url", "role", "grow", "after", "queries"), CASES,
                         ids=[c[0] for c in CASES])
def test_query_count_is_pinned_and_constant(world: Any, django_assert_num_queries: Any,
                                            name: str, url: Any, role: str, grow: Any,
                                            after: Any, queries: int) -> None:
    client = Client()
    client.force_login(world.users()[role])
    target = url(world)
    if "{session}" in target:
        session = session_create(program=world.program_a, by=world.supervisor,
                                 kind="initial", held_on=dt.date(2026, 2, 1), trainer="T",
                                 topics="x", hours=3)
        target = target.format(session=session.pk)
    measured = []
    for step in (N, 2 * N):
        grow(world, step)
        if after:
            after(world)
        with django_assert_num_queries(queries):
            response = client.get(target)
        assert response.status_code == 200
        measured.append(_count(response))
    assert measured[1] > measured[0], "the page did not show more rows the second time"


def test_patient_home_is_constant_as_goals_and_check_ins_grow(world: Any,
                                                              django_assert_num_queries: Any
                                                              ) -> None:
    from django.utils import timezone

    from peercoach.coaching.models import Contact, Goal, GoalCheckIn, PainCheckIn
    from peercoach.coaching.plans import plan_for_pair

    plan_for_pair(patient=world.patient, started_on=dt.date(2026, 2, 1), by=world.coordinator)
    match = world.patient.matches.get(ended_on__isnull=True)
    client = Client()
    client.force_login(world.patient_user)

    def grow(n: int) -> None:
        for _ in range(n):
            goal = Goal.objects.create(patient=world.patient, text="Walk", section="introduction",
                                       what="w", how_much="h", when="w", how_often="o",
                                       confidence=8, created_by=world.coach_user)
            contact = Contact.objects.create(
                patient=world.patient, coach=world.coach, match=match, occurred_at=timezone.now(),
                mode="phone", outcome="reached", duration_minutes=10, curriculum_percent=50,
                sections=["introduction"], logged_by=world.coach_user)
            GoalCheckIn.objects.create(goal=goal, contact=contact, progress="some")
            PainCheckIn.objects.create(patient=world.patient, at=timezone.now(), pain=5,
                                       peg_pain=5, peg_enjoyment=5, peg_activity=5)

    shown = []
    for n in (N, 2 * N):
        grow(n)
        # One more than the home page in test_query_counts.py: this patient has a plan,
        # so the next planned contact is looked up too. (14 since the questionnaires
        # to fill in head the page: one query.)
        with django_assert_num_queries(14):
            response = client.get("/")
        shown.append(len(response.context["goals"]))
    assert shown[1] > shown[0]


def test_supervision_dashboard_is_constant(world: Any, django_assert_num_queries: Any) -> None:
    from peercoach.supervision import services

    client = Client()
    client.force_login(world.supervisor)
    shown = []
    for n in (N, 2 * N):
        for _ in range(n):
            services.safety_event_raise(person=world.patient, by=world.coach_user,
                                        source="contact", summary="x", crisis_steps_shown=True)
            services.help_request(coach=world.coach, by=world.coach_user, message="help")
            CoachFactory(program=world.program_a)
        with django_assert_num_queries(QUERIES_DASHBOARD):
            response = client.get("/supervision/")
        shown.append(len(response.context["events"]) + len(response.context["help_requests"])
                     + len(response.context["coaches"]))
    assert shown[1] > shown[0]


QUERIES_DASHBOARD = 9


# --- Results pages (assessments): trajectory, outcome report, clinician summary -----------


def _grow_trajectory(world: Any, n: int) -> None:
    """n more PEG questionnaires, check-ins, rated contacts and PHQ-9s for the patient."""
    from django.utils import timezone

    from peercoach.coaching.models import Contact, PainCheckIn

    from ..factories import submitted_assessment

    match = world.patient.matches.get(ended_on__isnull=True)
    for _ in range(n):
        now = timezone.now()
        submitted_assessment(world.patient, "peg", 5.0, at=now)
        submitted_assessment(world.patient, "phq9", 7, at=now, band="Mild")
        PainCheckIn.objects.create(patient=world.patient, at=now, pain=5, peg_pain=5,
                                   peg_enjoyment=4, peg_activity=6)
        Contact.objects.create(patient=world.patient, coach=world.coach, match=match,
                               occurred_at=now, mode="phone", outcome="reached",
                               pain_today=4, logged_by=world.coach_user)


# Staff with ASSESSMENT_VIEW: two more (may they see questionnaires here; PAM scores).
@pytest.mark.parametrize(("role", "queries"), [("coordinator", 12), ("coach", 10)])
def test_trajectory_is_constant(world: Any, django_assert_num_queries: Any, role: str,
                                queries: int) -> None:
    client = Client()
    client.force_login(world.users()[role])
    shown = []
    for n in (N, 2 * N):  # N, then 3N in all
        _grow_trajectory(world, n)
        with django_assert_num_queries(queries):
            response = client.get(f"/assessments/patients/{world.patient.pk}/trajectory/")
        assert response.status_code == 200
        shown.append(len(response.context["rows"]) + len(response.context["trajectory"].others))
    assert shown[1] > shown[0]


def test_my_trajectory_is_constant(world: Any, django_assert_num_queries: Any) -> None:
    client = Client()
    client.force_login(world.patient_user)
    shown = []
    for n in (N, 2 * N):
        _grow_trajectory(world, n)
        with django_assert_num_queries(QUERIES_MY_TRAJECTORY):
            response = client.get("/assessments/me/trajectory/")
        shown.append(len(response.context["rows"]))
    assert shown[1] > shown[0]


def _grow_outcomes(world: Any, n: int) -> None:
    """n more patients with baseline and 4-month PEG, each with a coach of their own."""
    from peercoach.matching.models import Match

    from ..factories import submitted_assessment, time_point

    base, four = time_point(world.program_a, "baseline", 0), time_point(world.program_a,
                                                                         "4mo", 120)
    for i in range(n):
        patient = PatientFactory(program=world.program_a, enrolled_on=dt.date(2026, 2, 1))
        submitted_assessment(patient, "peg", 7.0, point=base)
        submitted_assessment(patient, "peg", 5.0 + i % 3, point=four)
        Match.objects.create(patient=patient, coach=CoachFactory(program=world.program_a),
                             created_by=world.coordinator, started_on=dt.date(2026, 2, 1))


def test_outcome_report_is_constant(world: Any, django_assert_num_queries: Any) -> None:
    """Set-based: one values() of totals, one of the pair history, one of coach names."""
    client = Client()
    client.force_login(world.researcher)
    shown = []
    for n in (N, 2 * N):
        _grow_outcomes(world, n)
        with django_assert_num_queries(QUERIES_OUTCOMES):
            response = client.get("/assessments/outcomes/?group_by=coach")
        assert response.status_code == 200
        shown.append(len(response.context["rows"]))
    assert shown[1] > shown[0]


def test_clinician_summary_is_constant(world: Any, django_assert_num_queries: Any) -> None:
    from django.utils import timezone

    from peercoach.coaching.models import Goal
    from peercoach.coaching.plans import plan_for_pair
    from peercoach.supervision.models import SafetyEvent

    plan_for_pair(patient=world.patient, started_on=dt.date(2026, 2, 1), by=world.coordinator)
    client = Client()
    client.force_login(world.clinician)
    shown = []
    for n in (N, 2 * N):
        _grow_trajectory(world, n)
        for _ in range(n):
            Goal.objects.create(patient=world.patient, text="Walk", section="introduction",
                                what="w", how_much="h", when="w", how_often="o",
                                confidence=8, created_by=world.coach_user)
            SafetyEvent.objects.create(patient=world.patient, site=world.site_a,
                                       source="contact", summary="x",
                                       raised_by=world.coach_user, raised_at=timezone.now())
        with django_assert_num_queries(QUERIES_SUMMARY):
            response = client.get(f"/assessments/patients/{world.patient.pk}/summary/")
        assert response.status_code == 200
        shown.append(len(response.context["summary"].goals)
                     + len(response.context["summary"].safety))
    assert shown[1] > shown[0]


QUERIES_MY_TRAJECTORY = 10
QUERIES_OUTCOMES = 13
QUERIES_SUMMARY = 14


# --- A study's reports (research/report_views.py) --------------------------------------------


def _report_study(world: Any) -> Any:
    """A recruiting two-arm study on program A (made once)."""
    from peercoach.research.models import Study

    from ..factories import time_point, two_arm_study

    found = Study.objects.filter(program=world.program_a).first()
    if found is None:
        time_point(world.program_a, "baseline", 0, ("peg",))
        time_point(world.program_a, "6mo", 180, ("peg",))
        found = two_arm_study(world.program_a, world.coordinator, block_sizes=(2,))
    return found


def _randomized(world: Any, n: int) -> None:
    """n more randomized patients; the coached ones paired and reached, all with answers."""
    from django.utils import timezone

    from peercoach.coaching.models import Contact
    from peercoach.coaching.plans import plan_for_pair
    from peercoach.research.services import randomize

    from ..factories import eligible_patient, pair, submitted_assessment, time_point

    study = _report_study(world)
    base = time_point(world.program_a, "baseline", 0, ("peg",))
    six = time_point(world.program_a, "6mo", 180, ("peg",))
    for i in range(n):
        patient = eligible_patient(world.program_a)
        allocation = randomize(patient=patient, by=world.coordinator, study=study)
        if allocation.arm.gets_coach:
            coach = CoachFactory(program=world.program_a)
            match = pair(patient, coach, world.coordinator, started_on=dt.date(2026, 2, 1))
            plan_for_pair(patient=patient, started_on=dt.date(2026, 2, 1), by=world.coordinator)
            Contact.objects.create(patient=patient, coach=coach, match=match, mode="phone",
                                   outcome="reached", logged_by=world.coordinator,
                                   occurred_at=timezone.now(), sections=["introduction"],
                                   curriculum_percent=50)
        submitted_assessment(patient, "peg", 6.0 + i % 3, point=base)
        submitted_assessment(patient, "peg", 5.0 + i % 2, point=six)


def _shown(name: str, response: Any) -> int:
    context = response.context
    if name == "fidelity":
        return len(context["pairs"])
    if name == "outcomes":
        return int(context["result"].n_patients)
    if name == "reaim":
        return sum(len(d.figures) for d in context["summary"].dimensions) + int(
            context["summary"].dimensions[0].figures[0].value.split()[0])
    return int(context["flow"].randomized)


#: page -> pinned queries (the same with 3 and with 9 randomized patients).
STUDY_REPORT_QUERIES = {"reports": 16, "fidelity": 17, "consort": 16, "re-aim": 37,
                        "outcomes": 14}


@pytest.mark.parametrize("page", list(STUDY_REPORT_QUERIES))
def test_study_reports_are_constant(world: Any, django_assert_num_queries: Any,
                                    page: str) -> None:
    client = Client()
    client.force_login(world.coordinator)
    study = _report_study(world)
    url = f"/studies/{study.pk}/reports/" + ("" if page == "reports" else f"{page}/")
    name = page.replace("-", "")
    shown = []
    for step in (N, 2 * N):
        _randomized(world, step)
        with django_assert_num_queries(STUDY_REPORT_QUERIES[page]):
            response = client.get(url)
        assert response.status_code == 200
        shown.append(_shown(name, response))
    assert shown[1] > shown[0], "the page did not show more the second time"
