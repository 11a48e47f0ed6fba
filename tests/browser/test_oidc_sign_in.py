"""Signing in through the identity provider in the browser: the provider's own login page,
back to the page the person was on, the header with name, role and "Sign out"; a session
that ends during work brings the person back to the same page after signing in again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import OpenPage, expect
from tests.e2e.processes import ServerProcess
from tests.oidc.conftest import oidc_provider, start_oidc_server  # noqa: F401 - the provider process fixture
from tests.oidc.provider_process import ProviderProcess

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


@pytest.fixture
def server(oidc_provider: ProviderProcess, tmp_path: Path) -> Iterator[ServerProcess]:  # noqa: F811
    process = start_oidc_server(oidc_provider, tmp_path, "oidc-browser")
    yield process
    process.stop()


def sign_in_at_the_provider(page: Any, user: str, password: str) -> None:
    expect(page.get_by_role("heading", name="Sign in to the league")).to_be_visible()
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_referee_signs_in_on_the_providers_page_and_lands_signed_in(
    server: ServerProcess, oidc_provider: ProviderProcess, open_page: OpenPage  # noqa: F811
) -> None:
    page = open_page(server.url, "#/referees")
    expect(page.get_by_role("heading", name="Sign in", exact=True)).to_be_visible()
    expect(page.get_by_label("Access token")).to_have_count(0)  # no token to paste in oidc mode
    page.get_by_role("button", name="Sign in").click()

    sign_in_at_the_provider(page, "referee", "referee-password")

    expect(page).to_have_url(f"{server.url}/#/referees")
    expect(page.get_by_role("heading", name="Referees", exact=True)).to_be_visible()
    header = page.locator("header .who")
    expect(header).to_contain_text("Jane Smith")
    expect(header).to_contain_text("Referee")
    expect(header.get_by_role("button", name="Sign out")).to_be_visible()

    # The session ends while the person works (signed out elsewhere): the next request sends
    # them to sign in again, and back to the page they went to.
    cookie = next(c for c in page.context.cookies() if c["name"] == "whistle_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    with httpx.Client(base_url=server.url, trust_env=False, cookies={"whistle_session": cookie["value"]}) as http:
        ended = http.post("/auth/logout", headers={"Origin": server.url})
        assert ended.status_code == 200
    page.get_by_role("link", name="Teams").click()
    # The provider still knows the person (its own session): no form, straight back.
    expect(page).to_have_url(f"{server.url}/#/teams")
    expect(page.get_by_role("heading", name="Teams", exact=True)).to_be_visible()
    expect(header).to_contain_text("Jane Smith")

    page.get_by_role("button", name="Sign out").click()
    # RP-initiated logout: the provider asks, then sends the browser back to the app, signed out.
    page.wait_for_url(f"{oidc_provider.issuer}/session/end**")
    page.get_by_role("button", name="Yes, sign me out").click()
    expect(page).to_have_url(f"{server.url}/")
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    cookies = {c["name"]: c["value"] for c in page.context.cookies(server.url)}
    assert "whistle_session" not in cookies
    with httpx.Client(base_url=server.url, trust_env=False, cookies={"whistle_session": cookie["value"]}) as http:
        status = http.get("/auth/status")
        assert status.json() == {"signedIn": False, "loginUrl": "/auth/login"}
