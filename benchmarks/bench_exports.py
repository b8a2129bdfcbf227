"""Time exports on the generated national data, and show their memory stays flat.

Targets (issue 7): a CSV export holding 1,000,000 contacts and a FHIR export of 10,000
patients, on PostgreSQL; memory must not grow with the number of rows. Generate the data
first (with contacts):

    DB=postgres://postgres@127.0.0.1:5432/peercoach_bench
    python benchmarks/generate.py --database-url $DB --reset --contacts 1000000
    python benchmarks/bench_exports.py --database-url $DB

Each run is the real job path (`exports.jobs.export_request` + `export_run`: the row
counts for progress, the file written in a temporary DATA_DIR, its SHA-256, the audit
events) in a fresh subprocess, as a researcher whose sites hold the wanted amount of data:

* `csv-all`: every table of all 150 sites (1,000,000 contacts), de-identified;
* `csv-tenth`: the same for the sites holding about a tenth of the contacts;
* `contacts-all` / `contacts-tenth`: the contacts table alone, to a plain CSV file;
* `fhir-10k` / `fhir-1k`: a FHIR Bundle for sites with about 10,000 / 1,000 patients,
  every resource validated with fhir.resources (R4B) and its codes checked;
* `fhir-10k-novalidate`: the same Bundle without the per-resource validation (its cost).

Peak memory is the subprocess's high-water RSS (`ru_maxrss`) minus its RSS once Django,
the exporters and the FHIR models are imported and the database connection is open
(`--tracemalloc` also records the Python heap's peak, which slows the run). Comparing a
run with its tenth shows whether memory grows with the rows. Wall and CPU time
(`time.process_time`) are both given: the machine is shared. Medians of `--repeat` runs.

The script adds researcher accounts `bench_export_*` with role assignments at the chosen
sites, and each run leaves an ExportJob row and its audit events in the bench database.
`generate.py` makes no questionnaires or consents, so the first run also gives every
patient of the FHIR sites a consent and a submitted PHQ-9 and PEG at baseline and at
4 months (with their answers), so that the Bundle holds QuestionnaireResponse,
Observation and Consent resources too.
Results go to benchmarks/results/exports.json (`--output` to write elsewhere).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

DEFAULT_DB = os.environ.get("BENCH_DATABASE_URL",
                            "postgres://postgres@127.0.0.1:5432/peercoach_bench")

#: variant -> (user name, format or "contacts", validate FHIR)
VARIANTS: dict[str, tuple[str, str, bool]] = {
    "csv-all": ("bench_export_all", "csv", True),
    "csv-tenth": ("bench_export_tenth", "csv", True),
    "contacts-all": ("bench_export_all", "contacts", True),
    "contacts-tenth": ("bench_export_tenth", "contacts", True),
    "fhir-10k": ("bench_export_fhir10k", "fhir", True),
    "fhir-1k": ("bench_export_fhir1k", "fhir", True),
    "fhir-10k-novalidate": ("bench_export_fhir10k", "fhir", False),
}


def _rss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _setup_django(database_url: str, data_dir: str | None = None) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peercoach.config.settings")
    if data_dir:
        os.environ["PEERCOACH_DATA_DIR"] = data_dir
    import django

    django.setup()


# --- The users: researchers at sites holding the wanted amount of data ------------------

def _sites_until(counts: list[tuple[int, int]], target: int) -> list[int]:
    """Sites (smallest id first) until their counts reach `target`."""
    chosen, total = [], 0
    for site, n in counts:
        if total >= target:
            break
        chosen.append(site)
        total += n
    return chosen


def prepare_users() -> dict[str, Any]:
    from django.contrib.auth import get_user_model
    from django.db.models import Count

    from peercoach.coaching.models import Contact
    from peercoach.core.models import Role, RoleAssignment
    from peercoach.people.models import Patient
    from peercoach.programs.models import Site

    sites = list(Site.objects.filter(code__startswith="bench-").order_by("id")
                 .values_list("id", flat=True))
    contacts = dict(Contact.objects.values_list("patient__program__site_id")
                    .annotate(n=Count("id")).values_list("patient__program__site_id", "n"))
    patients = dict(Patient.objects.values_list("program__site_id")
                    .annotate(n=Count("id")).values_list("program__site_id", "n"))
    total_contacts = sum(contacts.values())
    plan = {
        "bench_export_all": sites,
        "bench_export_tenth": _sites_until([(s, contacts.get(s, 0)) for s in sites],
                                           total_contacts // 10),
        "bench_export_fhir10k": _sites_until([(s, patients.get(s, 0)) for s in sites], 10_000),
        "bench_export_fhir1k": _sites_until([(s, patients.get(s, 0)) for s in sites], 1_000),
    }
    users = get_user_model()
    out = {}
    for name, site_ids in plan.items():
        user, _ = users.objects.get_or_create(username=name)
        RoleAssignment.objects.filter(user=user).exclude(site_id__in=site_ids).delete()
        have = set(RoleAssignment.objects.filter(user=user, ended_at__isnull=True)
                   .values_list("site_id", flat=True))
        RoleAssignment.objects.bulk_create(
            RoleAssignment(user=user, role=Role.RESEARCHER, site_id=s)
            for s in site_ids if s not in have)
        out[name] = {"sites": len(site_ids),
                     "patients": sum(patients.get(s, 0) for s in site_ids),
                     "contacts": sum(contacts.get(s, 0) for s in site_ids)}
    out["questionnaires_added"] = prepare_questionnaires(plan["bench_export_fhir10k"])
    return out


def prepare_questionnaires(site_ids: list[int]) -> int:
    """Consents and submitted PHQ-9 and PEG (baseline, 4 months) for the FHIR sites'
    patients, once. Answers are drawn from a seeded generator."""
    import datetime as dt
    import random

    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from peercoach.assessments import scoring
    from peercoach.assessments.models import Assessment, ResponseVersion
    from peercoach.people.models import Consent, Patient

    patients = list(Patient.objects.filter(program__site_id__in=site_ids)
                    .values_list("id", "referred_on", "enrolled_on"))
    if Assessment.objects.filter(patient_id__in=[p[0] for p in patients[:50]]).exists():
        return 0
    rng = random.Random(20260701)
    by = get_user_model().objects.get(username="bench_export_all")
    now = timezone.now()
    consents, assessments, answers = [], [], []
    for pk, referred, enrolled in patients:
        day0 = enrolled or referred
        consents.append(Consent(patient_id=pk, consented_on=day0, form_version="bench-1",
                                recorded_by=by, recorded_at=now))
        for days in (0, 120):
            for code, n_items, high in (("phq9", 10, 3), ("peg", 3, 10)):
                values = {i: rng.randint(0, high) for i in range(1, n_items + 1)}
                result = scoring.score(code, values)
                when = dt.datetime.combine(day0 + dt.timedelta(days=days), dt.time(15),
                                           tzinfo=dt.UTC)
                assessments.append(Assessment(
                    patient_id=pk, instrument=code, opens_on=when.date(), due_on=when.date(),
                    closes_on=when.date() + dt.timedelta(days=14), status="submitted",
                    submitted_at=when, version=1, total=result.total, band=result.band or "",
                    complete=result.complete, flags=sorted(result.flags)))
                answers.append((values, result, when))
    Consent.objects.bulk_create(consents, batch_size=5000)
    made = Assessment.objects.bulk_create(assessments, batch_size=5000)
    ResponseVersion.objects.bulk_create([
        ResponseVersion(assessment_id=a.pk, number=1,
                        answers={str(k): v for k, v in values.items()}, total=result.total,
                        band=result.band or "", complete=result.complete,
                        flags=sorted(result.flags), mode="self", submitted_at=when)
        for a, (values, result, when) in zip(made, answers, strict=True)], batch_size=5000)
    return len(made)


# --- One measured run (in its own process) -----------------------------------------------

def child(args: argparse.Namespace) -> None:
    data_dir = tempfile.mkdtemp(prefix="bench-exports-")
    _setup_django(args.database_url, data_dir)
    import tracemalloc

    from django.contrib.auth import get_user_model
    from django.db import connection
    from fhir.resources.R4B import get_fhir_model_class

    from peercoach.research.exports import csv_export, fhir_bundle, jobs, tables

    user_name, fmt, validate = VARIANTS[args.child]
    user = get_user_model().objects.get(username=user_name)
    for rtype in fhir_bundle.RESOURCE_TYPES:  # model classes imported before the baseline
        get_fhir_model_class(rtype)
    connection.ensure_connection()
    base_kb = _rss_kb()
    if args.tracemalloc:
        tracemalloc.start()
    t0, c0 = time.perf_counter(), time.process_time()
    result: dict[str, Any] = {}
    if fmt == "contacts":
        ctx = tables.ExportContext(user=user)
        path = Path(data_dir) / "contacts.csv"
        with open(path, "w", encoding="utf-8", newline="") as out:
            rows = csv_export.write_table(out, tables.BY_NAME["contacts"], ctx)
        result.update(rows={"contacts": rows}, bytes=path.stat().st_size)
    elif fmt == "fhir" and not validate:
        ctx = tables.ExportContext(user=user)
        path = Path(data_dir) / "bundle.json"
        with open(path, "w", encoding="utf-8") as out:
            counts = fhir_bundle.write_bundle(ctx, out, check=False)
        result.update(rows=counts, bytes=path.stat().st_size)
    else:
        # Without REDIS_URL the task runs in-process when the request commits.
        job = jobs.export_request(by=user, format=fmt)
        job.refresh_from_db()
        if job.status == "queued":
            jobs.export_run(job_id=job.pk)
            job.refresh_from_db()
        if job.status != "done":
            raise SystemExit(f"export failed: {job.error}")
        result.update(rows=job.counts, bytes=job.file_size, job=job.pk,
                      rows_total_estimate=job.rows_total)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    if args.tracemalloc:
        result["tracemalloc_peak_mb"] = round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
        tracemalloc.stop()
    peak_kb = _rss_kb()
    result.update(variant=args.child, wall_s=round(wall, 2), cpu_s=round(cpu, 2),
                  baseline_rss_mb=round(base_kb / 1024, 1), peak_rss_mb=round(peak_kb / 1024, 1),
                  growth_mb=round((peak_kb - base_kb) / 1024, 1))
    for leftover in Path(data_dir).rglob("*"):
        if leftover.is_file():
            leftover.unlink()
    print(json.dumps(result))


def run_child(database_url: str, variant: str, trace: bool) -> dict[str, Any]:
    cmd = [sys.executable, __file__, "--database-url", database_url, "--child", variant]
    if trace:
        cmd.append("--tracemalloc")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{variant} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS),
                        help="comma-separated, from: " + ", ".join(VARIANTS))
    parser.add_argument("--once", default="fhir-10k-novalidate",
                        help="variants run once only (comma-separated)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also record the Python heap's peak (slower)")
    parser.add_argument("--child", choices=list(VARIANTS), help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "exports.json")
    args = parser.parse_args()
    if args.child:
        child(args)
        return 0
    _setup_django(args.database_url)
    from _common import dataset_summary

    users = prepare_users()
    once = set(filter(None, args.once.split(",")))
    variants = [v for v in args.variants.split(",") if v]
    load_before = os.getloadavg()
    runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
    for i in range(args.repeat):  # interleaved, so a busy spell hits every variant alike
        for variant in variants:
            if variant in once and i > 0:
                continue
            got = run_child(args.database_url, variant, args.tracemalloc)
            runs[variant].append(got)
            print(f"{variant:22} wall {got['wall_s']:8.2f} s  cpu {got['cpu_s']:8.2f} s  "
                  f"peak {got['peak_rss_mb']:7.1f} MB  growth {got['growth_mb']:6.1f} MB  "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
    summary = {}
    for variant, got in runs.items():
        if not got:
            continue
        summary[variant] = {
            "runs": len(got),
            "wall_s_median": statistics.median(r["wall_s"] for r in got),
            "cpu_s_median": statistics.median(r["cpu_s"] for r in got),
            "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] for r in got),
            "growth_mb_median": statistics.median(r["growth_mb"] for r in got),
            "rows": got[0]["rows"], "bytes": got[0]["bytes"],
        }
        if "tracemalloc_peak_mb" in got[0]:
            summary[variant]["tracemalloc_peak_mb_median"] = statistics.median(
                r["tracemalloc_peak_mb"] for r in got)
    out = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "database": args.database_url.rsplit("/", 1)[-1],
        "dataset": dataset_summary(["people_patient", "people_coach", "coaching_contact",
                                    "coaching_plannedcontact", "coaching_goal",
                                    "matching_match"]),
        "users": users, "repeat": args.repeat, "tracemalloc": args.tracemalloc,
        "cpus": os.cpu_count(), "load_before": load_before, "load_after": os.getloadavg(),
        "summary": summary, "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
