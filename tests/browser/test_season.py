"""What a season needs of the web app, in a real browser against a real server (its own
league, dated from today, since staging needs fixtures still to be played): Commit shows
and asks about everything it commits, a problem anywhere can be reached, the page recovers
by itself from a server that went away, the keyboard is never lost, messages name things."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Api, OpenPage, expect, new_match, screenshot, stage, whistle_server
from tests.e2e.processes import ServerProcess

pytestmark = pytest.mark.browser

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}")
STAGED = "{ assignments(status: STAGED) { referee { name } } }"
COMMITTED = "{ assignments(status: COMMITTED) { referee { name } } }"


def days_ahead(days: int, hour: int = 18) -> datetime:
    return datetime.now(timezone.utc).replace(hour=hour, minute=0, second=0, microsecond=0) + timedelta(days=days)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """A server of this test alone (no demo data): tests here commit, stop and restart it."""
    with whistle_server(tmp_path, "season", seed_demo="false") as process:
        yield process


def focused(page: Any) -> str:
    """What has the keyboard: the element's accessible name (aria-label or text) or tag."""
    return page.evaluate(
        "(() => { const e = document.activeElement; return e.getAttribute('aria-label') || e.textContent.trim() || e.tagName; })()"
    )


def expect_focus_ring(page: Any) -> None:
    """The focused element shows a focus ring (an outline), not just the browser's nothing."""
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), f"no visible focus ring on {focused(page)!r}"


def test_commit_with_staged_assignments_outside_the_view_asks_first_and_lists_them(
    server: ServerProcess, open_page: OpenPage
) -> None:
    with Api(server.url) as api:
        near = new_match(api, days_ahead(2), ("Nora Nah",), tag="Nah")
        far = new_match(api, days_ahead(40), ("Fern Weit",), tag="Weit")
        stage(api, far["id"], far["referees"]["Fern Weit"])
    page = open_page(server.url, "#/board")
    elsewhere = page.get_by_role("region", name="Staged outside these dates (1)")
    expect(elsewhere).to_contain_text("Fern Weit")
    expect(elsewhere).to_contain_text(far["name"])
    page.get_by_role("button", name=f"Stage Nora Nah as first referee of {near['name']}").click()
    toolbar = page.locator(".toolbar")
    expect(toolbar).to_contain_text("2 staged assignments to commit, 1 of them outside these dates.")

    commit = page.get_by_role("button", name="Commit staged assignments")
    commit.click()
    question = page.get_by_role("group", name=re.compile("Commit all 2 staged assignments?"))
    expect(question).to_contain_text("1 of them is on a fixture not shown here")
    expect(question.get_by_role("listitem")).to_have_text([re.compile(f"^Fern Weit, first referee: {far['name']}, ")])
    expect(question.get_by_role("button", name="Commit all 2")).to_be_focused()
    question.get_by_role("button", name="Not now").click()
    expect(question).to_have_count(0)
    expect(commit).to_be_focused()
    with Api(server.url) as api:
        assert len(api.data(STAGED)["assignments"]) == 2, "'Not now' commits nothing"

    commit.click()
    page.get_by_role("button", name="Commit all 2").click()
    expect(toolbar.locator(".note")).to_have_text(re.compile("^2 assignments committed"))
    expect(toolbar).to_contain_text("0 staged assignments to commit.")
    expect(page.get_by_role("region", name=re.compile("Staged outside"))).to_have_count(0)
    with Api(server.url) as api:
        assert sorted(a["referee"]["name"] for a in api.data(COMMITTED)["assignments"]) == ["Fern Weit", "Nora Nah"]

    commit.click()  # nothing staged: said so, not silence
    expect(toolbar.locator(".note")).to_have_text("Nothing to commit: no assignment is staged.")
    expect(commit).to_be_focused()


