"""The subgraphs compose, the committed supergraph is current, and the composed API schema
is exactly the monolith's (descriptions included), so a client cannot tell them apart."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from graphql import (
    DocumentNode,
    build_ast_schema,
    lexicographic_sort_schema,
    parse,
    print_schema,
)
from graphql.language import ObjectTypeDefinitionNode, SchemaDefinitionNode

from app.api import build_schema
from app.schema.subgraphs import ROOT_FIELDS, Subgraph
from tests.federation.stack import GATEWAY_DIR, SUBGRAPHS, node
from tests.e2e.processes import ROOT

pytestmark = pytest.mark.federation

FEDERATION_TYPES = {"_Any", "_Entity", "_Service"}


def api_schema(sdl: str) -> str:
    """`sdl` without federation internals (`_entities`, `_service`, their types, `@key`,
    `@link`), sorted and printed: what a client of the API sees."""
    document = parse(sdl)
    definitions = []
    for definition in document.definitions:
        if isinstance(definition, SchemaDefinitionNode):
            continue
        if getattr(definition, "name", None) is not None and definition.name.value in FEDERATION_TYPES:
            continue
        if isinstance(definition, ObjectTypeDefinitionNode):
            fields = tuple(f for f in definition.fields or () if not f.name.value.startswith("_"))
            definition = ObjectTypeDefinitionNode(
                name=definition.name, description=definition.description, interfaces=definition.interfaces,
                directives=(), fields=fields,
            )
        definitions.append(definition)
    return print_schema(lexicographic_sort_schema(build_ast_schema(DocumentNode(definitions=tuple(definitions)))))


def compose_public(*files: Path) -> str:
    result = node("compose.mjs", "--public", *map(str, files))
    assert result.returncode == 0, f"composition failed:\n{result.stderr}"
    return result.stdout


@pytest.mark.parametrize("name", SUBGRAPHS)
def test_the_committed_subgraph_sdl_is_what_whistle_schema_prints(name: str) -> None:
    committed = (GATEWAY_DIR / "subgraphs" / f"{name}.graphql").read_text()
    assert committed == build_schema(subgraph=Subgraph(name)).as_str() + "\n", "run `make supergraph`"


def test_the_committed_supergraph_is_what_composition_gives_now_without_errors() -> None:
    result = node("compose.mjs", "--check")
    assert result.returncode == 0, result.stderr + result.stdout


def test_the_composed_api_schema_equals_the_monolith_api_schema() -> None:
    monolith = api_schema((ROOT / "schema.graphql").read_text())
    composed = api_schema(compose_public(*(GATEWAY_DIR / "subgraphs" / f"{n}.graphql" for n in SUBGRAPHS)))
    assert composed == monolith
    assert "availableReferees" in composed and "commitAssignments" in composed  # the comparison saw fields


def test_every_root_field_of_the_monolith_belongs_to_exactly_one_subgraph() -> None:
    monolith = build_schema()._schema
    roots = {
        (root, name)
        for root in ("Query", "Mutation", "Subscription")
        for name in monolith.get_type(root).fields  # type: ignore[union-attr]
        if not name.startswith("_")
    }
    assert roots == set(ROOT_FIELDS)
    for subgraph in Subgraph:
        schema = build_schema(subgraph=subgraph)._schema
        served = {
            (root, name)
            for root in ("Query", "Mutation", "Subscription")
            if schema.get_type(root) is not None
            for name in schema.get_type(root).fields  # type: ignore[union-attr]
            if not name.startswith("_")
        }
        assert served == {key for key, owner in ROOT_FIELDS.items() if owner is subgraph}


def test_a_subgraph_refers_to_other_contexts_entities_by_key_only() -> None:
    fixtures = build_schema(subgraph=Subgraph.FIXTURES).as_str()
    assert 'type Venue @key(fields: "id", resolvable: false) {\n  id: ID!\n}' in fixtures
    assert 'type Referee @key(fields: "id", resolvable: false) {\n  id: ID!\n}' in fixtures
    assert "union _Entity = Fixture\n" in fixtures
    assignments = build_schema(subgraph=Subgraph.ASSIGNMENTS).as_str()
    assert "union _Entity = Fixture | Referee\n" in assignments
    assert "teamHome" not in assignments and "name: String!" not in assignments.split("type Referee")[1].split("}")[0]


def test_another_teams_subgraph_extending_referee_composes_with_whistle(tmp_path: Path) -> None:
    """The README's example: examples/ratings adds `Referee.rating` without touching Whistle."""
    import subprocess

    sdl = subprocess.run(
        [sys.executable, "-m", "examples.ratings.app"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    ratings = tmp_path / "ratings.graphql"
    ratings.write_text(sdl)
    composed = api_schema(compose_public(*(GATEWAY_DIR / "subgraphs" / f"{n}.graphql" for n in SUBGRAPHS), ratings))
    monolith = api_schema((ROOT / "schema.graphql").read_text())
    assert composed != monolith
    referee = composed.split("type Referee {")[1].split("}")[0]
    assert "rating: Int!" in referee and "availableFixtures" in referee and "name: String!" in referee
    assert "maxRating: Int!" in composed


def test_the_federated_compose_profile_runs_each_composed_subgraph_under_its_url() -> None:
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    federated = {name for name, s in services.items() if "federated" in s.get("profiles", [])}
    assert federated == {"migrate", *SUBGRAPHS, "gateway"}
    assert services["assignments"]["deploy"]["replicas"] == 2
    supergraph = (GATEWAY_DIR / "supergraph.graphql").read_text()
    for name in SUBGRAPHS:
        assert services[name]["command"] == ["whistle", "serve", "--subgraph", name]
        assert services[name]["environment"]["WHISTLE_REDIS_URL"]  # subgraphs share events through Redis
        assert f'@join__graph(name: "{name}", url: "http://{name}:8000/graphql")' in supergraph
    assert "4000:4000" in services["gateway"]["ports"]
