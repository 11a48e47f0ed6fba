"""Differential tests on a small schema made to fail: resolvers (sync and async, direct and
through DataLoaders, some with a bare `yield`, some with a batch form that compiled plans
run for a whole level instead) that raise, return null for non-null fields or null items
in non-null lists, at every depth, so that null propagation, error paths and
error order are compared far more often than the league's data allows. The failures
depend on the object's number only, so both executions see the same ones."""

from __future__ import annotations

import asyncio
import gc
import json
from collections.abc import Iterator
from typing import Any

import pytest
import strawberry
from aiodataloader import DataLoader
from hypothesis import HealthCheck, given, settings
from hypothesis_graphql import queries

from app.execution import CompiledExecutor
from app.execution.executor import is_compiled
from app.execution.plan import BATCH
from app.schema.limits import ExecutionTimeout


async def _load_nodes(keys: list[int]) -> list[Node]:
    return [Node(number=key) for key in keys]


def _partner_of(number: int) -> Node | None | Exception:
    """What `partner`/`friend` give for a node: a node, an error or null."""
    if number % 4 == 1:
        return ValueError(f"no partner for {number}")
    if number % 5 == 2:
        return None
    return Node(number=number + 100)


async def _partner(self: Node) -> Node | None:
    await asyncio.sleep(0)  # a bare yield
    outcome = _partner_of(self.number)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


async def _partners(context: Any, sources: list[Node]) -> list[Node | None | Exception]:
    """The batch form: every node of a level at once, after a bare yield."""
    await asyncio.sleep(0)
    return [_partner_of(node.number) for node in sources]


@strawberry.type
class Node:
    number: int

    @strawberry.field
    def label(self) -> str:
        if self.number % 4 == 2:
            raise ValueError(f"no label for {self.number}")
        return f"node {self.number}"

    @strawberry.field
    async def strict(self) -> str:
        return None if self.number % 5 == 3 else "ok"  # type: ignore[return-value]

    @strawberry.field
    async def lenient(self) -> str | None:
        if self.number % 3 == 1:
            raise ValueError(f"lenient {self.number} failed")
        return "fine"

    @strawberry.field
    async def child(self, info: strawberry.Info) -> Node:
        if self.number % 7 == 6:
            raise ValueError(f"child of {self.number} failed")
        return await info.context["loader"].load(self.number * 2 + 1)

    @strawberry.field
    async def maybe(self) -> Node | None:
        await asyncio.sleep(0)  # a bare yield
        return None if self.number % 2 else Node(number=self.number + 10)

    @strawberry.field
    async def children(self, info: strawberry.Info, count: int = 3) -> list[Node]:
        if count < 0:
            raise ValueError("count must not be negative")
        return await info.context["loader"].load_many([self.number * 3 + k for k in range(min(count, 4))])

    @strawberry.field(metadata={BATCH: _partners})
    async def partner(self) -> Node:
        return await _partner(self)  # type: ignore[return-value]

    @strawberry.field(metadata={BATCH: _partners})
    async def friend(self) -> Node | None:
        return await _partner(self)

    @strawberry.field
    def staggered(self) -> list[Node]:
        """Items that are awaitables done after 0, 1, 2 and 3 loop turns."""

        async def after(turns: int) -> Node:
            for _ in range(turns):
                await asyncio.sleep(0)
            return Node(number=self.number + turns)

        return [after(turns) for turns in range(4)]  # type: ignore[misc]

    @strawberry.field
    def holes(self) -> list[Node | None]:
        return [Node(number=self.number + k) if k % 2 == 0 else None for k in range(3)]

    @strawberry.field
    def strict_items(self) -> list[int]:
        return [1, None, 3] if self.number % 3 == 0 else [1, 2]  # type: ignore[list-item]


@strawberry.type
class Query:
    @strawberry.field
    def root(self) -> Node:
        return Node(number=1)

    @strawberry.field
    async def nodes(self, info: strawberry.Info) -> list[Node]:
        return await info.context["loader"].load_many(list(range(6)))

    @strawberry.field
    def lost(self) -> Node | None:
        return Node(number=6)


