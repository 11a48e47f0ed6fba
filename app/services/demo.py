"""The demo data: what the embedded default loads on first start and `whistle seed` loads.

It is the original system's directory (the three referees, teams and venues of
thalerjonathan/rust-ddd, `monolith/db/init.sql`, with their ids) plus a generated
season of a regional league around Zurich, placed around the day it is seeded (the seed
day): its first round was SEASON_WEEKS_BEFORE weekends before the seed day's weekend and it
runs some five months after, so the demo shows a live season whenever it is loaded
(seeded on 2026-12-04: 2026-09-04 to 2027-05-09):

- 16 teams (the 3 original ones and 13 club teams), each with a home venue;
- 43 referees (the 3 original ones and 40 more), each with a club;
- 11 venues (the 3 original ones and 8 sports halls, some with telephone and email);
- a double round robin, one round per weekend (Friday evening, Saturday or Sunday,
  local kick-off times in the league time zone), scheduled through
  `Fixture.schedule`, so no venue hosts two fixtures and no team plays twice on a day;
- availabilities: several referees per fixture, never from a club that plays in it;
- everything up to a week after the seed day committed (first and second referee),
  the next four rounds staged, all passing the assignment validation: staging is for
  fixtures still to be played, and a commit never notifies referees about matches long
  past; one staged re-assignment of a committed second referee; three cancelled
  fixtures (a committed one, one in the season's late winter and one in its spring),
  two of them with a midweek make-up fixture.

Everything is deterministic (fixed random seeds per part, `uuid5` ids under a fixed
namespace, taken from names, never from dates), so the demo is the same everywhere for
the same league calendar and seed day; another seed day shifts the season by whole weeks
(what is committed and staged by then follows the seed day). It is written in one
transaction: the demo is there entirely or not at all.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from uuid import UUID

from sqlalchemy.exc import IntegrityError

from app.domain.availability_lock import AvailabilityLock
from app.domain.calendar import LeagueCalendar
from app.domain.commit import AssignmentCommit, commit_assignments
from app.domain.directory import Referee, Team, Venue
from app.domain.errors import Conflict
from app.domain.fixture import Fixture, RefereeRole, ScheduledFixture
from app.domain.validation import validate_assignments
from app.services.deps import ServiceDeps

NAMESPACE = UUID("5b0c7d1e-2f4a-5e8b-9c3d-7a6e1f0b4d21")  # every generated demo id is uuid5 under it

# --- the original system's data (rust-ddd, monolith/db/init.sql), ids kept --------

ORIGINAL_REFEREES = (  # (id, name, club)
    ("2ef28cf5-6471-4051-ae11-0f419aef3234", "John Doe", "Club A"),
    ("e1214a09-42e1-4194-9acc-d310172d001a", "Jane Smith", "Club B"),
    ("3bda5555-d604-432e-829a-78c782cccc18", "Jim Beam", "Club C"),
)
ORIGINAL_VENUES = (  # (id, name, street, zip, city, telephone, email)
    ("6ee926bc-3728-4cdb-8efb-98d350a07854", "Venue A", "Street A", "12345", "City A",
     "1234567890", "venuea@example.com"),
    ("cf49df42-cf40-48fa-b2e7-d31b4c796ce1", "Venue B", "Street B", "23456", "City B",
     "2345678901", "venueb@example.com"),
    ("54e9b343-be07-4e08-a0b7-c82778aa1604", "Venue C", "Street C", "34567", "City C",
     "3456789012", "venuec@example.com"),
)
ORIGINAL_TEAMS = (  # (id, name, club, home venue name)
    ("def7f2ca-58a1-44ed-8f2b-78386c9746cf", "Team A", "Club A", "Venue A"),
    ("9b93e265-deb3-4139-a9b8-e261d7985a05", "Team B", "Club B", "Venue B"),
    ("bca10019-1a77-48c6-a605-77c9289255b1", "Team C", "Club C", "Venue C"),
)

# Whether the demo is loaded is decided by its first referee.
DEMO_MARKER = UUID(ORIGINAL_REFEREES[0][0])

# --- the generated league ---------------------------------------------------------

VENUES = (  # (name, street, zip, city, telephone, email)
    ("Sporthalle Buchholz", "Buchholzstrasse 50", "8610", "Uster", "+41 44 905 12 30", "buchholz@uster.example.ch"),
    ("Turnhalle Schützenmatt", "Schützenmattstrasse 12", "8400", "Winterthur", "+41 52 267 40 11", None),
    ("Mehrzweckhalle Dorf", "Dorfstrasse 21", "8302", "Kloten", None, None),
    ("Sporthalle Stägenbuck", "Stägenbuckstrasse 9", "8600", "Dübendorf", "+41 44 801 66 20",
     "hallenwart@duebendorf.example.ch"),
    ("Sportzentrum Glärnisch", "Glärnischstrasse 40", "8820", "Wädenswil", "+41 44 789 72 00",
     "info@glaernisch.example.ch"),
    ("Turnhalle Schwimmbad", "Schwimmbadstrasse 5", "8180", "Bülach", None, None),
    ("Sporthalle Hardau", "Hardaustrasse 20", "8004", "Zürich", "+41 44 413 93 00", "hardau@sport-zuerich.example.ch"),
    ("Dreifachhalle Zentralstrasse", "Zentralstrasse 100", "8953", "Dietikon", "+41 44 744 36 00", None),
)

TEAMS = (  # (name, club, home venue name); clubs with two teams share their hall
    ("Volley Uster 1", "Volley Uster", "Sporthalle Buchholz"),
    ("Volley Uster 2", "Volley Uster", "Sporthalle Buchholz"),
    ("VBC Winterthur", "VBC Winterthur", "Turnhalle Schützenmatt"),
    ("VC Kanti Winterthur", "VC Kanti Winterthur", "Turnhalle Schützenmatt"),
    ("VC Kloten", "VC Kloten", "Mehrzweckhalle Dorf"),
    ("VBC Opfikon-Glattbrugg", "VBC Opfikon-Glattbrugg", "Mehrzweckhalle Dorf"),
    ("VBC Dübendorf", "VBC Dübendorf", "Sporthalle Stägenbuck"),
    ("Volley Wädenswil", "Volley Wädenswil", "Sportzentrum Glärnisch"),
    ("VBC Bülach", "VBC Bülach", "Turnhalle Schwimmbad"),
    ("VBC Zürich Altstetten", "VBC Zürich Altstetten", "Sporthalle Hardau"),
    ("VC Wipkingen", "VC Wipkingen", "Sporthalle Hardau"),
    ("VBC Dietikon", "VBC Dietikon", "Dreifachhalle Zentralstrasse"),
    ("Volley Schlieren", "Volley Schlieren", "Dreifachhalle Zentralstrasse"),
)

REFEREE_NAMES = (
    "Anna Keller", "Lukas Meier", "Sarah Brunner", "Marco Rossi", "Nadine Huber",
    "Thomas Schmid", "Laura Fischer", "Simon Baumann", "Céline Dubois", "Reto Zimmermann",
    "Martina Gerber", "Daniel Widmer", "Chiara Bernasconi", "Patrick Frei", "Sandra Moser",
    "Nicolas Favre", "Yasmin Haddad", "Stefan Kälin", "Julia Steiner", "Andrea Bühler",
    "Fabian Graf", "Lea Hofer", "Mirko Petrović", "Isabelle Rochat", "Beat Wyss",
    "Sofia Ferreira", "Adrian Lüthi", "Nina Bachmann", "Jonas Egli", "Elena Fontana",
    "Urs Ammann", "Jana Novak", "Matthias Suter", "Aline Perret", "Dominik Roth",
    "Leonie Kunz", "Samuel Odermatt", "Valentina Galli", "Raphael Wenger", "Tamara Hess",
)
REFEREE_ONLY_CLUBS = ("Volley Küsnacht", "VC Greifensee", "VBC Rüti", "Volley Adliswil")  # clubs without a team here

# --- the season calendar (weeks after the first round; local dates and times in the league time zone)

SEASON_WEEKS_BEFORE = 13  # the first round: this many weekends before the seed day's weekend
# Weekends without a round, as they fall for a season starting in early September: autumn
# break, Christmas and New Year, sports week, Easter.
BREAK_WEEKS = frozenset({5, 15, 16, 17, 23, 29})
KICK_OFFS = {  # day offset from the round's Saturday -> (weight, local kick-off times)
    -1: (0.15, (time(20, 0), time(20, 30))),
    0: (0.55, (time(14, 0), time(15, 0), time(16, 0), time(17, 0), time(17, 30), time(19, 0), time(19, 30))),
    1: (0.30, (time(13, 0), time(14, 0), time(15, 0), time(16, 0), time(17, 0))),
}
MAKE_UP_KICK_OFF = time(20, 0)  # make-up fixtures: the Wednesday 11 days after the cancelled one
CANCELLED_WEEKS = (range(22, 26), range(30, 34))  # the late-winter and the spring cancellation
COMMITTED_AHEAD = timedelta(days=7)  # fixtures before a week after the seed day: committed
STAGED_ROUNDS = 4  # the rounds after the committed ones: staged
PLAN_COMMITTED = (timedelta(days=-8), time(17, 0))  # when the admin committed the plan: the Friday before the first round, 17:00 UTC

_OPEN = AvailabilityLock()  # the demo declares availabilities as if the lock were open


def _id(kind: str, key: str) -> UUID:
    return uuid.uuid5(NAMESPACE, f"{kind}/{key}")


def _rng(part: str) -> random.Random:
    """One fixed random stream per part, so changing one part leaves the others alone."""
    return random.Random(f"whistle-demo/{part}")


@dataclass
class Demo:
    """The demo as domain aggregates, not yet stored; fixtures in date order."""

    referees: list[Referee]
    teams: list[Team]
    venues: list[Venue]
    home_venue: dict[UUID, UUID]  # team id -> venue id
    fixtures: list[Fixture]
    commit: AssignmentCommit


async def seed_demo(deps: ServiceDeps) -> bool:
    """Load the demo in one transaction; False (and nothing written) when it is already there."""
    demo = build_demo(deps.calendar, deps.clock())
    try:
        async with deps.uow() as uow:
            if await uow.referees.get(DEMO_MARKER) is not None:
                return False
            for referee in demo.referees:
                await uow.referees.add(referee)
            for team in demo.teams:
                await uow.teams.add(team)
            for venue in demo.venues:
                await uow.venues.add(venue)
            for fixture in demo.fixtures:
                await uow.fixtures.add(fixture)
            uow.record(demo.commit)
            await uow.commit()
    except IntegrityError:
        # A concurrent seed won the race (PostgreSQL; SQLite writers queue up front).
        async with deps.uow() as uow:
            if await uow.referees.get(DEMO_MARKER) is not None:
                return False
        raise
    return True


def season_start(today: date) -> date:
    """The Saturday of the first round of the demo seeded on the local day `today`:
    SEASON_WEEKS_BEFORE weekends before today's (Monday to Thursday look ahead to the
    coming weekend), so that some rounds are played and most are still to come."""
    return _saturday_of(today) - timedelta(weeks=SEASON_WEEKS_BEFORE)


def build_demo(calendar: LeagueCalendar, now: datetime) -> Demo:
    """The whole demo as seeded at `now`, built with the domain's own rules; pure, no I/O."""
    first_round = season_start(calendar.local_day(now))
    referees = _referees()
    venues = _venues()
    teams, home_venue = _teams({v.name: v.id for v in venues})
    club_of = {t.id: t.club for t in teams}
    fixtures = _season_fixtures(teams, home_venue, first_round, calendar)
    _availabilities(fixtures, referees, club_of, part="season")
    plan = _AssignmentPlan(calendar, now)
    commit = plan.commit_early_fixtures(fixtures, _committed_at(first_round))
    make_ups = _cancellations(fixtures, first_round, calendar)
    _availabilities(make_ups, referees, club_of, part="make-ups")
    fixtures = sorted(fixtures + make_ups, key=lambda f: (f.date, str(f.id)))
    plan.stage_next_fixtures(fixtures)
    problems = validate_assignments(fixtures, calendar)
    if problems:  # a bug in this module, never a user error
        raise RuntimeError(f"the demo's staged assignments do not validate: {problems[:3]}")
    return Demo(referees, teams, venues, home_venue, fixtures, commit)


