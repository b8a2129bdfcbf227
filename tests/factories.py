"""factory_boy factories for every model the tests need. All data is synthetic."""

from __future__ import annotations

import datetime as dt

import factory
from django.contrib.auth import get_user_model

from peercoach.core.models import Role, RoleAssignment
from peercoach.matching.models import Match
from peercoach.people.lifecycle import CoachStatus, PatientStatus
from peercoach.people.models import Coach, Patient
from peercoach.programs.models import Program, Site
from peercoach.programs.protocols import IMPPRESS


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = "Test"
    last_name = factory.Sequence(lambda n: f"User{n}")
    password = factory.PostGenerationMethodCall("set_password", "a-long-test-password")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):  # noqa: N805
        if create:
            obj.save()


class SiteFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Site

    code = factory.Sequence(lambda n: f"site-{n}")
    name = factory.Sequence(lambda n: f"Test Medical Center {n}")


class ProgramFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Program

    site = factory.SubFactory(SiteFactory)
    name = factory.Sequence(lambda n: f"Program {n}")
    template = IMPPRESS.key
    contacts_per_patient = IMPPRESS.contacts_per_patient
    days_between_contacts = IMPPRESS.days_between_contacts
    program_length_days = IMPPRESS.program_length_days
    default_caseload = IMPPRESS.default_caseload
    max_caseload = IMPPRESS.max_caseload
    allowed_contact_modes = factory.LazyFunction(lambda: list(IMPPRESS.allowed_contact_modes))
    assessment_days = factory.LazyFunction(lambda: list(IMPPRESS.assessment_days))


class _PersonFactory(factory.django.DjangoModelFactory):
    first_name = factory.Sequence(lambda n: f"First{n}")
    last_name = factory.Sequence(lambda n: f"Last{n}")
    date_of_birth = dt.date(1960, 5, 17)
    phone = factory.Sequence(lambda n: f"+1317555{n % 10000:04d}")
    email = factory.Sequence(lambda n: f"person{n}@example.org")
    zip_code = "46202"
    gender = "male"
    service_era = "gulf_war"
    pain_conditions = factory.LazyFunction(lambda: ["low_back"])
    program = factory.SubFactory(ProgramFactory)


class PatientFactory(_PersonFactory):
    class Meta:
        model = Patient

    status = PatientStatus.ENROLLED
    referral_source = "self"
    referred_on = dt.date(2026, 1, 5)


class CoachFactory(_PersonFactory):
    """An active coach who has ticked every readiness item (pass ready=False for none)."""

    class Meta:
        model = Coach
        skip_postgeneration_save = True

    status = CoachStatus.ACTIVE
    completed_self_management_program = True
    guide_read_on = dt.date(2026, 1, 10)

    @factory.post_generation
    def ready(obj, create, extracted, **kwargs):  # noqa: N805
        if not create or extracted is False:
            if extracted is False:
                Coach.objects.filter(pk=obj.pk).update(guide_read_on=None)
                obj.guide_read_on = None
            return
        make_ready(obj)


def make_ready(coach: Coach) -> None:
    """Screening passed, consent, initial training attended (the readiness checklist)."""
    from django.utils import timezone

    from peercoach.people.models import Consent, Screening
    from peercoach.training.models import Attendance, SessionKind, TrainingSession

    by = UserFactory()
    Screening.objects.create(
        coach=coach, serious_medical_condition=False, recent_psychiatric_hospitalization=False,
        active_suicidal_ideation=False, severe_hearing_or_speech_impairment=False,
        eligible=True, screened_by=by, screened_at=timezone.now())
    Consent.objects.create(coach=coach, consented_on=dt.date(2026, 1, 2), form_version="c1",
                           recorded_by=by, recorded_at=timezone.now())
    session, _ = TrainingSession.objects.get_or_create(
        program=coach.program, kind=SessionKind.INITIAL, held_on=dt.date(2026, 1, 5),
        defaults={"trainer": "Dr. Trainer", "topics": "Being a peer coach", "hours": 3,
                  "created_by": by})
    Attendance.objects.create(session=session, coach=coach, attended=True, recorded_by=by)


def staff(role: Role, site: Site, **kwargs) -> object:
    """A user holding `role` at `site`."""
    user = UserFactory(**kwargs)
    RoleAssignment.objects.create(user=user, role=role, site=site)
    return user


