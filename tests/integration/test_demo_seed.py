"""The demo seed: the original system's directory plus a season that obeys every rule,
placed around the seed day, loaded once, in one transaction, the same everywhere."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta, timezone
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.domain.calendar import LeagueCalendar
from app.repos.tables import assignments, availabilities, fixtures, outbox, referees, teams, venues
from app.services import assignments as assignment_services
from app.services.demo import (
    DEMO_MARKER,
    ORIGINAL_REFEREES,
    ORIGINAL_TEAMS,
    ORIGINAL_VENUES,
    build_demo,
    season_start,
    seed_demo,
)
from app.services.deps import ServiceDeps
from tests.integration.conftest import World

ZURICH = ZoneInfo("Europe/Zurich")
CALENDAR = LeagueCalendar(ZURICH, timedelta(minutes=150))
SEED_DAY = datetime(2026, 10, 1, 12, 0, tzinfo=timezone.utc)  # a Thursday: the season started on 2026-07-04


def seeded_on(day: datetime) -> Callable[[], datetime]:
    return lambda: day


@pytest.fixture
def zurich(engine: AsyncEngine) -> ServiceDeps:
    """Service dependencies of a league in Zurich, on a fresh database of each backend."""
    return ServiceDeps(engine, CALENDAR, clock=seeded_on(SEED_DAY))


@pytest.fixture
async def seeded(zurich: ServiceDeps) -> World:
    assert await seed_demo(zurich) is True
    return World(zurich)


async def _counts(world: World) -> dict[str, int]:
    return {t.name: len(await world.rows(t)) for t in (referees, teams, venues, fixtures, availabilities, assignments)}


async def test_seed_loads_the_original_directory_and_a_season(seeded: World) -> None:
    counts = await _counts(seeded)
    assert counts["teams"] >= 12 and counts["referees"] >= 40 and counts["venues"] >= 8
    assert counts["fixtures"] >= 150
    assert counts["availabilities"] >= 3 * counts["fixtures"]

    names = {(str(r["id"]), r["name"], r["club"]) for r in await seeded.rows(referees)}
    assert set(ORIGINAL_REFEREES) <= names
    stored_teams = {(str(t["id"]), t["name"], t["club"]) for t in await seeded.rows(teams)}
    assert {(id, name, club) for id, name, club, _ in ORIGINAL_TEAMS} <= stored_teams
    stored_venues = {str(v["id"]): v for v in await seeded.rows(venues)}
    for id, name, street, zip, city, telephone, email in ORIGINAL_VENUES:
        assert (stored_venues[id]["name"], stored_venues[id]["street"], stored_venues[id]["email"]) == (
            name, street, email
        )
    telephones = [v["telephone"] for v in stored_venues.values()]
    assert any(telephones) and None in telephones, "some venues with a telephone, some without"
    assert len({r["club"] for r in await seeded.rows(referees)}) >= 10

    held = Counter((a["status"], a["role"]) for a in await seeded.rows(assignments))
    assert held[("COMMITTED", "FIRST")] >= 20 and held[("COMMITTED", "SECOND")] >= 20
    assert held[("STAGED", "FIRST")] >= 10 and held[("STAGED", "SECOND")] >= 5
    statuses = Counter(f["status"] for f in await seeded.rows(fixtures))
    assert 2 <= statuses["CANCELLED"] <= 5
    assert await seeded.outbox(), "the created aggregates' events are in the outbox"


async def test_second_run_adds_nothing(seeded: World) -> None:
    before = await seeded.snapshot()
    assert await seed_demo(seeded.deps) is False
    assert await seeded.snapshot() == before


async def test_seed_leaves_existing_data_alone_and_skips_when_the_marker_is_there(zurich: ServiceDeps) -> None:
    world = World(zurich)
    own = await world.referee("Own Referee")
    assert await seed_demo(zurich) is True
    assert [r["name"] for r in await world.rows(referees, referees.c.id == own.id)] == ["Own Referee"]
    assert await world.rows(referees, referees.c.id == DEMO_MARKER)


async def test_staged_assignments_validate_and_commit(seeded: World) -> None:
    assert await assignment_services.validate_staged_assignments(seeded.deps) == []
    commit = await assignment_services.commit_staged_assignments(seeded.deps)
    assert len(commit.assignments) >= 15
    assert len(commit.replaced) == 1, "the demo stages one change of a committed referee"
    assert not await seeded.rows(assignments, assignments.c.status == "STAGED")


async def test_schedule_obeys_the_same_day_rules(seeded: World) -> None:
    scheduled = await seeded.rows(fixtures, fixtures.c.status == "SCHEDULED")
    venue_days = Counter((f["venue_id"], CALENDAR.local_day(f["date"])) for f in scheduled)
    assert max(venue_days.values()) == 1, "VENUE_BUSY"
    team_days = Counter(
        (team, CALENDAR.local_day(f["date"])) for f in scheduled for team in (f["team_home_id"], f["team_away_id"])
    )
    assert max(team_days.values()) == 1, "TEAM_BUSY"

    every = await seeded.rows(fixtures)
    days = [CALENDAR.local_day(f["date"]) for f in every]
    first_round = season_start(SEED_DAY.date())
    assert min(days) == first_round - timedelta(days=1), "the first round starts on a Friday evening"
    assert max(days) <= first_round + timedelta(weeks=36)
    assert any(d > SEED_DAY.date() + timedelta(weeks=20) for d in days), "upcoming fixtures months ahead"
    for f in every:
        local = f["date"].astimezone(ZURICH)
        assert local.weekday() in (2, 4, 5, 6), "weekends, Friday and (make-up) Wednesday evenings"
        assert time(13, 0) <= local.time() <= time(20, 30)


async def test_committed_referees_are_never_double_booked(seeded: World) -> None:
    by_id = {f["id"]: f for f in await seeded.rows(fixtures)}
    held: dict[UUID, list[dict]] = defaultdict(list)
    for a in await seeded.rows(assignments, assignments.c.status == "COMMITTED"):
        fixture = by_id[a["fixture_id"]]
        if fixture["status"] == "SCHEDULED":
            held[a["referee_id"]].append(fixture)
    for referee_id, held_fixtures in held.items():
        days = [CALENDAR.local_day(f["date"]) for f in held_fixtures]
        assert len(days) == len(set(days)), f"referee {referee_id} holds two fixtures on one day"
    for f in by_id.values():
        committed = {a["role"]: a["referee_id"] for a in await seeded.rows(
            assignments, assignments.c.fixture_id == f["id"], assignments.c.status == "COMMITTED"
        )}
        assert (f["first_referee_id"], f["second_referee_id"]) == (committed.get("FIRST"), committed.get("SECOND"))


async def test_availabilities_are_plausible(seeded: World) -> None:
    club_of_team = {t["id"]: t["club"] for t in await seeded.rows(teams)}
    club_of_referee = {r["id"]: r["club"] for r in await seeded.rows(referees)}
    by_id = {f["id"]: f for f in await seeded.rows(fixtures)}
    declared: dict[UUID, set[UUID]] = defaultdict(set)
    for row in await seeded.rows(availabilities):
        declared[row["fixture_id"]].add(row["referee_id"])
        f = by_id[row["fixture_id"]]
        playing = {club_of_team[f["team_home_id"]], club_of_team[f["team_away_id"]]}
        assert club_of_referee[row["referee_id"]] not in playing, "no referee for their own club's match"
    assert all(len(declared[f]) >= 3 for f in by_id)
    for a in await seeded.rows(assignments):
        assert a["referee_id"] in declared[a["fixture_id"]]


async def test_outbox_records_the_commit(seeded: World) -> None:
    types = Counter(row["type"] for row in await seeded.outbox())
    assert types["AssignmentsCommitted"] == 1
    assert types["FixtureCreated"] == len(await seeded.rows(fixtures))
    assert types["FixtureCancelled"] >= 2


def test_the_demo_is_deterministic() -> None:
    def fingerprint(calendar: LeagueCalendar) -> list[tuple]:
        demo = build_demo(calendar, SEED_DAY)
        return (
            [(r.id, r.name, r.club) for r in demo.referees]
            + [(t.id, t.name, t.club) for t in demo.teams]
            + [(v.id, v.name) for v in demo.venues]
            + [
                (f.id, f.date, f.venue_id, f.status, sorted(f.available_referee_ids), sorted(f.assignments.items()))
                for f in demo.fixtures
            ]
            + [(demo.commit.id, demo.commit.committed_at)]
        )

    assert fingerprint(CALENDAR) == fingerprint(LeagueCalendar(ZoneInfo("Europe/Zurich"), timedelta(minutes=150)))
    # Local kick-off times stay the same in another league time zone.
    tokyo = build_demo(LeagueCalendar(ZoneInfo("Asia/Tokyo"), timedelta(minutes=150)), SEED_DAY)
    assert tokyo.fixtures[0].date.astimezone(ZoneInfo("Asia/Tokyo")).time() == (
        build_demo(CALENDAR, SEED_DAY).fixtures[0].date.astimezone(ZURICH).time()
    )


async def test_concurrent_seeds_load_the_demo_once(zurich: ServiceDeps) -> None:
    results = await asyncio.gather(seed_demo(zurich), seed_demo(zurich))
    assert sorted(results) == [False, True]
    assert len(await World(zurich).rows(fixtures)) >= 150


def test_the_season_starts_thirteen_weekends_before_the_seed_days_weekend() -> None:
    # Seeded on 2026-12-04 (a Friday) it is the season the demo had when its dates were fixed.
    assert season_start(date(2026, 12, 4)) == date(2026, 9, 5)
    for day in range(4, 7):  # Friday to Sunday: this weekend's round
        assert season_start(date(2026, 12, day)) == date(2026, 9, 5)
    for day in range(7, 11):  # Monday to Thursday: the coming weekend's
        assert season_start(date(2026, 12, day)) == date(2026, 9, 12)
    assert all(season_start(date(2031, 1, 1) + timedelta(days=n)).weekday() == 5 for n in range(7))


def test_the_same_seed_day_gives_the_same_demo_and_another_day_the_same_season_shifted() -> None:
    def season(now: datetime) -> list[tuple]:
        demo = build_demo(CALENDAR, now)
        start = season_start(CALENDAR.local_day(now))
        return [(f.id, f.date.astimezone(ZURICH).replace(tzinfo=None) - datetime.combine(start, time())) for f in demo.fixtures]

    assert build_demo(CALENDAR, SEED_DAY).fixtures[5].id == build_demo(CALENDAR, SEED_DAY).fixtures[5].id
    # Same weekday of the seed day, other years (and other DST dates): the same local schedule.
    a, b = season(datetime(2026, 12, 3, 12, tzinfo=timezone.utc)), season(datetime(2033, 6, 2, 12, tzinfo=timezone.utc))
    assert a == b


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 12, 4, 15, tzinfo=timezone.utc),  # the day the demo season was made relative (a Friday)
        datetime(2026, 12, 5, 21, tzinfo=timezone.utc),  # a Saturday evening, this weekend's round played
        datetime(2026, 12, 6, 23, 30, tzinfo=timezone.utc),  # Monday already in Zurich
        datetime(2027, 3, 28, 1, 30, tzinfo=timezone.utc),  # the night the clocks go forward
        datetime(2027, 9, 1, tzinfo=timezone.utc),  # what used to be after the season
        datetime(2031, 2, 12, 9, tzinfo=timezone.utc),  # years on
        datetime(2099, 7, 16, 18, tzinfo=timezone.utc),
    ],
)
def test_seeded_on_any_day_the_season_is_under_way(now: datetime) -> None:
    demo = build_demo(CALENDAR, now)
    played = [f for f in demo.fixtures if f.date <= now]
    upcoming = [f for f in demo.fixtures if f.date > now and not f.cancelled]
    assert len(demo.fixtures) == 242, "30 rounds of 8 and two make-up fixtures, whatever the day"
    assert sum(f.cancelled for f in demo.fixtures) == 3
    assert len(played) >= 80 and len(upcoming) >= 130
    # Played fixtures have their committed referees, but for the make-up of the committed
    # cancellation when it is past: it is scheduled after the plan was committed.
    assert len([f for f in played if not f.cancelled and not f.committed()]) <= 1
    staged = [(f, a) for f in demo.fixtures for a in f.staged()]
    assert all(f.date > now for f, _ in staged), "a commit would notify referees about matches already played"
    assert len(staged) >= 15, "the next rounds are staged"
    assert demo.commit.committed_at < min(f.date for f in demo.fixtures)