# graphql-core abandons the coroutines of fields whose object a synchronous error nulled
# without awaiting them; they warn when collected (collected here, under this filter).
pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(autouse=True)
def _collect_abandoned_coroutines() -> Iterator[None]:
    yield
    gc.collect()


compiled_schema = strawberry.Schema(query=Query, execution_context_class=CompiledExecutor)
interpreted_schema = strawberry.Schema(query=Query)


async def answer(schema: strawberry.Schema, query: str) -> dict[str, Any]:
    result = await schema.execute(query, context_value={"loader": DataLoader(_load_nodes)})
    for _ in range(10):  # graphql-core settles abandoned awaitables in the background
        await asyncio.sleep(0)
    return {"data": result.data, "errors": [e.formatted for e in result.errors or ()]}


def _nulled(data: Any, path: list[str | int]) -> bool:
    """Whether `path` lies below a null in `data` (the field was nulled by propagation)."""
    for key in path[:-1]:
        if data is None:
            return True
        data = data[key]
    return data is None


def _key(error: dict[str, Any]) -> str:
    return json.dumps(error, sort_keys=True)


def assert_equivalent(compiled: dict[str, Any], interpreted: dict[str, Any], query: str) -> None:
    """The same data, byte for byte, and the same errors (message, locations, path), but
    for artifacts of graphql-core's scheduling where several errors race between
    concurrently awaited fields: their order (it follows how many event loop turns each of
    its tasks takes), and errors of work below a position that a non-null error nulled
    (which of those are reported depends on how far that work got before the null did)."""
    assert json.dumps(compiled["data"]) == json.dumps(interpreted["data"]), query
    mine, theirs = {_key(e): e for e in compiled["errors"]}, {_key(e): e for e in interpreted["errors"]}
    raced = [error for key, error in (mine | theirs).items() if (key in mine) != (key in theirs)]
    assert all(_nulled(interpreted["data"], error["path"]) for error in raced), query
    assert len(compiled["errors"]) == len(mine) and len(interpreted["errors"]) == len(theirs), "no duplicates"


def test_failing_resolvers_at_every_depth() -> None:
    compiled = identical = 0

    with asyncio.Runner() as runner:

        @settings(
            max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
        )
        @given(query=queries(interpreted_schema._schema))
        def compare(query: str) -> None:
            nonlocal compiled, identical
            try:
                expected = runner.run(answer(interpreted_schema, query))
            except asyncio.CancelledError:
                return  # graphql-core's own failure (see test_differential.test_generated_queries)
            actual = runner.run(answer(compiled_schema, query))
            assert_equivalent(actual, expected, query)
            identical += json.dumps(actual) == json.dumps(expected)
            compiled += is_compiled(compiled_schema, query)

        compare()
    # Most answers are byte-identical; the others differ only in what assert_equivalent
    # allows (racing errors: ~15 %, most of them where batch forms or staggered items take
    # other loop turns than one task per object does).
    assert compiled >= 200 and identical >= 240, (compiled, identical)


async def test_propagation_through_lists_and_non_null_parents() -> None:
    query = """{ nodes { number label child { strict child { lenient } } strictItems }
                 lost { holes { maybe { label } } children(count: 2) { strict } }
                 root { children(count: -1) { number } } }"""
    expected = await answer(interpreted_schema, query)
    assert await answer(compiled_schema, query) == expected
    assert expected["data"] is None, "root.children is non-null all the way up"
    assert [e["path"] for e in expected["errors"]] == [["root", "children"]], "synchronous: before anything awaited"
    assert is_compiled(compiled_schema, query)

    query = """{ lost { holes { maybe { label } } children(count: 2) { strict lenient } } }"""
    expected = await answer(interpreted_schema, query)
    assert await answer(compiled_schema, query) == expected
    assert expected["data"] == {"lost": None}, "children[0].strict is null: children, then lost"
    assert [e["path"] for e in expected["errors"]] == [
        ["lost", "holes", 2, "maybe", "label"],  # nullable: recorded as it happens
        ["lost", "children", 1, "lenient"],
        ["lost", "children", 0, "strict"],  # propagated out of a task of its own: recorded last
    ]


