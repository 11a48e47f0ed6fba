from uuid import uuid4

import pytest

from app.domain.directory import Referee, Team, Venue
from app.domain.events import RefereeClubChanged, RefereeCreated, TeamCreated, VenueCreated
from tests.unit.factories import bad_input


def _venue(**overrides):
    fields = {"name": "Sporthalle Nord", "street": "Hauptstr. 1", "zip": "10115", "city": "Berlin"}
    fields.update(overrides)
    return Venue.register(uuid4(), **fields)


# --- referees -------------------------------------------------------------------


def test_register_referee_trims_name_and_club_and_records_referee_created():
    rid = uuid4()
    referee = Referee.register(rid, "  Anna Schmidt ", " VC Nord  ")
    assert (referee.id, referee.name, referee.club) == (rid, "Anna Schmidt", "VC Nord")
    assert referee.events == [RefereeCreated(referee_id=rid, name="Anna Schmidt", club="VC Nord")]


@pytest.mark.parametrize(("name", "club"), [("", "VC Nord"), ("   ", "VC Nord"), ("Anna", ""), ("Anna", " \t ")])
def test_register_referee_with_blank_name_or_club_is_invalid_text(name, club):
    with bad_input("INVALID_TEXT"):
        Referee.register(uuid4(), name, club)


def test_register_referee_with_club_over_200_characters_is_invalid_text():
    assert Referee.register(uuid4(), "Anna", "c" * 200).club == "c" * 200
    with bad_input("INVALID_TEXT"):
        Referee.register(uuid4(), "Anna", "c" * 201)


def test_change_club_trims_and_records_referee_club_changed():
    referee = Referee(uuid4(), "Anna", "VC Nord")
    referee.change_club("  TSV Süd ")
    assert referee.club == "TSV Süd"
    assert referee.events == [RefereeClubChanged(referee_id=referee.id, club="TSV Süd")]


def test_change_club_to_the_same_club_records_no_event():
    referee = Referee(uuid4(), "Anna", "VC Nord")
    referee.change_club(" VC Nord ")
    assert referee.club == "VC Nord"
    assert referee.events == []


def test_change_club_to_blank_is_invalid_text_and_keeps_the_club():
    referee = Referee(uuid4(), "Anna", "VC Nord")
    with bad_input("INVALID_TEXT"):
        referee.change_club("   ")
    assert referee.club == "VC Nord"
    assert referee.events == []


# --- teams ----------------------------------------------------------------------


def test_register_team_trims_and_records_team_created():
    tid = uuid4()
    team = Team.register(tid, " VC Nord I ", " VC Nord ")
    assert (team.name, team.club) == ("VC Nord I", "VC Nord")
    assert team.events == [TeamCreated(team_id=tid, name="VC Nord I", club="VC Nord")]


@pytest.mark.parametrize(("name", "club"), [("", "VC"), ("T", ""), ("n" * 201, "VC"), ("T", "c" * 201)])
def test_register_team_with_blank_or_too_long_text_is_invalid_text(name, club):
    with bad_input("INVALID_TEXT"):
        Team.register(uuid4(), name, club)


# --- venues ---------------------------------------------------------------------


def test_register_venue_trims_every_field_and_records_venue_created():
    vid = uuid4()
    venue = Venue.register(
        vid, " Halle ", " Hauptstr. 1 ", " 10115 ", " Berlin ", telephone=" 030 123 ", email=" halle@example.org "
    )
    assert (venue.name, venue.street, venue.zip, venue.city) == ("Halle", "Hauptstr. 1", "10115", "Berlin")
    assert (venue.telephone, venue.email) == ("030 123", "halle@example.org")
    assert venue.events == [VenueCreated(venue_id=vid, name="Halle")]


def test_register_venue_without_telephone_and_email_leaves_them_none():
    venue = _venue()
    assert venue.telephone is None
    assert venue.email is None


def test_register_venue_with_empty_telephone_and_email_means_none():
    venue = _venue(telephone="", email="")
    assert venue.telephone is None
    assert venue.email is None


@pytest.mark.parametrize("field", ["name", "street", "zip", "city"])
def test_register_venue_with_blank_required_field_is_invalid_text(field):
    with bad_input("INVALID_TEXT"):
        _venue(**{field: "  "})


@pytest.mark.parametrize(("field", "limit"), [("name", 200), ("street", 200), ("city", 200), ("zip", 20)])
def test_register_venue_field_at_its_limit_passes_and_one_over_is_invalid_text(field, limit):
    assert getattr(_venue(**{field: "x" * limit}), field) == "x" * limit
    with bad_input("INVALID_TEXT"):
        _venue(**{field: "x" * (limit + 1)})


def test_register_venue_telephone_at_50_passes_and_51_is_invalid_text():
    assert _venue(telephone="1" * 50).telephone == "1" * 50
    with bad_input("INVALID_TEXT"):
        _venue(telephone="1" * 51)


@pytest.mark.parametrize("email", ["halle", "halle@example", "ha lle@example.org", "a@b@example.org"])
def test_register_venue_with_malformed_email_is_invalid_email(email):
    with bad_input("INVALID_EMAIL"):
        _venue(email=email)
