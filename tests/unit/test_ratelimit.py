"""Rate limiting without I/O: what a request costs, whose budget pays, the in-process window."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.security.identity import DEV_ADMIN, Identity, Role
from app.security.ratelimit import MemoryRateLimiter, caller_of, operation_type, points_for


@pytest.mark.parametrize(
    ("query", "operation_name", "expected"),
    [
        ("{ referees { id } }", None, "query"),
        ("query { referees { id } }", None, "query"),
        ("mutation { lockAvailabilities { locked } }", None, "mutation"),
        ("mutation M($i: CreateTeamInput!) { createTeam(input: $i) { id } }", None, "mutation"),
        ("subscription { assignmentsCommitted { id } }", None, "subscription"),
        ("query Q { mutation: referees { id } }", None, "query"),  # an alias named mutation
        ('query Q { referee(id: "mutation { x }") { id } }', None, "query"),  # in a string
        ("# mutation {\n{ referees { id } }", None, "query"),  # in a comment
        ("query A { teams { id } } mutation B { lockAvailabilities { locked } }", "B", "mutation"),
        ("query A { teams { id } } mutation B { lockAvailabilities { locked } }", "A", "query"),
        ("query A { teams { id } } mutation B { lockAvailabilities { locked } }", None, "query"),  # ambiguous
        ("fragment F on Mutation { lockAvailabilities { locked } } mutation { ...F }", None, "mutation"),
        ("mutation @skip(if: true) { lockAvailabilities { locked } }", None, "mutation"),
        ('mutation($d: CreateVenueInput = {name: "x"}) { createVenue(input: $d) { id } }', None, "mutation"),
        ("mutation {", None, "mutation"),  # unfinished: the scan still saw the keyword before `{`
        ('mutation { x(a: "unterminated) }', None, "query"),  # a lexer error: execution reports it
        ("", None, "query"),
        (None, None, "query"),
    ],
)
def test_operation_type_scans_the_top_level_tokens(query: str | None, operation_name: str | None, expected: str) -> None:
    assert operation_type(query, operation_name) == expected


def test_a_mutation_costs_five_points_anything_else_one() -> None:
    assert points_for("mutation") == 5
    assert points_for("query") == points_for("subscription") == 1


def test_the_caller_is_the_token_subject_else_the_client_address() -> None:
    request = SimpleNamespace(client=SimpleNamespace(host="203.0.113.7"))
    with_token = SimpleNamespace(identity=Identity(role=Role.ADMIN, subject="user-1"))
    assert caller_of(with_token, request) == "sub:user-1"
    assert caller_of(SimpleNamespace(identity=None), request) == "ip:203.0.113.7"
    assert caller_of(SimpleNamespace(), request) == "ip:203.0.113.7"  # a context without identity at all
    # dev mode's implicit ADMIN is everybody without a token: told apart by address
    assert caller_of(SimpleNamespace(identity=DEV_ADMIN), request) == "ip:203.0.113.7"
    assert caller_of(SimpleNamespace(identity=None), SimpleNamespace(client=None)) == "ip:unknown"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_the_in_process_budget_is_per_caller_and_per_minute() -> None:
    clock = Clock(60 * 16_667 + 20.0)  # 20 s into a minute
    limiter = MemoryRateLimiter(10, clock=clock)
    assert (await limiter.spend("a", 5)).allowed
    assert (await limiter.spend("a", 5)).allowed  # exactly the budget
    refused = await limiter.spend("a", 1)
    assert not refused.allowed and refused.used == 11 and refused.retry_after == 40
    assert (await limiter.spend("b", 10)).allowed  # another caller has its own budget
    clock.now += 39.5
    assert (await limiter.spend("a", 1)).retry_after == 1  # never 0
    clock.now += 1  # the next minute
    renewed = await limiter.spend("a", 5)
    assert renewed.allowed and renewed.used == 5
