"""Hardening end to end (README "Authentication and roles", "Persisted queries"): real
`whistle serve` processes, real HTTP and WebSocket clients, one row per case.

- forged and odd tokens are UNAUTHENTICATED / FORBIDDEN with a reason, over HTTP and on
  both WebSocket protocols (never a 500, never a socket dropped without a close code);
- DNS rebinding: dev mode answers loopback Host names only, or WHISTLE_ALLOWED_HOSTS;
- WHISTLE_CORS_ORIGINS=*: ambient credentials (the cookie, dev mode's ADMIN) never act for
  a page of another origin, over HTTP or WebSocket; a token it holds still works;
- persisted queries: a text that is refused (no or a bad token, over a limit, rate
  limited, a wrong hash) is not stored: the hash alone is still unknown afterwards;
- subscriptions over HTTP: the policy's refusal first, then BAD_REQUEST, no traceback;
- a socket is closed with 4401 when its token expires (exp + leeway).

After every refused call no table has changed (tests/e2e/tables.py). Every server's log
is checked at the end: no traceback, no ERROR line.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from redis.asyncio import Redis
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from app.security.identity import Role
from app.security.local_keys import LocalKeys, token_claims
from tests.e2e.processes import LEGACY_WS, TRANSPORT_WS, Closed, ServerProcess, WsClient, whistle_env
from tests.e2e.tables import unchanged_tables
from tests.e2e.test_auth_matrix import ADMIN, OWN, SUBSCRIPTIONS
from tests.integration.bus_fixtures import free_port, require_redis

pytestmark = pytest.mark.e2e

JWT, JWT_REDIS, DEV, DEV_HOSTS = "jwt", "jwt-redis", "dev", "dev-allowed-hosts"
LEEWAY = 1  # seconds of clock skew the jwt server tolerates (the test of expiry waits for it)
RATE_BUDGET = 400
SERVER_SETTINGS: dict[str, dict[str, Any]] = {
    JWT: {"auth": "jwt", "cors_origins": "*", "jwt_leeway_seconds": LEEWAY, "rate_limit_points": RATE_BUDGET},
    JWT_REDIS: {"auth": "jwt", "rate_limit_points": RATE_BUDGET},  # + WHISTLE_REDIS_URL: APQ texts in Redis
    DEV: {"auth": "dev", "cors_origins": "*"},
    DEV_HOSTS: {"auth": "dev", "allowed_hosts": "whistle.example, *.league.example"},
}
EVIL = "https://evil.example"
APQ_KEY_PREFIX = "whistle:cache:apq:"  # RedisCache's prefix + PersistedQueries' key

CREATE_TEAM = 'mutation { createTeam(input: {name: "Team %s", club: "VC Ost"}) { id } }'
FIXTURE_CHANGED = "subscription($f: ID) { fixtureChanged(fixtureId: $f) { kind fixture { id } } }"
CHANGE_DATE = "mutation($f: ID!, $d: DateTime!) { changeFixtureDate(fixtureId: $f, date: $d) { id } }"


def create_team() -> str:
    return CREATE_TEAM % uuid.uuid4().hex[:8]


# --- the servers -----------------------------------------------------------------------------------


@dataclass
class Server:
    process: ServerProcess
    database_url: str
    keys: LocalKeys | None = None
    own: str = ""  # a referee (the REFEREE tokens' own)
    other: str = ""  # another referee
    fixture: str = ""

    @property
    def port(self) -> int:
        return self.process.port

    def claims(self, role: Role = Role.ADMIN, referee: str | None = None, ttl: float = 3600, **overrides: Any) -> dict[str, Any]:
        """A token's claims; each with its own subject, so no two tests share a rate-limit budget."""
        claims = token_claims(
            role=role, referee_id=UUID(referee) if referee else None, issuer="whistle-local", audience="whistle",
            roles_claim="realm_access.roles", referee_claim="referee_id", ttl=timedelta(seconds=ttl),
            subject=f"test-{uuid.uuid4().hex[:12]}",
        )
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, role: Role = Role.ADMIN, referee: str | None = None, ttl: float = 3600, **overrides: Any) -> str:
        assert self.keys is not None
        return self.keys.mint(self.claims(role, referee, ttl, **overrides))

    def http(self, token: str | None = None, **headers: str) -> httpx.AsyncClient:
        headers.setdefault("Accept", "application/json")
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.AsyncClient(base_url=self.process.url, headers=headers, trust_env=False, timeout=10)