@strawberry.type
class SlowQuery:
    cleaned_up: strawberry.Private[list[str]]

    @strawberry.field
    async def slow(self) -> int:
        try:
            await asyncio.sleep(5)
            return 1
        finally:
            self.cleaned_up.append("slow")


class TimedSchema(ExecutionTimeout, strawberry.Schema):
    execution_timeout = 0.05


async def test_the_execution_timeout_cancels_what_is_awaited() -> None:
    """A compiled run stopped by the execution timeout cancels its awaitables (their
    cleanup runs, as when graphql-core's tasks are cancelled) and answers TIMEOUT."""
    schema = TimedSchema(query=SlowQuery, execution_context_class=CompiledExecutor)
    root = SlowQuery(cleaned_up=[])
    result = await schema.execute("{ slow }", root_value=root)
    assert result.data is None and result.errors[0].extensions == {"code": "TIMEOUT", "reason": "EXECUTION_TIMEOUT"}
    assert root.cleaned_up == ["slow"]
    assert is_compiled(schema, "{ slow }")


@strawberry.type
class SharedWaitQuery:
    shared: strawberry.Private[asyncio.Future[int]]

    @strawberry.field
    async def first(self) -> int:
        return await self.shared

    @strawberry.field
    async def second(self) -> int:
        return await self.shared


async def test_the_execution_timeout_leaves_the_futures_waited_on_uncancelled() -> None:
    """A loader hands the same future to every caller of a key (app.loaders.batch): a run
    stopped by the timeout while it waits on one cancels its own wait, not the future,
    which other callers still get their value from."""
    schema = TimedSchema(query=SharedWaitQuery, execution_context_class=CompiledExecutor)
    root = SharedWaitQuery(shared=asyncio.get_running_loop().create_future())
    result = await schema.execute("{ first second }", root_value=root)
    assert result.data is None and result.errors[0].extensions == {"code": "TIMEOUT", "reason": "EXECUTION_TIMEOUT"}
    assert not root.shared.cancelled()
    woken: list[int] = []
    root.shared.add_done_callback(lambda future: woken.append(future.result()))
    root.shared.set_result(7)
    await asyncio.sleep(0)
    assert woken == [7]


async def test_batch_forms_fail_and_propagate_as_their_resolvers() -> None:
    """A field with a batch form answers as its resolver: some objects of the level fail
    (a raised error, a null for a non-null field) at their own paths, the others are
    untouched, and a null propagates to the nearest nullable parent."""
    query = "{ nodes { number friend { number partner { number } } } }"
    expected = await answer(interpreted_schema, query)
    assert await answer(compiled_schema, query) == expected
    assert is_compiled(compiled_schema, query)
    friends = [node["friend"] for node in expected["data"]["nodes"]]
    assert friends == [
        {"number": 100, "partner": {"number": 200}},
        None,  # raised
        None,  # null
        {"number": 103, "partner": {"number": 203}},
        {"number": 104, "partner": {"number": 204}},
        None,  # raised
    ]
    assert [e["path"] for e in expected["errors"]] == [["nodes", 1, "friend"], ["nodes", 5, "friend"]]

    query = "{ lost { number } nodes { number partner { number } } }"
    expected = await answer(interpreted_schema, query)
    assert await answer(compiled_schema, query) == expected
    assert expected["data"] is None, "nodes[1].partner failed, and nothing above it is nullable"

    query = "{ root { staggered { number friend { number } } } }"
    expected = await answer(interpreted_schema, query)
    assert await answer(compiled_schema, query) == expected, "objects that come in later rounds open new batches"
    assert [item["friend"] for item in expected["data"]["root"]["staggered"]] == [
        None,  # 1: raised
        None,  # 2: null
        {"number": 103},
        {"number": 104},
    ]
