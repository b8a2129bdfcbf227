"""Time a study's reports (fidelity, CONSORT, RE-AIM, outcome analysis) on a 2,000-patient
randomized study, and measure their peak memory.

    python benchmarks/bench_study_reports.py                       # PostgreSQL (default)
    python benchmarks/bench_study_reports.py --database-url sqlite  # a fresh SQLite file

The PostgreSQL database (default postgres://postgres@127.0.0.1:5432/peercoach_study_bench,
or $BENCH_STUDY_DATABASE_URL) is created if it does not exist; its `public` schema is
dropped and migrated afresh each run, so use a database of its own. `sqlite` makes a new
file in a temporary directory.

The study is built with bulk inserts (no services: the benchmark is about reading): an
ECLIPSE-style program, 2,400 referred patients of whom `--patients` (2,000) are
randomized 5:4 in blocks of 9 and 18 from a stored sequence, 700 coaches (1.6 coached
patients each), pairs with a 10% share re-matched to a second coach, 12 planned contacts
per coached patient with an ECLIPSE-like dose (median about 5 reached), goals, monthly
supervision calls with attendance, and PEG and PHQ-9 at baseline, 6 and 9 months (about
80% and 70% answered at follow-up). Invented data only.

Each report is timed `--repeat` times (median reported) from a cold start of its own
(the analysis cache cleared), as `build`/`run` calls and as the pages a coordinator opens
(Django test client: queries, computation, charts and templates). Peak memory is the
tracemalloc peak of Python allocations during one more run of each, plus the process's
maximum resident set size at the end. Results go to benchmarks/results/study-reports.json
(`--output`), or study-reports-sqlite.json for SQLite.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT / "src", ROOT / "benchmarks"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

DEFAULT_URL = os.environ.get("BENCH_STUDY_DATABASE_URL",
                             "postgres://postgres@127.0.0.1:5432/peercoach_study_bench")
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def _prepare(url: str) -> str:
    """Point Django at a fresh database; return a label for the results."""
    if url == "sqlite":
        folder = tempfile.mkdtemp(prefix="peercoach-study-bench-")
        os.environ["DATABASE_URL"] = f"sqlite:///{folder}/bench.sqlite3"
        os.environ["PEERCOACH_DATA_DIR"] = folder
        label = "sqlite"
    else:
        from generate import db_name, ensure_database, reset_schema

        name = db_name(url)
        if name in ("postgres", "") or name.startswith(("template", "test")):
            raise SystemExit(f"Refusing to use the database {name!r}: give one of its own.")
        ensure_database(url)
        reset_schema(url)
        os.environ["DATABASE_URL"] = url
        label = "postgresql"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peercoach.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return label


def _ids(rng: random.Random, prefix: str, n: int) -> list[str]:
    seen: set[str] = set()
    out = []
    while len(out) < n:
        code = prefix + "-" + "".join(rng.choices(ALPHABET, k=8))
        if code not in seen:
            seen.add(code)
            out.append(code)
    return out


def build_study(n_patients: int, seed: int) -> tuple[Any, dict[str, int]]:
    """The study, bulk-inserted. Returns it and the row counts."""
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from peercoach.assessments.models import Assessment, AssessmentStatus, TimePoint
    from peercoach.coaching import schedule
    from peercoach.coaching.models import Contact, ContactPlan, Goal, PlannedContact
    from peercoach.core.models import Role, RoleAssignment
    from peercoach.matching.models import Match
    from peercoach.people.models import Coach, Consent, Patient, Screening
    from peercoach.programs.models import Program, Site
    from peercoach.programs.protocols import ECLIPSE
    from peercoach.research.models import (
        Allocation,
        AllocationSlot,
        Stratum,
        StudyStatus,
    )
    from peercoach.research.randomization import block_sequence, stratum_seed
    from peercoach.research.services import study_create
    from peercoach.supervision.models import SessionAttendance, SupervisionSession

    rng = random.Random(seed)  # noqa: S311 - reproducible synthetic data
    today = timezone.localdate()
    now = timezone.now()
    zone = timezone.get_current_timezone()
    User = get_user_model()
    with transaction.atomic():
        site = Site.objects.create(code="study-bench", name="Study benchmark VA (synthetic)")
        program = Program(site=site, name="Peer coaching trial", **ECLIPSE.program_fields())
        program.full_clean()
        program.save()
        coordinator = User.objects.create(username="study_bench_coordinator")
        RoleAssignment.objects.create(user=coordinator, role=Role.COORDINATOR, site=site)
        points = {key: TimePoint.objects.create(
            program=program, key=key, label=label, day=day, before_first_contact=day == 0,
            window_before_days=0 if day == 0 else 14, window_after_days=14 if day else 21,
            instruments=["peg", "phq9"])
            for key, label, day in (("baseline", "Baseline", 0), ("6mo", "6 months", 180),
                                    ("9mo", "9 months", 270))}
        study = study_create(
            program=program, by=coordinator, title="Benchmark study (synthetic)",
            block_sizes=[9, 18], time_points=["baseline", "6mo", "9mo"],
            arms=[{"name": "Peer coaching", "code": "coaching", "ratio": 5},
                  {"name": "Class", "code": "class", "kind": "control", "ratio": 4}])
        arms = list(study.arms.order_by("id"))
        seed_value = 1234567
        started = now - dt.timedelta(days=900)
        type(study).objects.filter(pk=study.pk).update(
            status=StudyStatus.RECRUITING, seed=seed_value, started_at=started)
        study.refresh_from_db()
        sequence = block_sequence(n_patients, [a.code for a in arms], [9, 18],
                                  [a.ratio for a in arms], seed=stratum_seed(seed_value, "all"))
        Stratum.objects.create(study=study, key="all", slots_generated=n_patients)
        by_code = {a.code: a for a in arms}
        slots = AllocationSlot.objects.bulk_create([
            AllocationSlot(study=study, stratum_key="all", position=i + 1,
                           arm=by_code[code]) for i, code in enumerate(sequence)])

        # People: referred over 2.4 years; 2,000 randomized, the rest screened out.
        referred_total = round(n_patients * 1.2)
        ids = _ids(rng, "P", referred_total)
        paths = (["randomized"] * n_patients
                 + ["not_eligible"] * round(referred_total * 0.08)
                 + ["declined"] * round(referred_total * 0.06))
        paths += ["left"] * (referred_total - len(paths))
        rng.shuffle(paths)
        statuses = {"randomized": "enrolled", "not_eligible": "not_eligible",
                    "declined": "withdrawn", "left": "withdrawn"}
        patients = Patient.objects.bulk_create([Patient(
            program=program, study_id=ids[i], first_name=f"First{i}", last_name=f"Last{i}",
            gender="female" if i % 9 == 0 else "male",
            date_of_birth=today - dt.timedelta(days=365 * rng.randint(35, 80)),
            status=statuses[path], referral_source="self",
            referred_on=today - dt.timedelta(days=880 - i * 800 // referred_total),
            enrolled_on=(today - dt.timedelta(days=870 - i * 800 // referred_total)
                         if path == "randomized" else None))
            for i, path in enumerate(paths)])
        screenings, consents = [], []
        for patient, path in zip(patients, paths, strict=True):
            eligible = path != "not_eligible"
            screenings.append(Screening(
                patient=patient, serious_medical_condition=not eligible,
                recent_psychiatric_hospitalization=False, active_suicidal_ideation=False,
                severe_hearing_or_speech_impairment=False, back_surgery=False,
                eligible=eligible, reasons=[] if eligible else [
                    "A serious medical condition that precludes taking part."],
                screened_by=coordinator, screened_at=dt.datetime.combine(
                    patient.referred_on + dt.timedelta(days=3), dt.time(10), tzinfo=zone)))
            if path in ("randomized", "left"):
                consents.append(Consent(patient=patient, consented_on=patient.referred_on,
                                        form_version="bench", recorded_by=coordinator,
                                        recorded_at=now))
        Screening.objects.bulk_create(screenings)
        Consent.objects.bulk_create(consents)
        randomized = [p for p, path in zip(patients, paths, strict=True)
                      if path == "randomized"]
        allocations = Allocation.objects.bulk_create([Allocation(
            patient=p, study=study, slot=slot, arm_id=slot.arm_id, allocated_by=coordinator,
            allocated_at=now) for p, slot in zip(randomized, slots, strict=True)])
        coached_arm = by_code["coaching"].pk
        coached = [a.patient for a in allocations if a.arm_id == coached_arm]

        # Coaches, pairs (10% re-matched), plans, contacts, goals.
        coach_ids = _ids(rng, "C", round(len(coached) / 1.6))
        coaches = Coach.objects.bulk_create([Coach(
            program=program, study_id=code, first_name=f"Coach{i}", last_name=f"Bench{i}",
            status="active", completed_self_management_program=True,
            guide_read_on=today - dt.timedelta(days=950)) for i, code in enumerate(coach_ids)])
        quality = {c.pk: rng.gauss(0, 0.4) for c in coaches}
        matches, plans, coach_of = [], [], {}
        for index, patient in enumerate(coached):
            if index % 33 == 0:
                continue  # never paired
            start = patient.enrolled_on + dt.timedelta(days=7)
            coach = coaches[index % len(coaches)]
            end = start + dt.timedelta(days=180)
            if index % 10 == 3:
                switch = start + dt.timedelta(days=40)
                matches.append(Match(patient=patient, coach=coach, started_on=start,
                                     ended_on=switch, created_by=coordinator))
                coach = coaches[(index + 7) % len(coaches)]
                matches.append(Match(patient=patient, coach=coach, started_on=switch,
                                     ended_on=end if end <= today else None,
                                     created_by=coordinator))
            else:
                matches.append(Match(patient=patient, coach=coach, started_on=start,
                                     ended_on=end if end <= today else None,
                                     created_by=coordinator))
            coach_of[patient.pk] = coach
            plans.append(ContactPlan(patient=patient, started_on=start, interval_days=15,
                                     span_days=180))
        matches = Match.objects.bulk_create(matches)
        current = {m.patient_id: m for m in matches}  # the later pair wins
        plans = ContactPlan.objects.bulk_create(plans)
        planned = []
        for plan in plans:
            for slot in schedule.make_plan(plan.started_on, 12, 15, 180):
                planned.append(PlannedContact(plan=plan, number=slot.number, due_on=slot.due,
                                              window_start=slot.start, window_end=slot.end))
        planned = PlannedContact.objects.bulk_create(planned)
        by_plan: dict[int, list[PlannedContact]] = {}
        for row in planned:
            by_plan.setdefault(row.plan_id, []).append(row)
        contacts, fulfils, dose = [], [], {}
        sections = ["introduction", "pain-education", "activity-pacing", "relaxation-skills",
                    "self-care-skills", "interpersonal-skills", "relapse-prevention",
                    "informational-resources"]
        for plan in plans:
            pid = plan.patient_id
            match = current[pid]
            reached = rng.choices(range(13), weights=[4, 6, 7, 8, 9, 10, 10, 9, 8, 7, 6, 4,
                                                      9])[0]
            dose[pid] = 0
            for slot in sorted(rng.sample(by_plan[plan.pk], k=reached),
                               key=lambda s: s.number):
                late = rng.random() < 0.2
                day = slot.window_end + dt.timedelta(days=2) if late else slot.due_on
                if day >= today:
                    break
                at = dt.datetime.combine(day, dt.time(12), tzinfo=zone)
                if rng.random() < 0.3:
                    contacts.append(Contact(patient_id=pid, coach_id=match.coach_id,
                                            match=match, occurred_at=at - dt.timedelta(days=1),
                                            mode="phone", outcome="no_answer",
                                            logged_by=coordinator))
                contacts.append(Contact(
                    patient_id=pid, coach_id=match.coach_id, match=match, occurred_at=at,
                    mode="phone", outcome="reached", duration_minutes=25,
                    sections=[sections[min(slot.number - 1, 7)]],
                    curriculum_percent=rng.choice([25, 50, 75, 100]), logged_by=coordinator))
                fulfils.append((slot, len(contacts) - 1))
                dose[pid] += 1
        contacts = Contact.objects.bulk_create(contacts, batch_size=2000)
        for slot, position in fulfils:
            slot.status = "done"
            slot.contact = contacts[position]
        PlannedContact.objects.bulk_update([s for s, _ in fulfils], ["status", "contact"],
                                           batch_size=2000)
        Goal.objects.bulk_create([Goal(
            patient_id=pid, text="Walk after lunch", section="activity-pacing", what="Walk",
            how_much="10 minutes", when="After lunch", how_often="5 days a week",
            confidence=8, created_by=coordinator) for pid in dose if rng.random() < 0.6])
        sessions = SupervisionSession.objects.bulk_create([SupervisionSession(
            kind="group", program=program, supervisor=coordinator, created_by=coordinator,
            starts_at=started + dt.timedelta(days=30 * k)) for k in range(29)])
        SessionAttendance.objects.bulk_create([SessionAttendance(
            session=s, coach=c, attended=rng.random() < 0.7, recorded_by=coordinator)
            for s in sessions for c in coaches], batch_size=5000)

        # Questionnaires: PEG and PHQ-9 at baseline, 6 and 9 months.
        answers = []
        arm_of = {a.patient_id: a.arm_id for a in allocations}
        for patient in randomized:
            base = {"peg": rng.uniform(4, 9), "phq9": float(rng.randint(5, 20))}
            coach = coach_of.get(patient.pk)
            for key, point in points.items():
                opens = patient.enrolled_on + dt.timedelta(days=max(0, point.day - 14))
                if opens > today or (key != "baseline" and rng.random() > (
                        0.8 if key == "6mo" else 0.7)):
                    continue
                for code, top in (("peg", 10.0), ("phq9", 27.0)):
                    gain = 0.0
                    if key != "baseline":
                        gain = rng.gauss(0.5, 1.0) * (1 if code == "peg" else 2.5)
                        if arm_of[patient.pk] == coached_arm:
                            gain += 0.06 * dose.get(patient.pk, 0) * (
                                1 if code == "peg" else 2.5)
                            gain += quality[coach.pk] if coach else 0.0
                    total = min(top, max(0.0, base[code] - gain))
                    if code == "phq9":
                        total = float(round(total))
                    answers.append(Assessment(
                        patient=patient, time_point=point, instrument=code, opens_on=opens,
                        due_on=opens, closes_on=opens + dt.timedelta(days=28),
                        status=AssessmentStatus.SUBMITTED, version=1, total=round(total, 2),
                        complete=True, submitted_at=dt.datetime.combine(
                            opens + dt.timedelta(days=3), dt.time(10), tzinfo=zone)))
        Assessment.objects.bulk_create(answers, batch_size=5000)
    counts = {"patients_referred": len(patients), "randomized": len(randomized),
              "coached": len(coached), "coaches": len(coaches), "pairs": len(matches),
              "planned_contacts": len(planned), "contacts": len(contacts),
              "assessments": len(answers)}
    study.refresh_from_db()
    return study, counts


def _median_time(fn: Callable[[], Any], repeat: int, before: Callable[[], None]) -> float:
    took = []
    for _ in range(repeat):
        before()
        began = time.perf_counter()
        fn()
        took.append(time.perf_counter() - began)
    return statistics.median(took)


def _peak(fn: Callable[[], Any], before: Callable[[], None]) -> float:
    before()
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_URL,
                        help='a PostgreSQL URL, or "sqlite" for a fresh SQLite file')
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    label = _prepare(args.database_url)
    from django.conf import settings

    settings.DEBUG = False  # no query log growing in memory while timing
    from django.contrib.auth import get_user_model
    from django.core.cache import cache
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from peercoach.research import analysis, charts, consort, fidelity, reaim
    from peercoach.research.models import Study

    began = time.perf_counter()
    study, counts = build_study(args.patients, args.seed)
    built = time.perf_counter() - began
    print(f"Built the study in {built:.1f} s: {counts}")
    study = Study.objects.select_related("program__site").get(pk=study.pk)

    def cold() -> None:
        cache.clear()
        reset_queries()

    def whole_consort() -> None:
        flow = consort.build(study)
        layout = consort.diagram(flow)
        consort.svg(layout)
        consort.pdf(layout, notes=flow.definitions)

    def whole_fidelity() -> None:
        found = fidelity.build(study)
        charts.doses_svg(found)

    def whole_analysis() -> None:
        result, meta, _ = analysis.run(study, mixed=True)
        charts.effects_svg(result, meta)
        charts.improvement_svg(result, meta)
        for outcome in result.outcomes:
            charts.dose_svg(outcome, meta)

    reports: dict[str, Callable[[], Any]] = {
        "fidelity": whole_fidelity,
        "consort": whole_consort,
        "re-aim": lambda: reaim.build(study),
        "analysis (ANCOVA only)": lambda: analysis.run(study, mixed=False),
        "analysis (with mixed models, charts)": whole_analysis,
    }
    # Warm up imports (statsmodels, matplotlib) so they are not timed.
    analysis.run(study, mixed=False)
    charts.doses_svg(fidelity.build(study))
    results: dict[str, Any] = {}
    for name, fn in reports.items():
        cold()
        with CaptureQueriesContext(connection) as captured:
            fn()
        queries = len(captured.captured_queries)
        seconds = _median_time(fn, args.repeat, cold)
        peak = _peak(fn, cold)
        results[name] = {"median_s": round(seconds, 3), "peak_mb": round(peak, 1),
                         "queries": queries}
        print(f"  {name:40} {seconds:7.2f} s   peak {peak:7.1f} MB   {queries} queries")
    coordinator = get_user_model().objects.get(username="study_bench_coordinator")
    client = Client()
    client.force_login(coordinator)
    pages: dict[str, Any] = {}
    for page in ("fidelity", "consort", "re-aim", "outcomes"):
        url = f"/studies/{study.pk}/reports/{page}/"

        def get(url: str = url) -> None:
            assert client.get(url).status_code == 200

        seconds = _median_time(get, args.repeat, cold)
        pages[page] = {"median_s": round(seconds, 3)}
        print(f"  page {page:35} {seconds:7.2f} s")
    total = sum(r["median_s"] for n, r in results.items() if n != "analysis (ANCOVA only)")
    out = {
        "database": label, "patients": args.patients, "repeat": args.repeat,
        "rows": counts, "build_seconds": round(built, 1), "reports": results, "pages": pages,
        "all_reports_median_s": round(total, 2),
        "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "load_average": [round(v, 2) for v in os.getloadavg()],
        "measured_on": dt.date.today().isoformat(),
    }
    print(f"All four reports: {total:.2f} s; max RSS {out['max_rss_mb']} MB")
    output = args.output or (ROOT / "benchmarks" / "results" /
                             f"study-reports{'' if label == 'postgresql' else '-sqlite'}.json")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(out, indent=2) + "\n")
    print(f"Results in {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
