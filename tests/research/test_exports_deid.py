"""De-identification: no direct identifier appears anywhere in a researcher's export, in
any format. A world with known, distinctive identifiers is exported, and every output
file is searched for each of them."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from peercoach.assessments.models import Assessment, ResponseVersion
from peercoach.coaching.models import (
    Contact,
    ContactPlan,
    Goal,
    GoalCheckIn,
    PainCheckIn,
    PlannedContact,
)
from peercoach.core.models import Role
from peercoach.matching.models import Match
from peercoach.people.models import Coach, Consent, Patient
from peercoach.research import services as research
from peercoach.research.exports import csv_export, deid, fhir_bundle, jobs, redcap
from peercoach.research.exports.tables import ExportContext
from peercoach.supervision.models import SafetyEvent

from ..factories import CoachFactory, PatientFactory, eligible_patient, staff

UTC = dt.UTC

#: The known participant's real dates, and the coach's own (guide read, their event).
PATIENT_DATES = [dt.date(2019, m, d) for m, d in (
    (3, 2), (3, 19), (3, 11), (9, 9), (5, 20), (10, 1), (6, 11), (6, 27), (6, 3), (5, 28),
    (6, 14), (6, 17), (6, 12), (6, 23), (7, 7), (3, 13), (3, 22), (4, 2), (3, 23))]
COACH_DATES = [dt.date(2019, 4, 4), dt.date(2019, 8, 8), dt.date(2019, 8, 9)]


@dataclass
class Known:
    world: Any
    patient: Any
    coach: Any
    staffer: Any
    statistician: Any
    study: Any
    match: Any
    #: Every identifier that must never reach a de-identified file.
    secrets: list[str]
    #: The patient's and coach's real dates (ISO), which must not appear either.
    real_dates: list[str]
    secret: str = ""


def _at(day: dt.date, hour: int = 14, minute: int = 5) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def build_known(world: Any) -> Known:
    """A participant and a coach whose every identifier is distinctive, with a whole
    program's worth of records: plan, contacts, goals, questionnaires, allocation,
    consent, safety events."""
    program = world.program_a
    by = world.coordinator
    staffer = staff(Role.SUPERVISOR, world.site_a, username="hortensia.blackwood",
                    first_name="Hortensia", last_name="Blackwood",
                    email="hortensia.blackwood@example.org")
    statistician = staff(Role.STATISTICIAN, world.site_a, username="stat.ellington")
    study = research.study_create(
        program=program, by=by, title="Known study", registration_id="NCT02380690",
        block_sizes=[2], time_points=["baseline"], start=True, seed=7,
        arms=[{"name": "Peer coaching", "code": "coaching"},
              {"name": "Self-management class", "code": "control", "kind": "control",
               "gets_coach": False}])
    patient = eligible_patient(
        program, first_name="Zebulon", last_name="Quackenbush", preferred_name="Zebby",
        date_of_birth=dt.date(1928, 2, 29), phone="+13175550199",
        email="zebulon.quackenbush@example.org", address_line="742 Evergreen Terrace",
        city="Springfield", state="NH", zip_code="03601-1234",
        referring_clinician_name="Dr. Ottoline Pemberton",
        referral_reason="Neighbour Mrs Pettigrew drove him in",
        referred_on=dt.date(2019, 3, 2), enrolled_on=dt.date(2019, 3, 19),
        pain_conditions=["low_back", "knee_oa"])
    patient.status_changed_at = _at(dt.date(2019, 9, 9))
    patient.save()
    Consent.objects.filter(patient=patient).update(consented_on=dt.date(2019, 3, 11))
    coach = CoachFactory(
        program=program, first_name="Ignatius", last_name="Fairweather",
        date_of_birth=dt.date(1948, 10, 30), phone="+13175550142",
        email="ignatius.fairweather@example.org", address_line="31 Spooner Street",
        city="Quahog", zip_code="46218", guide_read_on=dt.date(2019, 4, 4))
    research.randomize(patient=patient, by=by, study=study)
    match = Match.objects.create(patient=patient, coach=coach, created_by=by,
                                 started_on=dt.date(2019, 5, 20), ended_on=dt.date(2019, 10, 1),
                                 end_reason="Zebulon moved to Maple Street")
    plan = ContactPlan.objects.create(patient=patient, started_on=dt.date(2019, 5, 20),
                                      interval_days=14, span_days=120,
                                      ended_on=dt.date(2019, 10, 1), end_reason="moved")
    contact = Contact.objects.create(
        patient=patient, coach=coach, match=match, occurred_at=_at(dt.date(2019, 6, 11)),
        mode="phone", outcome="reached", duration_minutes=25, sections=["activity-pacing"],
        curriculum_percent=50, pain_today=6, concerns="Worried about Mrs Pettigrew",
        notes="Called Zebulon at home on Maple Street", logged_by=by)
    Contact.objects.create(patient=patient, coach=coach, match=match,
                           occurred_at=_at(dt.date(2019, 6, 27), 16, 40), mode="in_person",
                           outcome="no_answer", logged_by=by)
    PlannedContact.objects.create(plan=plan, number=1, due_on=dt.date(2019, 6, 3),
                                  window_start=dt.date(2019, 5, 28),
                                  window_end=dt.date(2019, 6, 14), status="done",
                                  contact=contact)
    PlannedContact.objects.create(plan=plan, number=2, due_on=dt.date(2019, 6, 17),
                                  window_start=dt.date(2019, 6, 12),
                                  window_end=dt.date(2019, 6, 23))
    goal = Goal.objects.create(
        patient=patient, text="Walk Zebulon's beagle to Maple Street park",
        section="activity-pacing", practice="timer-for-chores", what="walk the beagle",
        how_much="20 minutes", when="after lunch", how_often="4 days", confidence=8,
        status="achieved", set_in=contact, created_by=by)
    Goal.objects.filter(pk=goal.pk).update(created_at=_at(dt.date(2019, 6, 11)))
    GoalCheckIn.objects.create(goal=goal, contact=contact, progress="most",
                               note="Zebulon did most of it")
    PainCheckIn.objects.create(patient=patient, at=_at(dt.date(2019, 7, 7), 9, 0), pain=5,
                               peg_pain=5, peg_enjoyment=4, peg_activity=6)
    assessment = Assessment.objects.create(
        patient=patient, instrument="phq9", opens_on=dt.date(2019, 3, 13),
        due_on=dt.date(2019, 3, 22), closes_on=dt.date(2019, 4, 2), status="submitted",
        submitted_at=_at(dt.date(2019, 3, 23), 10, 12), version=1, total=7, band="Mild",
        complete=True)
    answers = {str(i): (1 if i <= 7 else 0) for i in range(1, 11)}
    ResponseVersion.objects.create(assessment=assessment, number=1, answers=answers,
                                   total=7, band="Mild", complete=True, mode="phone",
                                   submitted_by=by, submitted_at=assessment.submitted_at)
    SafetyEvent.objects.create(patient=patient, site=world.site_a, source="contact",
                               summary="Zebulon said he feels despondent", raised_by=by,
                               raised_at=_at(dt.date(2019, 6, 11), 14, 40))
    SafetyEvent.objects.create(
        coach=coach, site=world.site_a, source="note", status="closed",
        summary="Ignatius mentioned a crisis", follow_up="Called Ignatius back",
        raised_by=by, raised_at=_at(dt.date(2019, 8, 8)), follow_up_at=_at(dt.date(2019, 8, 8)),
        closed_at=_at(dt.date(2019, 8, 9)))
    identifiers = [
        "Zebulon", "Quackenbush", "Zebby", "+13175550199", "3175550199", "317-555-0199",
        "(317) 555-0199", "zebulon.quackenbush@example.org", "742 Evergreen Terrace",
        "Evergreen", "Springfield", "03601", "03601-1234", "1928-02-29", "02/29/1928",
        "19280229", "Pemberton", "Pettigrew", "Maple Street", "beagle", "despondent",
        "Ignatius", "Fairweather", "+13175550142", "ignatius.fairweather@example.org",
        "Spooner", "Quahog", "46218", "1948-10-30", "hortensia", "Hortensia", "Blackwood",
        "stat.ellington", world.site_a.name, program.name, world.patient.last_name,
        world.patient.email, world.patient.phone, world.coach.last_name,
    ]
    real = sorted({d.isoformat() for d in PATIENT_DATES + COACH_DATES})
    return Known(world=world, patient=patient, coach=coach, staffer=staffer,
                 statistician=statistician, study=study, match=match, secrets=identifiers,
                 real_dates=real)


def pick_secret(patient_pks: list[int], coach_pks: list[int],
                derived: frozenset[dt.date] | set[dt.date] = frozenset()) -> str:
    """A date-shift secret under which no shifted date happens to equal one of the known
    people's real dates (that would be a coincidence, not a leak, and would make the
    search below fail for the wrong reason). A pair's or a table's dates may be shifted by
    any exported person's offset, so every offset is tried on every real date."""
    real = set(PATIENT_DATES + COACH_DATES)
    for i in range(1000):
        secret = f"test-date-shift-{i}".encode()
        offsets = ({deid.offset_for(secret, "patient", pk) for pk in patient_pks}
                   | {deid.offset_for(secret, "coach", pk) for pk in coach_pks})
        # Dates derived from the real ones (questionnaire windows) are shifted too.
        shifted = {d + dt.timedelta(days=o) for d in real | set(derived) for o in offsets}
        if not shifted & real:
            return secret.decode()
    raise AssertionError("no secret found")  # pragma: no cover


