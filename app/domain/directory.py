"""The directory aggregates: referees, teams and venues. Small, self-contained."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from app.domain.events import DomainEvent, RefereeClubChanged, RefereeCreated, TeamCreated, VenueCreated
from app.domain.text import TELEPHONE_MAX, ZIP_MAX, optional_email, optional_text, required_text


@dataclass(eq=False)
class Referee:
    id: UUID
    name: str
    club: str
    version: int = 0  # the stored version; the repository bumps it on save
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def register(cls, id: UUID, name: str, club: str) -> Referee:
        referee = cls(id, required_text(name, "name"), required_text(club, "club"))
        referee.events.append(RefereeCreated(referee_id=id, name=referee.name, club=referee.club))
        return referee

    def change_club(self, club: str) -> None:
        club = required_text(club, "club")
        if club == self.club:
            return
        self.club = club
        self.events.append(RefereeClubChanged(referee_id=self.id, club=club))


@dataclass(eq=False)
class Team:
    id: UUID
    name: str
    club: str
    version: int = 1  # teams never change after registration
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def register(cls, id: UUID, name: str, club: str) -> Team:
        team = cls(id, required_text(name, "name"), required_text(club, "club"))
        team.events.append(TeamCreated(team_id=id, name=team.name, club=team.club))
        return team


@dataclass(eq=False)
class Venue:
    id: UUID
    name: str
    street: str
    zip: str
    city: str
    telephone: str | None = None
    email: str | None = None
    version: int = 1  # venues never change after registration
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    @classmethod
    def register(
        cls,
        id: UUID,
        name: str,
        street: str,
        zip: str,
        city: str,
        telephone: str | None = None,
        email: str | None = None,
    ) -> Venue:
        venue = cls(
            id,
            name=required_text(name, "name"),
            street=required_text(street, "street"),
            zip=required_text(zip, "zip", ZIP_MAX),
            city=required_text(city, "city"),
            telephone=optional_text(telephone, "telephone", TELEPHONE_MAX),
            email=optional_email(email),
        )
        venue.events.append(VenueCreated(venue_id=id, name=venue.name))
        return venue
