"""Every page, in both roles, at desktop and phone size: axe-core finds no serious or critical
violation, every control is at least 44 x 44 px on the phone, and the header stays compact."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from tests.browser.conftest import DESKTOP, PHONE, OpenPage, axe_violations, expect, on_demo_day, small_targets, whistle_server
from tests.e2e.processes import ServerProcess

pytestmark = pytest.mark.browser

JOHN_DOE = "2ef28cf5-6471-4051-ae11-0f419aef3234"  # a referee of the demo data
ADMIN_PAGES = ["fixtures", "board", "me", "referees", "teams", "venues"]
REFEREE_PAGES = ["fixtures", "me", "referees", "teams", "venues"]
SIZES = {"1280": DESKTOP, "390": PHONE}


@dataclass
class League:
    process: ServerProcess
    tokens: dict[str, str]  # role -> access token

    @property
    def url(self) -> str:
        return self.process.url


@pytest.fixture(scope="module")
def league(tmp_path_factory: pytest.TempPathFactory) -> Iterator[League]:
    from app.config import Settings
    from app.security.authn import mint_local_token
    from app.security.identity import Role

    directory = tmp_path_factory.mktemp("a11y")
    keys = str(directory / "keys")
    settings = Settings(database_url="sqlite+aiosqlite://", auth="jwt", jwt_local_keys=keys)
    tokens = {
        "admin": mint_local_token(settings, Role.ADMIN),
        "referee": mint_local_token(settings, Role.REFEREE, UUID(JOHN_DOE)),
    }
    with whistle_server(directory, "a11y", seed_demo="true", auth="jwt", jwt_local_keys=keys) as process:
        yield League(process, tokens)


@pytest.fixture
def open_page(open_page: OpenPage) -> OpenPage:
    return on_demo_day(open_page)


def signed_in(open_page: OpenPage, league: League, role: str, fragment: str, viewport: dict[str, int]) -> Any:
    """The page as this role sees it: its token is in the browser's storage before the app starts."""
    page = open_page(league.url, "", viewport=viewport)
    page.evaluate(f"localStorage.setItem('whistle.token', {json.dumps(league.tokens[role])})")
    page.goto(f"/#/{fragment}")
    page.reload()  # a new fragment alone would not start the app again
    expect(page.get_by_role("banner")).to_contain_text("Admin" if role == "admin" else "Referee")
    expect(page.locator(".loading")).to_have_count(0)
    return page


def open_what_hides(page: Any, role: str, fragment: str) -> None:
    """The parts of a page behind a click are checked too."""
    if fragment == "me" and role == "admin":
        page.get_by_label("Referee", exact=True).select_option(value=JOHN_DOE)
    if fragment == "me":
        expect(page.get_by_role("region", name="Assignments of John Doe")).to_be_visible()
        summary = page.locator("details.past summary")
        if summary.count():
            summary.click()
    elif fragment == "fixtures" and role == "admin":
        page.get_by_role("button", name="Change or cancel").first.click()
    elif fragment in ("referees", "teams", "venues"):
        page.locator("details summary").first.click()
        expect(page.locator("details[open] .loading")).to_have_count(0)
    elif fragment == "board":
        expect(page.get_by_role("article").first).to_be_visible()


CASES = [(role, fragment, size) for role, pages in (("admin", ADMIN_PAGES), ("referee", REFEREE_PAGES))
         for fragment in pages for size in SIZES]


@pytest.mark.parametrize(("role", "fragment", "size"), CASES, ids=["-".join(c) for c in CASES])
def test_no_serious_axe_violation_and_big_enough_targets(
    league: League, open_page: OpenPage, axe_source: str, role: str, fragment: str, size: str
) -> None:
    page = signed_in(open_page, league, role, fragment, SIZES[size])
    open_what_hides(page, role, fragment)
    assert axe_violations(page, axe_source) == []
    if SIZES[size] == PHONE:
        assert small_targets(page) == []
        header = page.get_by_role("banner").bounding_box()
        assert header is not None and header["height"] <= 0.12 * PHONE["height"], "a compact header on phones"


def test_the_sign_in_page_has_no_serious_axe_violation(league: League, open_page: OpenPage, axe_source: str) -> None:
    for viewport in SIZES.values():
        page = open_page(league.url, "", viewport=viewport)
        expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
        assert axe_violations(page, axe_source) == []
