"""/api/v1/ studies, arms, allocations, randomize and the statistician's sequence."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from peercoach.core.models import AuditEvent, Role
from peercoach.research import services
from peercoach.research.models import Allocation, Study

from ..factories import PatientFactory, eligible_patient, staff, two_arm_study


def _api(user: Any) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def statistician(world: Any) -> Any:
    return staff(Role.STATISTICIAN, world.site_a, username="statistician")


@pytest.fixture
def study(world: Any) -> Study:
    return two_arm_study(world.program_a, world.coordinator, targets=(10, 8))


def test_studies_list_and_detail_never_show_seed_or_block_sizes(world, study):
    other = two_arm_study(world.program_b, world.admin)
    response = _api(world.coordinator).get("/api/v1/studies/")
    assert response.status_code == 200
    rows = response.json()["results"]
    assert [r["id"] for r in rows] == [study.pk]
    assert {a["code"] for a in rows[0]["arms"]} == {"coaching", "control"}
    assert "seed" not in rows[0] and "block_sizes" not in rows[0]
    assert _api(world.coordinator).get(f"/api/v1/studies/{other.pk}/").status_code == 404
    assert _api(world.coordinator).get("/api/v1/studies/?status=nope").status_code == 400
    assert _api(world.coordinator).get("/api/v1/studies/?status=recruiting").json()["count"] == 1


def test_randomize_through_the_api(world, study):
    patient = eligible_patient(world.program_a)
    client = _api(world.coordinator)
    response = client.post(f"/api/v1/studies/{study.pk}/randomize/", {"patient": patient.pk},
                           format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    allocation = Allocation.objects.get(patient=patient)
    assert body["id"] == allocation.pk and body["arm_code"] == allocation.arm.code
    assert body["patient_name"] == patient.display_name
    again = client.post(f"/api/v1/studies/{study.pk}/randomize/", {"patient": patient.pk},
                        format="json")
    assert again.status_code == 400
    assert "already randomized" in str(again.json())
    unscreened = PatientFactory(program=world.program_a)
    refused = client.post(f"/api/v1/studies/{study.pk}/randomize/",
                          {"patient": unscreened.pk}, format="json")
    assert refused.status_code == 400 and "not been screened" in str(refused.json())
    elsewhere = client.post(f"/api/v1/studies/{study.pk}/randomize/",
                            {"patient": world.patient_b.pk}, format="json")
    assert elsewhere.status_code == 400


def test_randomize_needs_the_permission(world, study):
    patient = eligible_patient(world.program_a)
    for user in (world.supervisor, world.researcher, world.coach_user):
        response = _api(user).post(f"/api/v1/studies/{study.pk}/randomize/",
                                   {"patient": patient.pk}, format="json")
        assert response.status_code == 403
    assert not Allocation.objects.exists()


def test_allocations_are_de_identified_for_researchers(world, study, statistician):
    patient = eligible_patient(world.program_a)
    services.randomize(patient=patient, by=world.coordinator)
    mine = _api(world.coordinator).get("/api/v1/allocations/").json()["results"][0]
    assert mine["identified"] is True and mine["patient_name"] == patient.display_name
    for user in (world.researcher, statistician):
        row = _api(user).get("/api/v1/allocations/").json()["results"][0]
        assert row["identified"] is False and row["patient_name"] is None
        assert row["study_id"] == patient.study_id
    assert _api(world.coach_user).get("/api/v1/allocations/").status_code == 403
    assert _api(world.admin).get(f"/api/v1/allocations/?study={study.pk}").json()["count"] == 1
    assert _api(world.admin).get("/api/v1/allocations/?study=x").status_code == 400


def test_arms_list(world, study):
    rows = _api(world.supervisor).get(f"/api/v1/study-arms/?study={study.pk}").json()["results"]
    assert [r["code"] for r in rows] == ["coaching", "control"]
    assert rows[1]["gets_coach"] is False


def test_sequence_api_is_the_statisticians_only_and_audited(world, study, statistician):
    services.randomize(patient=eligible_patient(world.program_a), by=world.coordinator)
    url = f"/api/v1/studies/{study.pk}/sequence/"
    for role, user in world.users().items():
        assert _api(user).get(url).status_code == 403, role
    response = _api(statistician).get(url)
    assert response.status_code == 200
    body = response.json()
    assert body["design"]["seed"] == str(study.seed)
    assert body["design"]["strata"][0] == {"key": "all", "label": "All patients (not "
                                           "stratified)", "slots_generated": 30, "taken": 1}
    codes = [slot["arm_code"] for slot in body["results"]]
    assert codes == services.stratum_sequence(study, "all", len(codes))
    assert sum(1 for slot in body["results"] if slot["taken_by"]) == 1
    assert _api(statistician).get(url + "?stratum=nope").status_code == 404
    assert AuditEvent.objects.filter(actor=statistician, action="view", target_type="study",
                                     target_id=str(study.pk)).count() == 1
    elsewhere = staff(Role.STATISTICIAN, world.site_b, username="stat_b")
    assert _api(elsewhere).get(url).status_code == 404


def test_the_schema_lists_the_research_endpoints(world):
    response = _api(world.coordinator).get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in ("/api/v1/studies/", "/api/v1/studies/{id}/randomize/",
                 "/api/v1/studies/{id}/sequence/", "/api/v1/allocations/",
                 "/api/v1/study-arms/"):
        assert path in paths