def make_known(world: Any, settings: Any, tmp_path: Path) -> Known:
    """The `known` fixture's body (the other export test modules define the same fixture
    with it)."""
    settings.DATA_DIR = tmp_path
    found = build_known(world)
    # Everyone else in the world has 2026 dates, which no shift (±182 days) brings to 2019.
    found.secret = settings.EXPORT_DATE_SHIFT_SECRET = pick_secret(
        list(Patient.objects.filter(referred_on__year=2019).values_list("pk", flat=True)),
        list(Coach.objects.filter(guide_read_on__year=2019).values_list("pk", flat=True)),
        {d for row in Assessment.objects.filter(patient=found.patient).values_list(
            "opens_on", "due_on", "closes_on") for d in row})
    return found


@pytest.fixture
def known(world: Any, settings: Any, tmp_path: Path) -> Known:
    return make_known(world, settings, tmp_path)


def occurs(needle: str, text: str) -> bool:
    """`needle` in `text`, not as part of a longer number (a pseudonym's hex digits or a
    UUID may hold "46218" by chance)."""
    head = "(?<![0-9])" if needle[:1].isdigit() else ""
    tail = "(?![0-9])" if needle[-1:].isdigit() else ""
    return re.search(head + re.escape(needle) + tail, text) is not None


def export_files(user: Any, fmt: str, tmp_path: Path, *, identified: bool = False,
                 **scope: Any) -> dict[str, str]:
    """Run one export straight through the writers; answer {file name: text}."""
    ctx = ExportContext(user=user, identified=identified, **scope)
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / f"out-{fmt}-{identified}-{user.pk}"
    writers = {"csv": csv_export.write_csv_zip, "redcap": redcap.write_redcap_zip,
               "fhir": fhir_bundle.write_bundle_file, "fhir_ndjson": fhir_bundle.write_ndjson_zip}
    writers[fmt](ctx, path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            return {name: zf.read(name).decode("utf-8") for name in zf.namelist()}
    return {path.name: path.read_text(encoding="utf-8")}


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


FORMATS = ("csv", "redcap", "fhir", "fhir_ndjson")


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_identifier_anywhere_in_a_researchers_export(known: Known, tmp_path: Path,
                                                        fmt: str) -> None:
    files = export_files(known.world.researcher, fmt, tmp_path)
    text = "\n".join(files.values())
    # The export is not empty: the participant is there under their study ID.
    assert known.patient.study_id in text
    assert known.coach.study_id in text
    found = [s for s in known.secrets if occurs(s, text)]
    assert not found, f"identifiers in the {fmt} export: {found}"
    dates = [d for d in known.real_dates if occurs(d, text)]
    assert not dates, f"real dates in the {fmt} export: {dates}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_statisticians_export_is_de_identified_too(known: Known, tmp_path: Path,
                                                   fmt: str) -> None:
    text = "\n".join(export_files(known.statistician, fmt, tmp_path).values())
    assert known.patient.study_id in text
    assert not [s for s in known.secrets if occurs(s, text)]
    assert not [d for d in known.real_dates if occurs(d, text)]


