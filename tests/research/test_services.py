"""Studies, arms and randomization through the services."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peercoach.coaching.models import PainCheckIn
from peercoach.core.models import AuditEvent
from peercoach.matching import pool
from peercoach.people.lifecycle import PatientStatus
from peercoach.people.models import Screening
from peercoach.research import services, strata
from peercoach.research.models import (
    Allocation,
    AllocationSlot,
    Arm,
    Stratum,
    Study,
    StudyStatus,
)
from peercoach.research.randomization import block_sequence, stratum_seed

from ..factories import PatientFactory, ProgramFactory, eligible_patient, two_arm_study


@pytest.fixture
def study(world: Any) -> Study:
    return two_arm_study(world.program_a, world.coordinator)


# --- Set-up ---------------------------------------------------------------------------


def test_study_create_with_arms_as_the_demo_would(world):
    made = services.study_create(
        program=world.program_b, by=world.admin, title="ECLIPSE-style trial",
        registration_id="NCT02380690", strata=["gender", "pain_band"],
        time_points=["baseline", "6mo", "9mo"], block_sizes=[9, 18],
        arms=[{"name": "Peer coaching", "code": "coaching", "ratio": 5, "target_size": 120},
              {"name": "Class", "code": "class", "kind": "control", "ratio": 4,
               "target_size": 95, "description": "A one-time 2-hour class"}],
        start=True, seed=7)
    assert made.status == StudyStatus.RECRUITING and made.seed == 7
    arms = {a.code: a for a in made.arms.all()}
    assert arms["coaching"].gets_coach and not arms["class"].gets_coach
    # Every combination of gender and pain band got its sequence up front.
    assert Stratum.objects.filter(study=made).count() == 6 * 4
    assert AuditEvent.objects.filter(target_type="study", target_id=str(made.pk)).count() == 2


def test_the_seed_is_drawn_by_the_system_and_kept_out_of_the_trail(world):
    made = two_arm_study(world.program_b, world.admin, seed=None)
    assert made.seed is not None and made.seed > 0
    for event in AuditEvent.objects.filter(target_type="study", target_id=str(made.pk)):
        assert str(made.seed) not in str(event.details)


@pytest.mark.parametrize(("fields", "field", "message"), [
    ({"registration_id": "NCT123"}, "registration_id", "NCT and eight digits"),
    ({"block_sizes": [0]}, "block_sizes", "whole numbers from 1 to 60"),
    ({"block_sizes": [2, 2]}, "block_sizes", "Each block size once"),
    ({"strata": ["height"]}, "strata", "Unknown stratification factors: height"),
    ({"strata": ["gender", "gender"]}, "strata", "Each stratification factor once"),
    ({"time_points": ["Base line"]}, "time_points", "short lower-case codes"),
    ({"time_points": ["6mo", "6mo"]}, "time_points", "Each time point once"),
])
def test_study_create_refuses_bad_set_up_with_clear_errors(world, fields, field, message):
    with pytest.raises(ValidationError) as info:
        services.study_create(program=world.program_a, by=world.coordinator, title="T",
                              **fields)
    assert message in " ".join(info.value.message_dict[field])


def test_start_needs_two_arms_and_block_sizes_matching_the_ratio(world):
    draft = services.study_create(program=world.program_a, by=world.coordinator, title="T",
                                  block_sizes=[2, 4])
    with pytest.raises(ValidationError, match="at least two arms"):
        services.study_start(study=draft, by=world.coordinator)
    services.arm_create(study=draft, by=world.coordinator, name="A", code="a", ratio=2)
    services.arm_create(study=draft, by=world.coordinator, name="B", code="b", kind="control")
    with pytest.raises(ValidationError) as info:
        services.study_start(study=draft, by=world.coordinator)
    assert "not a positive multiple of the ratio's sum (3)" in str(info.value)
    services.study_update(study=draft, by=world.coordinator, block_sizes=[3, 6])
    started = services.study_start(study=draft, by=world.coordinator)
    assert started.status == StudyStatus.RECRUITING


def test_default_block_sizes_are_one_two_and_three_times_the_ratio(world):
    made = two_arm_study(world.program_a, world.coordinator, block_sizes=(), ratio=(5, 4))
    assert made.block_sizes == [9, 18, 27]


def test_a_control_arm_gets_no_coach(world):
    draft = two_arm_study(world.program_a, world.coordinator, start=False)
    with pytest.raises(ValidationError, match="no coach"):
        services.arm_create(study=draft, by=world.coordinator, name="Usual care",
                            code="usual", kind="control", gets_coach=True)


def test_the_design_is_frozen_once_recruiting(world, study):
    arm = study.arms.first()
    with pytest.raises(ValidationError, match="fixed"):
        services.arm_update(arm=arm, by=world.coordinator, ratio=3)
    with pytest.raises(ValidationError, match="fixed"):
        services.arm_create(study=study, by=world.coordinator, name="Third", code="third")
    with pytest.raises(ValidationError, match="fixed"):
        services.study_update(study=study, by=world.coordinator, block_sizes=[4])
    # What does not touch the sequence may still change.
    services.arm_update(arm=arm, by=world.coordinator, target_size=120, name="Coaching")
    services.study_update(study=study, by=world.coordinator, title="Renamed",
                          time_points=["baseline"])
    assert Arm.objects.get(pk=arm.pk).target_size == 120


def test_one_recruiting_study_per_program(world, study):
    other = two_arm_study(world.program_a, world.coordinator, start=False, title="Second")
    with pytest.raises(ValidationError, match="Another study is recruiting"):
        services.study_start(study=other, by=world.coordinator)
    services.study_close(study=study, by=world.coordinator)
    services.study_start(study=other, by=world.coordinator)
    with pytest.raises(ValidationError, match="already closed"):
        services.study_close(study=study, by=world.coordinator)


# --- Randomization --------------------------------------------------------------------


def test_randomize_takes_the_first_slot_and_is_audited(world, study):
    patient = eligible_patient(world.program_a)
    allocation = services.randomize(patient=patient, by=world.coordinator)
    first = AllocationSlot.objects.get(study=study, stratum_key="all", position=1)
    assert allocation.slot == first and allocation.arm_id == first.arm_id
    event = AuditEvent.objects.get(target_type="allocation", target_id=str(allocation.pk))
    assert event.action == "create" and event.subject_id == str(patient.pk)
    assert event.details["arm"] == allocation.arm.code
    assert event.site_id == world.site_a.pk


def test_nobody_is_allocated_twice(world, study):
    patient = eligible_patient(world.program_a)
    services.randomize(patient=patient, by=world.coordinator)
    with pytest.raises(ValidationError) as info:
        services.randomize(patient=patient, by=world.admin)
    text = " ".join(info.value.messages)
    assert "already randomized" in text and "cannot be repeated, changed or undone" in text
    # The message never names an arm.
    for arm in study.arms.all():
        assert arm.name not in text and arm.code not in text
    assert Allocation.objects.filter(patient=patient).count() == 1
    # The database refuses a second allocation even past the service.
    slot = AllocationSlot.objects.filter(study=study, allocation__isnull=True).first()
    with pytest.raises(IntegrityError), transaction.atomic():
        Allocation.objects.create(patient=patient, study=study, slot=slot, arm=slot.arm,
                                  allocated_by=world.coordinator, allocated_at=timezone.now())


def test_two_patients_never_share_a_slot_in_the_database(world, study):
    first = services.randomize(patient=eligible_patient(world.program_a), by=world.coordinator)
    with pytest.raises(IntegrityError), transaction.atomic():
        Allocation.objects.create(patient=eligible_patient(world.program_a), study=study,
                                  slot=first.slot, arm=first.arm,
                                  allocated_by=world.coordinator, allocated_at=timezone.now())


@pytest.mark.parametrize(("change", "reason"), [
    ({"status": PatientStatus.CONSENTED}, "Only enrolled patients"),
    ({"status": PatientStatus.ACTIVE}, "Only enrolled patients"),
    ({"screening": None}, "has not been screened"),
    ({"screening": False}, "did not find them eligible"),
    ({"consent": None}, "No consent"),
])
def test_only_enrolled_eligible_consented_patients_are_randomized(world, study, change, reason):
    patient = eligible_patient(world.program_a)
    if "status" in change:
        type(patient).objects.filter(pk=patient.pk).update(status=change["status"])
    if "screening" in change:
        if change["screening"] is None:
            patient.screenings.all().delete()
        else:
            Screening.objects.create(
                patient=patient, serious_medical_condition=True,
                recent_psychiatric_hospitalization=False, active_suicidal_ideation=False,
                severe_hearing_or_speech_impairment=False, back_surgery=False,
                eligible=False, screened_by=world.coordinator,
                screened_at=timezone.now() + dt.timedelta(minutes=1))
    if "consent" in change:
        patient.consents.all().delete()
    with pytest.raises(ValidationError, match=reason):
        services.randomize(patient=patient, by=world.coordinator)
    assert not Allocation.objects.filter(patient=patient).exists()


def test_no_allocation_without_a_recruiting_study(world):
    draft = two_arm_study(world.program_a, world.coordinator, start=False)
    patient = eligible_patient(world.program_a)
    with pytest.raises(ValidationError, match="No study is recruiting"):
        services.randomize(patient=patient, by=world.coordinator)
    with pytest.raises(ValidationError, match="not recruiting"):
        services.randomize(patient=patient, by=world.coordinator, study=draft)
    other = two_arm_study(world.program_b, world.coordinator)
    with pytest.raises(ValidationError, match="another program"):
        services.randomize(patient=patient, by=world.coordinator, study=other)


def test_allocations_and_slots_are_immutable(world, study):
    allocation = services.randomize(patient=eligible_patient(world.program_a),
                                    by=world.coordinator)
    with pytest.raises(PermissionError):
        allocation.save()
    with pytest.raises(PermissionError):
        allocation.delete()
    with pytest.raises(PermissionError):
        Allocation.objects.filter(pk=allocation.pk).update(arm=allocation.arm)
    with pytest.raises(PermissionError):
        Allocation.objects.all().delete()
    slot = AllocationSlot.objects.filter(study=study).first()
    with pytest.raises(PermissionError):
        slot.save()
    with pytest.raises(PermissionError):
        AllocationSlot.objects.filter(study=study).update(position=0)


def test_the_stored_slots_are_the_seeds_sequence(world, study):
    stored = list(AllocationSlot.objects.filter(study=study, stratum_key="all")
                  .order_by("position").values_list("arm__code", flat=True))
    assert len(stored) == services.round_size(study)
    expected = block_sequence(len(stored), ["coaching", "control"], [2, 4, 6], [1, 1],
                              seed=stratum_seed(study.seed, "all"))
    assert stored == expected == services.stratum_sequence(study, "all", len(stored))


def test_a_stratum_that_runs_out_is_extended_with_the_same_sequence(world):
    made = two_arm_study(world.program_a, world.coordinator, block_sizes=(2,))
    size = services.round_size(made)
    for _ in range(size + 3):
        services.randomize(patient=eligible_patient(world.program_a), by=world.coordinator)
    taken = list(Allocation.objects.filter(study=made).order_by("slot__position")
                 .values_list("arm__code", flat=True))
    assert taken == services.stratum_sequence(made, "all", size + 3)
    assert Stratum.objects.get(study=made, key="all").slots_generated == 2 * size


def test_an_unforeseen_stratum_is_generated_on_first_use_from_the_seed(world):
    made = two_arm_study(world.program_a, world.coordinator, strata=("gender",))
    assert not Stratum.objects.filter(study=made, key="gender=robot").exists()
    # A value outside the known list (an old record, say) still gets its own sequence.
    patient = eligible_patient(world.program_a)
    type(patient).objects.filter(pk=patient.pk).update(gender="robot")
    allocation = services.randomize(patient=patient, by=world.coordinator)
    assert allocation.slot.stratum_key == "gender=robot" and allocation.slot.position == 1
    assert allocation.arm.code == services.stratum_sequence(made, "gender=robot", 1)[0]


def test_pregenerated_and_lazily_generated_strata_are_identical(world, monkeypatch):
    up_front = two_arm_study(world.program_a, world.coordinator, strata=("gender",), seed=5)
    monkeypatch.setattr(services, "PREGENERATE_MAX_STRATA", 0)
    lazy = two_arm_study(world.program_b, world.coordinator, strata=("gender",), seed=5)
    assert not Stratum.objects.filter(study=lazy).exists()
    services.randomize(patient=eligible_patient(world.program_b, gender="female"),
                       by=world.coordinator)

    def codes(s: Study) -> list[str]:
        return list(AllocationSlot.objects.filter(study=s, stratum_key="gender=female")
                    .order_by("position").values_list("arm__code", flat=True))

    assert codes(lazy) == codes(up_front)


def test_patients_fall_in_the_strata_of_the_study(world):
    made = two_arm_study(world.program_a, world.coordinator,
                         strata=("site", "gender", "pain_band", "age_group", "service_era"))
    patient = eligible_patient(world.program_a, gender="female",
                               date_of_birth=dt.date(1950, 1, 1), service_era="vietnam")
    PainCheckIn.objects.create(patient=patient, at=timezone.now() - dt.timedelta(days=1),
                               pain=8, peg_pain=8, peg_enjoyment=7, peg_activity=9)
    key = strata.stratum_key(made, patient, timezone.now())
    assert key == (f"site={world.site_a.code}|gender=female|pain_band=high|"
                   f"age_group=65_plus|service_era=vietnam")
    assert strata.describe(key).startswith("Site:")
    nobody = eligible_patient(world.program_a, gender="", date_of_birth=None, service_era="")
    assert strata.stratum_key(made, nobody, timezone.now()).endswith(
        "gender=unknown|pain_band=unknown|age_group=unknown|service_era=unknown")


@pytest.mark.parametrize(("peg", "band"), [(None, "unknown"), (0, "low"), (3.99, "low"),
                                           (4, "moderate"), (6.99, "moderate"), (7, "high")])
def test_pain_bands(peg, band):
    assert strata.pain_band(peg) == band


@pytest.mark.parametrize(("born", "group"), [(dt.date(1990, 6, 1), "under_50"),
                                             (dt.date(1976, 6, 2), "under_50"),
                                             (dt.date(1976, 6, 1), "50_64"),
                                             (dt.date(1961, 6, 1), "65_plus"), (None, "unknown")])
def test_age_groups(born, group):
    assert strata.age_group(born, dt.date(2026, 6, 1)) == group


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(genders=st.lists(st.sampled_from(["male", "female"]), min_size=4, max_size=30),
       ratio=st.sampled_from([(1, 1), (2, 1)]), seed=st.integers(min_value=1, max_value=10**9))
def test_every_stratum_is_balanced_in_the_ratio_through_the_service(world, genders, ratio,
                                                                    seed):
    """Randomize a stream of patients; in each stratum the allocations made so far are a
    prefix of that stratum's block sequence, so each complete block is balanced."""
    program = ProgramFactory(site=world.site_a)
    sizes = (3, 6) if ratio == (2, 1) else (2, 4, 6)
    made = two_arm_study(program, world.coordinator, ratio=ratio, block_sizes=sizes,
                         strata=("gender",), seed=seed)
    for gender in genders:
        services.randomize(patient=eligible_patient(program, gender=gender),
                           by=world.coordinator)
    for gender in set(genders):
        key = f"gender={gender}"
        taken = list(Allocation.objects.filter(study=made, slot__stratum_key=key)
                     .order_by("slot__position").values_list("arm__code", flat=True))
        assert taken == services.stratum_sequence(made, key, len(taken))
        counts = Counter(taken)
        unit = sum(ratio)
        # Never further from the ratio than one largest block.
        assert abs(counts["coaching"] - len(taken) * ratio[0] / unit) <= max(sizes)
    assert Allocation.objects.filter(study=made).count() == len(genders)


