"""Operation limits (app/schema/limits.py): each limit at its default, one operation just
under it passes and one just over it is refused with its reason, before execution."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import strawberry
from graphql import GraphQLError, get_introspection_query, parse, specified_rules, validate

from app.config import Settings
from app.api import build_schema
from app.schema.errors import classify
from app.schema.limits import (
    STATEMENT_TIMEOUT_MESSAGE,
    TIMED_OUT,
    ExecutionTimeout,
    OperationLimits,
    count_tokens,
    is_statement_timeout,
    operation_variables,
    with_limit_rules,
    within_timeout,
)

SCHEMA = build_schema()
LIMITS = OperationLimits.defaults()
FIXTURE_ID = "0b4a5c2e-8a8f-4d0a-9a51-3f0f7c1c0001"


def errors_of(query: str, variables: dict[str, Any] | None = None, limits: OperationLimits = LIMITS) -> list[GraphQLError]:
    """graphql-core validation with the specified rules and the limit rules."""
    with operation_variables(variables):
        return validate(SCHEMA._schema, parse(query), with_limit_rules(specified_rules, limits))


def passes(query: str, variables: dict[str, Any] | None = None) -> None:
    errors = errors_of(query, variables)
    assert errors == [], [e.message for e in errors]


def refused(query: str, reason: str, variables: dict[str, Any] | None = None) -> GraphQLError:
    errors = errors_of(query, variables)
    assert [e.extensions for e in errors] == [{"code": "GRAPHQL_VALIDATION_FAILED", "reason": reason}], [
        (e.message, e.extensions) for e in errors
    ]
    return errors[0]


async def refused_by_schema(schema: Any, query: str, reason: str, variables: dict[str, Any] | None = None) -> str:
    """Refused through Strawberry (the extension and ContractErrors), before execution."""
    result = await schema.execute(query, variable_values=variables)
    assert result.data is None
    assert [e.extensions for e in result.errors] == [{"code": "GRAPHQL_VALIDATION_FAILED", "reason": reason}]
    return result.errors[0].message


def test_the_defaults_are_the_documented_ones() -> None:
    assert (LIMITS.max_depth, LIMITS.max_aliases, LIMITS.max_tokens, LIMITS.max_query_length) == (10, 15, 1000, 15_000)
    assert (LIMITS.max_directives, LIMITS.max_fields, LIMITS.max_cost) == (50, 200, 5000)
    assert LIMITS.execution_timeout_seconds == 10
    settings = Settings()
    assert (settings.max_body_bytes, settings.statement_timeout_ms) == (1_000_000, 5000)


# --- depth -------------------------------------------------------------------------------

# A cycle of fields that are not lists (notifications with first: 1), so only depth grows.
CYCLE = ["firstReferee", "notifications(first: 1)", "fixture"]


def nested(depth: int) -> str:
    """A query `depth` fields deep: fixture { firstReferee { notifications { fixture ... { id } } } }."""
    fields = [f'fixture(id: "{FIXTURE_ID}")'] + [CYCLE[i % 3] for i in range(depth - 2)]
    return "{ " + " { ".join(fields) + " { id" + " }" * len(fields) + " }"


def test_depth_just_under_the_limit_passes_and_just_over_is_refused() -> None:
    passes(nested(10))
    error = refused(nested(11), "DEPTH_LIMIT")
    assert "11 fields deep" in error.message and "limit is 10" in error.message


def test_depth_continues_through_fragments() -> None:
    outer = nested(8).replace("{ id }", "{ ...Deep }", 1)  # 7 fields, ending in a Fixture
    three = "fragment Deep on Fixture { firstReferee { notifications(first: 1) { id } } }"
    four = "fragment Deep on Fixture { firstReferee { notifications(first: 1) { fixture { id } } } }"
    passes(outer + " " + three)  # 7 + 3
    refused(outer + " " + four, "DEPTH_LIMIT")  # 7 + 4


def test_introspection_is_bounded_by_its_own_depth_rule_not_the_depth_limit() -> None:
    passes(get_introspection_query())  # 13 levels deep, as GraphiQL sends it
    deep = "{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }"
    error = refused(deep, "DEPTH_LIMIT")
    assert "introspection" in error.message


# --- aliases -----------------------------------------------------------------------------


def aliases(count: int) -> str:
    return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"


def test_aliases_just_under_the_limit_pass_and_just_over_are_refused() -> None:
    passes(aliases(15))
    error = refused(aliases(16), "ALIAS_LIMIT")
    assert "16 aliases" in error.message


def test_aliases_are_counted_through_fragments() -> None:
    fragment = "fragment A on Query { " + " ".join(f"a{i}: __typename" for i in range(8)) + " }"
    passes("{ ...A " + " ".join(f"b{i}: __typename" for i in range(7)) + " } " + fragment)  # 8 + 7
    refused("{ ...A ...A } " + fragment, "ALIAS_LIMIT")  # 16: the fragment counts each time it is spread


# --- directives --------------------------------------------------------------------------


def directives(count: int) -> str:
    return "{ " + " ".join("__typename @include(if: true)" for _ in range(count)) + " }"


def test_directives_just_under_the_limit_pass_and_just_over_are_refused() -> None:
    passes(directives(50))
    error = refused(directives(51), "DIRECTIVE_LIMIT")
    assert "51 directives" in error.message


def test_directives_are_counted_through_fragments() -> None:
    fragment = "fragment D on Query { " + " ".join("__typename @skip(if: false)" for _ in range(25)) + " }"
    passes("{ ...D ...D } " + fragment)  # 50
    refused("{ ...D ...D @include(if: true) } " + fragment, "DIRECTIVE_LIMIT")  # 51


# --- selected fields ---------------------------------------------------------------------


def test_fields_just_under_the_limit_pass_and_just_over_are_refused() -> None:
    passes("{ " + "__typename " * 200 + "}")
    error = refused("{ " + "__typename " * 201 + "}", "FIELD_LIMIT")
    assert "201 fields" in error.message


def test_fields_are_counted_through_fragments() -> None:
    fragment = "fragment F on Referee { id name club }"
    under = "{ referees { " + "...F " * 66 + "id } } " + fragment  # 1 + 66 × 3 + 1 = 200
    passes(under)
    refused(under.replace("id } }", "id name } }", 1), "FIELD_LIMIT")  # 201


# --- cost --------------------------------------------------------------------------------

# fixtures costs 1 + first × 14 (edges 1 + node 1 + id 1 + assignments (1 + 10 × role 1)).
PAGE = "fixtures(first: {first}) {{ edges {{ node {{ id assignments {{ role }} }} }} }}"


def test_cost_just_under_the_limit_passes_and_just_over_is_refused_with_a_literal_first() -> None:
    page = PAGE.format(first=357)  # 1 + 357 × 14 = 4999
    passes("{ " + page + " __typename }")  # 5000
    error = refused("{ " + page + " __typename t: __typename }", "COST_LIMIT")  # 5001
    assert "estimated cost of 5001" in error.message and "limit is 5000" in error.message


def test_cost_takes_the_request_variables_into_account() -> None:
    query = "query Page($n: Int) { " + PAGE.format(first="$n") + " __typename }"
    passes(query, {"n": 357})
    refused(query, "COST_LIMIT", {"n": 358})
    passes(query, {})  # not given: the argument's default, 50
    passes(query, {"n": "many"})  # not an integer: refused as a variable later, costed at the default
    with_default = query.replace("($n: Int)", "($n: Int = 400)")
    refused(with_default, "COST_LIMIT")  # not given: the variable's default
    passes(with_default, {"n": 10})


def test_a_connection_multiplies_once_and_page_sizes_count_at_most_their_maximum() -> None:
    # edges does not multiply again: 1 + 500 × (1 + 1 + 1) = 1501
    passes("{ fixtures(first: 500) { edges { node { id } } pageInfo { hasNextPage } totalCount } }")
    # first beyond the allowed 1..500 is refused by the resolver; it costs as 500 (and passes here)
    passes("{ fixtures(first: 100000) { edges { node { id } } } }")
    # notifications: first counts at most 200: 1 + 1 + 200 × (1 + 1 + 1 + (1 + 10 × 1)) = 2802 per referee
    one = f'referee(id: "{FIXTURE_ID}") {{ notifications(first: 100000) {{ id fixture {{ id assignments {{ role }} }} }} }}'
    passes("{ " + one + " }")
    refused("{ " + one + " again: " + one + " }", "COST_LIMIT")


def test_lists_without_first_multiply_by_the_default_list_size() -> None:
    passes("{ referees { availableFixtures { availableReferees { id } } } }")  # 1 + 10 × (1 + 10 × 2) = 211
    error = refused(
        "{ referees { availableFixtures { availableReferees { availableFixtures { id } } } } }", "COST_LIMIT"
    )  # 1 + 10 × (1 + 10 × (1 + 10 × (1 + 10))) = 11111
    assert "11111" in error.message


def test_cost_is_counted_through_fragments() -> None:
    fragment = "fragment Row on Fixture { id assignments { role } }"
    query = "query($n: Int) { fixtures(first: $n) { edges { node { ...Row } } } __typename } " + fragment
    passes(query, {"n": 357})
    refused(query, "COST_LIMIT", {"n": 358})


def test_entities_multiply_by_the_number_of_representations() -> None:
    query = "query($r: [_Any!]!) { _entities(representations: $r) { ... on Fixture { id } } }"
    representation = {"__typename": "Fixture", "id": FIXTURE_ID}
    passes(query, {"r": [representation] * 2000})  # 1 + 2000 × 1
    refused(query.replace("{ id }", "{ id date status }"), "COST_LIMIT", {"r": [representation] * 2000})


def test_each_operation_of_a_document_is_measured() -> None:
    query = "query Small { __typename } query Big { " + "__typename " * 201 + "}"
    error = refused(query, "FIELD_LIMIT")
    assert error.message.startswith("Operation 'Big'")


# --- through Strawberry: the text limits, settings, error shape ---------------------------


async def test_a_refusal_reaches_the_client_as_a_validation_error_before_execution() -> None:
    message = await refused_by_schema(SCHEMA, nested(11), "DEPTH_LIMIT")
    assert "limit is 10" in message


async def test_query_length_just_under_the_limit_passes_and_just_over_is_refused() -> None:
    under = "{ __typename }" + " " * (15_000 - len("{ __typename }"))
    assert len(under) == 15_000
    result = await SCHEMA.execute(under)
    assert result.errors is None and result.data == {"__typename": "Query"}
    message = await refused_by_schema(SCHEMA, under + " ", "QUERY_LENGTH_LIMIT")
    assert "15001 characters" in message and "limit is 15000" in message


async def test_tokens_just_under_the_limit_pass_and_just_over_are_refused() -> None:
    schema = build_schema(Settings(max_fields=1000, max_directives=1000))  # only the token limit applies
    under = "{ " + "__typename @include(if: true) " * 124 + "__typename " * 6 + "}"
    assert count_tokens(under) == 1000
    result = await schema.execute(under)
    assert result.errors is None and result.data == {"__typename": "Query"}
    over = under.replace("}", "__typename }")
    message = await refused_by_schema(schema, over, "TOKEN_LIMIT")
    assert "more than 1000 tokens" in message
    # comments are not tokens
    assert (await schema.execute(under + "# a comment\n" * 50)).errors is None


async def test_a_syntax_error_is_still_a_parse_error() -> None:
    result = await SCHEMA.execute("{ __typename ")
    assert result.errors[0].extensions == {"code": "GRAPHQL_PARSE_FAILED"}


async def test_every_limit_follows_its_setting() -> None:
    schema = build_schema(
        Settings(max_depth=2, max_aliases=1, max_tokens=30, max_query_length=400, max_directives=1, max_fields=3, max_cost=12)
    )
    await refused_by_schema(schema, f'{{ fixture(id: "{FIXTURE_ID}") {{ venue {{ name }} }} }}', "DEPTH_LIMIT")
    await refused_by_schema(schema, "{ a: __typename b: __typename }", "ALIAS_LIMIT")
    await refused_by_schema(schema, "{ " + "__typename " * 29 + "}", "TOKEN_LIMIT")
    await refused_by_schema(schema, "{ __typename }" + " " * 400, "QUERY_LENGTH_LIMIT")
    await refused_by_schema(schema, "{ __typename @skip(if: false) __typename @skip(if: false) }", "DIRECTIVE_LIMIT")
    await refused_by_schema(schema, "{ __typename __typename __typename __typename }", "FIELD_LIMIT")
    await refused_by_schema(schema, "{ referees { id name } }", "COST_LIMIT")  # 1 + 10 × 2 = 21
    assert (await schema.execute("{ __typename }")).data == {"__typename": "Query"}


# --- execution timeout -------------------------------------------------------------------


@strawberry.type
class SlowQuery:
    @strawberry.field
    async def slow(self) -> int:
        await asyncio.sleep(5)
        return 1

    @strawberry.field
    def fast(self) -> int:
        return 2


class TimedSchema(ExecutionTimeout, strawberry.Schema):
    execution_timeout = 0.05


async def test_an_operation_that_runs_too_long_is_stopped_with_a_timeout_error() -> None:
    schema = TimedSchema(query=SlowQuery)
    started = time.monotonic()
    result = await schema.execute("{ slow }")
    assert time.monotonic() - started < 1
    assert result.data is None
    assert [e.extensions for e in result.errors] == [{"code": "TIMEOUT", "reason": "EXECUTION_TIMEOUT"}]
    assert "0.05 seconds" in result.errors[0].message
    assert (await schema.execute("{ fast }")).data == {"fast": 2}


async def test_within_timeout_answers_as_asyncio_timeout_does() -> None:
    """The value, or TIMED_OUT at the deadline with the task's cancellation withdrawn (it
    goes on, uncancelled); the operation's own TimeoutError and errors pass through."""

    async def value() -> int:
        await asyncio.sleep(0)
        return 3

    async def own_timeout() -> None:
        raise TimeoutError("the operation's own")

    task = asyncio.current_task()
    assert await within_timeout(1, value()) == 3
    assert await within_timeout(None, value()) == 3
    assert await within_timeout(0.01, asyncio.sleep(5)) is TIMED_OUT
    assert task.cancelling() == 0  # type: ignore[union-attr]
    await asyncio.sleep(0)  # not cancelled any more
    with pytest.raises(TimeoutError, match="own"):
        await within_timeout(1, own_timeout())

    async def swallows_the_cancellation() -> int:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            return 4
        return 0

    assert await within_timeout(0.01, swallows_the_cancellation()) == 4  # ended otherwise: its answer
    assert task.cancelling() == 0  # type: ignore[union-attr]


