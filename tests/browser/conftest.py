"""Fixtures for the browser tests: headless Debian Chromium driven by Playwright.

The whole flows run against pytest-django's `live_server` with the demo program loaded.
Playwright's browsers are not downloaded here; we drive the system Chromium
(/usr/bin/chromium, or PEERCOACH_CHROMIUM). Without it the tests skip, unless
PEERCOACH_REQUIRE_BROWSER=1 (CI), where a missing browser is a failure: a skipped
browser test must never count as passing.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# Playwright's sync API runs an asyncio event loop in this thread; Django would then
# refuse ORM calls from the test body (SynchronousOnlyOperation). The loop never
# touches the database, so the guard is safe to lift for these tests.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_PASSWORD = "peercoach-demo"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
#: Screenshots for a human to look at; gitignored.
RESULTS_DIR = Path(__file__).resolve().parents[2] / "test-results"


def _require_browser() -> bool:
    return os.environ.get("PEERCOACH_REQUIRE_BROWSER", "").strip() in {"1", "true", "yes"}


def _no_browser(reason: str) -> None:
    if _require_browser():
        pytest.fail(f"PEERCOACH_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str | None:
    candidate = os.environ.get("PEERCOACH_CHROMIUM", "/usr/bin/chromium")
    if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
        return candidate
    return shutil.which(candidate)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium per test process (xdist worker)."""
    path = chromium_path()
    if path is None:
        _no_browser(
            "Chromium not found at "
            f"{os.environ.get('PEERCOACH_CHROMIUM', '/usr/bin/chromium')} "
            "(apt-get install chromium, or set PEERCOACH_CHROMIUM)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is a test dependency
        _no_browser(f"playwright is not installed ({exc})")
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=path, headless=True, args=CHROMIUM_ARGS
        )
    except Exception as exc:
        playwright.stop()
        _no_browser(f"Chromium at {path} did not start: {exc}")
    try:
        yield chromium
    finally:
        chromium.close()
        playwright.stop()


@pytest.fixture
def demo(transactional_db: Any, settings: Any) -> None:
    """The demo program in the live server's database.

    `transactional_db` because the live server thread must see committed rows; the
    database is flushed after each test, so the demo is loaded for each test.
    A fast hasher: 33 demo users hashed with Argon2 would dominate the test time, and
    the log-in path is the same whatever the hasher.
    """
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    from peercoach.demo.loader import load_demo

    assert load_demo() is True


@pytest.fixture
def new_page(browser: Any, live_server: Any, demo: None) -> Iterator[Callable[..., Any]]:
    """Make pages in fresh browser contexts (own cookies) with the given viewport."""
    # Load the URL map (and the chart and statistics modules its views import) before the
    # first page: on a busy machine that takes longer than a page's timeout.
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018 - the attribute access does the loading
    contexts: list[Any] = []

    def make(viewport: dict[str, int] | None = None, **options: Any) -> Any:
        context = browser.new_context(
            viewport=viewport or DESKTOP, base_url=live_server.url, **options
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def login(page: Any, username: str, password: str = DEMO_PASSWORD) -> None:
    """Log in through the real log-in form and wait for the home page."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/accounts/login/" not in url)
    assert page.get_by_role("button", name="Log out").is_visible()