# --- directory ----------------------------------------------------------------------


def _venues() -> list[Venue]:
    originals = [Venue.register(UUID(id), *rest) for id, *rest in ORIGINAL_VENUES]
    return originals + [Venue.register(_id("venue", v[0]), *v) for v in VENUES]


def _teams(venue_ids: dict[str, UUID]) -> tuple[list[Team], dict[UUID, UUID]]:
    teams, home_venue = [], {}
    rows = [(UUID(id), name, club, hall) for id, name, club, hall in ORIGINAL_TEAMS]
    rows += [(_id("team", name), name, club, hall) for name, club, hall in TEAMS]
    for team_id, name, club, hall in rows:
        teams.append(Team.register(team_id, name, club))
        home_venue[team_id] = venue_ids[hall]
    return teams, home_venue


def _referees() -> list[Referee]:
    """The original three, then forty referees from the league's clubs and a few others."""
    rng = _rng("referees")
    clubs = list(dict.fromkeys(club for _, club, _ in TEAMS)) + list(REFEREE_ONLY_CLUBS)
    originals = [Referee.register(UUID(id), name, club) for id, name, club in ORIGINAL_REFEREES]
    return originals + [Referee.register(_id("referee", name), name, rng.choice(clubs)) for name in REFEREE_NAMES]