async def _post(http: httpx.AsyncClient, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == 200, response.text
    return response.json()


def _league(server: Server) -> None:
    """Two referees and a fixture, made by an ADMIN (synchronously: servers start inside tests)."""
    headers = {"Authorization": f"Bearer {server.token()}"}
    with httpx.Client(base_url=server.process.url, headers=headers, trust_env=False, timeout=10) as http:

        def data(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
            result = http.post("/graphql", json={"query": query, "variables": variables or {}}).json()
            assert "errors" not in result, result
            return result["data"]

        referee = 'mutation($n: String!) { createReferee(input: {name: $n, club: "C"}) { id } }'
        server.own = data(referee, {"n": "Own Referee"})["createReferee"]["id"]
        server.other = data(referee, {"n": "Other Referee"})["createReferee"]["id"]
        venue = data('mutation { createVenue(input: {name: "Hall", street: "Weg 1", zip: "3000", city: "Bern"}) { id } }')
        home, away = (data(create_team())["createTeam"]["id"] for _ in range(2))
        server.fixture = data(
            "mutation($v: ID!, $h: ID!, $a: ID!) { createFixture(input: "
            '{date: "2026-05-02T18:00:00Z", venueId: $v, teamHomeId: $h, teamAwayId: $a}) { id } }',
            {"v": venue["createVenue"]["id"], "h": home, "a": away},
        )["createFixture"]["id"]


class Servers:
    """One server per setting, started on first use and stopped at the end of the module,
    when its log is checked: no traceback, no ERROR line."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._started: dict[str, Server] = {}

    def __getitem__(self, name: str) -> Server:
        return self.start(name)

    def start(self, name: str, **extra: str) -> Server:
        if name not in self._started:
            folder = self._root / name
            folder.mkdir()
            database_url = f"sqlite+aiosqlite:///{folder}/whistle.db"
            keys = LocalKeys.load_or_create(folder / "keys")
            env = whistle_env(
                database_url=database_url, seed_demo="false", jwt_local_keys=str(folder / "keys"), log_format="json",
                **SERVER_SETTINGS[name], **extra,
            )
            process = ServerProcess(name, free_port(), env, folder).start(timeout=60)
            server = self._started[name] = Server(process, database_url, keys)
            if name == JWT:
                _league(server)
        return self._started[name]

    def stop(self) -> None:
        problems = []
        for name, server in self._started.items():  # every one, whatever the others logged
            try:
                output = server.process.stop()
            except AssertionError as error:  # a traceback, or no clean exit
                problems.append(f"{name}: {str(error)[:2000]}")
                continue
            errors = [line for line in output.splitlines() if '"level":"ERROR"' in line]
            if errors:
                problems.append(f"{name}: {errors[:3]}")
        assert not problems, f"servers logged errors: {problems}"


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    started = Servers(tmp_path_factory.mktemp("hardening"))
    try:
        yield started
    finally:
        started.stop()


# --- WebSocket sessions ----------------------------------------------------------------------------


@asynccontextmanager
async def ws_session(
    url: str, *, protocol: str = TRANSPORT_WS, init: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None, **connect_args: Any,
) -> AsyncIterator[WsClient]:
    """A socket acknowledged after connection_init (`init`); `connect_args` reach the TCP
    connection (host/port: where a rebound name leads)."""
    async with connect(
        url, subprotocols=[protocol], open_timeout=5, close_timeout=2, proxy=None,  # type: ignore[list-item]
        additional_headers=headers, **connect_args,
    ) as socket:
        session = WsClient(protocol, socket)
        session._reader = asyncio.create_task(session._read())
        try:
            await socket.send(json.dumps({"type": "connection_init", "payload": init or {}}))
            await asyncio.wait_for(asyncio.shield(session._acked), 5)
            yield session
        finally:
            session._reader.cancel()
            try:
                await session._reader
            except asyncio.CancelledError:
                pass


async def ws_outcome(url: str, **options: Any) -> str:
    """How a socket fares: `ran` (acknowledged, and a mutation over it ran), `closed <code>`
    (refused at connection_init), `refused <message>` (graphql-ws connection_error) or
    `http <status>` (handshake refused)."""
    try:
        async with ws_session(url, **options) as session:
            op = await session.subscribe(create_team())
            message = await session.next(op)
            assert message is not None and "errors" not in message, message
            return "ran"
    except InvalidStatus as refused:
        return f"http {refused.response.status_code}"
    except Closed as closed:
        return f"closed {closed.code}"
    except RuntimeError as refused:  # graphql-ws: connection_error
        return f"refused {refused}"


def single_error(result: dict[str, Any]) -> tuple[str, str | None]:
    errors = result.get("errors") or []
    assert len(errors) == 1, result
    assert len(errors[0]["message"]) > 20, errors[0]
    return errors[0]["extensions"]["code"], errors[0]["extensions"].get("reason")


# --- forged and odd tokens ---------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _raw(header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes] = lambda _: b"") -> str:
    head = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    return f"{head}.{_b64(sign(head.encode()))}"


ATTACKER = ec.generate_private_key(ec.SECP256R1())


def _attacker(claims: dict[str, Any], **header: Any) -> str:
    return jwt.encode(claims, ATTACKER, algorithm="ES256", headers=header)


def _public_pem(server: Server) -> bytes:
    assert server.keys is not None
    return server.keys.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _kid(server: Server) -> str:
    assert server.keys is not None
    return server.keys.kid


Forge = Callable[[Server], str]
INVALID = ("UNAUTHENTICATED", "TOKEN_INVALID")

TOKEN_CASES = [
    pytest.param(lambda s: _raw({"alg": "none", "kid": _kid(s)}, s.claims()), *INVALID, id="alg-none"),
    pytest.param(
        lambda s: _raw({"alg": "HS256", "kid": _kid(s)}, s.claims(), lambda m: hmac.new(_public_pem(s), m, hashlib.sha256).digest()),
        *INVALID, id="hs256-signed-with-the-public-key",
    ),
    pytest.param(
        lambda s: _attacker(s.claims(), kid="attacker", jku="https://evil.example/jwks.json"), *INVALID, id="jku-to-a-foreign-jwks"
    ),
    pytest.param(
        lambda s: _attacker(s.claims(), kid=_kid(s), jwk=jwt.algorithms.ECAlgorithm.to_jwk(ATTACKER.public_key(), as_dict=True)),
        *INVALID, id="embedded-jwk-with-the-known-kid",
    ),
    pytest.param(lambda s: _attacker(s.claims(), kid="../../../../dev/null"), *INVALID, id="kid-path-traversal"),
    pytest.param(lambda s: _attacker(s.claims(), kid="x' OR '1'='1"), *INVALID, id="kid-sql-injection"),
    pytest.param(lambda s: _raw({"alg": "ES256"}, s.claims(), lambda m: b"x" * 64), *INVALID, id="kid-missing"),
    pytest.param(lambda s: s.token(exp=str(int(time.time()) + 600)), *INVALID, id="exp-numeric-string"),
    pytest.param(lambda s: s.token(exp=253_402_300_800), *INVALID, id="exp-past-year-9999"),
    pytest.param(lambda s: s.token(exp=1e300), *INVALID, id="exp-huge-float"),
    pytest.param(lambda s: s.token(nbf=str(int(time.time()))), *INVALID, id="nbf-numeric-string"),
    pytest.param(lambda s: s.token(iat=str(int(time.time()))), *INVALID, id="iat-numeric-string"),
    pytest.param(lambda s: s.token(iat=253_402_300_800), "UNAUTHENTICATED", "TOKEN_NOT_YET_VALID", id="iat-past-year-9999"),
    pytest.param(lambda s: s.token(nbf=int(time.time()) + 600), "UNAUTHENTICATED", "TOKEN_NOT_YET_VALID", id="nbf-in-the-future"),
    pytest.param(lambda s: s.token(exp=int(time.time()) - 600), "UNAUTHENTICATED", "TOKEN_EXPIRED", id="expired"),
    pytest.param(lambda s: s.token(exp=None), *INVALID, id="exp-missing"),
    pytest.param(lambda s: s.token(iss=None), *INVALID, id="iss-missing"),
    pytest.param(lambda s: s.token(aud=None), *INVALID, id="aud-missing"),
    pytest.param(lambda s: s.token(iss="https://evil.example"), *INVALID, id="foreign-issuer"),
    pytest.param(lambda s: s.token(realm_access={"roles": ["VIEWER"]}), "FORBIDDEN", "NO_ROLE", id="viewer-a-token-without-a-whistle-role"),
    pytest.param(lambda s: s.token(realm_access=None), "FORBIDDEN", "NO_ROLE", id="roles-missing"),
    pytest.param(
        lambda s: s.token(realm_access={"roles": ["REFEREE"]}), "FORBIDDEN", "REFEREE_ID_MISSING", id="referee-without-referee-id"
    ),
    pytest.param(lambda s: "not.a.jwt", *INVALID, id="not-a-jwt"),
    pytest.param(lambda s: "x" * 16_500, *INVALID, id="too-long"),
]


@pytest.mark.parametrize(("forge", "code", "reason"), TOKEN_CASES)
async def test_forged_and_odd_tokens_are_refused_over_http_and_websockets(
    servers: Servers, forge: Forge, code: str, reason: str
) -> None:
    server = servers[JWT]
    token = forge(server)
    async with unchanged_tables(server.database_url):
        async with server.http(token) as http:
            result = await _post(http, create_team())
        assert result["data"] is None and single_error(result) == (code, reason)
        assert result["errors"][0]["path"] == ["createTeam"]
        # A refused connection_init closes with 4403 (graphql-ws: a connection_error naming the reason).
        assert await ws_outcome(server.process.ws_url, init={"token": token}) == "closed 4403"
        legacy = await ws_outcome(server.process.ws_url, init={"token": token}, protocol=LEGACY_WS)
        assert legacy.startswith("refused") and reason in legacy, legacy


# --- DNS rebinding -----------------------------------------------------------------------------------

REBINDING_CASES = [
    pytest.param(DEV, "rebind.attacker.example:{port}", False, id="dev-attacker-name-and-port"),
    pytest.param(DEV, "rebind.attacker.example", False, id="dev-attacker-name"),
    pytest.param(DEV, "localhost.attacker.example:{port}", False, id="dev-localhost-prefix"),
    pytest.param(DEV, "127.0.0.1.nip.io:{port}", False, id="dev-loopback-address-prefix"),
    pytest.param(DEV, "127.0.0.2:{port}", False, id="dev-other-loopback-address"),
    pytest.param(DEV, "localhost:{port}", True, id="dev-localhost"),
    pytest.param(DEV, "LocalHost.:{port}", True, id="dev-localhost-case-and-trailing-dot"),
    pytest.param(DEV, "127.0.0.1:{port}", True, id="dev-127.0.0.1"),
    pytest.param(DEV, "[::1]:{port}", True, id="dev-ipv6-loopback"),
    pytest.param(DEV_HOSTS, "whistle.example", True, id="allowed-hosts-listed-name"),
    pytest.param(DEV_HOSTS, "app.league.example:8443", True, id="allowed-hosts-subdomain-pattern"),
    pytest.param(DEV_HOSTS, "league.example", False, id="allowed-hosts-pattern-is-subdomains-only"),
    pytest.param(DEV_HOSTS, "localhost:{port}", False, id="allowed-hosts-replace-the-loopback-names"),
    pytest.param(DEV_HOSTS, "rebind.attacker.example:{port}", False, id="allowed-hosts-attacker-name"),
]


@pytest.mark.parametrize(("name", "host", "allowed"), REBINDING_CASES)
async def test_dev_mode_answers_only_its_own_host_names(servers: Servers, name: str, host: str, allowed: bool) -> None:
    """A page on a rebound name is same-origin with itself: its Host is what gives it away."""
    server = servers[name]
    host = host.format(port=server.port)
    page = {"Origin": f"http://{host.lower()}"}
    url = f"ws://{host}/graphql"
    if allowed:
        async with server.http(Host=host, **page) as http:
            result = await _post(http, create_team())
        assert result["data"]["createTeam"]["id"], result
        assert await ws_outcome(url, headers=page, host="127.0.0.1", port=server.port) == "ran"
        return
    async with unchanged_tables(server.database_url):
        async with server.http(Host=host, **page) as http:
            response = await http.post("/graphql", json={"query": create_team()})
        assert response.status_code == 400
        assert single_error(response.json()) == ("BAD_REQUEST", "HOST_NOT_ALLOWED")
        assert await ws_outcome(url, headers=page, host="127.0.0.1", port=server.port) == "http 403"


# --- CORS * and ambient credentials ---------------------------------------------------------------------

SAME = "same-origin"
CORS_CASES = [
    # server, transport, credential, Origin, outcome
    pytest.param(JWT, "http", "cookie", EVIL, "CSRF_ORIGIN", id="jwt-http-cookie-foreign-origin"),
    pytest.param(JWT, "http", "cookie", "null", "CSRF_ORIGIN", id="jwt-http-cookie-null-origin"),
    pytest.param(JWT, "http", "cookie", None, "CSRF_ORIGIN", id="jwt-http-cookie-no-origin"),
    pytest.param(JWT, "http", "cookie", SAME, "ran", id="jwt-http-cookie-same-origin"),
    pytest.param(JWT, "http", "bearer", EVIL, "ran", id="jwt-http-bearer-foreign-origin"),
    pytest.param(JWT, "ws", "cookie", EVIL, "closed 4403", id="jwt-ws-cookie-foreign-origin"),
    pytest.param(JWT, "ws", "cookie", SAME, "ran", id="jwt-ws-cookie-same-origin"),
    pytest.param(JWT, "ws", "bearer", EVIL, "ran", id="jwt-ws-token-in-init-foreign-origin"),
    pytest.param(DEV, "http", "none", EVIL, "CSRF_ORIGIN", id="dev-http-foreign-origin"),
    pytest.param(DEV, "http", "none", SAME, "ran", id="dev-http-same-origin"),
    pytest.param(DEV, "ws", "none", EVIL, "closed 4403", id="dev-ws-foreign-origin"),
    pytest.param(DEV, "ws", "none", SAME, "ran", id="dev-ws-same-origin"),
    pytest.param(DEV, "ws", "none", None, "ran", id="dev-ws-no-origin-not-a-browser"),
]


@pytest.mark.parametrize(("name", "transport", "credential", "origin", "outcome"), CORS_CASES)
async def test_cors_wildcard_never_lends_ambient_credentials(
    servers: Servers, name: str, transport: str, credential: str, origin: str | None, outcome: str
) -> None:
    server = servers[name]
    headers: dict[str, str] = {}
    if origin is not None:
        headers["Origin"] = server.process.url if origin == SAME else origin
    token = server.token() if name == JWT else None
    if credential == "cookie":
        headers["Cookie"] = f"access_token={token}"
    refused = outcome != "ran"
    async with unchanged_tables(server.database_url) if refused else _nothing():
        if transport == "http":
            async with server.http(token if credential == "bearer" else None, **headers) as http:
                response = await http.post("/graphql", json={"query": create_team()})
            assert response.status_code == 200
            # `*` is answered without credentials: a browser keeps the answer from the page.
            assert response.headers.get("access-control-allow-credentials") is None
            result = response.json()
            if refused:
                assert result["data"] is None and single_error(result) == ("FORBIDDEN", outcome)
            else:
                assert result["data"]["createTeam"]["id"], result
        else:
            init = {"token": token} if credential == "bearer" else {}
            assert await ws_outcome(server.process.ws_url, init=init, headers=headers) == outcome


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield


# --- persisted queries are stored only for requests that pass ----------------------------------------


def _apq(query: str, digest: str | None = None) -> dict[str, Any]:
    return {"query": query, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest or hashlib.sha256(query.encode()).hexdigest()}}}


def _too_deep() -> str:
    nested = "id"
    for _ in range(6):
        nested = f"assignments {{ fixture {{ {nested} }} }}"
    return f"{{ fixtures {{ edges {{ node {{ {nested} }} }} }} }} # {uuid.uuid4()}"


async def _spend_budget(server: Server, token: str) -> None:
    """Spend the token's budget of this minute with refused mutations (5 points each)."""
    async with server.http(token) as http:
        for _ in range(2 * RATE_BUDGET // 5 + 5):  # a new minute may start meanwhile
            response = await http.post("/graphql", json={"query": "mutation { lockAvailabilities { locked } }"})
            if response.status_code == 429:
                return
    raise AssertionError("the rate limit never refused")


APQ_CASES = [
    # caller, text, (HTTP status, code, reason)
    pytest.param("anonymous", "mutation", (200, "UNAUTHENTICATED", "TOKEN_MISSING"), id="unauthenticated"),
    pytest.param("bad-token", "mutation", (200, "UNAUTHENTICATED", "TOKEN_INVALID"), id="invalid-token"),
    pytest.param("viewer", "mutation", (200, "FORBIDDEN", "NO_ROLE"), id="token-without-a-role"),
    pytest.param("admin", "oversized", (200, "GRAPHQL_VALIDATION_FAILED", "QUERY_LENGTH_LIMIT"), id="400-kB-over-the-length-limit"),
    pytest.param("admin", "too-deep", (200, "GRAPHQL_VALIDATION_FAILED", "DEPTH_LIMIT"), id="over-the-depth-limit"),
    pytest.param("rate-limited", "query", (429, "RATE_LIMITED", None), id="rate-limited"),
    pytest.param("admin", "wrong-hash", (400, "PERSISTED_QUERY_HASH_MISMATCH", None), id="hash-mismatch"),
    pytest.param("admin", "query", None, id="control-a-signed-in-valid-query-is-stored"),
]


@pytest.mark.parametrize("store", ["memory", "redis"])
@pytest.mark.parametrize(("caller", "text", "refusal"), APQ_CASES)
async def test_persisted_query_texts_are_stored_only_after_the_request_passed(
    servers: Servers, caller: str, text: str, refusal: tuple[int, str, str | None] | None, store: str
) -> None:
    redis_url = await require_redis() if store == "redis" else None
    server = servers.start(JWT_REDIS, redis_url=redis_url) if redis_url else servers[JWT]
    query = {
        "mutation": create_team(),
        "oversized": create_team() + "\n# " + "x" * 400_000,
        "too-deep": _too_deep(),
        "query": f"{{ teams {{ id }} }} # {uuid.uuid4()}",
        "wrong-hash": create_team(),
    }[text]
    digest = hashlib.sha256(("another text" if text == "wrong-hash" else query).encode()).hexdigest()
    token = {
        "anonymous": None,
        "bad-token": "garbage",
        "viewer": server.token(realm_access={"roles": ["VIEWER"]}),
        "admin": server.token(),
        "rate-limited": server.token(),
    }[caller]
    if caller == "rate-limited":
        await _spend_budget(server, token or "")
    async with server.http(token) as http, (unchanged_tables(server.database_url) if refusal else _nothing()):
        response = await http.post("/graphql", json=_apq(query, digest))
    if refusal is None:
        assert response.status_code == 200 and "errors" not in response.json(), response.text
    else:
        status, code, reason = refusal
        assert response.status_code == status, response.text
        errors = {(e["extensions"]["code"], e["extensions"].get("reason")) for e in response.json()["errors"]}
        assert (code, reason) in errors and {c for c, _ in errors} == {code}, errors  # deep is costly too
    # Afterwards the hash alone finds the text only when the request passed.
    async with server.http(server.token()) as http:
        probe = (await http.post("/graphql", json={"extensions": _apq(query, digest)["extensions"]})).json()
    if refusal is None:
        assert "errors" not in probe and "teams" in probe["data"], probe
    else:
        assert single_error(probe) == ("PERSISTED_QUERY_NOT_FOUND", None), probe
    if redis_url is not None:  # and in the store itself
        redis = Redis.from_url(redis_url)
        try:
            assert await redis.exists(f"{APQ_KEY_PREFIX}{digest}") == (refusal is None)
        finally:
            await redis.aclose()


# --- subscriptions POSTed over HTTP ------------------------------------------------------------------


def _subscription_fields() -> list[str]:
    from app.api import build_schema

    root = build_schema()._schema.subscription_type
    assert root is not None
    return sorted(root.fields)


CALLERS = ["anonymous", "bad-token", "viewer", "referee/own", "referee/other", "admin", "dev"]


def _token_of(server: Server, caller: str) -> str | None:
    """The token a caller sends; a REFEREE's is its own, whichever referee it asks for."""
    if caller in ("anonymous", "dev"):
        return None
    if caller == "bad-token":
        return "garbage"
    if caller == "viewer":
        return server.token(realm_access={"roles": ["VIEWER"]})
    if caller.startswith("referee"):
        return server.token(Role.REFEREE, server.own)
    return server.token()


def _expected_over_http(rule: str, caller: str) -> tuple[int, str, str]:
    """API.md's answer to a subscription sent as a plain JSON request: the auth error first."""
    refusals = {
        "anonymous": ("UNAUTHENTICATED", "TOKEN_MISSING"),
        "bad-token": ("UNAUTHENTICATED", "TOKEN_INVALID"),
        "viewer": ("FORBIDDEN", "NO_ROLE"),
    }
    if caller in refusals:
        return (200, *refusals[caller])
    if caller.startswith("referee") and rule == ADMIN:
        return 200, "FORBIDDEN", "ADMIN_ONLY"
    if caller == "referee/other" and rule == OWN:
        return 200, "FORBIDDEN", "NOT_OWN_REFEREE"
    return 400, "BAD_REQUEST", "SUBSCRIPTION_NEEDS_STREAM"


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("field", _subscription_fields())
async def test_a_subscription_sent_over_http_gets_the_policy_then_bad_request(servers: Servers, field: str, caller: str) -> None:
    assert field in SUBSCRIPTIONS, f"Subscription.{field} has no row in test_auth_matrix.SUBSCRIPTIONS: add one"
    rule, query = SUBSCRIPTIONS[field]
    server = servers[DEV if caller == "dev" else JWT]
    if caller == "dev":
        server.own = server.own or str(uuid.uuid4())
    token = _token_of(server, caller)
    variables = {"r": server.other if caller == "referee/other" else server.own}
    async with unchanged_tables(server.database_url), server.http(token) as http:
        response = await http.post("/graphql", json={"query": query, "variables": variables})
    status, code, reason = _expected_over_http(rule, caller)
    assert response.status_code == status, response.text
    result = response.json()
    assert single_error(result) == (code, reason)
    if status == 200:
        assert result["data"] is None and result["errors"][0]["path"] == [field]


SPREAD = "subscription { ...Feed } fragment Feed on Subscription { assignmentsCommitted { id } }"
INLINE = "subscription { ... on Subscription { changes: fixtureChanged { kind } } }"


@pytest.mark.parametrize(
    ("query", "caller", "expected"),
    [
        pytest.param(SPREAD, "anonymous", (200, "UNAUTHENTICATED", "TOKEN_MISSING"), id="fragment-spread-anonymous"),
        pytest.param(SPREAD, "referee/own", (200, "FORBIDDEN", "ADMIN_ONLY"), id="fragment-spread-referee"),
        pytest.param(INLINE, "referee/own", (200, "FORBIDDEN", "ADMIN_ONLY"), id="inline-fragment-alias-referee"),
        pytest.param(INLINE, "admin", (400, "BAD_REQUEST", "SUBSCRIPTION_NEEDS_STREAM"), id="inline-fragment-admin"),
        pytest.param("subscription { nope }", "admin", (200, "GRAPHQL_VALIDATION_FAILED", None), id="unknown-field-is-invalid"),
    ],
)
async def test_root_fields_in_fragments_get_the_policy_too(
    servers: Servers, query: str, caller: str, expected: tuple[int, str, str]
) -> None:
    server = servers[JWT]
    async with unchanged_tables(server.database_url), server.http(_token_of(server, caller)) as http:
        response = await http.post("/graphql", json={"query": query})
    assert response.status_code == expected[0], response.text
    assert single_error(response.json()) == expected[1:]


# --- sockets end with their token -----------------------------------------------------------------------

MINUTES = itertools.count(1)  # every row moves the fixture to a new time (an unchanged date is no change)
EXPIRY_CASES = [
    pytest.param(TRANSPORT_WS, "init", id="graphql-transport-ws-token-in-connection-init"),
    pytest.param(TRANSPORT_WS, "cookie", id="graphql-transport-ws-cookie"),
    pytest.param(LEGACY_WS, "init", id="graphql-ws-token-in-connection-init"),
    pytest.param(LEGACY_WS, "header", id="graphql-ws-authorization-header"),
]


@pytest.mark.parametrize(("protocol", "credential"), EXPIRY_CASES)
async def test_a_socket_is_closed_4401_when_its_token_expires(servers: Servers, protocol: str, credential: str) -> None:
    server = servers[JWT]
    claims = server.claims(ttl=3)
    assert server.keys is not None
    token = server.keys.mint(claims)
    deadline = claims["exp"] + LEEWAY  # the token is good until exp plus the leeway
    init, headers = ({"token": token}, {}) if credential == "init" else ({}, {})
    if credential == "cookie":
        headers = {"Cookie": f"access_token={token}", "Origin": server.process.url}
    elif credential == "header":
        headers = {"Authorization": f"Bearer {token}"}
    async with server.http(server.token()) as admin, ws_session(
        server.process.ws_url, protocol=protocol, init=init, headers=headers
    ) as session:
        op = await session.subscribe(FIXTURE_CHANGED, {"f": server.fixture})
        await asyncio.sleep(0.4)  # the subscription registers
        await _post(admin, CHANGE_DATE, {"f": server.fixture, "d": f"2026-05-02T18:{next(MINUTES):02d}:00Z"})
        event = await session.next(op)
        assert event is not None and event["data"]["fixtureChanged"]["fixture"]["id"] == server.fixture, event
        await asyncio.wait_for(session.closed.wait(), deadline - time.time() + 3)
        closed_at = time.time()
    assert (session.close_code, session.close_reason) == (4401, "Unauthorized: the credentials expired")
    assert closed_at >= deadline - 0.05, f"closed {deadline - closed_at:.2f} s before exp + leeway"
    assert session.pending(op) == [], "nothing is delivered once the token expired"
