"""The web app's story in a real browser, against a real server: the admin creates a
fixture, a referee declares availability, the admin stages and commits, and the
referee's page shows the new assignment and notification without a reload, while a
second admin's board updates live too."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from tests.browser.conftest import Api, OpenPage, expect, whistle_server
from tests.e2e.processes import ServerProcess

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with whistle_server(tmp_path_factory.mktemp("story"), "story", seed_demo="false") as process:
        with Api(process.url) as api:
            api.create("Team", name="Seebären", club="VC See")
            api.create("Team", name="Bergadler", club="VBC Berg")
            api.create("Venue", name="Halle Mitte", street="Hauptstrasse 1", zip="8000", city="Zürich")
            api.create("Referee", name="Rita Pfiff", club="VC Neutral")
        yield process


def stay_on_page(page: Any) -> None:
    """Mark the page's JavaScript world: a reload would lose the mark."""
    page.evaluate("window.stillTheSamePage = true")


def assert_not_reloaded(page: Any) -> None:
    assert page.evaluate("window.stillTheSamePage") is True, "the page was reloaded"


def test_admin_creates_referee_declares_admin_commits_referee_sees_it_live(server: ServerProcess, open_page: OpenPage) -> None:
    kick_off = (date.today() + timedelta(days=3)).isoformat() + "T18:30"

    # The admin creates the fixture.
    admin = open_page(server.url, "#/fixtures")
    admin.get_by_label("Date and time").fill(kick_off)
    admin.get_by_label("Venue", exact=True).first.select_option(label="Halle Mitte")
    admin.get_by_label("Home team").select_option(label="Seebären")
    admin.get_by_label("Away team").select_option(label="Bergadler")
    admin.get_by_role("button", name="Create fixture").click()
    expect(admin.get_by_role("status")).to_have_text("Fixture created.")
    expect(admin.get_by_role("article", name="Fixture Seebären – Bergadler")).to_be_visible()

    # The referee's page (another browser context): declare availability, then wait.
    referee = open_page(server.url, "#/me")
    referee.get_by_label("Referee", exact=True).select_option(label="Rita Pfiff")
    expect(referee.locator(".live[data-live=true]")).to_be_visible()
    referee.get_by_role("button", name="Declare availability for Seebären – Bergadler").click()
    expect(referee.get_by_role("button", name="Withdraw availability for Seebären – Bergadler")).to_be_visible()
    expect(referee.get_by_role("region", name="Assignments of Rita Pfiff")).to_contain_text("No assignments yet.")
    stay_on_page(referee)

    # A second admin watches the board.
    watcher = open_page(server.url, "#/board")
    expect(watcher.locator(".live[data-live=true]")).to_be_visible()
    watched = watcher.get_by_role("article", name="Board: Seebären – Bergadler")
    expect(watched).to_contain_text("No referee yet.")
    stay_on_page(watcher)

    # The admin stages Rita as first referee and commits.
    admin.get_by_role("link", name="Assignment board").click()
    board = admin.get_by_role("article", name="Board: Seebären – Bergadler")
    board.get_by_role("button", name="Stage Rita Pfiff as first referee of Seebären – Bergadler").click()
    expect(board).to_contain_text("Staged")
    expect(admin.get_by_text("1 staged assignment to commit.")).to_be_visible()
    admin.get_by_role("button", name="Commit staged assignments").click()
    expect(board).to_contain_text("Committed")
    expect(admin.get_by_text("0 staged assignments to commit.")).to_be_visible()
    expect(admin.locator(".toolbar .note")).to_have_text(re.compile(r"^1 assignment committed"))

    # The referee sees the assignment and the notification, without a reload.
    assignments = referee.get_by_role("region", name="Assignments of Rita Pfiff")
    expect(assignments).to_contain_text("Seebären – Bergadler")
    expect(assignments).to_contain_text("First referee")
    notifications = referee.get_by_role("region", name=re.compile("Notifications"))
    expect(notifications.locator("li.unread")).to_have_count(1)
    expect(notifications).to_contain_text("Seebären")
    assert_not_reloaded(referee)

    # The other admin's board followed the commit live.
    expect(watched).to_contain_text("Committed")
    expect(watched).to_contain_text("First: Rita Pfiff")
    expect(watcher.get_by_role("status")).to_contain_text("1 assignment committed at ")
    assert_not_reloaded(watcher)

    # The referee reads the notification.
    referee.get_by_role("button", name="Mark all as read").click()
    expect(notifications.locator("li.unread")).to_have_count(0)
    expect(notifications.locator("li.read")).to_have_count(1)
