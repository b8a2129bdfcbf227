"""Who may open the trajectory, outcome and summary pages, and where they are linked from."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

LOGIN = "login"

#: (URL name, takes a patient, {role: expected answer for world.patient or no argument})
PAGES: list[tuple[str, bool, dict[str, int | str]]] = [
    ("trajectory", True, {"site_admin": 200, "coordinator": 200, "supervisor": 200,
                          "clinician": 200, "researcher": 200, "coach": 200, "patient": 200,
                          "anonymous": LOGIN}),
    ("trajectory_svg", True, {"coach": 200, "researcher": 200, "patient": 200,
                              "anonymous": LOGIN}),
    ("trajectory_csv", True, {"coach": 200, "clinician": 200, "anonymous": LOGIN}),
    ("my_trajectory", False, {"patient": 200, "coach": 403, "coordinator": 403,
                              "clinician": 403, "researcher": 403, "anonymous": LOGIN}),
    ("outcomes", False, {"site_admin": 200, "coordinator": 200, "supervisor": 200,
                         "researcher": 200, "clinician": 403, "coach": 403, "patient": 403,
                         "anonymous": LOGIN}),
    ("outcomes_csv", False, {"researcher": 200, "coach": 403, "clinician": 403}),
    ("outcomes_svg", False, {"supervisor": 200, "patient": 403}),
    ("summary", True, {"site_admin": 200, "coordinator": 200, "supervisor": 200,
                       "clinician": 200, "researcher": 403, "coach": 403, "patient": 403,
                       "anonymous": LOGIN}),
    ("summary_pdf", True, {"clinician": 200, "coach": 403, "researcher": 403,
                           "anonymous": LOGIN}),
]

CASES = [(name, takes, role, want) for name, takes, answers in PAGES
         for role, want in answers.items()]


def _client(world: Any, role: str) -> Client:
    client = Client()
    if role != "anonymous":
        client.force_login(world.users()[role])
    return client


@pytest.mark.parametrize(("name", "takes_patient", "role", "want"), CASES,
                         ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_page_answers(world: Any, name: str, takes_patient: bool, role: str,
                      want: int | str) -> None:
    args = [world.patient.pk] if takes_patient else []
    response = _client(world, role).get(reverse(f"assessments:{name}", args=args))
    if want == LOGIN:
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    else:
        assert response.status_code == want


@pytest.mark.parametrize(("role", "attr"), [
    ("coach", "other_patient"),  # another coach's patient
    ("coordinator", "patient_b"),  # another site
    ("researcher", "patient_b"),
    ("clinician", "other_patient"),  # not referred by them
    ("patient", "other_patient"),
])
@pytest.mark.parametrize("name", ["trajectory", "trajectory_csv", "trajectory_svg"])
def test_trajectory_outside_scope_is_not_found(world: Any, role: str, attr: str,
                                               name: str) -> None:
    response = _client(world, role).get(
        reverse(f"assessments:{name}", args=[getattr(world, attr).pk]))
    assert response.status_code == 404


def test_missing_patient_is_not_found(world: Any) -> None:
    client = _client(world, "site_admin")
    for name in ("trajectory", "summary"):
        assert client.get(reverse(f"assessments:{name}", args=[999999])).status_code == 404


def test_menu_offers_outcomes_to_those_who_may_report(world: Any) -> None:
    for role, shown in (("coordinator", True), ("researcher", True), ("coach", False),
                        ("clinician", False), ("patient", False)):
        body = _client(world, role).get("/").content.decode()
        assert (reverse("assessments:outcomes") in body) is shown, role


def test_patient_page_links_to_trajectory_and_summary_by_permission(world: Any) -> None:
    detail = reverse("people:patient_detail", args=[world.patient.pk])
    trajectory = reverse("assessments:trajectory", args=[world.patient.pk])
    summary = reverse("assessments:summary", args=[world.patient.pk])
    for role, has_summary in (("coordinator", True), ("clinician", True),
                              ("supervisor", True), ("coach", False), ("researcher", False),
                              ("patient", False)):
        body = _client(world, role).get(detail).content.decode()
        assert trajectory in body, role
        assert (summary in body) is has_summary, role


def test_caseload_links_each_patient_to_their_trajectory(world: Any) -> None:
    body = _client(world, "coach").get(reverse("coaching:caseload")).content.decode()
    assert reverse("assessments:trajectory", args=[world.patient.pk]) in body
