"""FHIR export: every resource parses with fhir.resources R4B, status codes lie in their
R4B value sets (checked here against value sets written out independently of the
exporter's), references resolve inside the export, and CareTeam participant periods are
the pairs' dates."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from peercoach.matching.models import Match
from peercoach.research.exports import deid, fhir_bundle

from .test_exports_deid import Known, export_files, make_known


@pytest.fixture
def known(world: Any, settings: Any, tmp_path: Path) -> Known:
    return make_known(world, settings, tmp_path)


#: Required-binding value sets from the FHIR R4B (4.3.0) specification.
STATUS = {
    "CareTeam": {"proposed", "active", "suspended", "inactive", "entered-in-error"},
    "CarePlan": {"draft", "active", "on-hold", "revoked", "completed", "entered-in-error",
                 "unknown"},
    "Goal": {"proposed", "planned", "accepted", "active", "on-hold", "completed", "cancelled",
             "entered-in-error", "rejected"},
    "Encounter": {"planned", "arrived", "triaged", "in-progress", "onleave", "finished",
                  "cancelled", "entered-in-error", "unknown"},
    "Questionnaire": {"draft", "active", "retired", "unknown"},
    "QuestionnaireResponse": {"in-progress", "completed", "amended", "entered-in-error",
                              "stopped"},
    "Observation": {"registered", "preliminary", "final", "amended", "corrected", "cancelled",
                    "entered-in-error", "unknown"},
    "ResearchStudy": {"active", "administratively-completed", "approved", "closed-to-accrual",
                      "closed-to-accrual-and-intervention", "completed", "disapproved",
                      "in-review", "temporarily-closed-to-accrual",
                      "temporarily-closed-to-accrual-and-intervention", "withdrawn"},
    "ResearchSubject": {"candidate", "eligible", "follow-up", "ineligible", "not-registered",
                        "off-study", "on-study", "on-study-intervention",
                        "on-study-observation", "pending-on-study", "potential-candidate",
                        "screening", "withdrawn"},
    "Consent": {"draft", "proposed", "active", "rejected", "inactive", "entered-in-error"},
    "Flag": {"active", "inactive", "entered-in-error"},
}
GENDER = {"male", "female", "other", "unknown"}
CARE_PLAN_ACTIVITY = {"not-started", "scheduled", "in-progress", "on-hold", "completed",
                      "cancelled", "stopped", "unknown", "entered-in-error"}
CARE_PLAN_INTENT = {"proposal", "plan", "order", "option"}
REQUIRED_TYPES = {"Patient", "Practitioner", "PractitionerRole", "CareTeam", "CarePlan", "Goal",
                  "Encounter", "Questionnaire", "QuestionnaireResponse", "Observation",
                  "ResearchStudy", "ResearchSubject", "Consent", "Flag"}


def _bundle(known: Known, tmp_path: Path, user: Any = None, **kw: Any) -> dict[str, Any]:
    (text,) = export_files(user or known.world.researcher, "fhir", tmp_path, **kw).values()
    return json.loads(text)


def _references(node: Any) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                found.append(value)
            else:
                found += _references(value)
    elif isinstance(node, list):
        for item in node:
            found += _references(item)
    return found


def _check_codes(res: dict[str, Any]) -> None:
    rtype = res["resourceType"]
    if rtype in STATUS:
        key = "lifecycleStatus" if rtype == "Goal" else "status"
        assert res[key] in STATUS[rtype], (rtype, res[key])
    if rtype in ("Patient", "Practitioner") and "gender" in res:
        assert res["gender"] in GENDER
    if rtype == "CarePlan":
        assert res["intent"] in CARE_PLAN_INTENT
        for activity in res.get("activity", []):
            assert activity["detail"]["status"] in CARE_PLAN_ACTIVITY


@pytest.mark.parametrize("identified", [False, True])
def test_every_resource_validates_and_codes_are_in_their_value_sets(
        known: Known, tmp_path: Path, identified: bool) -> None:
    user = known.world.coordinator if identified else known.world.researcher
    bundle = _bundle(known, tmp_path, user, identified=identified)
    # The whole Bundle parses as one R4B Bundle (small enough here).
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "collection"
    types = Counter()
    for entry in bundle["entry"]:
        res = entry["resource"]
        types[res["resourceType"]] += 1
        get_fhir_model_class(res["resourceType"]).model_validate(res)
        _check_codes(res)
        fhir_bundle.check_codes(res)
    assert set(types) >= REQUIRED_TYPES, REQUIRED_TYPES - set(types)
    # Each open safety event is a Flag; the closed one (the coach's) is not.
    assert types["Flag"] == 1


def test_references_resolve_and_full_urls_are_unique(known: Known, tmp_path: Path) -> None:
    bundle = _bundle(known, tmp_path)
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(urls) == len(set(urls))
    ids = Counter((e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"])
    assert max(ids.values()) == 1
    dangling = sorted(set(_references(bundle["entry"])) - set(urls))
    assert not dangling, dangling


def test_ndjson_has_one_file_per_type_and_plain_references(known: Known,
                                                          tmp_path: Path) -> None:
    files = export_files(known.world.researcher, "fhir_ndjson", tmp_path)
    present: set[str] = set()
    resources = []
    for name, text in files.items():
        rtype = name.removesuffix(".ndjson")
        for line in text.splitlines():
            res = json.loads(line)
            assert res["resourceType"] == rtype
            get_fhir_model_class(rtype).model_validate(res)
            resources.append(res)
            present.add(f"{rtype}/{res['id']}")
    assert {r["resourceType"] for r in resources} >= REQUIRED_TYPES
    dangling = sorted(set(_references(resources)) - present)
    assert not dangling, dangling


@pytest.mark.parametrize("identified", [False, True])
def test_care_team_periods_are_the_pairs_dates(known: Known, tmp_path: Path,
                                               identified: bool) -> None:
    user = known.world.coordinator if identified else known.world.researcher
    bundle = _bundle(known, tmp_path, user, identified=identified)
    teams = {e["resource"]["id"]: e["resource"] for e in bundle["entry"]
             if e["resource"]["resourceType"] == "CareTeam"}
    matches = Match.objects.filter(patient__program=known.world.program_a)
    assert len(teams) == matches.count() >= 3
    for match in matches:
        shift = dt.timedelta(days=0 if identified else deid.offset_for(
            known.secret.encode(), "patient", match.patient_id))
        team = teams[f"pair-{match.pk}"]
        want = {"start": (match.started_on + shift).isoformat()}
        if match.ended_on:
            want["end"] = (match.ended_on + shift).isoformat()
        assert team["period"] == want
        assert team["status"] == ("inactive" if match.ended_on else "active")
        for participant in team["participant"]:
            assert participant["period"] == want
        members = {p["member"]["reference"] for p in team["participant"]}
        assert len(members) == 2
    known_team = teams[f"pair-{known.match.pk}"]
    assert "end" in known_team["period"]


def test_research_subject_arm_matches_the_study_arms(known: Known, tmp_path: Path) -> None:
    bundle = _bundle(known, tmp_path)
    study = next(e["resource"] for e in bundle["entry"]
                 if e["resource"]["resourceType"] == "ResearchStudy")
    arms = {arm["name"] for arm in study["arm"]}
    assert arms == {"coaching", "control"}
    assert study["identifier"][0]["value"] == "NCT02380690"
    subjects = [e["resource"] for e in bundle["entry"]
                if e["resource"]["resourceType"] == "ResearchSubject"]
    assert len(subjects) == 1 and subjects[0]["assignedArm"] in arms


def test_scores_carry_loinc_and_point_at_their_response(known: Known, tmp_path: Path) -> None:
    bundle = _bundle(known, tmp_path)
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    scores = [r for r in by_url.values() if r["resourceType"] == "Observation"
              and r["id"].startswith("score-")]
    assert scores
    phq = scores[0]
    assert {"system": "http://loinc.org", "code": "44261-6"} in phq["code"]["coding"]
    assert phq["valueQuantity"]["value"] == 7
    response = by_url[phq["derivedFrom"][0]["reference"]]
    assert response["resourceType"] == "QuestionnaireResponse"
    assert len(response["item"]) == 10
    questionnaire = next(r for r in by_url.values() if r["resourceType"] == "Questionnaire"
                         and r["url"] == response["questionnaire"])
    assert questionnaire["code"][0]["code"] == "44249-1"
    # Licensed instruments ship no item text.
    bpi = next(r for r in by_url.values() if r["resourceType"] == "Questionnaire"
               and r["url"].endswith(":bpi_severity"))
    assert all("text" not in item for item in bpi["item"])


def test_a_bad_status_is_caught() -> None:
    with pytest.raises(ValueError, match="value set"):
        fhir_bundle.check_codes({"resourceType": "ResearchSubject", "id": "x",
                                 "status": "bogus"})
    with pytest.raises(ValueError, match="value set"):
        fhir_bundle.check_codes({"resourceType": "CarePlan", "id": "x", "status": "active",
                                 "intent": "plan",
                                 "activity": [{"detail": {"status": "done"}}]})
    fhir_bundle.check_codes({"resourceType": "Flag", "id": "x", "status": "active"})
