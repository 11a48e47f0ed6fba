"""With WHISTLE_AUTH=jwt the app asks for a token (or uses the access_token cookie), sends
it with every request and over the socket, and shows only what the role may do: a REFEREE
sees its own fixtures, availability and notifications, no board and no admin forms."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from tests.browser.conftest import OpenPage, expect, on_demo_day, screenshot, whistle_server
from tests.e2e.processes import ServerProcess

pytestmark = pytest.mark.browser

JOHN_DOE = "2ef28cf5-6471-4051-ae11-0f419aef3234"  # a referee of the demo data
REFEREE_PAGES = ["Fixtures", "My fixtures", "Referees", "Teams", "Venues"]


@dataclass
class JwtServer:
    process: ServerProcess
    admin_token: str
    referee_token: str

    @property
    def url(self) -> str:
        return self.process.url


@pytest.fixture
def open_page(open_page: OpenPage) -> OpenPage:
    return on_demo_day(open_page)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JwtServer]:
    from app.config import Settings
    from app.security.authn import mint_local_token
    from app.security.identity import Role

    directory = tmp_path_factory.mktemp("jwt")
    keys = str(directory / "keys")
    settings = Settings(database_url="sqlite+aiosqlite://", auth="jwt", jwt_local_keys=keys)
    admin, referee = mint_local_token(settings, Role.ADMIN), mint_local_token(settings, Role.REFEREE, UUID(JOHN_DOE))
    with whistle_server(directory, "jwt", seed_demo="true", auth="jwt", jwt_local_keys=keys) as process:
        yield JwtServer(process, admin, referee)


def sign_in(page: Any, token: str) -> None:
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.get_by_label("Access token", exact=True).fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).not_to_have_text("Sign in")


def nav_links(page: Any) -> list[str]:
    return page.get_by_role("navigation", name="Pages").get_by_role("link").all_inner_texts()


def test_without_a_token_the_app_asks_for_one_and_refuses_a_bad_one(server: JwtServer, open_page: OpenPage) -> None:
    page = open_page(server.url, "#/board")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_role("navigation")).to_have_count(0)
    screenshot(page, "signin")
    page.get_by_label("Access token", exact=True).fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#signin-token-error")).to_contain_text("token")
    expect(page.get_by_label("Access token", exact=True)).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("Access token", exact=True)).to_be_focused()
    assert page.evaluate("localStorage.getItem('whistle.token')") is None


def test_a_referee_sees_only_its_own_fixtures_availability_and_notifications(
    server: JwtServer, open_page: OpenPage
) -> None:
    page = open_page(server.url, "#/board")
    sign_in(page, server.referee_token)
    expect(page.get_by_role("heading", level=1)).to_have_text("My fixtures")  # not the board
    assert nav_links(page) == REFEREE_PAGES
    expect(page.locator(".who")).to_contain_text("Referee: John Doe")
    expect(page.locator("#acting-referee")).to_have_count(0)  # no picking someone else
    expect(page.get_by_role("region", name="Assignments of John Doe")).to_be_visible()
    expect(page.get_by_role("region", name="Notifications")).to_be_visible()
    expect(page.locator(".live[data-live=true]")).to_be_visible()  # the socket authenticated with the token

    # Its own availability: declare on an upcoming fixture where it has not yet.
    declare = page.get_by_role("button", name="Declare availability for").first
    label = declare.get_attribute("aria-label") or ""
    declare.click()
    expect(page.get_by_role("button", name=label.replace("Declare", "Withdraw"))).to_be_visible()
    screenshot(page, "me-referee")

    # No admin forms or actions anywhere.
    page.get_by_role("link", name="Fixtures", exact=True).click()
    expect(page.locator("article.fixture").first).to_be_visible()
    expect(page.get_by_role("heading", name="New fixture")).to_have_count(0)
    expect(page.get_by_role("button", name="Change or cancel")).to_have_count(0)
    for link, form in (("Referees", "New referee"), ("Teams", "New team"), ("Venues", "New venue")):
        page.get_by_role("link", name=link).click()
        expect(page.locator("details").first).to_be_visible()
        expect(page.get_by_role("heading", name=form)).to_have_count(0)

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")


def test_an_admin_token_shows_every_page_and_the_board(server: JwtServer, open_page: OpenPage) -> None:
    page = open_page(server.url, "#/board")
    sign_in(page, server.admin_token)
    expect(page.get_by_role("heading", level=1)).to_have_text("Assignment board")
    assert nav_links(page) == ["Fixtures", "Assignment board", "Act as referee", "Referees", "Teams", "Venues"]
    expect(page.locator(".live[data-live=true]")).to_be_visible()
    expect(page.get_by_role("article").first).to_be_visible()
    page.get_by_role("link", name="Fixtures", exact=True).click()
    expect(page.get_by_role("heading", name="New fixture")).to_be_visible()


def test_the_access_token_cookie_signs_the_referee_in(server: JwtServer, open_page: OpenPage) -> None:
    cookie = {"name": "access_token", "value": server.referee_token, "url": server.url, "httpOnly": True}
    page = open_page(server.url, "#/me")
    page.context.add_cookies([cookie])
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("My fixtures")
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)  # nothing stored to forget
    expect(page.locator(".live[data-live=true]")).to_be_visible()  # the handshake carried the cookie
    # A mutation authenticated by the cookie, from the app's own origin, passes the CSRF rule.
    declare = page.get_by_role("button", name="Declare availability for").first
    label = declare.get_attribute("aria-label") or ""
    declare.click()
    expect(page.get_by_role("button", name=label.replace("Declare", "Withdraw"))).to_be_visible()
