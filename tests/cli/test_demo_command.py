"""The `peercoach` command, run as a user would: in a fresh process, from the environment.

These never touch the test database: each run gets its own data directory, and the
variables a CI run or a developer shell may carry (DATABASE_URL, SECRET_KEY, DEBUG,
DJANGO_SETTINGS_MODULE...) are removed so that the command's own defaults apply.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

#: Variables that would change what the command does; each test sets what it needs.
_SCRUBBED = (
    "DJANGO_SETTINGS_MODULE",
    "DATABASE_URL",
    "SECRET_KEY",
    "DEBUG",
    "ALLOWED_HOSTS",
    "PEERCOACH_MODE",
    "PEERCOACH_DATA_DIR",
    "PEERCOACH_HTTPS",
    "REDIS_URL",
    "STATIC_ROOT",
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)
GOOD_KEY = "k" * 20 + "x7Q2-zP9_wL4mN8vB3rT6yU1"  # 44 characters, only for these tests


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED}
    env["PEERCOACH_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def _peercoach(
    *args: str, env: dict[str, str], cwd: Path, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peercoach", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        return {
            table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]  # noqa: S608
            for table in (
                "auth_user",
                "people_patient",
                "people_coach",
                "programs_site",
                "matching_match",
                "people_statuschange",
            )
        }


def test_demo_sets_up_sqlite_prints_logins_and_never_duplicates(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = _env(data_dir)

    first = _peercoach("demo", "--no-serve", env=env, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "new demo program loaded" in out
    assert "http://127.0.0.1:8000/" in out
    assert "/accounts/login/" in out
    assert "peercoach-demo" in out
    for login in ("coordinator", "supervisor", "clinician", "coach1", "patient1", "statistician"):
        assert login in out

    db = data_dir / "peercoach.sqlite3"
    assert db.is_file()
    assert str(db) in out
    # A per-install secret key, readable by the owner only.
    key_file = data_dir / "secret_key"
    assert key_file.is_file() and len(key_file.read_text().strip()) >= 40
    assert key_file.stat().st_mode & 0o077 == 0
    before = _counts(db)
    key = key_file.read_text()
    # admin + coordinator, supervisor, clinician, researcher + 8 coaches + 20 patients
    # Riverside: 33 logins, 20 patients with logins + 16 of last season, 8 coaches.
    # Lakeside (the two-arm study): 2 more logins, 120 referrals, 24 coaches.
    assert before["auth_user"] == 35
    assert before["people_patient"] == 36 + 120
    assert before["people_coach"] == 8 + 24
    assert before["programs_site"] == 2

    second = _peercoach("demo", "--no-serve", env=env, cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert "existing data" in second.stdout
    assert "http://127.0.0.1:8000/" in second.stdout
    assert _counts(db) == before
    assert key_file.read_text() == key  # kept, not rotated: sessions survive a restart


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"ALLOWED_HOSTS": "example.org"}, "set SECRET_KEY"),
        (
            {
                "ALLOWED_HOSTS": "example.org",
                "SECRET_KEY": "peercoach-insecure-development-key-do-not-deploy",
            },
            "set SECRET_KEY",
        ),
        ({"ALLOWED_HOSTS": "example.org", "SECRET_KEY": GOOD_KEY, "DEBUG": "1"}, "DEBUG is on"),
        ({"ALLOWED_HOSTS": "example.org", "SECRET_KEY": GOOD_KEY, "DEBUG": "true"}, "DEBUG is on"),
        ({"SECRET_KEY": GOOD_KEY}, "set ALLOWED_HOSTS"),
    ],
    ids=["no-secret-key", "insecure-default-key", "debug-1", "debug-true", "no-allowed-hosts"],
)
def test_serve_refuses_an_unsafe_deployment(
    tmp_path: Path, extra: dict[str, str], message: str
) -> None:
    # A documentation address (TEST-NET-1) no machine has: were the check missing,
    # gunicorn would fail to bind and exit rather than serve until the timeout.
    result = _peercoach(
        "serve",
        "--host",
        "192.0.2.1",
        "--port",
        "8000",
        env=_env(tmp_path, **extra),
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert result.stderr.startswith("peercoach serve: ")


def test_manage_check_passes(tmp_path: Path) -> None:
    result = _peercoach("manage", "check", env=_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_manage_unknown_command_fails(tmp_path: Path) -> None:
    result = _peercoach("manage", "no-such-command", env=_env(tmp_path), cwd=tmp_path)
    assert result.returncode != 0
    assert "Unknown command" in result.stderr