async def test_within_timeout_passes_on_a_cancellation_from_elsewhere() -> None:
    started = asyncio.Event()

    async def timed() -> Any:
        started.set()
        return await within_timeout(5, asyncio.sleep(5))

    runner = asyncio.ensure_future(timed())
    await started.wait()
    runner.cancel()
    with pytest.raises(asyncio.CancelledError):
        await runner

    async def cancelled_at_the_deadline_too() -> Any:
        task = asyncio.current_task()
        asyncio.get_running_loop().call_later(0.01, task.cancel)  # type: ignore[union-attr]
        return await within_timeout(0.01, asyncio.sleep(5))

    with pytest.raises(asyncio.CancelledError):
        await asyncio.ensure_future(cancelled_at_the_deadline_too())


def test_the_schema_takes_its_timeout_from_the_settings() -> None:
    assert SCHEMA.execution_timeout == 10
    assert build_schema(Settings(execution_timeout_seconds=2.5)).execution_timeout == 2.5


def test_the_timeout_error_keeps_its_code_through_classification() -> None:
    from app.schema.limits import timeout_error

    assert classify(timeout_error(10), executed=True).extensions == {"code": "TIMEOUT", "reason": "EXECUTION_TIMEOUT"}


class _PgError(Exception):
    sqlstate = "57014"


