"""Each page of the web app on the demo league, as the dev-mode ADMIN: what it shows and
does, errors next to the field they concern, labelled controls, the keyboard, and a layout
that fits a 360 px phone (screenshots at 1280 px and 390 px go to tests/artifacts/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from typing import Any

import pytest

from tests.browser.conftest import (
    DEMO_TODAY,
    NARROWEST,
    PHONE,
    Api,
    OpenPage,
    expect,
    new_match,
    no_horizontal_overflow,
    on_demo_day,
    screenshot,
    whistle_server,
)
from tests.e2e.processes import ServerProcess

pytestmark = pytest.mark.browser

PAGES = {  # fragment -> the page's heading
    "fixtures": "Fixtures",
    "board": "Assignment board",
    "me": "Act as referee",
    "referees": "Referees",
    "teams": "Teams",
    "venues": "Venues",
}
JOHN_DOE = "2ef28cf5-6471-4051-ae11-0f419aef3234"  # a referee of the demo data


@pytest.fixture
def open_page(open_page: OpenPage) -> OpenPage:
    return on_demo_day(open_page)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with whistle_server(tmp_path_factory.mktemp("pages"), "pages", seed_demo="true") as process:
        yield process


def show_everything(page: Any, fragment: str) -> None:
    """Open what a page hides behind a click, so that its controls are checked and pictured too."""
    if fragment == "me":
        page.get_by_label("Referee", exact=True).select_option(value=JOHN_DOE)
        expect(page.get_by_role("region", name="Assignments of John Doe")).to_be_visible()
    elif fragment == "fixtures":
        page.get_by_role("button", name="Change or cancel").first.click()
    elif fragment in ("referees", "teams", "venues"):
        page.locator("details summary").first.click()
        expect(page.locator("details[open] .loading")).to_have_count(0)
    elif fragment == "board":
        expect(page.get_by_role("article").first).to_be_visible()


@pytest.mark.parametrize("fragment", list(PAGES))
def test_each_page_fits_a_phone_and_labels_every_control(server: ServerProcess, open_page: OpenPage, fragment: str) -> None:
    page = open_page(server.url, f"#/{fragment}")
    expect(page.get_by_role("heading", level=1)).to_have_text(PAGES[fragment])
    expect(page.locator(".loading")).to_have_count(0)
    show_everything(page, fragment)
    unlabelled = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
              .filter((c) => !(c.labels?.length || c.getAttribute('aria-label') || (c.tagName === 'BUTTON' && c.textContent.trim())))
              .map((c) => c.outerHTML.slice(0, 120))"""
    )
    assert unlabelled == [], f"controls without a label on #{fragment}: {unlabelled}"
    assert page.locator("input, select").count() > 0 or fragment == "board"
    for viewport in (PHONE, NARROWEST):
        page.set_viewport_size(viewport)
        no_horizontal_overflow(page)
    screenshot(page, fragment)


def test_the_keyboard_reaches_every_page_and_lands_on_its_heading(server: ServerProcess, open_page: OpenPage) -> None:
    page = open_page(server.url, "#/fixtures")
    expect(page.get_by_role("heading", level=1)).to_have_text("Fixtures")
    # Tab only once the page has loaded what it shows (who is signed in, the fixtures): a
    # render after a key press could take the focus back to the start.
    expect(page.get_by_role("banner")).to_contain_text("Admin")
    expect(page.locator("article.fixture").first).to_be_visible()
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.textContent") == "Venues":
            break
    else:
        pytest.fail("Tab never reached the Venues link")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Venues")
    expect(page.get_by_role("heading", level=1)).to_be_focused()
    expect(page.get_by_role("link", name="Venues")).to_have_attribute("aria-current", "page")


def fixture_cards(page: Any) -> Any:
    return page.locator("article.fixture")


def expect_only_fixtures_with(page: Any, text: str) -> None:
    cards = fixture_cards(page)
    expect(cards.filter(has_not_text=text)).to_have_count(0)
    expect(cards.first).to_contain_text(text)


