"""Browser-test fixtures: the real web server on the test database and a logged-in Chromium page.

Playwright for Python drives Debian's Chromium (`make browser` installs it); every test here is
skipped cleanly when either is missing. Tests using these fixtures are transactional, so the
server process (which opens the test database by name, like tests/conftest.WorkerProcess) sees
their rows. Override `browser_args` in a test module to add flags (fake camera, ...).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from tests.detection.analysis_fixtures import classifier, face_jpeg  # noqa: F401  (used by the analysis flow)
from tests.servers import start_server, stop

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else shutil.which("chromium")
BASE_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def server_url(transactional_db):
    """Base URL of the real web server (HTTP + WebSockets) serving the app on the test database."""
    try:
        proc, port, _ = start_server(db_name=str(connection.settings_dict["NAME"]), var_dir=Path(settings.VAR_DIR))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(proc)


@pytest.fixture
def browser_args() -> list[str]:
    return []


@pytest.fixture
def browser(browser_args):
    """A headless Chromium driven by Playwright (skips where either is missing)."""
    if not CHROMIUM:
        pytest.skip("Chromium is not installed (make browser)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=BASE_ARGS + list(browser_args))
        try:
            yield instance
        finally:
            instance.close()


@pytest.fixture
def staff_session(server_url, client, staff_user) -> str:
    """A session key of `staff_user` (made before Playwright starts: its loop forbids sync ORM calls)."""
    client.force_login(staff_user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def logged_in_page(server_url, staff_session, browser):
    """A page whose session cookie belongs to `staff_user`; `page.base_url` is the server."""
    page = open_page(browser, server_url, staff_session)
    try:
        yield page
    finally:
        page.context.close()


def open_page(browser, server_url: str, session: str):
    """A page of a new browser context whose session cookie is `session`; `page.base_url` is the
    server and `page.js_errors` collects uncaught script errors."""
    context = browser.new_context()
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": server_url}])
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.base_url = server_url
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.js_errors = errors
    return page


@pytest.fixture
def admin_session(server_url, client, admin_user) -> str:
    """A session key of `admin_user` (Admin role), made before Playwright starts."""
    client.force_login(admin_user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def admin_page(server_url, admin_session, browser):
    """Like `logged_in_page`, for `admin_user` (Admin role)."""
    page = open_page(browser, server_url, admin_session)
    try:
        yield page
    finally:
        page.context.close()


@pytest.fixture
def artifacts() -> Path:
    """Where browser tests save screenshots for people to look at (var/test/artifacts; CI keeps it)."""
    path = Path(settings.VAR_DIR) / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