@pytest.mark.parametrize("fmt", FORMATS)
def test_coordinators_identified_export_has_the_identities(known: Known, tmp_path: Path,
                                                           fmt: str) -> None:
    """The counterpart: the search above would find them if they were written."""
    text = "\n".join(export_files(known.world.coordinator, fmt, tmp_path,
                                  identified=True).values())
    for value in ("Zebulon", "Quackenbush", "+13175550199", "zebulon.quackenbush@example.org",
                  "1928-02-29", "2019-06-11"):
        assert value in text, value
    if fmt != "redcap":  # REDCap records are participants; coaches appear by study ID
        assert "Ignatius" in text


def test_coordinators_default_export_is_de_identified(known: Known, tmp_path: Path) -> None:
    text = "\n".join(export_files(known.world.coordinator, "csv", tmp_path).values())
    assert not [s for s in known.secrets if occurs(s, text)]


def test_researcher_may_not_ask_for_identities(known: Known) -> None:
    with pytest.raises(PermissionDenied):
        jobs.export_request(by=known.world.researcher, format="csv", identified=True)
    with pytest.raises(PermissionDenied):
        jobs.export_request(by=known.statistician, format="fhir", identified=True)
    for user in (known.world.supervisor, known.world.clinician, known.world.coach_user,
                 known.world.patient_user):
        with pytest.raises(PermissionDenied):
            jobs.export_request(by=user, format="csv")


