"""The parse + validation cache (WHISTLE_DOCUMENT_CACHE_SIZE): a query text is parsed and
validated once, yet the operation limits still judge every request by its own variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import strawberry.schema.schema
from graphql import DocumentNode

import app.schema.document_cache
from app.config import Settings
from app.schema.document_cache import DocumentStore, Entry
from tests.e2e.conftest import running_app

# Cost 1 + n x 16: 321 for n = 20, 8001 (over the default 5000) for n = 500.
PAGE = "query Page($n: Int) { fixtures(first: $n) { edges { node { id venue { name } availableReferees { name } } } } }"


@pytest.fixture
def parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The query texts graphql-core's parser is given."""
    seen: list[str] = []
    real = strawberry.schema.schema.parse

    def counting(source: str, **options: Any) -> DocumentNode:
        seen.append(source)
        return real(source, **options)

    monkeypatch.setattr(strawberry.schema.schema, "parse", counting)
    return seen


def settings(tmp_path: Path, size: int) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db", seed_demo=False, document_cache_size=size)


@pytest.fixture
def analyses(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The variables the cached path measures a document with."""
    seen: list[Any] = []
    real = app.schema.document_cache.analyze

    def counting(schema: Any, document: Any, variables: Any, limits: Any) -> Any:
        seen.append(variables)
        return real(schema, document, variables, limits)

    monkeypatch.setattr(app.schema.document_cache, "analyze", counting)
    return seen


@pytest.mark.parametrize("size", [1000, 0], ids=["cached", "uncached"])
async def test_the_cost_limit_uses_each_requests_variables(
    tmp_path: Path, size: int, parses: list[str], analyses: list[Any]
) -> None:
    async with running_app(settings(tmp_path, size)) as http:
        verdicts = []
        for n in (20, 500, 20, 500, None, 311):
            variables = {} if n is None else {"n": n}  # none: the schema default, 50
            result = (await http.post("/graphql", json={"query": PAGE, "variables": variables})).json()
            verdicts.append(result["errors"][0]["extensions"].get("reason") if "errors" in result else "ok")
    # 1 + 311 x 16 = 4977 is under the limit of 5000, 1 + 312 x 16 would not be.
    assert verdicts == ["ok", "COST_LIMIT", "ok", "COST_LIMIT", "ok", "ok"]
    assert parses.count(PAGE) == (1 if size else 6)
    # Cached: measured once per value of `n` seen, not once per request.
    assert analyses == ([{"n": 20}, {"n": 500}, {}, {"n": 311}] if size else [])


async def test_a_cached_invalid_document_is_refused_every_time(tmp_path: Path, parses: list[str]) -> None:
    query = "{ fixtures { edges { node { nope } } } }"
    async with running_app(settings(tmp_path, 1000)) as http:
        errors = [(await http.post("/graphql", json={"query": query})).json()["errors"] for _ in range(3)]
    assert errors[0] == errors[1] == errors[2]
    assert errors[0][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert "nope" in errors[0][0]["message"]
    assert parses.count(query) == 1


async def test_a_text_that_does_not_parse_is_not_cached(tmp_path: Path, parses: list[str]) -> None:
    query = "{ fixtures { "
    async with running_app(settings(tmp_path, 1000)) as http:
        for _ in range(2):
            error = (await http.post("/graphql", json={"query": query})).json()["errors"][0]
            assert error["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert parses.count(query) == 2


def test_the_store_keeps_the_most_recently_used_texts() -> None:
    store = DocumentStore(2)
    entries = {text: Entry(DocumentNode(definitions=()), []) for text in ("a", "b", "c")}
    store.put("a", entries["a"])
    store.put("b", entries["b"])
    assert store.get("a") is entries["a"]  # now "b" is the least recently used
    store.put("c", entries["c"])
    assert len(store) == 2
    assert store.get("b") is None
    assert store.get("a") is entries["a"] and store.get("c") is entries["c"]