def pair(patient: Patient, coach: Coach, by, started_on: dt.date | None = None) -> Match:
    """A current pair, made directly (tests of the pairing service use the service)."""
    return Match.objects.create(patient=patient, coach=coach, created_by=by,
                                started_on=started_on or dt.date(2026, 2, 1))


# --- Research (studies and randomization) ---------------------------------------------


def eligible_patient(program: Program, **kwargs) -> Patient:
    """An enrolled patient with a passing screening and a consent on record."""
    from django.utils import timezone

    from peercoach.people.models import Consent, Screening

    patient = PatientFactory(program=program, status=PatientStatus.ENROLLED, **kwargs)
    by = UserFactory()
    Screening.objects.create(
        patient=patient, serious_medical_condition=False,
        recent_psychiatric_hospitalization=False, active_suicidal_ideation=False,
        severe_hearing_or_speech_impairment=False, back_surgery=False, eligible=True,
        screened_by=by, screened_at=timezone.now())
    Consent.objects.create(patient=patient, consented_on=dt.date(2026, 1, 2),
                           form_version="p1", recorded_by=by, recorded_at=timezone.now())
    return patient


def two_arm_study(program: Program, by, *, ratio: tuple[int, int] = (1, 1),
                  block_sizes: tuple[int, ...] = (2, 4, 6), strata: tuple[str, ...] = (),
                  start: bool = True, seed: int | None = 20260101, title: str = "",
                  targets: tuple[int | None, int | None] = (None, None)):
    """A coaching-versus-class study on `program`, recruiting unless start=False."""
    from peercoach.research.services import study_create

    return study_create(
        program=program, by=by, title=title or f"Study on {program.name}",
        block_sizes=block_sizes, strata=strata, time_points=["baseline", "6mo"],
        arms=[{"name": "Peer coaching", "code": "coaching", "ratio": ratio[0],
               "target_size": targets[0]},
              {"name": "Self-management class", "code": "control", "kind": "control",
               "ratio": ratio[1], "target_size": targets[1]}],
        start=start, seed=seed)


# --- Assessments: time points and submitted questionnaires (reports, trajectories) -------


def time_point(program: Program, key: str = "baseline", day: int = 0,
               instruments: tuple[str, ...] = ("peg", "phq9", "gad7")) -> object:
    """A time point of `program` (made once per key)."""
    from peercoach.assessments.models import TimePoint

    label = "Baseline" if day == 0 else f"{round(day / 30)} months"
    point, _ = TimePoint.objects.get_or_create(
        program=program, key=key,
        defaults={"label": label, "day": day, "before_first_contact": day == 0,
                  "instruments": list(instruments)})
    return point


def submitted_assessment(patient: Patient, instrument: str, total: float | None, *,
                         point: object | None = None, at: dt.datetime | None = None,
                         band: str = "") -> object:
    """A submitted questionnaire with its score, written directly (the answering service
    is tested on its own); replaces a scheduled one at the same time point."""
    from django.utils import timezone

    from peercoach.assessments.models import Assessment, AssessmentStatus

    at = at or timezone.now()
    values = {"opens_on": at.date(), "due_on": at.date(), "closes_on": at.date(),
              "status": AssessmentStatus.SUBMITTED, "submitted_at": at, "version": 1,
              "total": total, "band": band, "complete": total is not None}
    if point is None:
        return Assessment.objects.create(patient=patient, instrument=instrument, **values)
    assessment, _ = Assessment.objects.update_or_create(
        patient=patient, time_point=point, instrument=instrument, defaults=values)
    return assessment


# --- Assessments: questionnaires to answer (the answering pages) ----------------------------


def open_assessment(patient: Patient, instrument: str = "peg", *, point: object | None = None,
                    opened_days_ago: int = 2) -> object:
    """A questionnaire the patient can answer now: open, its window opened days ago."""
    from django.utils import timezone

    from peercoach.assessments.models import Assessment

    today = timezone.localdate()
    return Assessment.objects.create(
        patient=patient, time_point=point, instrument=instrument,
        opens_on=today - dt.timedelta(days=opened_days_ago),
        due_on=today + dt.timedelta(days=7), closes_on=today + dt.timedelta(days=14))


def answer_all(assessment, answers: dict[int, int], *, by=None, mode: str = "self",
               submit: bool = True) -> object:
    """Answer (and by default send in) a questionnaire through the services."""
    from peercoach.assessments import services

    services.answer_save(assessment=assessment, answers=answers, by=by, mode=mode)
    if submit:
        services.submit(assessment=assessment, by=by, mode=mode)
    assessment.refresh_from_db()
    return assessment
