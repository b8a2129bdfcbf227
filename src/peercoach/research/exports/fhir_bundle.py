"""The same data as FHIR R4 (4.3.0, R4B) resources: a Bundle of type "collection" as
JSON, or one NDJSON file per resource type (the Bulk Data layout) in a zip.

Mapping (domain-facts §4.1):

| PeerCoach | FHIR |
|---|---|
| site | Organization |
| participant | Patient (study ID as identifier; identity only in identified exports) |
| coach, staff member | Practitioner + PractitionerRole (code: peer coach, or the staff role) |
| pair | CareTeam; participants with the pair's dates as `participant.period` |
| contact plan + planned contacts | CarePlan, one `activity` per planned contact |
| goal | Goal (the participant's words only in identified exports) |
| contact (every attempt) | Encounter: finished when reached, cancelled otherwise |
| instrument | Questionnaire (licensed item text never exported) |
| submitted questionnaire | QuestionnaireResponse (latest version; amended if corrected) |
| score, external score, PEG check-in | Observation (category survey; LOINC where known) |
| study, arms | ResearchStudy with `arm` (name = arm code) |
| allocation | ResearchSubject with `assignedArm` = `actualArm` = arm code |
| consent | Consent (scope research) |
| open safety event | Flag (category safety; never its summary) |

Every resource is built from the export tables (`tables.py`), so it is de-identified the
same way as the CSV, and is validated by constructing the `fhir.resources.R4B` model of
its type. That package does not check code bindings, so `check_codes` checks every
status (and the other coded elements with required bindings used here) against the R4B
value sets in `VALUE_SETS`.

Inside the Bundle, entries have `urn:uuid:` full URLs (UUID 5 of "Type/id") and
references point at them; NDJSON files use plain "Type/id" references.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import uuid
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from django.utils import timezone

from peercoach.assessments.instruments import REGISTRY, Instrument, Licence

from .csv_export import _TextEntry
from .tables import (
    _MODES,
    _OUTCOMES,
    _SAFETY_SOURCES,
    BY_NAME,
    SECTIONS,
    ExportContext,
    Row,
    assessment_rows,
)

Resource = dict[str, Any]

BASE = "urn:peercoach"
STUDY_ID_SYSTEM = f"{BASE}:study-id"
STAFF_SYSTEM = f"{BASE}:staff"
ROLE_SYSTEM = f"{BASE}:role"
SECTION_SYSTEM = f"{BASE}:manual-section"
OUTCOME_SYSTEM = f"{BASE}:contact-outcome"
MODE_SYSTEM = f"{BASE}:contact-mode"
SERVICE_SYSTEM = f"{BASE}:service"
INSTRUMENT_SYSTEM = f"{BASE}:instrument"
SAFETY_SYSTEM = f"{BASE}:safety-source"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://peercoach/fhir-export")

#: R4B value sets of the coded elements with required bindings that this export fills.
#: (resource type, dotted path) -> allowed codes.
VALUE_SETS: dict[tuple[str, str], frozenset[str]] = {
    ("Bundle", "type"): frozenset({"document", "message", "transaction",
                                   "transaction-response", "batch", "batch-response",
                                   "history", "searchset", "collection"}),
    ("Patient", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("Practitioner", "gender"): frozenset({"male", "female", "other", "unknown"}),
    ("CareTeam", "status"): frozenset({"proposed", "active", "suspended", "inactive",
                                       "entered-in-error"}),
    ("CarePlan", "status"): frozenset({"draft", "active", "on-hold", "revoked", "completed",
                                       "entered-in-error", "unknown"}),
    ("CarePlan", "intent"): frozenset({"proposal", "plan", "order", "option"}),
    ("CarePlan", "activity.detail.status"): frozenset({
        "not-started", "scheduled", "in-progress", "on-hold", "completed", "cancelled",
        "stopped", "unknown", "entered-in-error"}),
    ("CarePlan", "activity.detail.kind"): frozenset({
        "Appointment", "CommunicationRequest", "DeviceRequest", "MedicationRequest",
        "NutritionOrder", "Task", "ServiceRequest", "VisionPrescription"}),
    ("Goal", "lifecycleStatus"): frozenset({"proposed", "planned", "accepted", "active",
                                            "on-hold", "completed", "cancelled",
                                            "entered-in-error", "rejected"}),
    ("Encounter", "status"): frozenset({"planned", "arrived", "triaged", "in-progress",
                                        "onleave", "finished", "cancelled",
                                        "entered-in-error", "unknown"}),
    ("Questionnaire", "status"): frozenset({"draft", "active", "retired", "unknown"}),
    ("Questionnaire", "item.type"): frozenset({
        "group", "display", "boolean", "decimal", "integer", "date", "dateTime", "time",
        "string", "text", "url", "choice", "open-choice", "attachment", "reference",
        "quantity"}),
    ("QuestionnaireResponse", "status"): frozenset({"in-progress", "completed", "amended",
                                                    "entered-in-error", "stopped"}),
    ("Observation", "status"): frozenset({"registered", "preliminary", "final", "amended",
                                          "corrected", "cancelled", "entered-in-error",
                                          "unknown"}),
    ("ResearchStudy", "status"): frozenset({
        "active", "administratively-completed", "approved", "closed-to-accrual",
        "closed-to-accrual-and-intervention", "completed", "disapproved", "in-review",
        "temporarily-closed-to-accrual", "temporarily-closed-to-accrual-and-intervention",
        "withdrawn"}),
    ("ResearchSubject", "status"): frozenset({
        "candidate", "eligible", "follow-up", "ineligible", "not-registered", "off-study",
        "on-study", "on-study-intervention", "on-study-observation", "pending-on-study",
        "potential-candidate", "screening", "withdrawn"}),
    ("Consent", "status"): frozenset({"draft", "proposed", "active", "rejected", "inactive",
                                      "entered-in-error"}),
    ("Flag", "status"): frozenset({"active", "inactive", "entered-in-error"}),
}

#: Resource types in the order they are written.
RESOURCE_TYPES = ("Organization", "Patient", "Practitioner", "PractitionerRole", "CareTeam",
                  "CarePlan", "Goal", "Encounter", "Questionnaire", "QuestionnaireResponse",
                  "Observation", "ResearchStudy", "ResearchSubject", "Consent", "Flag")

_ID_RE = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_GENDER = {"male": "male", "female": "female", "nonbinary": "other", "other": "other",
           "undisclosed": "unknown"}
_LANGUAGE = {"en": "en", "es": "es"}


def fhir_id(value: str) -> str:
    """`value` if it is a valid FHIR id, else a stable hash of it."""
    if _ID_RE.fullmatch(value):
        return value
    return "h-" + hashlib.sha256(value.encode()).hexdigest()[:32]


def _values(node: Any, path: list[str]) -> Iterator[Any]:
    if isinstance(node, list):
        for item in node:
            yield from _values(item, path)
        return
    if not path:
        yield node
        return
    if isinstance(node, dict) and path[0] in node:
        yield from _values(node[path[0]], path[1:])


def check_codes(resource: Resource) -> None:
    """Raise ValueError when a coded element holds a code outside its R4B value set."""
    rtype = resource["resourceType"]
    for (of, path), allowed in VALUE_SETS.items():
        if of != rtype:
            continue
        for value in _values(resource, path.split(".")):
            if value not in allowed:
                raise ValueError(f"{rtype}/{resource.get('id')}: {path} {value!r} is not in "
                                 f"its value set")


_MODELS: dict[str, Any] = {}


def validate(resource: Resource) -> None:
    """Construct the fhir.resources R4B model (raises on a structural error) and check the
    codes."""
    rtype = resource["resourceType"]
    model = _MODELS.get(rtype)
    if model is None:
        from fhir.resources.R4B import get_fhir_model_class

        model = _MODELS[rtype] = get_fhir_model_class(rtype)
    model.model_validate(resource)
    check_codes(resource)


def _when(value: dt.date | dt.datetime | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        aware = value if timezone.is_aware(value) else timezone.make_aware(value)
        return aware.astimezone(dt.UTC).isoformat()
    return value.isoformat()


def _period(start: Any, end: Any) -> dict[str, str]:
    out = {}
    if start is not None:
        out["start"] = _when(start)
    if end is not None:
        out["end"] = _when(end)
    return {k: v for k, v in out.items() if v is not None}


def _concept(system: str, code: str, display: str | None = None,
             text: str | None = None) -> dict[str, Any]:
    coding: dict[str, str] = {"system": system, "code": code}
    if display:
        coding["display"] = display
    out: dict[str, Any] = {"coding": [coding]}
    if text:
        out["text"] = text
    return out


def _clean(resource: Resource) -> Resource:
    """Drop empty elements (FHIR forbids empty strings, lists and objects)."""
    return {k: v for k, v in resource.items() if v not in (None, "", [], {})}


_SECTION_TITLES = dict(SECTIONS)
_OUTCOME_LABELS = dict(_OUTCOMES)
_MODE_LABELS = dict(_MODES)
_SAFETY_LABELS = dict(_SAFETY_SOURCES)


class Builder:
    """Turns export rows into resources; `bundle` decides how references are written."""

    def __init__(self, ctx: ExportContext, *, bundle: bool) -> None:
        self.ctx = ctx
        self.bundle = bundle

    # -- references -------------------------------------------------------------------------

    def full_url(self, rtype: str, rid: str) -> str:
        return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{rtype}/{rid}')}"

    def ref(self, rtype: str, rid: str) -> dict[str, str]:
        return {"reference": self.full_url(rtype, rid) if self.bundle else f"{rtype}/{rid}"}

    def patient(self, sid: str) -> dict[str, str]:
        return self.ref("Patient", fhir_id(sid))

    def practitioner(self, sid: str) -> dict[str, str]:
        return self.ref("Practitioner", fhir_id(sid))

    # -- people and places ------------------------------------------------------------------

    def organizations(self) -> Iterator[Resource]:
        from peercoach.programs.models import Site

        ctx = self.ctx
        sites = Site.objects.filter(id__in=ctx.data_site_ids)
        for pk, code, name in sites.order_by("id").distinct().values_list("id", "code", "name"):
            label = ctx.deid.site(pk, code)
            yield _clean({"resourceType": "Organization", "id": fhir_id(label),
                          "identifier": [{"system": f"{BASE}:site", "value": label}],
                          "active": True, "name": name if ctx.identified else label})

    def _site(self, label: str) -> dict[str, str]:
        return self.ref("Organization", fhir_id(label))

    def patients(self) -> Iterator[Resource]:
        identified = self.ctx.identified
        for r in BY_NAME["participants"].rows(self.ctx):
            sid = r["study_id"]
            address: dict[str, Any] = {"state": r["state"]}
            res: Resource = {
                "resourceType": "Patient", "id": fhir_id(sid),
                "identifier": [{"system": STUDY_ID_SYSTEM, "value": sid}],
                "active": r["status"] not in ("withdrawn", "completed", "lost", "not_eligible"),
                "gender": _GENDER.get(r["gender"] or ""),
                "managingOrganization": self._site(r["site"]),
            }
            language = _LANGUAGE.get(r["language"] or "")
            if language:
                res["communication"] = [{"language": _concept("urn:ietf:bcp:47", language)}]
            if identified:
                res["name"] = [_clean({"use": "official", "family": r["last_name"],
                                       "given": [r["first_name"]] if r["first_name"] else []})]
                if r["preferred_name"]:
                    res["name"].append({"use": "usual", "given": [r["preferred_name"]]})
                res["telecom"] = self._telecom(r)
                res["birthDate"] = _when(r["date_of_birth"])
                address.update(line=[r["address_line"]] if r["address_line"] else None,
                               city=r["city"], postalCode=r["zip_code"])
            res["address"] = [_clean(address)] if _clean(address) else None
            yield _clean(res)

    @staticmethod
    def _telecom(r: Row) -> list[dict[str, str]]:
        out = []
        if r.get("phone"):
            out.append({"system": "phone", "value": r["phone"]})
        if r.get("email"):
            out.append({"system": "email", "value": r["email"]})
        return out

    def practitioners(self) -> Iterator[Resource]:
        identified = self.ctx.identified
        for r in BY_NAME["coaches"].rows(self.ctx):
            sid = r["study_id"]
            res: Resource = {
                "resourceType": "Practitioner", "id": fhir_id(sid),
                "identifier": [{"system": STUDY_ID_SYSTEM, "value": sid}],
                "active": r["status"] != "retired", "gender": _GENDER.get(r["gender"] or ""),
            }
            if identified:
                res["name"] = [_clean({"family": r["last_name"],
                                       "given": [r["first_name"]] if r["first_name"] else []})]
                res["telecom"] = self._telecom(r)
                res["birthDate"] = _when(r["date_of_birth"])
            yield _clean(res)
        last = None
        for r in BY_NAME["staff_roles"].rows(self.ctx):
            if r["staff_id"] == last:
                continue  # one Practitioner per person, however many roles
            last = r["staff_id"]
            res = {"resourceType": "Practitioner", "id": fhir_id(r["staff_id"]),
                   "identifier": [{"system": STAFF_SYSTEM, "value": r["staff_id"]}],
                   "active": True}
            if identified:
                res["name"] = [_clean({"family": r["last_name"],
                                       "given": [r["first_name"]] if r["first_name"] else []})]
                res["telecom"] = self._telecom(r)
            yield _clean(res)

    def practitioner_roles(self) -> Iterator[Resource]:
        for r in BY_NAME["coaches"].rows(self.ctx):
            sid = r["study_id"]
            yield {"resourceType": "PractitionerRole", "id": fhir_id(f"coach-role-{sid}"),
                   "active": r["status"] in ("active", "paused", "in_training"),
                   "practitioner": self.practitioner(sid),
                   "organization": self._site(r["site"]),
                   "code": [_concept(ROLE_SYSTEM, "peer_coach", "Peer coach")]}
        from peercoach.core.models import Role

        labels = {role.value: role.label for role in Role}
        for r in BY_NAME["staff_roles"].rows(self.ctx):
            key = f"{r['staff_id']}|{r['role']}|{r['site']}"
            yield {"resourceType": "PractitionerRole",
                   "id": "staff-role-" + hashlib.sha256(key.encode()).hexdigest()[:24],
                   "active": True, "practitioner": self.ref("Practitioner",
                                                            fhir_id(r["staff_id"])),
                   "organization": self._site(r["site"]),
                   "code": [_concept(ROLE_SYSTEM, r["role"], labels.get(r["role"]))]}

    # -- delivering the program ------------------------------------------------------------

    def care_teams(self) -> Iterator[Resource]:
        coach_role = _concept(ROLE_SYSTEM, "peer_coach", "Peer coach")
        patient_role = _concept(ROLE_SYSTEM, "patient", "Patient")
        for r in BY_NAME["pairs"].rows(self.ctx):
            period = _period(r["started_on"], r["ended_on"])
            yield {"resourceType": "CareTeam", "id": f"pair-{r['pair_id']}",
                   "status": "active" if r["current"] else "inactive",
                   "name": "Peer coaching pair",
                   "subject": self.patient(r["patient_study_id"]), "period": period,
                   "participant": [
                       {"role": [coach_role], "member": self.practitioner(r["coach_study_id"]),
                        "period": period},
                       {"role": [patient_role], "member": self.patient(r["patient_study_id"]),
                        "period": period}]}

    def care_plans(self) -> Iterator[Resource]:
        planned = iter(BY_NAME["planned_contacts"].rows(self.ctx))
        pending = next(planned, None)
        statuses = {"planned": "scheduled", "done": "completed", "cancelled": "cancelled"}
        for plan in BY_NAME["plans"].rows(self.ctx):
            activities = []
            # Both tables are ordered by plan id. A planned contact of a plan made while
            # the export ran (so missing from the plans read earlier) is skipped.
            while pending is not None and pending["plan_id"] < plan["plan_id"]:
                pending = next(planned, None)
            while pending is not None and pending["plan_id"] == plan["plan_id"]:
                p = pending
                activity: dict[str, Any] = {"detail": {
                    "kind": "Appointment", "status": statuses[p["status"]],
                    "code": {"text": f"Planned contact {p['number']}"},
                    "scheduledPeriod": _period(p["window_start"], p["window_end"]),
                    "description": f"Contact {p['number']}, due {_when(p['due_on'])}"}}
                if p["contact_id"] is not None:
                    activity["outcomeReference"] = [self.ref("Encounter",
                                                             f"contact-{p['contact_id']}")]
                activities.append(activity)
                pending = next(planned, None)
            yield _clean({
                "resourceType": "CarePlan", "id": f"plan-{plan['plan_id']}",
                "status": "completed" if plan["ended_on"] else "active", "intent": "plan",
                "title": "Peer coaching contact plan",
                "subject": self.patient(plan["patient_study_id"]),
                "period": _period(plan["started_on"], plan["ended_on"]),
                "activity": activities})

    def goals(self) -> Iterator[Resource]:
        lifecycle = {"active": "active", "achieved": "completed", "revised": "cancelled",
                     "dropped": "cancelled"}
        achievement = {"achieved": "achieved", "dropped": "not-achieved",
                       "active": "in-progress"}
        for r in BY_NAME["goals"].rows(self.ctx):
            title = _SECTION_TITLES.get(r["section"], r["section"])
            description = _concept(SECTION_SYSTEM, r["section"], title,
                                   r["text"] if self.ctx.identified else
                                   f"A goal from the manual section: {title}")
            res: Resource = {
                "resourceType": "Goal", "id": f"goal-{r['goal_id']}",
                "lifecycleStatus": lifecycle[r["status"]], "description": description,
                "subject": self.patient(r["patient_study_id"]),
                "startDate": _when(r["set_on"]),
            }
            if r["status"] in achievement:
                res["achievementStatus"] = _concept(
                    "http://terminology.hl7.org/CodeSystem/goal-achievement",
                    achievement[r["status"]])
            yield _clean(res)

    def encounters(self) -> Iterator[Resource]:
        service = _concept(SERVICE_SYSTEM, "peer_coaching", "Peer coaching")
        for r in BY_NAME["contacts"].rows(self.ctx):
            start = r["occurred_at"]
            minutes = r["duration_minutes"]
            end = start + dt.timedelta(minutes=minutes) if minutes else None
            res: Resource = {
                "resourceType": "Encounter", "id": f"contact-{r['contact_id']}",
                "status": "finished" if r["reached"] else "cancelled",
                "class": {"system": ACT_CODE,
                          "code": "FLD" if r["mode"] == "in_person" else "VR",
                          "display": "field" if r["mode"] == "in_person" else "virtual"},
                "type": [_concept(OUTCOME_SYSTEM, r["outcome"],
                                  _OUTCOME_LABELS.get(r["outcome"])),
                         _concept(MODE_SYSTEM, r["mode"], _MODE_LABELS.get(r["mode"]))],
                "serviceType": service,
                "subject": self.patient(r["patient_study_id"]),
                "participant": [{"individual": self.practitioner(r["coach_study_id"])}],
                "period": _period(start, end),
            }
            if minutes:
                res["length"] = {"value": minutes, "unit": "min", "system": UCUM,
                                 "code": "min"}
            yield res

    # -- questionnaires and scores -----------------------------------------------------------

    @staticmethod
    def questionnaire_url(code: str) -> str:
        return f"{BASE}:questionnaire:{code}"

    @staticmethod
    def _choice(ins: Instrument, number: int) -> bool:
        return all(o.label is not None for o in ins.item(number).options)

    def questionnaires(self) -> Iterator[Resource]:
        for ins in REGISTRY.values():
            if not ins.items:
                continue  # an external score has no questionnaire
            items = []
            for item in ins.items:
                entry: dict[str, Any] = {"linkId": str(item.number)}
                if ins.licence is Licence.FREE and item.text:
                    entry["text"] = item.text
                else:
                    entry["prefix"] = f"{item.number}."
                if item.loinc:
                    entry["code"] = [{"system": LOINC, "code": item.loinc}]
                if self._choice(ins, item.number):
                    entry["type"] = "choice"
                    entry["answerOption"] = [{"valueCoding": {
                        "system": self.questionnaire_url(ins.code) + ":answers",
                        "code": str(o.value), "display": o.label}} for o in item.options]
                else:
                    entry["type"] = "integer"
                items.append(entry)
            res: Resource = {
                "resourceType": "Questionnaire", "id": fhir_id(f"questionnaire-{ins.code}"),
                "url": self.questionnaire_url(ins.code), "title": ins.name, "status": "active",
                "subjectType": ["Patient"], "copyright": ins.copyright, "item": items,
            }
            if ins.loinc_panel:
                res["code"] = [{"system": LOINC, "code": ins.loinc_panel, "display": ins.name}]
            yield res

    def questionnaire_responses(self) -> Iterator[Resource]:
        for r in assessment_rows(self.ctx, submitted_only=True, with_answers=True):
            ins = REGISTRY.get(r["instrument"])
            if ins is None or not ins.items:
                continue
            items = []
            for number, value in r["answers"].items():
                if not 1 <= number <= len(ins.items):
                    continue
                whole = int(value)
                if self._choice(ins, number):
                    label = next((o.label for o in ins.item(number).options
                                  if o.value == whole), None)
                    answer: dict[str, Any] = {"valueCoding": _clean({
                        "system": self.questionnaire_url(ins.code) + ":answers",
                        "code": str(whole), "display": label})}
                else:
                    answer = {"valueInteger": whole}
                items.append({"linkId": str(number), "answer": [answer]})
            yield _clean({
                "resourceType": "QuestionnaireResponse",
                "id": f"response-{r['assessment_id']}",
                "questionnaire": self.questionnaire_url(ins.code),
                "status": "amended" if r["version"] > 1 else "completed",
                "subject": self.patient(r["patient_study_id"]),
                "authored": _when(r["submitted_at"]), "item": items})

    def _score_code(self, ins: Instrument | None, code: str, what: str) -> dict[str, Any]:
        codings = []
        if ins is not None and ins.loinc_total:
            codings.append({"system": LOINC, "code": ins.loinc_total})
        name = ins.short_name if ins is not None else code
        codings.append({"system": INSTRUMENT_SYSTEM, "code": f"{code}-{what}",
                        "display": f"{name} {what}"})
        return {"coding": codings, "text": f"{name} {what}"}

    _SURVEY = [_concept("http://terminology.hl7.org/CodeSystem/observation-category", "survey",
                        "Survey")]

    def observations(self) -> Iterator[Resource]:
        for r in assessment_rows(self.ctx, submitted_only=True):
            if r["total"] is None:
                continue
            ins = REGISTRY.get(r["instrument"])
            res: Resource = {
                "resourceType": "Observation", "id": f"score-{r['assessment_id']}",
                "status": "amended" if r["version"] > 1 else "final",
                "category": self._SURVEY,
                "code": self._score_code(ins, r["instrument"], "score"),
                "subject": self.patient(r["patient_study_id"]),
                "effectiveDateTime": _when(r["submitted_at"]),
                "valueQuantity": {"value": r["total"], "unit": "{score}", "system": UCUM,
                                  "code": "{score}"},
                "derivedFrom": [self.ref("QuestionnaireResponse",
                                         f"response-{r['assessment_id']}")],
            }
            if r["band"]:
                res["interpretation"] = [{"text": r["band"]}]
            yield res
        for r in BY_NAME["external_scores"].rows(self.ctx):
            ins = REGISTRY.get(r["instrument"])
            res = {
                "resourceType": "Observation", "id": f"external-{r['score_id']}",
                "status": "final", "category": self._SURVEY,
                "code": self._score_code(ins, r["instrument"], "score"),
                "subject": self.patient(r["patient_study_id"]),
                "effectiveDateTime": _when(r["measured_on"]),
                "valueQuantity": {"value": r["score"], "unit": "{score}", "system": UCUM,
                                  "code": "{score}"},
            }
            if r["level"] is not None:
                res["component"] = [{"code": self._score_code(ins, r["instrument"], "level"),
                                     "valueInteger": r["level"]}]
            yield res
        peg = REGISTRY.get("peg")
        for r in BY_NAME["pain_check_ins"].rows(self.ctx):
            yield {
                "resourceType": "Observation", "id": f"peg-check-in-{r['check_in_id']}",
                "status": "final", "category": self._SURVEY,
                "code": self._score_code(peg, "peg", "check-in score"),
                "subject": self.patient(r["patient_study_id"]),
                "effectiveDateTime": _when(r["at"]),
                "valueQuantity": {"value": r["peg_score"], "unit": "{score}", "system": UCUM,
                                  "code": "{score}"},
            }

    # -- the study --------------------------------------------------------------------------

    def research_studies(self) -> Iterator[Resource]:
        if not self.ctx.allocations_allowed:
            return
        statuses = {"draft": "in-review", "recruiting": "active", "closed": "closed-to-accrual"}
        current: Resource | None = None
        for r in BY_NAME["arms"].rows(self.ctx):
            if current is None or current["id"] != f"study-{r['study']}":
                if current is not None:
                    yield current
                current = _clean({
                    "resourceType": "ResearchStudy", "id": f"study-{r['study']}",
                    "identifier": [{"system": "https://clinicaltrials.gov",
                                    "value": r["registration_id"]}]
                    if r["registration_id"] else None,
                    "title": r["study_title"], "status": statuses[r["study_status"]],
                    "arm": []})
                current["arm"] = []
            current["arm"].append(_clean({
                "name": r["arm_code"], "description": r["arm_name"],
                "type": _concept("http://terminology.hl7.org/CodeSystem/research-study-arm-type",
                                 "active-comparator" if r["arm_kind"] == "control"
                                 else "experimental")}))
        if current is not None:
            yield current

    def research_subjects(self) -> Iterator[Resource]:
        if not self.ctx.allocations_allowed:
            return
        statuses = {"withdrawn": "withdrawn", "completed": "off-study", "lost": "off-study"}
        for r in BY_NAME["allocations"].rows(self.ctx):
            sid = r["patient_study_id"]
            yield _clean({
                "resourceType": "ResearchSubject",
                "id": fhir_id(f"subject-{r['study']}-{sid}"),
                "status": statuses.get(r["participant_status"], "on-study"),
                "period": _period(r["allocated_at"], None),
                "study": self.ref("ResearchStudy", f"study-{r['study']}"),
                "individual": self.patient(sid),
                "assignedArm": r["arm_code"], "actualArm": r["arm_code"]})

    def consents(self) -> Iterator[Resource]:
        for r in BY_NAME["consents"].rows(self.ctx):
            yield {
                "resourceType": "Consent", "id": f"consent-{r['consent_id']}",
                "status": "active",
                "scope": _concept("http://terminology.hl7.org/CodeSystem/consentscope",
                                  "research", "Research"),
                "category": [_concept(LOINC, "59284-0", "Consent Document")],
                "patient": self.patient(r["patient_study_id"]),
                "dateTime": _when(r["consented_on"]),
                "policyRule": _concept(ACT_CODE, "OPTIN", "opt-in"),
                "sourceAttachment": {"title": f"Consent form {r['form_version']}"},
            }

    def flags(self) -> Iterator[Resource]:
        for r in BY_NAME["safety_events"].rows(self.ctx):
            if r["status"] == "closed":
                continue
            subject = (self.patient(r["subject_study_id"]) if r["subject_type"] == "patient"
                       else self.practitioner(r["subject_study_id"]))
            yield {
                "resourceType": "Flag", "id": f"safety-{r['event_id']}", "status": "active",
                "category": [_concept("http://terminology.hl7.org/CodeSystem/flag-category",
                                      "safety", "Safety")],
                "code": _concept(SAFETY_SYSTEM, r["source"], _SAFETY_LABELS.get(r["source"]),
                                 "Safety follow-up pending"),
                "subject": subject, "period": _period(r["raised_at"], None),
            }

    def passes(self) -> list[tuple[str, Callable[[], Iterable[Resource]]]]:
        return [
            ("Organization", self.organizations), ("Patient", self.patients),
            ("Practitioner", self.practitioners), ("PractitionerRole", self.practitioner_roles),
            ("CareTeam", self.care_teams), ("CarePlan", self.care_plans),
            ("Goal", self.goals), ("Encounter", self.encounters),
            ("Questionnaire", self.questionnaires),
            ("QuestionnaireResponse", self.questionnaire_responses),
            ("Observation", self.observations), ("ResearchStudy", self.research_studies),
            ("ResearchSubject", self.research_subjects), ("Consent", self.consents),
            ("Flag", self.flags),
        ]


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def _checked(resources: Iterable[Resource], counts: dict[str, int], rtype: str,
             check: bool) -> Iterator[Resource]:
    for res in resources:
        if check:
            validate(res)
        else:  # the model is not built, but the codes are always checked (cheap)
            check_codes(res)
        counts[rtype] = counts.get(rtype, 0) + 1
        yield res


def write_bundle(ctx: ExportContext, out: IO[str], *, check: bool = True) -> dict[str, int]:
    """Write one Bundle (type collection) to `out`, an entry at a time."""
    builder = Builder(ctx, bundle=True)
    counts: dict[str, int] = {}
    head: Resource = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"security": [{"system": "http://terminology.hl7.org/CodeSystem/"
                                         "v3-ObservationValue",
                               "code": "PSEUDED", "display": "pseudonymized"}]}
        if not ctx.identified else None,
        "type": "collection",
        "timestamp": timezone.now().astimezone(dt.UTC).isoformat(),
    }
    head = _clean(head)
    check_codes(head)
    out.write(_dump(head)[:-1] + ',"entry":[\n')
    first = True
    for rtype, make in builder.passes():
        for res in _checked(make(), counts, rtype, check):
            if not first:
                out.write(",\n")
            first = False
            out.write(_dump({"fullUrl": builder.full_url(rtype, res["id"]), "resource": res}))
    out.write("\n]}\n")
    return counts


def write_bundle_file(ctx: ExportContext, path: Path, *, check: bool = True) -> dict[str, int]:
    with open(path, "w", encoding="utf-8") as out:
        return write_bundle(ctx, out, check=check)


def write_ndjson_zip(ctx: ExportContext, path: Path, *, check: bool = True) -> dict[str, int]:
    """One `<Type>.ndjson` per resource type (plain "Type/id" references), zipped."""
    builder = Builder(ctx, bundle=False)
    counts: dict[str, int] = {}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for rtype, make in builder.passes():
            with _TextEntry(zf, f"{rtype}.ndjson") as entry:
                for res in _checked(make(), counts, rtype, check):
                    entry.text.write(_dump(res))
                    entry.text.write("\n")
    return counts


def tables_read(ctx: ExportContext) -> list[str]:
    """Tables the FHIR export reads (for the job's progress total)."""
    names = ["participants", "coaches", "staff_roles", "coaches", "staff_roles", "pairs",
             "planned_contacts", "plans", "goals", "contacts", "assessments", "assessments",
             "external_scores", "pain_check_ins", "consents", "safety_events"]
    if ctx.allocations_allowed:
        names += ["arms", "allocations"]
    return names
