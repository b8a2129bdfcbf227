"""The study report pages: who may open them, what researchers see, the downloads."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from peercoach.coaching.models import Contact
from peercoach.core import policy
from peercoach.core.models import AuditEvent, Role
from peercoach.core.policy import Perm
from peercoach.research.models import Allocation
from peercoach.research.services import randomize

from ..factories import (
    CoachFactory,
    eligible_patient,
    pair,
    staff,
    submitted_assessment,
    time_point,
    two_arm_study,
)

PAGES = ["research:reports", "research:report_fidelity", "research:report_consort",
         "research:report_reaim", "research:report_outcomes"]
DOWNLOADS = {
    "research:report_fidelity_csv": "text/csv",
    "research:report_consort_svg": "image/svg+xml",
    "research:report_consort_pdf": "application/pdf",
    "research:report_consort_csv": "text/csv",
    "research:report_reaim_csv": "text/csv",
    "research:report_outcomes_csv": "text/csv",
}


@pytest.fixture
def running(world: Any) -> dict[str, Any]:
    """A study at site A with four randomized patients, a pair and some answers."""
    program, by = world.program_a, world.coordinator
    base = time_point(program, "baseline", 0, ("peg",))
    six = time_point(program, "6mo", 180, ("peg",))
    study = two_arm_study(program, by, block_sizes=(2,))
    patients = [eligible_patient(program, first_name=f"Zebedee{i}", last_name=f"Quill{i}")
                for i in range(4)]
    for patient in patients:
        randomize(patient=patient, by=by, study=study)
    coach = CoachFactory(program=program, capacity=2, first_name="Ottoline",
                         last_name="Farnsworth")
    coached = Allocation.objects.filter(study=study, arm__code="coaching").first()
    assert coached is not None
    match = pair(coached.patient, coach, by)
    Contact.objects.create(patient=coached.patient, coach=coach, match=match, mode="phone",
                           outcome="reached", logged_by=by, occurred_at=timezone.now())
    for i, patient in enumerate(patients):
        submitted_assessment(patient, "peg", 6.0 + i % 2, point=base)
        submitted_assessment(patient, "peg", 5.0 - i % 2, point=six)
    return {"study": study, "patients": patients, "coach": coach,
            "other": two_arm_study(world.program_b, by)}


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _url(name: str, study: Any) -> str:
    return reverse(name, args=[study.pk])


def test_who_may_open_the_reports(running: dict[str, Any], world: Any) -> None:
    study = running["study"]
    statistician = staff(Role.STATISTICIAN, world.site_a, username="stats")
    allowed = [world.coordinator, world.admin, world.supervisor, world.researcher, statistician]
    refused = [world.clinician, world.coach_user, world.patient_user]
    for name in PAGES:
        url = _url(name, study)
        for user in allowed:
            assert _client(user).get(url).status_code == 200, (name, user.username)
        for user in refused:
            assert _client(user).get(url).status_code == 403, (name, user.username)
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith(
            "/accounts/login/")
        # Another site's study: not found, as if it did not exist.
        assert _client(world.coordinator).get(
            _url(name, running["other"])).status_code == 404
    for name, kind in DOWNLOADS.items():
        response = _client(world.researcher).get(_url(name, study))
        assert response.status_code == 200 and response["Content-Type"].startswith(kind)
        assert response["Content-Disposition"].startswith("attachment;")
        assert _client(world.clinician).get(_url(name, study)).status_code == 403


def test_the_roles_that_report(world: Any) -> None:
    holders = {role for role, perms in policy.ROLE_PERMS.items() if Perm.STUDY_REPORT in perms}
    assert holders == {Role.SITE_ADMIN, Role.COORDINATOR, Role.SUPERVISOR, Role.RESEARCHER,
                       Role.STATISTICIAN}


def test_researchers_see_no_names(running: dict[str, Any], world: Any) -> None:
    study = running["study"]
    names = [p.first_name for p in running["patients"]] + [p.last_name for p in
                                                           running["patients"]]
    names += ["Ottoline", "Farnsworth"]
    client = _client(world.researcher)
    bodies = [client.get(_url(name, study)).content.decode() for name in PAGES]
    bodies += [client.get(_url("research:report_fidelity_csv", study) + f"?level={level}")
               .content.decode() for level in ("pair", "coach", "patient")]
    for body in bodies:
        for name in names:
            assert name not in body, f"{name} shown to a researcher"
    fidelity = client.get(_url("research:report_fidelity", study)).content.decode()
    assert running["coach"].study_id in fidelity
    coached = Allocation.objects.get(study=study, arm__code="coaching",
                                     patient__contacts__isnull=False)
    assert coached.patient.study_id in fidelity
    # The coordinator, who may see identities, sees the names.
    shown = _client(world.coordinator).get(_url("research:report_fidelity", study))
    assert "Ottoline Farnsworth" in shown.content.decode()
    assert coached.patient.display_name in shown.content.decode()


def test_pages_show_their_charts_with_text_alternatives(running: dict[str, Any],
                                                        world: Any) -> None:
    client = _client(world.coordinator)
    consort = client.get(_url("research:report_consort", running["study"])).content.decode()
    assert '<svg' in consort and 'id="consort-title"' in consort and "<desc" in consort
    assert "Randomized (n\u00a0=\u00a04)" in consort
    outcomes = client.get(_url("research:report_outcomes", running["study"]))
    body = outcomes.content.decode()
    for chart in ("effects-chart-title", "improvement-chart-title", "dose-peg-6mo-title"):
        assert chart in body, chart
    assert outcomes.context["result"].outcomes[0].ancova
    fidelity = client.get(_url("research:report_fidelity", running["study"])).content.decode()
    assert "doses-chart-title" in fidelity


def test_every_page_is_audited(running: dict[str, Any], world: Any) -> None:
    study = running["study"]
    client = _client(world.researcher)
    before = AuditEvent.objects.count()
    client.get(_url("research:report_consort", study))
    client.get(_url("research:report_consort_pdf", study))
    events = list(AuditEvent.objects.order_by("id")[before:])
    assert [(e.action, e.details.get("report"), e.details.get("format")) for e in events] == [
        ("view", "consort", "html"), ("export", "consort", "pdf")]
    assert all(e.target_type == "study" and e.target_id == str(study.pk) for e in events)


def test_without_allocation_view_the_arms_are_pooled(running: dict[str, Any], world: Any,
                                                     monkeypatch: Any) -> None:
    perms = policy.ROLE_PERMS[Role.RESEARCHER] - {Perm.ALLOCATION_VIEW}
    monkeypatch.setitem(policy.ROLE_PERMS, Role.RESEARCHER, perms)
    client = _client(world.researcher)
    consort = client.get(_url("research:report_consort", running["study"]))
    assert [a.name for a in consort.context["flow"].arms] == ["All arms"]
    outcomes = client.get(_url("research:report_outcomes", running["study"]))
    assert "result" not in outcomes.context
    assert "needs permission to view allocations" in outcomes.content.decode()
    csv = client.get(_url("research:report_fidelity_csv", running["study"]) + "?level=arm")
    assert csv.content.decode().startswith("patient,coach,arm")  # the pair level instead


def test_an_empty_study_renders(world: Any) -> None:
    study = two_arm_study(world.program_a, world.coordinator)
    client = _client(world.coordinator)
    for name in PAGES:
        assert client.get(_url(name, study)).status_code == 200
    body = client.get(_url("research:report_outcomes", study)).content.decode()
    assert "nothing to analyse" in body
    assert client.get(_url("research:report_consort_pdf", study)).content.startswith(b"%PDF")


def test_fidelity_csv_levels(running: dict[str, Any], world: Any) -> None:
    client = _client(world.coordinator)
    url = _url("research:report_fidelity_csv", running["study"])
    pair_rows = client.get(url).content.decode().splitlines()
    assert pair_rows[0].startswith("patient,coach,arm,started_on,ended_on,patients,planned")
    assert len(pair_rows) == 2
    arm_rows = client.get(url + "?level=arm").content.decode().splitlines()
    assert [r.split(",")[0] for r in arm_rows[1:]] == ["Peer coaching",
                                                       "Self-management class"]
    patients = client.get(url + "?level=patient").content.decode().splitlines()
    assert len(patients) == 5