def test_fixtures_filter_by_venue_team_and_dates(server: ServerProcess, open_page: OpenPage) -> None:
    page = open_page(server.url, "#/fixtures")
    count = page.locator(".count")
    expect(count).to_have_text(re.compile(r"^\d+ fixtures"))
    everything = count.inner_text()

    page.get_by_label("Team", exact=True).select_option(label="Team A")
    expect_only_fixtures_with(page, "Team A")
    page.get_by_label("Team", exact=True).select_option(label="All teams")
    page.locator("#filter-venue").select_option(label="Venue B")
    expect_only_fixtures_with(page, "Venue B")
    page.locator("#filter-venue").select_option(label="All venues")
    expect(count).to_have_text(everything)

    page.get_by_label("From").fill((DEMO_TODAY.date() + timedelta(days=400)).isoformat())
    page.get_by_label("Until (inclusive)").fill((DEMO_TODAY.date() + timedelta(days=401)).isoformat())
    expect(count).to_have_text("No fixtures match these filters.")


def test_a_long_schedule_comes_a_page_at_a_time(server: ServerProcess, open_page: OpenPage) -> None:
    page = open_page(server.url, "#/fixtures")
    page.get_by_label("Until (inclusive)").fill((DEMO_TODAY.date() + timedelta(days=365)).isoformat())
    count = page.locator(".count")
    expect(count).to_have_text(re.compile(r"^\d+ fixtures \(showing 50\)$"))
    total = int(count.inner_text().split()[0])
    assert total > 100, "the demo season has well over 100 fixtures in a year"
    expect(fixture_cards(page)).to_have_count(50)
    page.get_by_role("button", name="Show more fixtures").click()
    expect(fixture_cards(page)).to_have_count(100)
    expect(count).to_have_text(f"{total} fixtures (showing 100)")
    dates = page.evaluate("[...document.querySelectorAll('article.fixture time')].map((t) => t.dateTime)")
    assert dates == sorted(dates), "the next page continues where the first ended"
    shown = 100
    while shown < total:
        page.get_by_role("button", name="Show more fixtures").click()
        shown = min(shown + 50, total)
        expect(fixture_cards(page)).to_have_count(shown)
    expect(count).to_have_text(f"{total} fixtures")
    expect(page.get_by_role("button", name="Show more fixtures")).to_have_count(0)
    # New filters start from the first page again.
    page.get_by_label("Team", exact=True).select_option(label="Team A")
    expect_only_fixtures_with(page, "Team A")