class _DBAPIError(Exception):
    orig = _PgError()


def test_a_postgresql_statement_timeout_is_a_timeout_error_not_an_internal_one() -> None:
    assert is_statement_timeout(_DBAPIError())
    error = GraphQLError("canceling statement due to statement timeout", path=["fixtures"], original_error=_DBAPIError())
    classified = classify(error, executed=True)
    assert classified.extensions == {"code": "TIMEOUT", "reason": "STATEMENT_TIMEOUT"}
    assert classified.message == STATEMENT_TIMEOUT_MESSAGE


@pytest.mark.parametrize("query", ["{ __typename }", "query Q($n: Int) { fixtures(first: $n) { totalCount } }"])
def test_small_operations_are_far_below_every_limit(query: str) -> None:
    passes(query)


async def test_operations_over_websocket_are_limited_alike() -> None:
    """graphql-transport-ws runs operations through Schema.stream, graphql-ws through subscribe."""
    for method in ("stream", "subscribe"):
        for query, reason in [
            ("subscription { notifications(refereeId: \"x\") { id } }".ljust(15_001), "QUERY_LENGTH_LIMIT"),
            ("subscription { " + "__typename " * 1001 + "}", "TOKEN_LIMIT"),
            ("subscription { notifications(refereeId: \"x\") { " + "id " * 200 + "} }", "FIELD_LIMIT"),
        ]:
            results = [r async for r in await getattr(SCHEMA, method)(query)]
            assert [[e.extensions for e in r.errors] for r in results] == [
                [{"code": "GRAPHQL_VALIDATION_FAILED", "reason": reason}]
            ], (method, reason)


def test_the_page_maxima_are_the_resolvers_page_limits() -> None:
    from app.resolvers.query import PAGE_MAX
    from app.schema.limits import PAGE_MAXIMA
    from app.schema.types import NOTIFICATIONS_MAX

    assert PAGE_MAXIMA == {("Query", "fixtures"): PAGE_MAX, ("Referee", "notifications"): NOTIFICATIONS_MAX}


async def test_concurrent_operations_are_costed_with_their_own_variables() -> None:
    query = "query Page($n: Int) { " + PAGE.format(first="$n") + " }"
    results = await asyncio.gather(*(SCHEMA.execute(query, variable_values={"n": n}) for n in (400, 1, 400, 1)))
    reasons = [(r.errors or [GraphQLError("")])[0].extensions.get("reason") for r in results]
    assert reasons[0] == reasons[2] == "COST_LIMIT"
    assert "COST_LIMIT" not in (reasons[1], reasons[3])  # (these fail later, in execution: no context here)
