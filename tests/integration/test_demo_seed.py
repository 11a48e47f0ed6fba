"""The demo seed: the original system's directory plus a season that obeys every rule,
loaded once, in one transaction, the same everywhere."""

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
from app.services.demo import DEMO_MARKER, ORIGINAL_REFEREES, ORIGINAL_TEAMS, ORIGINAL_VENUES, build_demo, seed_demo
from app.services.deps import ServiceDeps
from tests.integration.conftest import World

ZURICH = ZoneInfo("Europe/Zurich")
CALENDAR = LeagueCalendar(ZURICH, timedelta(minutes=150))
SEED_DAY = datetime(2026, 10, 1, 12, 0, tzinfo=timezone.utc)  # the demo as seeded early in its season


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
    assert date(2026, 9, 1) <= min(days) and max(days) <= date(2027, 5, 31)
    assert any(d > date(2027, 3, 1) for d in days), "upcoming fixtures in the spring"
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


@pytest.mark.parametrize(
    "now",
    [
        datetime(2026, 8, 1, tzinfo=timezone.utc),  # before the season
        datetime(2026, 12, 4, 15, tzinfo=timezone.utc),  # mid-season, with the Christmas break ahead
        datetime(2027, 4, 20, tzinfo=timezone.utc),  # near its end
        datetime(2027, 9, 1, tzinfo=timezone.utc),  # after it
    ],
)
def test_staged_assignments_are_only_on_fixtures_still_to_be_played(now: datetime) -> None:
    demo = build_demo(CALENDAR, now)
    staged = [(f, a) for f in demo.fixtures for a in f.staged()]
    assert all(f.date > now for f, _ in staged), "a commit would notify referees about matches already played"
    if now.year == 2026:
        assert len(staged) >= 15, "the next rounds are staged"
