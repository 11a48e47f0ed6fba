"""The checked-in schema.graphql is the SDL `whistle schema` prints."""

from pathlib import Path

from app.api import build_schema

SCHEMA_FILE = Path(__file__).parents[2] / "schema.graphql"


def test_checked_in_schema_matches_the_served_schema() -> None:
    printed = build_schema().as_str() + "\n"
    assert SCHEMA_FILE.read_text() == printed, "schema.graphql is stale: run `whistle schema > schema.graphql`"


def test_schema_declares_the_contract_entities_as_federation_keys() -> None:
    sdl = build_schema().as_str()
    for entity in ("Referee", "Team", "Venue", "Fixture"):
        assert f'type {entity} @key(fields: "id")' in sdl
    assert "federation/v2.9" in sdl