def test_a_problem_outside_the_view_is_listed_and_brought_into_view(server: ServerProcess, open_page: OpenPage) -> None:
    when = days_ahead(30)
    with Api(server.url) as api:
        far = new_match(api, when, tag="Fern")
        lazy = api.create("Referee", name="Lea Lässig", club="VC Neutral")
        stage(api, far["id"], lazy)  # never declared: REFEREE_NOT_AVAILABLE
        other = new_match(api, days_ahead(50), ("Udo Unnötig",), tag="Anders")
        stage(api, other["id"], other["referees"]["Udo Unnötig"])
    page = open_page(server.url, "#/board")
    toolbar = page.locator(".toolbar")
    # A staged assignment out of view can be removed right there.
    page.get_by_role("button", name=f"Remove Udo Unnötig from {other['name']}").click()
    expect(page.get_by_role("region", name="Staged outside these dates (1)")).to_be_focused()
    expect(toolbar).to_contain_text("1 problem to fix before committing (1 outside these dates).")
    toolbar.get_by_role("button", name="1 outside these dates").click()
    elsewhere = page.get_by_role("region", name="Staged outside these dates (1)")
    expect(elsewhere).to_be_focused()
    expect(elsewhere.locator(".problem")).to_have_text("Lea Lässig has not declared availability for this fixture.")
    screenshot(page, "board-elsewhere")

    elsewhere.get_by_role("button", name=re.compile(f"^Show {far['name']}, .* on the board$")).click()
    card = page.get_by_role("article", name=f"Board: {far['name']}")
    expect(card).to_be_focused()
    expect(card.locator(".problem")).to_have_text("Lea Lässig has not declared availability for this fixture.")
    expect(page.get_by_label("From", exact=True)).to_have_value(when.date().isoformat())
    expect(page.get_by_role("region", name=re.compile("Staged outside"))).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text(UUID_TEXT)


def test_the_page_recovers_by_itself_when_the_server_comes_back_and_keeps_the_form(
    server: ServerProcess, open_page: OpenPage
) -> None:
    with Api(server.url) as api:
        new_match(api, days_ahead(3), ("Rita Rückkehr",), tag="Vorher")
        api.create("Team", name="Seebären", club="VC See")
        api.create("Team", name="Bergadler", club="VBC Berg")
        api.create("Venue", name="Halle Mitte", street="Hauptstrasse 1", zip="8000", city="Zürich")
    board = open_page(server.url, "#/board", offline_expected=True)
    expect(board.locator(".live[data-live=true]")).to_be_visible()
    page = open_page(server.url, "#/fixtures", offline_expected=True)
    kick_off = days_ahead(4).strftime("%Y-%m-%dT%H:%M")
    page.get_by_label("Date and time").fill(kick_off)
    page.get_by_label("Venue", exact=True).first.select_option(label="Halle Mitte")
    page.get_by_label("Home team").select_option(label="Seebären")
    page.get_by_label("Away team").select_option(label="Bergadler")
    page.evaluate("window.stillTheSamePage = true")

    server.stop()  # the server goes away while the admin is at work
    page.get_by_role("button", name="Create fixture").click()
    alert = page.locator("form .alert")
    expect(alert).to_contain_text("Not saved: the server cannot be reached.")
    expect(alert.get_by_role("button", name="Retry")).to_be_visible()
    banner = page.locator(".banner")
    expect(banner).to_contain_text("the server cannot be reached")
    expect(page.get_by_role("article", name="Fixture Heim Vorher – Gast Vorher")).to_be_visible()  # the page stays
    expect(board.locator(".banner")).to_be_visible(timeout=15_000)  # the live page notices the dropped connection
    screenshot(page, "offline")

    server.start()  # same port, same database
    expect(banner).to_have_count(0, timeout=8_000)
    expect(board.locator(".banner")).to_have_count(0, timeout=8_000)
    expect(board.locator(".live[data-live=true]")).to_be_visible(timeout=8_000)
    assert page.evaluate("window.stillTheSamePage") is True, "recovered without a reload"
    expect(page.get_by_label("Date and time")).to_have_value(kick_off)
    expect(page.get_by_label("Home team")).to_have_value(re.compile(".+"))
    alert.get_by_role("button", name="Retry").click()
    expect(page.locator(".note")).to_have_text("Fixture created.")
    expect(page.get_by_role("button", name="Create fixture")).to_be_focused()  # Retry went, the keyboard did not
    expect(page.get_by_role("article", name="Fixture Seebären – Bergadler")).to_be_visible()
    # The board, live again, follows the change.
    board.get_by_label("Until (inclusive)").fill(days_ahead(10).date().isoformat())
    expect(board.get_by_role("article", name="Board: Seebären – Bergadler")).to_be_visible()


