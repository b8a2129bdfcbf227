"""Time the periodic alert scan (and safety escalation) on the generated national data.

Target (issue 5): the scan over 100,000 active patients and 1,000,000 contacts on
PostgreSQL finishes in under 10 s. Generate the data first (with contacts):

    DB=postgres://postgres@127.0.0.1:5432/peercoach_bench
    python benchmarks/generate.py --database-url $DB --reset --contacts 1000000
    python benchmarks/bench_alerts.py --database-url $DB

The first scan raises every alert that holds; later scans find the same causes and
write nothing new, which is the steady state of a scan that runs every minute. Each scan
runs inside a transaction that is rolled back, so the database is left as it was.
Results go to benchmarks/results/alerts.json (`--output` to write elsewhere).

The issue's target counts *active* patients; the default data has about 40,000 of them
(the status mix). For the full target, generate every patient active and paired:

    DB=postgres://postgres@127.0.0.1:5432/peercoach_bench_active
    python benchmarks/generate.py --database-url $DB --reset --all-active \
        --coaches 120000 --contacts 1000000 --output benchmarks/results/generate-alerts-active.json
    python benchmarks/bench_alerts.py --database-url $DB \
        --output benchmarks/results/alerts-active.json

`--rules` also times each query of the rules on its own (no writes). Besides the wall
time it reports the CPU time of the script and of its PostgreSQL backend (read from
/proc, so only when the server runs on the same machine), which moves less than wall
time when other jobs share the cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url",
                        default="postgres://postgres@127.0.0.1:5432/peercoach_bench")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--output", type=Path,
                        default=ROOT / "benchmarks" / "results" / "alerts.json")
    parser.add_argument("--rules", action="store_true",
                        help="also time each rule's query on its own (median of --repeat)")
    args = parser.parse_args()
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peercoach.config.settings")
    import django

    django.setup()
    from django.db import connection, transaction
    from django.db.models import Count
    from django.utils import timezone

    from peercoach.coaching.models import Contact
    from peercoach.matching.models import Match
    from peercoach.people.models import Patient
    from peercoach.programs.models import Program
    from peercoach.supervision import alerts
    from peercoach.supervision.alerts import scan
    from peercoach.supervision.models import Alert
    from peercoach.supervision.services import escalate_unacknowledged

    backend = None
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid(), current_setting('server_version')")
            backend, server_version = cursor.fetchone()

    def cpu() -> float:
        """CPU seconds of this process and of its PostgreSQL backend (same machine):
        steadier than wall time when other jobs share the cores."""
        used = time.process_time()
        try:
            fields = Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()
            used += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            pass
        return used

    load_before = os.getloadavg()
    patients = Patient.objects.filter(status__in=["enrolled", "active"]).count()
    paired = Match.objects.filter(ended_on__isnull=True).count()
    contacts = Contact.objects.count()
    first, steady, first_cpu, steady_cpu = [], [], [], []
    raised = open_alerts = 0
    by_kind: dict[str, int] = {}
    for _ in range(args.repeat):
        with transaction.atomic():
            t0, c0 = time.perf_counter(), cpu()
            escalate_unacknowledged()
            result = scan()
            first.append(time.perf_counter() - t0)
            first_cpu.append(cpu() - c0)
            raised = result.raised
            t0, c0 = time.perf_counter(), cpu()
            again = scan()
            steady.append(time.perf_counter() - t0)
            steady_cpu.append(cpu() - c0)
            assert again.raised == 0, "a second scan raised duplicates"
            open_alerts = Alert.objects.exclude(status="resolved").count()
            by_kind = dict(Alert.objects.exclude(status="resolved").values_list("kind")
                           .annotate(n=Count("id")).values_list("kind", "n"))
            transaction.set_rollback(True)
        print(f"first scan {first[-1]:.2f} s ({first_cpu[-1]:.2f} s CPU), steady "
              f"{steady[-1]:.2f} s ({steady_cpu[-1]:.2f} s CPU), load "
              f"{os.getloadavg()[0]:.1f}", flush=True)
    rules: dict[str, float] = {}
    if args.rules:
        # Each query `causes` runs, timed on its own (all programs share the defaults).
        program_ids = list(Program.objects.filter(is_active=True).values_list("id", flat=True))
        today = timezone.localdate()
        labels = [("plannedcontact", "contact_overdue"), (" OVER ", "contact history (4 rules)"),
                  ("assessment", "assessment_overdue"), ("coach_id", "coach_inactive")]
        times: dict[str, list[float]] = {}

        def timed(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return execute(sql, params, many, context)
            finally:
                label = next((name for text, name in labels if text in sql), sql[:40])
                times.setdefault(label, []).append(time.perf_counter() - t0)

        for _ in range(args.repeat):
            with connection.execute_wrapper(timed):
                list(alerts.causes(program_ids, dict(alerts.DEFAULTS), today))
        rules = {label: round(statistics.median(v), 3) for label, v in times.items()}
        print("rules:", rules, flush=True)
    report = {
        "database": connection.vendor,
        "server_version": server_version if backend else None,
        "active_patients": patients, "current_pairs": paired, "contacts": contacts,
        "alerts_raised": raised, "open_after_scan": open_alerts, "open_by_kind": by_kind,
        "first_scan_s": {"median": statistics.median(first), "all": first},
        "steady_scan_s": {"median": statistics.median(steady), "all": steady},
        "first_scan_cpu_s": {"median": statistics.median(first_cpu), "all": first_cpu},
        "steady_scan_cpu_s": {"median": statistics.median(steady_cpu), "all": steady_cpu},
        "rules_s": rules or None,
        "target_s": 10, "load_before": load_before, "load": os.getloadavg(),
        "cpus": os.cpu_count(),
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }
    out = args.output
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