def test_domain_errors_are_shown_next_to_the_field_they_concern(server: ServerProcess, open_page: OpenPage) -> None:
    page = open_page(server.url, "#/fixtures")
    first = fixture_cards(page).first
    expect(first).to_be_visible()
    first = page.get_by_role("article", name=first.get_attribute("aria-label") or "")
    kick_off = first.locator("time").get_attribute("datetime") or ""
    venue = first.locator(".fixture-meta span").inner_text().removeprefix(" · ").split(",")[0]
    free_day = (date.fromisoformat(kick_off[:10]) + timedelta(days=300)).isoformat()  # after the demo season

    # VENUE_BUSY: the venue already hosts a fixture that day -> next to the venue.
    page.get_by_label("Date and time").fill(f"{kick_off[:10]}T10:00")
    page.locator("#new-fixture-venue").select_option(label=venue)
    page.get_by_label("Home team").select_option(index=1)
    page.get_by_label("Away team").select_option(index=2)
    page.get_by_role("button", name="Create fixture").click()
    venue_error = page.locator("#new-fixture-venue-error")
    # The fixture that has the venue is named, as people name it, never by its id.
    expect(venue_error).to_contain_text(f"The venue is taken that day by {first.get_by_role('heading').inner_text()}, ")
    expect(venue_error).not_to_contain_text(re.compile("[0-9a-f]{8}-[0-9a-f]{4}"))
    expect(page.locator("#new-fixture-venue")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#new-fixture-venue")).to_have_attribute("aria-describedby", "new-fixture-venue-error")
    expect(page.locator("#new-fixture-date-error")).to_have_count(0)
    expect(page.locator("#new-fixture-venue")).to_be_focused()  # the keyboard lands where the problem is

    # SAME_TEAM on a free day: next to the teams, and the venue's error is gone.
    page.get_by_label("Date and time").fill(f"{free_day}T10:00")
    page.get_by_label("Away team").select_option(index=1)
    page.get_by_role("button", name="Create fixture").click()
    expect(page.locator("#new-fixture-teams-error")).to_contain_text("A team cannot play against itself")
    expect(venue_error).to_have_count(0)
    page.get_by_label("Away team").select_option(index=2)
    page.get_by_role("button", name="Create fixture").click()
    expect(page.locator(".note")).to_have_text("Fixture created.")
    expect(page.locator(".field-error")).to_have_count(0)

    # Moving the first fixture to that day, when its venue now hosts the new one: next to the date.
    first.get_by_role("button", name="Change or cancel").click()
    date_field = first.get_by_label("New date and time")
    fixture_id = (date_field.get_attribute("id") or "").removeprefix("date-")
    date_field.fill(f"{free_day}T19:00")
    first.get_by_role("button", name="Change date").click()
    expect(first.locator(f"#date-{fixture_id}-error")).to_contain_text("The venue is taken that day by ")
    expect(date_field).to_have_attribute("aria-invalid", "true")

    # A free day goes through: the fixture leaves the shown window, the API has the new date.
    later = (date.fromisoformat(free_day) + timedelta(days=1)).isoformat()
    date_field.fill(f"{later}T19:00")
    first.get_by_role("button", name="Change date").click()
    expect(page.locator(f"#edit-{fixture_id}")).to_have_count(0)
    with Api(server.url) as api:
        moved = api.data("query($id: ID!) { fixture(id: $id) { date } }", id=fixture_id)["fixture"]["date"]
    assert moved.startswith(later) or moved.startswith(free_day)  # 19:00 local is that day or the next in UTC


def test_the_admin_moves_and_cancels_a_fixture(server: ServerProcess, open_page: OpenPage) -> None:
    page = open_page(server.url, "#/fixtures")
    card = fixture_cards(page).nth(2)
    name = card.get_attribute("aria-label") or ""
    card = page.get_by_role("article", name=name)
    card.get_by_role("button", name="Change or cancel").click()
    card.get_by_label("New venue").select_option(label="Venue C")
    card.get_by_role("button", name="Change venue").click()
    expect(card.locator(".fixture-meta")).to_contain_text("Venue C")
    card.get_by_role("button", name="Cancel fixture…").click()
    card.get_by_role("button", name="Yes, cancel the fixture").click()
    expect(card.locator(".badge-cancelled")).to_have_text("Cancelled")
    expect(card.get_by_role("button", name="Change or cancel")).to_have_count(0)


def test_referees_teams_and_venues_are_listed_created_and_detailed(server: ServerProcess, open_page: OpenPage) -> None:
    page = open_page(server.url, "#/referees")
    page.get_by_label("Name").fill("Zora Zeiger")
    page.get_by_label("Club").fill("   ")  # blank for the API: refused, next to the club field
    page.get_by_role("button", name="Add referee").click()
    expect(page.locator("#new-referee-club-error")).to_have_text("Enter the club.")
    expect(page.get_by_label("Club")).to_be_focused()
    page.get_by_label("Club").fill("VC Zeiger")
    page.get_by_role("button", name="Add referee").click()
    expect(page.locator(".note")).to_have_text("Zora Zeiger added.")
    expect(page.locator("#new-referee-club-error")).to_have_count(0)
    page.locator("summary", has_text="Zora Zeiger").click()
    expect(page.locator("details[open]")).to_contain_text("None yet.")
    page.locator("summary", has_text="John Doe").click()
    expect(page.locator("details[open]", has_text="John Doe")).to_contain_text("referee (")

    page.get_by_role("link", name="Teams").click()
    # The referees' form has a "Name" too: fill only once the Teams page has replaced it.
    expect(page.get_by_role("heading", level=1)).to_have_text("Teams")
    page.get_by_label("Name").fill("VBC Neu")
    page.get_by_label("Club").fill("VBC Neu")
    page.get_by_role("button", name="Add team").click()
    expect(page.locator("summary", has_text="VBC Neu")).to_be_visible()
    page.locator("summary", has_text="Team A").click()
    expect(page.locator("details[open]")).to_contain_text("Next fixtures")

    page.get_by_role("link", name="Venues").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Venues")
    for label, value in (("Name", "Halle Neu"), ("Street", "Weg 2"), ("Postcode", "8001"), ("City", "Zürich")):
        page.get_by_label(label, exact=True).fill(value)
    page.get_by_label("Email (optional)").fill("halle@neu")  # the browser accepts it; the API wants a dot
    page.get_by_role("button", name="Add venue").click()
    expect(page.locator("#new-venue-email-error")).to_contain_text("is not an email address")
    page.get_by_label("Email (optional)").fill("halle@neu.example")
    page.get_by_role("button", name="Add venue").click()
    expect(page.locator(".note")).to_have_text("Halle Neu added.")
    page.locator("summary", has_text="Halle Neu").click()
    expect(page.locator("details[open]")).to_contain_text("Weg 2, 8001 Zürich")
    with Api(server.url) as api:
        venues = api.data("{ venues { name email } }")["venues"]
    assert {"name": "Halle Neu", "email": "halle@neu.example"} in venues


def test_board_shows_validation_problems_inline_and_refuses_the_commit(server: ServerProcess, open_page: OpenPage) -> None:
    # A fixture still to be played (by the server's clock), with two available referees.
    kick_off = datetime.now(timezone.utc).replace(hour=18, minute=0, second=0, microsecond=0) + timedelta(days=5)
    with Api(server.url) as api:
        match = new_match(api, kick_off, ("Ria Rot", "Olaf Ocker"), tag="Problem")
    name, referees = match["name"], list(match["referees"])
    page = open_page(server.url, "#/board")
    page.get_by_label("From", exact=True).fill(kick_off.date().isoformat())
    page.get_by_label("Until (inclusive)").fill(kick_off.date().isoformat())
    card = page.get_by_role("article", name=f"Board: {name}")
    expect(card).to_be_visible()
    for referee in referees:  # two referees for one role: ROLE_TAKEN on each
        card.get_by_role("button", name=f"Stage {referee} as first referee of {name}").click()
        expect(card.locator(".badge-staged", has_text="Staged")).to_have_count(referees.index(referee) + 1)
    expect(card.locator(".problem")).to_have_count(2)
    for referee, rival in zip(referees, reversed(referees)):  # the rival is named, not shown by id
        expect(card.locator(".problem", has_text=f"{rival} is staged as first referee here too")).to_have_count(1)
    expect(card.locator(".problem").first).not_to_contain_text("ROLE_TAKEN")
    screenshot(page, "board-problems")
    page.get_by_role("button", name="Commit staged assignments").click()
    page.get_by_role("button", name=re.compile(r"^Commit all \d+$")).click()  # the demo's staged ones too
    expect(page.locator(".toolbar .alert")).to_contain_text("Nothing was committed: first fix the 2 problems")
    # Remove one: the problems are gone, the commit goes through.
    card.get_by_role("button", name=f"Remove {referees[1]} from {name}").click()
    expect(card.locator(".problem")).to_have_count(0)
    page.get_by_role("button", name="Commit staged assignments").click()
    page.get_by_role("button", name=re.compile(r"^Commit all \d+$")).click()
    expect(card.locator(".badge-committed")).to_have_count(1)
    expect(card).to_contain_text(f"First: {referees[0]}")
    expect(page.locator(".toolbar .note")).to_have_text(re.compile(r"^\d+ assignments committed"))
    # A committed assignment is removed as committed.
    card.get_by_role("button", name=f"Remove {referees[0]} from {name}").click()
    expect(card).to_contain_text("No referee yet.")


def test_while_availabilities_are_locked_a_referee_is_told_so_at_the_fixture(
    server: ServerProcess, open_page: OpenPage
) -> None:
    admin = open_page(server.url, "#/board")
    admin.get_by_role("button", name="Lock availabilities").click()
    expect(admin.get_by_role("button", name="Unlock availabilities")).to_be_visible()
    try:
        referee = open_page(server.url, "#/me")
        referee.get_by_label("Referee", exact=True).select_option(value=JOHN_DOE)
        card = referee.locator("article", has=referee.get_by_role("button", name="Declare availability for")).first
        card.get_by_role("button", name="Declare availability for").click()
        expect(card.get_by_role("alert")).to_contain_text("lock")
        expect(card.get_by_role("button", name="Declare availability for")).to_be_visible()  # nothing changed
    finally:
        admin.get_by_role("button", name="Unlock availabilities").click()
        expect(admin.get_by_role("button", name="Lock availabilities")).to_be_visible()