def tab_to(page: Any, name: str, presses: int = 60) -> None:
    for _ in range(presses):
        page.keyboard.press("Tab")
        if focused(page) == name:
            return
    pytest.fail(f"Tab never reached {name!r}")


def test_keyboard_only_admin_stages_removes_and_commits(server: ServerProcess, open_page: OpenPage) -> None:
    with Api(server.url) as api:
        match = new_match(api, days_ahead(2), ("Kai Taste",), tag="Taste")
    page = open_page(server.url, "#/fixtures")
    expect(page.get_by_role("banner")).to_contain_text("Admin")
    expect(page.locator("article.fixture").first).to_be_visible()
    tab_to(page, "Assignment board")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    card = page.get_by_role("article", name=f"Board: {match['name']}")
    expect(card).to_be_visible()

    first = f"Stage Kai Taste as first referee of {match['name']}"
    tab_to(page, first)
    page.keyboard.press("Enter")
    expect(card.locator(".badge-staged")).to_have_count(1)
    assert focused(page) == first, "the keyboard stays on the button pressed"
    expect_focus_ring(page)

    page.keyboard.press("Shift+Tab")  # back to "Remove", just above in the card
    remove = f"Remove Kai Taste from {match['name']}"
    for _ in range(5):
        if focused(page) == remove:
            break
        page.keyboard.press("Shift+Tab")
    assert focused(page) == remove
    page.keyboard.press("Enter")
    expect(card).to_contain_text("No referee yet.")
    expect(card).to_be_focused()  # the button went with the assignment: the fixture has the keyboard
    expect_focus_ring(page)

    tab_to(page, first)
    page.keyboard.press("Enter")
    expect(card.locator(".badge-staged")).to_have_count(1)
    tab_to(page, "Commit staged assignments", presses=80)  # past the last card, around to the top
    page.keyboard.press("Enter")
    expect(card.locator(".badge-committed")).to_have_count(1)
    assert focused(page) == "Commit staged assignments"
    expect_focus_ring(page)


def test_keyboard_only_referee_declares_and_reads(server: ServerProcess, open_page: OpenPage) -> None:
    with Api(server.url) as api:
        match = new_match(api, days_ahead(3), tag="Tastatur")
        referee = api.create("Referee", name="Tara Taste", club="VC Neutral")
    page = open_page(server.url, "#/me")
    picker = page.get_by_label("Referee", exact=True)
    expect(picker.locator("option", has_text="Tara Taste")).to_be_attached()
    picker.focus()
    page.keyboard.press("ArrowDown")  # the native select, by keyboard: the first (only) referee
    expect(page.get_by_role("region", name="Assignments of Tara Taste")).to_be_visible()
    declare = f"Declare availability for {match['name']}"
    tab_to(page, declare)
    page.keyboard.press("Enter")
    withdraw = f"Withdraw availability for {match['name']}"
    expect(page.get_by_role("button", name=withdraw)).to_be_visible()
    assert focused(page) == withdraw, "the keyboard stays on the button, which now withdraws"
    expect_focus_ring(page)

    with Api(server.url) as api:
        stage(api, match["id"], referee)
        api.data("mutation { commitAssignments { id } }")
    notifications = page.get_by_role("region", name=re.compile("Notifications"))
    expect(notifications.locator("li.unread")).to_have_count(1)
    tab_to(page, "Mark all as read")
    page.keyboard.press("Enter")
    expect(notifications.locator("li.unread")).to_have_count(0)
    expect(page.get_by_role("heading", name="Notifications")).to_be_focused()


