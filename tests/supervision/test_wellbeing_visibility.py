"""A coach's wellbeing checks are read by the coach and their supervisor only
(docs/decisions/0006-coach-wellbeing-visibility.md)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from peercoach.core.models import AuditEvent, Role
from peercoach.core.policy import ROLE_PERMS, Perm
from peercoach.supervision import session_services as sv
from peercoach.supervision.sessions import wellbeing_for

from ..factories import staff

PAGE, API = "/supervision/wellbeing/", "/api/v1/wellbeing-checks/"
NOTE = "Rough week, my back flared up"


@pytest.fixture
def checks(world: Any) -> list[Any]:
    return [sv.wellbeing_record(coach=world.coach, by=world.coach_user, pain=8, stress=7,
                                mood=2, note=NOTE),
            sv.wellbeing_record(coach=world.other_coach, by=world.other_coach_user, pain=3,
                                stress=2, mood=8)]


def test_only_supervisors_and_coaches_hold_the_permission() -> None:
    holders = {role for role, perms in ROLE_PERMS.items() if Perm.WELLBEING_VIEW in perms}
    assert holders == {Role.SUPERVISOR, Role.COACH}


def _others(world: Any) -> dict[str, Any]:
    users = {role: world.users()[role]
             for role in ("coordinator", "researcher", "site_admin", "clinician", "patient")}
    statistician = getattr(Role, "STATISTICIAN", None)
    if statistician is not None:
        users["statistician"] = staff(statistician, world.site_a)
    return users


def test_coordinators_researchers_and_other_staff_cannot_read_them(world: Any,
                                                                   checks: Any) -> None:
    for role, user in _others(world).items():
        page = Client()
        page.force_login(user)
        response = page.get(PAGE)
        assert response.status_code == 403, role
        assert NOTE not in response.content.decode(), role
        api = APIClient()
        api.force_authenticate(user)
        response = api.get(API)
        assert response.status_code == 403, role
        assert NOTE not in response.content.decode(), role
        assert not wellbeing_for(user).exists(), role


def test_the_coach_reads_their_own_and_the_supervisor_their_sites(world: Any,
                                                                  checks: Any) -> None:
    coach = Client()
    coach.force_login(world.coach_user)
    assert NOTE in coach.get(PAGE).content.decode()
    api = APIClient()
    api.force_authenticate(world.other_coach_user)
    assert NOTE not in api.get(API).content.decode()  # another coach: only their own
    assert {c["coach"] for c in api.get(API).json()["results"]} == {world.other_coach.pk}
    supervisor = Client()
    supervisor.force_login(world.supervisor)
    assert NOTE in supervisor.get(PAGE).content.decode()
    # A supervisor at another site sees none of them.
    elsewhere = APIClient()
    elsewhere.force_authenticate(staff(Role.SUPERVISOR, world.site_b))
    assert elsewhere.get(API).json()["results"] == []


def test_the_audit_trail_keeps_that_a_check_was_made_not_its_answers(world: Any,
                                                                     checks: Any) -> None:
    for event in AuditEvent.objects.filter(target_type="wellbeingcheck"):
        assert event.details == {}
        assert NOTE not in str(event.__dict__)
