"""The gateway forwards the caller's credentials to every subgraph, which authorizes each
field itself. The stack runs WHISTLE_AUTH=dev (no token: ADMIN), where a token that IS
sent is still verified: a forged one must be refused by the subgraphs behind the gateway."""

from __future__ import annotations

import httpx
import pytest

from tests.federation.stack import Stack

pytestmark = pytest.mark.federation

FORGED = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


@pytest.mark.parametrize("query,field", [("{ referees { id } }", "referees"), ("{ availabilityLock { locked } }", "availabilityLock")])
async def test_a_forged_bearer_token_is_refused_by_the_subgraph_behind_the_gateway(stack: Stack, query: str, field: str) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url, trust_env=False, timeout=30) as http:
        without = (await http.post("/graphql", json={"query": query})).json()
        forged = (await http.post("/graphql", json={"query": query}, headers={"Authorization": FORGED})).json()
    assert "errors" not in without and without["data"][field] is not None
    assert forged["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", forged
    assert forged["errors"][0]["extensions"]["reason"] == "TOKEN_INVALID", forged


async def test_a_forged_access_token_cookie_is_refused_behind_the_gateway(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway.url, trust_env=False, timeout=30) as http:
        result = (await http.post("/graphql", json={"query": "{ teams { id } }"},
                                  headers={"Cookie": "access_token=not.a.token"})).json()
    assert result["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", result