def test_balance_over_many_patients_in_one_stratum(world):
    made = two_arm_study(world.program_a, world.coordinator, ratio=(5, 4), block_sizes=(9, 18))
    for _ in range(36):
        services.randomize(patient=eligible_patient(world.program_a), by=world.coordinator)
    counts = Counter(Allocation.objects.filter(study=made).values_list("arm__code", flat=True))
    taken = services.stratum_sequence(made, "all", 36)
    # 36 is a whole number of 9-blocks only if the blocks drawn add up to it.
    assert counts == Counter(taken)
    assert abs(counts["coaching"] - 20) <= 5


# --- Matching pool ----------------------------------------------------------------------------


def test_control_arm_patients_never_enter_the_matching_pool(world):
    made = two_arm_study(world.program_a, world.coordinator)
    patients = [eligible_patient(world.program_a) for _ in range(6)]
    for patient in patients:
        services.randomize(patient=patient, by=world.coordinator)
    waiting = set(pool.waiting_patients(world.program_a).values_list("pk", flat=True))
    for allocation in Allocation.objects.filter(study=made).select_related("arm"):
        assert (allocation.patient_id in waiting) == allocation.arm.gets_coach
    # While the study recruits nobody is paired before randomization; once it has
    # closed, patients outside it wait as before.
    unstudied = PatientFactory(program=world.program_a)
    assert not pool.waiting_patients(world.program_a).filter(pk=unstudied.pk).exists()
    services.study_close(study=made, by=world.coordinator)
    assert pool.waiting_patients(world.program_a).filter(pk=unstudied.pk).exists()


def test_audit_rows_for_set_up_and_allocation(world):
    before = AuditEvent.objects.count()
    made = two_arm_study(world.program_a, world.coordinator)
    services.randomize(patient=eligible_patient(world.program_a), by=world.coordinator)
    kinds = Counter(AuditEvent.objects.order_by("id")[before:].values_list("target_type",
                                                                           flat=True))
    assert kinds["study"] == 2 and kinds["arm"] == 2 and kinds["allocation"] == 1
    assert made.pk