# --- fixtures -------------------------------------------------------------------------


def _double_round_robin(team_ids: Sequence[UUID]) -> list[list[tuple[UUID, UUID]]]:
    """Rounds of (home, away) pairs: everyone meets everyone once at home and once away."""
    ids = list(team_ids)
    assert len(ids) % 2 == 0, "an even number of teams plays without byes"
    first_half = []
    for r in range(len(ids) - 1):
        pairs = []
        for i in range(len(ids) // 2):
            a, b = ids[i], ids[-1 - i]
            pairs.append((a, b) if (r + i) % 2 == 0 else (b, a))
        first_half.append(pairs)
        ids = [ids[0], ids[-1], *ids[1:-1]]  # the circle method: rotate all but the first
    return first_half + [[(away, home) for home, away in pairs] for pairs in first_half]


def _round_saturdays(count: int, first_round: date) -> list[date]:
    saturdays, week = [], 0
    while len(saturdays) < count:
        if week not in BREAK_WEEKS:
            saturdays.append(first_round + timedelta(weeks=week))
        week += 1
    return saturdays


def _week_of(day: date, first_round: date) -> int:
    """The week of the season a local day's round belongs to (0: the first round's)."""
    return (_saturday_of(day) - first_round).days // 7


def _committed_at(first_round: date) -> datetime:
    """When the admin committed the plan: before the first round, when none was played."""
    days_before, at = PLAN_COMMITTED
    return datetime.combine(first_round + days_before, at, tzinfo=timezone.utc)


def _kick_off(rng: random.Random, saturday: date, offset: int, calendar: LeagueCalendar) -> datetime:
    """A local kick-off time on the round's day `offset`, as a UTC instant."""
    local = datetime.combine(saturday + timedelta(days=offset), rng.choice(KICK_OFFS[offset][1]))
    return local.replace(tzinfo=calendar.zone).astimezone(timezone.utc)


def _offsets_by_preference(rng: random.Random) -> list[int]:
    """The round's three days (offsets from its Saturday), a weighted random one first."""
    offsets = list(KICK_OFFS)
    first = rng.choices(offsets, weights=[KICK_OFFS[o][0] for o in offsets])[0]
    return [first, *(o for o in offsets if o != first)]


def _season_fixtures(
    teams: Sequence[Team], home_venue: dict[UUID, UUID], first_round: date, calendar: LeagueCalendar
) -> list[Fixture]:
    """The double round robin, each match on the first day of its weekend the rules allow."""
    rng = _rng("fixtures")
    names = {t.id: t.name for t in teams}
    order = [t.id for t in teams]
    rng.shuffle(order)
    rounds = _double_round_robin(order)
    by_day: dict[date, list[ScheduledFixture]] = defaultdict(list)
    fixtures = []
    for number, (pairs, saturday) in enumerate(zip(rounds, _round_saturdays(len(rounds), first_round), strict=True), start=1):
        for home, away in pairs:
            fixture_id = _id("fixture", f"{number}/{names[home]}/{names[away]}")
            for offset in _offsets_by_preference(rng):
                start = _kick_off(rng, saturday, offset, calendar)
                day = calendar.local_day(start)
                fixture = _try_schedule(fixture_id, start, home_venue[home], home, away, by_day[day], calendar)
                if fixture is not None:
                    by_day[day].append(fixture.as_scheduled())
                    fixtures.append(fixture)
                    break
            else:
                raise RuntimeError(f"no free day for {names[home]} - {names[away]} in round {number}")
    return sorted(fixtures, key=lambda f: (f.date, str(f.id)))


def _try_schedule(
    fixture_id: UUID,
    start: datetime,
    venue_id: UUID,
    home: UUID,
    away: UUID,
    same_day: Iterable[ScheduledFixture],
    calendar: LeagueCalendar,
) -> Fixture | None:
    """The scheduled fixture, or None when VENUE_BUSY / TEAM_BUSY refuse it."""
    try:
        return Fixture.schedule(fixture_id, start, venue_id, home, away, same_day, calendar)
    except Conflict:
        return None


def _cancellations(fixtures: list[Fixture], first_round: date, calendar: LeagueCalendar) -> list[Fixture]:
    """Cancel three fixtures: a committed one, one in the late winter and one in the
    spring (CANCELLED_WEEKS); the first two get a make-up fixture, which this returns."""
    rng = _rng("cancellations")
    committed = [f for f in fixtures if f.committed()]
    winter, spring = (
        [f for f in fixtures if _week_of(calendar.local_day(f.date), first_round) in weeks] for weeks in CANCELLED_WEEKS
    )
    make_ups = []
    for chosen, make_up in ((rng.choice(committed), True), (rng.choice(winter), True), (rng.choice(spring), False)):
        chosen.cancel()
        if make_up:
            make_ups.append(_make_up(chosen, fixtures, calendar))
    return make_ups


def _make_up(cancelled: Fixture, fixtures: Sequence[Fixture], calendar: LeagueCalendar) -> Fixture:
    """The cancelled match again, at the same hall on the Wednesday evening 11 days later."""
    day = calendar.local_day(cancelled.date) + timedelta(days=11)
    while day.weekday() != 2:
        day += timedelta(days=1)
    start = datetime.combine(day, MAKE_UP_KICK_OFF).replace(tzinfo=calendar.zone).astimezone(timezone.utc)
    same_day = [f.as_scheduled() for f in fixtures if not f.cancelled and calendar.same_day(f.date, start)]
    return Fixture.schedule(
        _id("fixture", f"make-up/{cancelled.id}"),
        start,
        cancelled.venue_id,
        cancelled.team_home_id,
        cancelled.team_away_id,
        same_day,
        calendar,
    )


# --- availabilities ---------------------------------------------------------------


def _availabilities(
    fixtures: Sequence[Fixture], referees: Sequence[Referee], club_of: dict[UUID, str], part: str
) -> None:
    """Each referee declares for a share of the fixtures (their own keenness), never for
    a fixture of their own club; every fixture gets at least three referees."""
    rng = _rng(f"availabilities/{part}")
    keenness = {r.id: rng.uniform(0.08, 0.25) for r in referees}
    for fixture in fixtures:
        playing = {club_of[fixture.team_home_id], club_of[fixture.team_away_id]}
        eligible = [r.id for r in referees if r.club not in playing]
        chosen = [r for r in eligible if rng.random() < keenness[r]]
        if len(chosen) < 3:
            chosen += rng.sample([r for r in eligible if r not in chosen], 3 - len(chosen))
        for referee_id in chosen:
            fixture.declare_availability(referee_id, _OPEN)


# --- assignments -------------------------------------------------------------------


class _AssignmentPlan:
    """Stages referees so that the result validates: a referee holds at most one fixture
    per local day (so never two overlapping slots, never two halls on one day), always
    one who declared availability, preferring the least busy."""

    def __init__(self, calendar: LeagueCalendar, now: datetime) -> None:
        self.calendar = calendar
        self.now = now
        self.committed_before = calendar.local_day(now) + COMMITTED_AHEAD
        self.rng = _rng("assignments")
        self.held_days: dict[UUID, set[date]] = defaultdict(set)
        self.load: Counter[UUID] = Counter()

    def commit_early_fixtures(self, fixtures: Sequence[Fixture], committed_at: datetime) -> AssignmentCommit:
        """First and second referee for every fixture before `committed_before`, committed
        (staged at `committed_at`, before the season, when none of them had been played)."""
        for fixture in fixtures:
            if self._day(fixture) < self.committed_before:
                self._staff(fixture, RefereeRole.FIRST, committed_at)
                self._staff(fixture, RefereeRole.SECOND, committed_at)
        return commit_assignments(fixtures, _id("commit", "autumn"), committed_at, self.calendar)

    def stage_next_fixtures(self, fixtures: Sequence[Fixture]) -> None:
        """Staged referees for most unassigned fixtures of the STAGED_ROUNDS weekends after
        the committed ones (some with only a first referee yet), and one staged change of
        a committed second referee whose fixture is still to be played."""
        upcoming = [f for f in fixtures if not f.cancelled and self._day(f) >= self.committed_before]
        saturdays = sorted({_saturday_of(self._day(f)) for f in upcoming})[:STAGED_ROUNDS]
        for fixture in upcoming:
            if fixture.assignments or _saturday_of(self._day(fixture)) not in saturdays:
                continue
            roll = self.rng.random()
            if roll < 0.85:
                self._staff(fixture, RefereeRole.FIRST, self.now)
            if roll < 0.6:
                self._staff(fixture, RefereeRole.SECOND, self.now)
        to_play = [f for f in fixtures if f.committed() and not f.cancelled and f.date > self.now]
        if to_play:
            self._staff(to_play[-1], RefereeRole.SECOND, self.now)

    def _staff(self, fixture: Fixture, role: RefereeRole, now: datetime) -> None:
        day = self._day(fixture)
        free = [r for r in sorted(fixture.available_referee_ids) if day not in self.held_days[r]]
        if not free:
            return
        referee_id = min(free, key=lambda r: (self.load[r], self.rng.random()))
        fixture.stage(referee_id, role, now)
        self.held_days[referee_id].add(day)
        self.load[referee_id] += 1

    def _day(self, fixture: Fixture) -> date:
        return self.calendar.local_day(fixture.date)


def _saturday_of(day: date) -> date:
    """The Saturday of a round's weekend (Friday to Sunday; a Wednesday make-up: the one after)."""
    return day + timedelta(days=(5 - day.weekday()) % 7 if day.weekday() != 6 else -1)