def test_ages_zip_and_dates_follow_the_rules(known: Known, tmp_path: Path) -> None:
    files = export_files(known.world.researcher, "csv", tmp_path)
    row = next(r for r in csv_rows(files["participants.csv"])
               if r["study_id"] == known.patient.study_id)
    assert row["age_at_day0"] == "90+"  # born 1928, enrolled 2019
    assert row["zip3"] == "000"  # 036 is one of the small three-digit areas
    assert row["state"] == "NH"
    offset = deid.offset_for(known.secret.encode(), "patient", known.patient.pk)
    assert offset != 0 and -182 <= offset <= 182
    assert row["enrolled_on"] == (dt.date(2019, 3, 19) + dt.timedelta(days=offset)).isoformat()
    assert row["referral_day"] == "-17"  # real interval, from the real dates
    contacts = [r for r in csv_rows(files["contacts.csv"])
                if r["patient_study_id"] == known.patient.study_id]
    assert [r["day"] for r in contacts] == ["84", "100"]
    shifted = _at(dt.date(2019, 6, 11)) + dt.timedelta(days=offset)
    assert contacts[0]["occurred_at"] == shifted.strftime("%Y-%m-%dT%H:%M:%SZ")
    # The coach's own dates move by the coach's offset, not the participant's.
    coach_offset = deid.offset_for(known.secret.encode(), "coach", known.coach.pk)
    coach = next(r for r in csv_rows(files["coaches.csv"])
                 if r["study_id"] == known.coach.study_id)
    assert coach["guide_read_on"] == (dt.date(2019, 4, 4)
                                      + dt.timedelta(days=coach_offset)).isoformat()
    # Sites, programs and staff appear as pseudonyms.
    assert row["site"].startswith("site-") and row["program"].startswith("program-")
    assert row["site"] != known.world.site_a.code
    staff_ids = {r["staff_id"] for r in csv_rows(files["staff_roles.csv"])}
    assert staff_ids and all(s.startswith("S-") for s in staff_ids)


def test_repeated_exports_agree(known: Known, tmp_path: Path) -> None:
    first = export_files(known.world.researcher, "csv", tmp_path / "a")
    second = export_files(known.world.researcher, "csv", tmp_path / "b")
    for name in ("participants.csv", "contacts.csv", "pairs.csv", "assessments.csv"):
        assert first[name] == second[name], name


def test_offsets_are_spread_and_never_zero() -> None:
    key = b"k"
    offsets = [deid.offset_for(key, "patient", pk) for pk in range(1, 5001)]
    assert 0 not in offsets
    assert min(offsets) == -182 and max(offsets) == 182
    assert len(set(offsets)) == 364
    assert deid.offset_for(key, "patient", 7) != deid.offset_for(b"other", "patient", 7) or (
        deid.offset_for(key, "patient", 8) != deid.offset_for(b"other", "patient", 8))


@pytest.mark.parametrize(("zip_code", "want"), [
    ("46202", "462"), ("03601-1234", "000"), ("89301", "000"), ("", None), ("12", None),
    ("ABCDE", None), ("10215", "102" if "102" not in deid.RESTRICTED_ZIP3 else "000")])
def test_zip3(zip_code: str, want: str | None) -> None:
    assert deid.zip3(zip_code) == want


def test_ages() -> None:
    assert deid.age_text(deid.age_on(dt.date(1930, 6, 1), dt.date(2020, 5, 31))) == "89"
    assert deid.age_text(deid.age_on(dt.date(1930, 6, 1), dt.date(2020, 6, 1))) == "90+"
    assert deid.age_text(None) is None


def test_fhir_bundle_is_json_and_has_no_free_text(known: Known, tmp_path: Path) -> None:
    (text,) = export_files(known.world.researcher, "fhir", tmp_path).values()
    bundle = json.loads(text)
    assert bundle["type"] == "collection"
    goals = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Goal"]
    assert goals and all("beagle" not in json.dumps(g) for g in goals)


def test_only_the_requesters_sites(known: Known, tmp_path: Path) -> None:
    other = PatientFactory(program=known.world.program_b, last_name="Elsewhere")
    text = "\n".join(export_files(known.world.researcher, "csv", tmp_path).values())
    assert other.study_id not in text
    assert known.world.patient_b.study_id not in text
    assert known.world.coach_b.study_id not in text


def test_one_study_exports_its_randomized_participants_only(known: Known,
                                                            tmp_path: Path) -> None:
    files = export_files(known.world.researcher, "csv", tmp_path, study_id=known.study.pk)
    ids = {r["study_id"] for r in csv_rows(files["participants.csv"])}
    assert ids == {known.patient.study_id}
