"""
Fixtures of the browser journey: a Chromium page, the sandbox, and the site wired to it.

The tests drive the Chromium that the operating system provides (Debian's
`chromium` package) through Playwright, so `playwright install` is never
needed. Where no Chromium is found the tests are skipped, and the end of the
pytest run reports the skip in one plain line.
"""

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from sandbox.server import SandboxServer
from sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT_DIR = REPOSITORY_ROOT / "test-output" / "browser"

# CHROMIUM_PATH points at another Chromium build. Without it, the first of
# these that exists is used.
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SKIP_REASON = "Chromium is not installed: apt-get install chromium to run the browser journey"
SUMMARY_LINE = "Browser journey skipped: no Chromium found (install Debian's chromium package)"

# Playwright's actions wait for elements up to this many milliseconds. A
# "Run now" click runs the whole sync inside the request, so navigations
# get longer.
ACTION_TIMEOUT_MS = 15_000
NAVIGATION_TIMEOUT_MS = 30_000

# The sandbox's sample data: enough customers to show Enterprise plans and
# paused subscriptions among them, few enough for a run of about a second.
SANDBOX_SEED = 7
SANDBOX_CUSTOMERS = 60
SANDBOX_CONTACTS = 55


def find_chromium():
    """Return the path of the first Chromium executable found, or None."""
    for candidate in CHROMIUM_CANDIDATES:
        path = shutil.which(candidate)
        if path:
            return path
    return None


@pytest.fixture
def chromium_path():
    configured = os.environ.get("CHROMIUM_PATH")
    if configured:
        if not (os.path.isfile(configured) and os.access(configured, os.X_OK)):
            pytest.skip(f"{SKIP_REASON} (CHROMIUM_PATH={configured} is not an executable file)")
        return configured
    path = find_chromium()
    if path is None:
        pytest.skip(SKIP_REASON)
    return path


@pytest.fixture
def page(chromium_path, monkeypatch):
    """
    Yield a Playwright page of a fresh Chromium profile, closed after the test.

    Playwright's sync API keeps an asyncio event loop in this thread, and
    Django refuses ORM calls from a thread with a running loop. The test's
    own ORM reads run between Playwright calls, never inside the loop, so
    DJANGO_ALLOW_ASYNC_UNSAFE lifts that check for the test's duration only.
    """
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with tempfile.TemporaryDirectory(prefix="oneprofile-chromium-") as profile_dir:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                profile_dir,
                executable_path=chromium_path,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 900},
            )
            try:
                context.set_default_timeout(ACTION_TIMEOUT_MS)
                context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
                yield context.pages[0] if context.pages else context.new_page()
            finally:
                context.close()


@pytest.fixture
def sandbox():
    """Serve the Stripe and HubSpot stand-ins on a free loopback port, without rate limits."""
    server = SandboxServer(
        port=0,
        rate_limits=False,
        seed=SANDBOX_SEED,
        customers=SANDBOX_CUSTOMERS,
        contacts=SANDBOX_CONTACTS,
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def site(live_server, settings, sandbox):
    """
    Return the live site's base URL, with new connections pointed at the sandbox.

    SITE_URL is the live server's address, so the OAuth redirect URIs the
    site sends bring the browser back to it.
    """
    settings.SITE_URL = live_server.url
    settings.PROVIDER_BASE_URLS = {
        **settings.PROVIDER_BASE_URLS,
        "stripe": f"{sandbox.url}/stripe",
        "hubspot": f"{sandbox.url}/hubspot",
    }
    sandbox_client = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    settings.OAUTH_CLIENTS = {
        **settings.OAUTH_CLIENTS,
        "stripe": dict(sandbox_client),
        "hubspot": dict(sandbox_client),
    }
    return live_server.url


@pytest.fixture
def screenshot(page):
    """
    Return a function that saves the whole page as test-output/browser/<NN>-<name>.png.

    NN counts up from 01 in the order the test takes screenshots, so the
    folder lists the pages in the order a person meets them.
    """
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    # Screenshots of an earlier run would pass for this run's pages.
    for old_screenshot in SCREENSHOT_DIR.glob("*.png"):
        old_screenshot.unlink()
    saved_paths = []

    def save(name):
        path = SCREENSHOT_DIR / f"{len(saved_paths) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        saved_paths.append(path)
        return path

    return save


def report_skipped_journey(terminalreporter):
    """Print one plain line when the browser journey was skipped for want of Chromium, once per run."""
    if getattr(terminalreporter, "browser_journey_reported", False):
        return
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and SKIP_REASON in str(report.longrepr[-1])
    ]
    if not skipped:
        return
    terminalreporter.browser_journey_reported = True
    terminalreporter.write_sep("-", "browser journey")
    terminalreporter.write_line(f"{SUMMARY_LINE}: {len(skipped)} test(s) skipped.", yellow=True, bold=True)


def pytest_terminal_summary(terminalreporter):
    # NOTE: under pytest-xdist the controller process prints the summary, and
    # it loads this conftest only when tests/browser is named on the command
    # line. A run of the configured testpaths needs tests/conftest.py to call
    # report_skipped_journey too.
    report_skipped_journey(terminalreporter)
