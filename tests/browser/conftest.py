"""Fixtures of the browser tests: the web app served by a REAL `whistle serve` process,
driven through Playwright in Debian's Chromium (/usr/bin/chromium; Playwright's own
browsers are never downloaded, the machine may have no internet).

Without Chromium (or Playwright) the tests skip with a loud reason, repeated at the end
of the run; with WHISTLE_REQUIRE_SERVICES=1 (CI, `.ci/run` installs Chromium) they fail.
One browser per test module keeps them fast; each test gets fresh pages (contexts).
Each page fails its test when it logs a console error or throws, which includes any
Content-Security-Policy violation.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

try:  # without Playwright the `browser` fixture skips (or fails in CI) with the reason
    from playwright.sync_api import expect
except ImportError:  # pragma: no cover - only on a machine without the dev extra
    expect = None  # type: ignore[assignment]

from tests.dates import demo_season_start
from tests.e2e.processes import ROOT, ServerProcess, whistle_env
from tests.integration.bus_fixtures import free_port

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "tests" / "artifacts"
NPM_PROJECT = Path(__file__).parent  # package.json + package-lock.json: axe-core
AXE = NPM_PROJECT / "node_modules" / "axe-core" / "axe.min.js"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
NARROWEST = {"width": 360, "height": 740}
# A day in the demo season, which is placed around the day the server seeds it (today):
# pages on demo data see the browser's clock stand at noon on the Friday of the season's
# 11th week, 10 to 16 days before today, with played fixtures, committed ones still to
# come and the staged rounds after (seeded on 2026-12-04 it is 2026-11-20).
DEMO_TODAY = datetime.combine(demo_season_start() + timedelta(weeks=11, days=-1), time(12), tzinfo=timezone.utc)

_browser_unavailable: str | None = None


def _browser_missing(reason: str) -> None:
    global _browser_unavailable
    _browser_unavailable = reason
    if os.environ.get("WHISTLE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"Chromium is required (WHISTLE_REQUIRE_SERVICES=1) but unavailable: {reason}", pytrace=False)
    pytest.skip(f"CHROMIUM UNAVAILABLE, browser tests SKIPPED: {reason}. Install it: apt-get install -y chromium")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if _browser_unavailable is not None:
        terminalreporter.write_sep("!", "browser tests were SKIPPED", red=True, bold=True)
        terminalreporter.write_line(_browser_unavailable, red=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        _browser_missing(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        _browser_missing(f"the playwright package is missing ({error}): make install")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def whistle_server(directory: Path, name: str, **settings: str) -> Iterator[ServerProcess]:
    """`whistle serve` on the embedded SQLite backend in `directory`, stopped cleanly after."""
    env = whistle_env(database_url=f"sqlite+aiosqlite:///{directory}/whistle.db", **settings)
    process = ServerProcess(name, free_port(), env, directory).start()
    try:
        yield process
    finally:
        process.stop()


class Api:
    """GraphQL over HTTP for setting up and checking what the browser cannot see:
    `with Api(url, token) as api: api.data(query, **variables)`."""

    def __init__(self, url: str, token: str | None = None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._http = httpx.Client(base_url=url, headers=headers, trust_env=False, timeout=10)

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    def data(self, query: str, **variables: Any) -> dict[str, Any]:
        result = self._http.post("/graphql", json={"query": query, "variables": variables}).json()
        assert "errors" not in result, result["errors"]
        return result["data"]

    def create(self, kind: str, **fields: str) -> str:
        """Create a referee, team or venue; its id."""
        mutation = f"create{kind}"
        return self.data(f"mutation($input: Create{kind}Input!) {{ {mutation}(input: $input) {{ id }} }}", input=fields)[
            mutation
        ]["id"]


def new_match(api: Api, when: datetime, referees: tuple[str, ...] = (), tag: str = "") -> dict[str, Any]:
    """A fixture at `when` between two new teams at a new venue (so no day rule refuses it),
    and new referees (by name) who declared availability for it: {"id", "referees": {name: id}, "name"}."""
    tag = tag or when.strftime("%d%m%H%M")
    venue = api.create("Venue", name=f"Halle {tag}", street="Weg 1", zip="8000", city="Zürich")
    home, away = (api.create("Team", name=f"{side} {tag}", club=f"VC {side} {tag}") for side in ("Heim", "Gast"))
    fixture = api.data(
        "mutation($i: CreateFixtureInput!) { createFixture(input: $i) { id } }",
        i={"date": when.isoformat(), "venueId": venue, "teamHomeId": home, "teamAwayId": away},
    )["createFixture"]["id"]
    ids = {}
    for name in referees:
        ids[name] = api.create("Referee", name=name, club="VC Neutral")
        api.data("mutation($f: ID!, $r: ID!) { declareAvailability(fixtureId: $f, refereeId: $r) { fixture { id } } }",
                 f=fixture, r=ids[name])
    return {"id": fixture, "referees": ids, "name": f"Heim {tag} – Gast {tag}"}


def stage(api: Api, fixture: str, referee: str, role: str = "FIRST") -> None:
    api.data("mutation($i: StageAssignmentInput!) { stageAssignment(input: $i) { role } }",
             i={"fixtureId": fixture, "refereeId": referee, "role": role})


OpenPage = Callable[..., Any]


@pytest.fixture
def open_page(browser: Any) -> Iterator[OpenPage]:
    """`open_page(server_url, path="#/fixtures", viewport=DESKTOP, today=None, offline_expected=False,
    **context_options)` -> a page of a fresh browser context (its own storage and cookies) showing
    the app, its clock fixed at `today` when given. After the test, every page must have logged no
    console error (but the browser's refused connections with `offline_expected`) and thrown nothing."""
    contexts: list[Any] = []
    problems: list[str] = []

    def open_(
        url: str,
        path: str = "",
        viewport: dict[str, int] = DESKTOP,
        today: datetime | None = None,
        offline_expected: bool = False,
        **options: Any,
    ) -> Any:
        context = browser.new_context(viewport=viewport, base_url=url, **options)
        context.set_default_timeout(10_000)
        if today is not None:
            context.clock.set_fixed_time(today)
        contexts.append(context)
        page = context.new_page()
        def console(message: Any) -> None:
            # The browser's own report of a refused connection, when the test stops the server.
            if offline_expected and "ERR_CONNECTION_REFUSED" in message.text:
                return
            if message.type == "error":
                problems.append(f"console {message.type}: {message.text}")

        page.on("console", console)
        page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
        page.goto(f"/{path}")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not problems, "the app logged errors:\n" + "\n".join(problems)


def on_demo_day(open_page: OpenPage) -> OpenPage:
    """`open_page` for the demo league: the browser's clock stands at DEMO_TODAY."""
    return functools.partial(open_page, today=DEMO_TODAY)


def no_horizontal_overflow(page: Any) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size["width"]
    assert width <= viewport, f"the page is {width} px wide at a {viewport} px viewport"


SCREENSHOT_MAX_HEIGHT = 1600  # the top of long pages is what a person sees first


def screenshot(page: Any, name: str) -> None:
    """Save the page at desktop and phone width under tests/artifacts/ (kept out of git)."""
    ARTIFACTS.mkdir(exist_ok=True)
    viewport = page.viewport_size
    for label, size in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(size)
        height = min(page.evaluate("document.documentElement.scrollHeight"), SCREENSHOT_MAX_HEIGHT)
        clip = {"x": 0, "y": 0, "width": size["width"], "height": height}
        page.screenshot(path=str(ARTIFACTS / f"{name}-{label}.png"), full_page=True, clip=clip)
    page.set_viewport_size(viewport)


# --- accessibility (axe-core) -------------------------------------------------------------------


def _npm_ci() -> None:
    """Install axe-core from tests/browser/package-lock.json when it is missing or older than the lock."""
    stamp = NPM_PROJECT / "node_modules" / ".package-lock.json"
    lock = NPM_PROJECT / "package-lock.json"
    if AXE.exists() and stamp.exists() and stamp.stat().st_mtime >= lock.stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        _browser_missing("npm is not installed (axe-core comes from npm): install Node 20 and npm")
    subprocess.run([npm, "ci", "--prefer-offline", "--no-audit", "--no-fund"], cwd=NPM_PROJECT, check=True,
                   capture_output=True, timeout=300)
    stamp.touch()


@pytest.fixture(scope="session")
def axe_source() -> str:
    _npm_ci()
    return AXE.read_text()


SERIOUS = ("serious", "critical")


def axe_violations(page: Any, source: str) -> list[str]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.x A and AA
    rules and best practices). The script is evaluated through the DevTools protocol, which
    the page's Content-Security-Policy does not govern (a <script> tag would be refused)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(source)
    results = page.evaluate(
        """async () => (await axe.run(document, {resultTypes: ['violations']})).violations
              .map((v) => ({id: v.id, impact: v.impact, help: v.help,
                            nodes: v.nodes.slice(0, 3).map((n) => n.target.join(' '))}))"""
    )
    return [f"{v['impact']} {v['id']}: {v['help']} at {v['nodes']}" for v in results if v["impact"] in SERIOUS]


SMALL_TARGETS = """() => [...document.querySelectorAll('a[href], button, input, select, summary')]
  .filter((el) => el.getClientRects().length > 0 && !el.matches('.inline, .skip'))
  .map((el) => ({el, box: el.getBoundingClientRect()}))
  .filter(({box}) => box.width < 44 || box.height < 44)
  .map(({el, box}) => `${el.tagName.toLowerCase()} "${(el.getAttribute('aria-label') || el.textContent || '').trim().slice(0, 40)}" `
                      + `${Math.round(box.width)}x${Math.round(box.height)}`)"""


def small_targets(page: Any) -> list[str]:
    """The visible controls smaller than 44 x 44 px (links inside a sentence excepted, as in WCAG 2.5.5)."""
    return page.evaluate(SMALL_TARGETS)