def test_the_referee_page_puts_upcoming_first_folds_the_past_and_shows_weeks_at_a_time(
    server: ServerProcess, open_page: OpenPage
) -> None:
    with Api(server.url) as api:
        played = new_match(api, days_ahead(1), ("Pia Pfeife",), tag="Gestern")
        referee = played["referees"]["Pia Pfeife"]
        stage(api, played["id"], referee)
        api.data("mutation { commitAssignments { id } }")
        # It was played yesterday after all (moved into the past after the commit).
        api.data("mutation($f: ID!, $d: DateTime!) { changeFixtureDate(fixtureId: $f, date: $d) { id } }",
                 f=played["id"], d=days_ahead(-1).isoformat())
        planned = new_match(api, days_ahead(6), tag="Bald")
        later = new_match(api, days_ahead(45), tag="Später")
        for fixture in (planned, later):
            api.data("mutation($f: ID!, $r: ID!) { declareAvailability(fixtureId: $f, refereeId: $r) { fixture { id } } }",
                     f=fixture["id"], r=referee)
        stage(api, planned["id"], referee, "SECOND")
    page = open_page(server.url, "#/me")
    page.get_by_label("Referee", exact=True).select_option(label="Pia Pfeife")
    assignments = page.get_by_role("region", name="Assignments of Pia Pfeife")
    upcoming = assignments.locator(":scope > ul > li")
    expect(upcoming).to_have_count(1)
    expect(upcoming.first).to_contain_text(planned["name"])
    expect(upcoming.first.locator(".badge-planned")).to_have_text("Planned")
    past = assignments.locator("details.past")
    expect(past.locator("summary")).to_have_text("Past assignments (1)")
    expect(past.get_by_text(played["name"])).to_be_hidden()  # folded away
    past.locator("summary").click()
    expect(past.get_by_text(played["name"])).to_be_visible()

    availability = page.get_by_role("region", name=re.compile("Upcoming fixtures"))
    expect(availability.get_by_role("heading", name=planned["name"])).to_be_visible()
    expect(availability.get_by_role("heading", name=later["name"])).to_have_count(0)  # not within 4 weeks
    availability.get_by_role("button", name="Show 4 more weeks").click()
    expect(availability.get_by_role("heading", name=later["name"])).to_be_visible()
    # Dates read like the rest of the app, in the notifications too.
    notifications = page.get_by_role("region", name=re.compile("Notifications"))
    expect(notifications.locator("li")).not_to_have_count(0)
    expect(notifications).not_to_contain_text(re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"))
    screenshot(page, "referee-season")


def test_a_fixture_already_played_takes_no_new_referees_and_says_so_in_words(
    server: ServerProcess, open_page: OpenPage
) -> None:
    kick_off = days_ahead(0, hour=0)  # today, already kicked off
    with Api(server.url) as api:
        match = new_match(api, kick_off, ("Otto Spät",), tag="Heute")
    stage_button = f"Stage Otto Spät as first referee of {match['name']}"
    page = open_page(server.url, "#/board")
    card = page.get_by_role("article", name=f"Board: {match['name']}")
    expect(card).to_contain_text("Already played: it takes no new referees.")
    expect(card.get_by_role("button", name=stage_button)).to_have_count(0)

    # A browser whose clock is behind still offers it: the server refuses, in words.
    behind = open_page(server.url, "#/board", today=kick_off - timedelta(hours=1))
    card = behind.get_by_role("article", name=f"Board: {match['name']}")
    card.get_by_role("button", name=stage_button).click()
    expect(card.locator(".alert")).to_have_text("This fixture has already been played: it takes no new referees.")
    expect(card).to_contain_text("No referee yet.")
