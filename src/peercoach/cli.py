"""The `peercoach` command: demo, serve, manage and the program's own jobs.

`peercoach demo` is the embedded default: SQLite in ./var (or PEERCOACH_DATA_DIR),
migrated, filled with the synthetic demo program the first time, and served by
gunicorn on http://127.0.0.1:8000.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from pathlib import Path

DEMO_PASSWORD = "peercoach-demo"  # noqa: S105 - demo accounts only, printed on purpose


def _setup_django(mode: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peercoach.config.settings")
    os.environ["PEERCOACH_MODE"] = mode
    import django

    django.setup()


def _demo_environment() -> Path:
    """Make the data directory and a per-install secret key (never a shared default)."""
    data_dir = Path(os.environ.get("PEERCOACH_DATA_DIR", "var")).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    os.environ["PEERCOACH_DATA_DIR"] = str(data_dir)
    key_file = data_dir / "secret_key"
    if "SECRET_KEY" not in os.environ:
        if not key_file.exists():
            key_file.write_text(secrets.token_urlsafe(50))
            key_file.chmod(0o600)
        os.environ["SECRET_KEY"] = key_file.read_text().strip()
    return data_dir


def cmd_demo(args: argparse.Namespace) -> int:
    data_dir = _demo_environment()
    os.environ.setdefault("ALLOWED_HOSTS", f"127.0.0.1,localhost,{args.host}")
    _setup_django("demo")
    from django.conf import settings
    from django.core.management import call_command

    from peercoach.demo.loader import load_demo

    call_command("migrate", interactive=False, verbosity=0)
    call_command("collectstatic", interactive=False, verbosity=0)
    created = load_demo()
    db = settings.DATABASES["default"]
    where = db["NAME"] if "sqlite" in db["ENGINE"] else f"{db['HOST']}/{db['NAME']}"
    print("PeerCoach demo" + (" (new demo program loaded)" if created else " (existing data)"))
    print(f"  data:     {data_dir}  database: {where}")
    print(f"  address:  http://{args.host}:{args.port}/  (log in at /accounts/login/)")
    print(f"  logins (password for all: {DEMO_PASSWORD}):")
    print("    admin, coordinator, supervisor, clinician, researcher,")
    print("    coach1 .. coach8, patient1 .. patient20")
    print("    study_coordinator, statistician (the two-arm study at the second site)")
    print("  All people in the demo are invented. Press Ctrl+C to stop.")
    sys.stdout.flush()
    if args.no_serve:
        return 0
    from peercoach.notifications import periodic as notification_periodic
    from peercoach.supervision import periodic

    periodic.start()  # alerts and safety escalation, in-process in the embedded default
    notification_periodic.start()  # outbox sweep and reminders, in-process too
    return _gunicorn(args.host, args.port, workers=args.workers)


def cmd_serve(args: argparse.Namespace) -> int:
    problems = deployment_problems(os.environ)
    if problems:
        for problem in problems:
            print(f"peercoach serve: {problem}", file=sys.stderr)
        return 2
    _setup_django("serve")
    return _gunicorn(args.host, args.port, workers=args.workers)


def deployment_problems(env: os._Environ[str] | dict[str, str]) -> list[str]:
    """Why a deployment must not start, in words an operator can act on."""
    from peercoach.config.settings import INSECURE_DEFAULT_SECRET_KEY

    problems = []
    key = env.get("SECRET_KEY", "")
    if not key or key == INSECURE_DEFAULT_SECRET_KEY:
        problems.append("set SECRET_KEY to a long random value (see .env.example).")
    elif len(key) < 40:
        problems.append("SECRET_KEY is too short; use at least 40 random characters.")
    if env.get("DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}:
        problems.append("DEBUG is on; never serve real users with DEBUG on.")
    if not env.get("ALLOWED_HOSTS"):
        problems.append("set ALLOWED_HOSTS to the host names this server answers to.")
    return problems


def _gunicorn(host: str, port: int, workers: int) -> int:
    from gunicorn.app.base import BaseApplication

    from peercoach.config.wsgi import application

    class PeerCoachServer(BaseApplication):
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", 4)
            self.cfg.set("accesslog", "-")
            self.cfg.set("timeout", 60)

        def load(self):
            return application

    PeerCoachServer().run()
    return 0


def cmd_manage(args: argparse.Namespace) -> int:
    _setup_django(os.environ.get("PEERCOACH_MODE", ""))
    from django.core.management import execute_from_command_line

    execute_from_command_line(["peercoach manage", *args.rest])
    return 0


def cmd_import_referrals(args: argparse.Namespace) -> int:
    _setup_django(os.environ.get("PEERCOACH_MODE", ""))
    from django.core.management import call_command

    call_args = [args.file, "--program", str(args.program)]
    if args.user:
        call_args += ["--user", args.user]
    if args.dry_run:
        call_args.append("--dry-run")
    try:
        call_command("import_referrals", *call_args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def cmd_scan(args: argparse.Namespace) -> int:
    _setup_django(os.environ.get("PEERCOACH_MODE", ""))
    from django.core.management import call_command

    call_command("scan_alerts")
    return 0


def _celery(argv: list[str]) -> int:
    _setup_django(os.environ.get("PEERCOACH_MODE", "") or "serve")
    from django.conf import settings

    from peercoach.config.celery import app

    if settings.CELERY_TASK_ALWAYS_EAGER:
        print("peercoach: set REDIS_URL (see .env.example); without it jobs already run "
              "inside `peercoach demo`/`serve` and no worker is needed.", file=sys.stderr)
        return 2
    app.start(argv)
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    return _celery(["worker", "--loglevel", args.loglevel, "--concurrency",
                    str(args.concurrency), *args.rest])


def cmd_beat(args: argparse.Namespace) -> int:
    return _celery(["beat", "--loglevel", args.loglevel, *args.rest])


def cmd_match(args: argparse.Namespace) -> int:
    _setup_django(os.environ.get("PEERCOACH_MODE", ""))
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_args = ["--program", str(args.program)]
    for flag in ("dry_run", "json", "confirm"):
        if getattr(args, flag):
            call_args.append("--" + flag.replace("_", "-"))
    if args.user:
        call_args += ["--user", args.user]
    try:
        call_command("match", *call_args)
    except CommandError as exc:
        print(f"peercoach match: {exc}", file=sys.stderr)
        return 2
    return 0


def cmd_load_instrument(args: argparse.Namespace) -> int:
    _setup_django(os.environ.get("PEERCOACH_MODE", ""))
    from django.core.management import call_command

    call_args = [args.file] + (["--example"] if args.example else [])
    try:
        call_command("load_instrument", *call_args)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="peercoach", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="set up the demo program and serve it")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--workers", type=int, default=2)
    demo.add_argument("--no-serve", action="store_true", help="set up, then exit")
    demo.set_defaults(func=cmd_demo)

    serve = sub.add_parser("serve", help="serve a deployment (settings from the environment)")
    serve.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))  # noqa: S104
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument("--workers", type=int, default=int(os.environ.get("WEB_WORKERS", "3")))
    serve.set_defaults(func=cmd_serve)

    manage = sub.add_parser("manage", help="run a Django management command")
    manage.add_argument("rest", nargs=argparse.REMAINDER)
    manage.set_defaults(func=cmd_manage)

    imp = sub.add_parser("import-referrals", help="import referrals from a CSV file")
    imp.add_argument("file")
    imp.add_argument("--program", type=int, required=True, help="program id")
    imp.add_argument("--user", help="username recorded as the importer")
    imp.add_argument("--dry-run", action="store_true", help="check every row, import nothing")
    imp.set_defaults(func=cmd_import_referrals)

    match = sub.add_parser("match", help="propose coach-patient matches for a program")
    match.add_argument("--program", type=int, required=True, help="program id")
    match.add_argument("--dry-run", action="store_true", help="show the proposal, save nothing")
    match.add_argument("--json", action="store_true", help="print JSON")
    match.add_argument("--confirm", action="store_true", help="confirm the proposal at once")
    match.add_argument("--user", help="username recorded as the proposer (needed to save)")
    match.set_defaults(func=cmd_match)

    load = sub.add_parser("load-instrument", help="load a licensed questionnaire's item "
                                                  "text from a licence file (TOML)")
    load.add_argument("file")
    load.add_argument("--example", action="store_true",
                      help="allow a shipped placeholder file (demo and tests only)")
    load.set_defaults(func=cmd_load_instrument)

    scan = sub.add_parser("scan", help="raise and clear alerts; escalate unacknowledged "
                                       "safety events (run every minute)")
    scan.set_defaults(func=cmd_scan)

    worker = sub.add_parser("worker", help="run background jobs from Redis (needs REDIS_URL)")
    worker.add_argument("--concurrency", type=int, default=int(os.environ.get("WORKERS", "2")))
    worker.add_argument("--loglevel", default="info")
    worker.add_argument("rest", nargs=argparse.REMAINDER, help="more celery worker options")
    worker.set_defaults(func=cmd_worker)

    beat = sub.add_parser("beat", help="schedule the periodic jobs: alert scan and escalation "
                                       "every minute, reminders every 15 (needs REDIS_URL)")
    beat.add_argument("--loglevel", default="info")
    beat.add_argument("rest", nargs=argparse.REMAINDER, help="more celery beat options")
    beat.set_defaults(func=cmd_beat)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
