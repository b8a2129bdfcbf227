"""Engagement alerts: each rule raises once and clears itself when the cause goes."""

import datetime as dt
import threading

import pytest
from django.db import connection
from django.utils import timezone

from peercoach.coaching.models import Contact, Goal
from peercoach.coaching.plans import plan_for_pair
from peercoach.supervision.alerts import scan
from peercoach.supervision.models import Alert

TODAY = timezone.localdate()


def at(days_ago: int) -> dt.datetime:
    return timezone.now() - dt.timedelta(days=days_ago)


def contact(world, days_ago, outcome="reached", pain=None, percent=50):
    match = world.patient.matches.get(ended_on__isnull=True)
    reached = outcome == "reached"
    return Contact.objects.create(
        patient=world.patient, coach=world.coach, match=match, occurred_at=at(days_ago),
        mode="phone", outcome=outcome, duration_minutes=20 if reached else None,
        curriculum_percent=percent if reached else None, pain_today=pain,
        logged_by=world.coach_user)


def kinds(**filters):
    return sorted(Alert.objects.exclude(status="resolved").filter(**filters)
                  .values_list("kind", flat=True))


@pytest.fixture
def recent_pair(world):
    """The world's pair, restarted 30 days ago with a fresh plan."""
    match = world.patient.matches.get(ended_on__isnull=True)
    match.started_on = TODAY - dt.timedelta(days=30)
    match.save()
    plan_for_pair(patient=world.patient, started_on=match.started_on, by=world.coordinator)
    return match


def test_overdue_contact_raises_once_and_clears_when_done(world, recent_pair):
    scan()
    assert kinds(patient=world.patient) == ["contact_overdue"]
    first = Alert.objects.get(kind="contact_overdue")
    assert first.owner == world.supervisor and first.site == world.site_a
    scan()  # the same cause: no second alert
    assert Alert.objects.filter(kind="contact_overdue").count() == 1
    plan = world.patient.contact_plan
    plan.planned.filter(window_end__lt=TODAY).update(status="done")
    result = scan()
    first.refresh_from_db()
    assert first.status == "resolved" and "Cleared by itself" in first.resolution
    assert result.resolved >= 1


def test_failed_attempts_in_a_row(world, recent_pair):
    contact(world, 20)
    for days in (10, 8):
        contact(world, days, outcome="no_answer")
    scan()
    assert "failed_attempts" not in kinds(patient=world.patient)
    contact(world, 6, outcome="left_message")
    scan()
    assert "failed_attempts" in kinds(patient=world.patient)
    contact(world, 1)  # reached again: the cause is gone
    scan()
    assert "failed_attempts" not in kinds(patient=world.patient)


def test_coach_inactive_for_21_days(world):
    match = world.patient.matches.get(ended_on__isnull=True)  # started Feb 1, 2026
    assert match.started_on < TODAY - dt.timedelta(days=21)
    scan()
    assert "coach_inactive" in kinds(coach=world.coach)
    contact(world, 2)
    scan()
    assert "coach_inactive" not in kinds(coach=world.coach)


def test_pain_rising_over_three_contacts(world, recent_pair):
    for days, pain in ((20, 4), (12, 5), (3, 7)):
        contact(world, days, pain=pain)
    scan()
    assert "pain_rising" in kinds(patient=world.patient)
    contact(world, 1, pain=5)
    scan()
    assert "pain_rising" not in kinds(patient=world.patient)


def test_no_goal_by_the_third_contact_and_no_curriculum(world, recent_pair):
    for days in (20, 12, 3):
        contact(world, days, percent=0)
    scan()
    assert {"no_goal", "no_curriculum"} <= set(kinds(patient=world.patient))
    Goal.objects.create(patient=world.patient, text="Walk", section="introduction", what="w",
                        how_much="h", when="w", how_often="o", confidence=8,
                        created_by=world.coach_user)
    contact(world, 1, percent=50)
    scan()
    remaining = set(kinds(patient=world.patient))
    assert "no_goal" not in remaining and "no_curriculum" not in remaining


def test_thresholds_are_program_settings(world, recent_pair):
    world.program_a.alert_settings = {"overdue_days": 400}
    world.program_a.save()
    scan()
    assert "contact_overdue" not in kinds(patient=world.patient)


@pytest.mark.django_db(transaction=True)
def test_two_scans_at_once_create_no_duplicates(world, recent_pair):
    if connection.vendor == "sqlite":
        # SQLite (in memory for tests) has one writer; the constraint is what matters and
        # it is exercised by the sequential scans above. PostgreSQL runs them in parallel.
        scan()
        scan()
    else:
        errors = []

        def run():
            try:
                scan()
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
    causes = list(Alert.objects.exclude(status="resolved").values_list("cause", flat=True))
    assert causes and len(causes) == len(set(causes))


def test_contact_history_rules_follow_deeper_thresholds(world, recent_pair):
    """The one-pass history query with thresholds deeper than the defaults."""
    world.program_a.alert_settings = {"pain_contacts": 4, "no_curriculum": 4,
                                      "goal_by_contact": 4, "failed_attempts": 2}
    world.program_a.save()
    for days, pain in ((20, 2), (15, 3), (10, 4)):
        contact(world, days, pain=pain, percent=0)
    contact(world, 8, outcome="no_answer")
    scan()
    # Three rises are not four; three reached contacts are not four; one try is not two.
    assert kinds(patient=world.patient) == ["contact_overdue"]
    contact(world, 6, pain=6, percent=0)
    contact(world, 5, outcome="no_answer")
    contact(world, 4, outcome="left_message")
    scan()
    assert set(kinds(patient=world.patient)) == {
        "contact_overdue", "failed_attempts", "no_curriculum", "no_goal", "pain_rising"}
    tries = Alert.objects.get(kind="failed_attempts", status="open")
    assert tries.summary == "2 tries in a row without reaching the patient."
    assert Alert.objects.get(kind="pain_rising").summary.endswith("last 4 contacts.")


def test_contact_history_rules_skip_patients_without_a_current_coach(world, recent_pair):
    for days, pain in ((20, 2), (12, 5), (3, 8)):
        contact(world, days, pain=pain, percent=0)
    scan()
    assert {"pain_rising", "no_curriculum", "no_goal"} <= set(kinds(patient=world.patient))
    world.patient.matches.filter(ended_on__isnull=True).update(ended_on=TODAY)
    scan()  # the pair ended: every alert about it clears
    assert kinds(patient=world.patient) == []
