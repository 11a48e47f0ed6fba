""""Same day" is the local calendar date in the league's time zone (here Europe/Berlin,
as with WHISTLE_TIMEZONE=Europe/Berlin), not the UTC date: the schedule rules and the
assignment validation both judge by it, through the database queries of the services."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from app.domain.calendar import LeagueCalendar
from app.domain.errors import Conflict
from app.domain.fixture import RefereeRole
from app.services import assignments as assignment_service
from app.services import fixtures as fixture_service
from app.services.deps import ServiceDeps

BERLIN = ZoneInfo("Europe/Berlin")


def berlin(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


@pytest.fixture
def deps(deps: ServiceDeps) -> ServiceDeps:
    """The league of these tests plays in Berlin."""
    return replace(deps, calendar=LeagueCalendar(zone=BERLIN, slot_length=deps.calendar.slot_length))


async def _refusal(command) -> str:
    with pytest.raises(Conflict) as refused:
        await command
    return refused.value.reason


async def test_a_venue_is_free_after_local_midnight_although_the_utc_day_is_the_same(deps, world) -> None:
    late = await world.fixture(berlin(3, 1, 22, 0))  # 21:00 UTC on March 1st
    after_midnight = berlin(3, 2, 0, 30)  # 23:30 UTC, still March 1st in UTC
    teams = (late.team_home_id, (await world.team()).id)

    in_utc = replace(deps, calendar=LeagueCalendar(zone=timezone.utc, slot_length=deps.calendar.slot_length))
    with pytest.raises(Conflict):
        await fixture_service.create_fixture(in_utc, after_midnight, late.venue_id, *teams)
    await fixture_service.create_fixture(deps, after_midnight, late.venue_id, *teams)


async def test_venue_busy_on_the_same_local_day_although_the_utc_days_differ(world) -> None:
    early = await world.fixture(berlin(3, 1, 0, 30))  # 23:30 UTC on February 28th
    evening = berlin(3, 1, 20, 0)  # 19:00 UTC on March 1st

    assert await _refusal(world.fixture(evening, venue=early.venue_id)) == "VENUE_BUSY"
    assert await _refusal(world.fixture(evening, home=early.team_away_id)) == "TEAM_BUSY"
    assert await _refusal(world.fixture(evening, away=early.team_home_id)) == "TEAM_BUSY"


async def test_venue_busy_is_reported_before_team_busy(world) -> None:
    early = await world.fixture(berlin(3, 1, 0, 30))

    refusal = _refusal(world.fixture(berlin(3, 1, 20), venue=early.venue_id, home=early.team_home_id))

    assert await refusal == "VENUE_BUSY"


async def test_the_local_day_of_the_spring_clock_change_is_one_day_of_23_hours(world) -> None:
    just_after_midnight = await world.fixture(berlin(3, 29, 0, 15))  # 23:15 UTC on March 28th
    last_hour = berlin(3, 29, 23, 45)  # 21:45 UTC on March 29th
    next_day = berlin(3, 30, 0, 15)  # 22:15 UTC on March 29th

    assert await _refusal(world.fixture(last_hour, venue=just_after_midnight.venue_id)) == "VENUE_BUSY"
    await world.fixture(next_day, venue=just_after_midnight.venue_id)


async def test_moving_a_fixture_is_judged_by_the_local_day_it_moves_to(deps, world) -> None:
    evening = await world.fixture(berlin(3, 1, 20, 0))
    moving = await world.fixture(berlin(3, 5, 20, 0), venue=evening.venue_id)

    refusal = await _refusal(fixture_service.change_fixture_date(deps, moving.id, berlin(3, 1, 0, 30)))
    await fixture_service.change_fixture_date(deps, moving.id, berlin(3, 2, 0, 30))  # UTC: still March 1st

    assert refusal == "VENUE_BUSY"


async def test_cancelled_fixtures_never_make_a_venue_or_team_busy(deps, world) -> None:
    cancelled = [await world.fixture(berlin(3, day, 18, 0)) for day in (1, 3, 4)]
    for fixture in cancelled:
        await fixture_service.cancel_fixture(deps, fixture.id)
    on_the_1st, on_the_3rd, on_the_4th = cancelled
    moving_date = await world.fixture(berlin(3, 8, 18, 0), venue=on_the_3rd.venue_id, home=on_the_3rd.team_home_id)
    moving_venue = await world.fixture(berlin(3, 4, 20, 0))

    await world.fixture(berlin(3, 1, 20, 0), venue=on_the_1st.venue_id, home=on_the_1st.team_home_id)
    await fixture_service.change_fixture_date(deps, moving_date.id, berlin(3, 3, 20, 0))
    await fixture_service.change_fixture_venue(deps, moving_venue.id, on_the_4th.venue_id)


async def test_validation_judges_different_venues_by_the_local_day(deps, world) -> None:
    # March 1st 20:00 and March 2nd 00:45 in Berlin: the same UTC day, different local days.
    evening = await world.fixture(berlin(3, 1, 20, 0))
    after_midnight = await world.fixture(berlin(3, 2, 0, 45))
    # March 1st 00:30 and 20:00 in Berlin: different UTC days, the same local day.
    small_hours = await world.fixture(berlin(3, 1, 0, 30))
    night_owl, early_bird = await world.referee(), await world.referee()
    await world.staged(evening.id, night_owl.id, RefereeRole.FIRST)
    await world.staged(after_midnight.id, night_owl.id, RefereeRole.FIRST)
    await world.staged(small_hours.id, early_bird.id, RefereeRole.FIRST)
    await world.staged(evening.id, early_bird.id, RefereeRole.SECOND)

    problems = await assignment_service.validate_staged_assignments(deps)

    assert {(p.code, p.fixture_id, p.referee_id) for p in problems} == {
        ("DIFFERENT_VENUE_SAME_DAY", small_hours.id, early_bird.id),
        ("DIFFERENT_VENUE_SAME_DAY", evening.id, early_bird.id),
    }
    assert all("2026-03-01" in p.message for p in problems)
