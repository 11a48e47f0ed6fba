"""Signing in through a real OpenID Provider, sessions, refresh and sign-out, over HTTP,
on both session stores (memory and Redis)."""

from __future__ import annotations

import asyncio
import secrets
from datetime import datetime, timezone
from urllib.parse import urlsplit

import httpx
import pytest

from app.security import sessions as sessions_module
from tests.oidc.conftest import BASE_URL, ORIGIN, App, OpenApp
from tests.oidc.provider_process import ACCESS_TTL, JANE_SMITH, ProviderProcess, provider_login, query_of

pytestmark = pytest.mark.e2e

VIEWER = "{ viewer { role refereeId } }"
COOKIE = "whistle_session"


async def test_sign_in_sets_an_opaque_http_only_cookie_and_returns_to_the_page(whistle: App) -> None:
    assert await whistle.status() == {"signedIn": False, "loginUrl": "/auth/login"}

    callback = await whistle.sign_in("referee", return_to="/#/me?week=3")

    assert callback.status_code == 302
    assert callback.headers["location"] == "/#/me?week=3"
    cookie = callback.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=")
    for attribute in ("HttpOnly", "Path=/", "SameSite=lax"):
        assert attribute in cookie
    assert "Secure" not in cookie  # development over http; production: __Host- and Secure
    value = whistle.http.cookies[COOKIE]
    assert len(value) >= 40 and "." not in value  # opaque: no token in the browser
    status = await whistle.status()
    assert status["signedIn"] is True
    assert status["name"] == "Jane Smith"
    assert status["roles"] == ["REFEREE"] and status["refereeId"] == JANE_SMITH
    ends = datetime.fromisoformat(status["expiresAt"].replace("Z", "+00:00"))
    assert 1700 < (ends - datetime.now(timezone.utc)).total_seconds() <= 1800  # the idle timeout


async def test_a_graphql_query_with_the_session_cookie_knows_the_caller(whistle: App) -> None:
    referee = '{ referee(id: "%s") { name } }' % JANE_SMITH
    assert (await whistle.gql(VIEWER))["data"] == {"viewer": {"role": "ANONYMOUS", "refereeId": None}}
    assert (await whistle.gql(referee))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    await whistle.sign_in("referee")
    assert (await whistle.gql(VIEWER))["data"] == {"viewer": {"role": "REFEREE", "refereeId": JANE_SMITH}}
    assert (await whistle.gql(referee))["data"] == {"referee": {"name": "Jane Smith"}}


async def test_a_cookie_authenticated_mutation_needs_an_allowed_origin(whistle: App) -> None:
    await whistle.sign_in("admin")
    mutation = 'mutation { createVenue(input: {name: "Hall", street: "S 1", zip: "8000", city: "Z"}) { name } }'
    refused = await whistle.gql(mutation, Origin="https://evil.example")
    assert refused["errors"][0]["extensions"] == {"code": "FORBIDDEN", "reason": "CSRF_ORIGIN"}
    assert (await whistle.gql(mutation, **ORIGIN))["data"] == {"createVenue": {"name": "Hall"}}
    over_get = await whistle.http.get("/graphql", params={"query": mutation})
    assert over_get.status_code in (400, 405) and "createVenue" not in over_get.text  # GET never mutates


async def test_an_expired_access_token_is_refreshed_without_interruption(whistle: App) -> None:
    await whistle.sign_in("referee")
    session_id = whistle.http.cookies[COOKIE]
    before = await whistle.sessions.store.get(session_id)
    assert before is not None and before.refresh_token

    await asyncio.sleep(ACCESS_TTL + 0.5)  # the access token has expired

    assert (await whistle.gql(VIEWER))["data"]["viewer"]["role"] == "REFEREE"
    after = await whistle.sessions.store.get(session_id)
    assert after is not None
    assert after.access_token != before.access_token
    assert after.refresh_token != before.refresh_token  # rotated, and stored
    assert after.access_expires_at > before.access_expires_at


async def test_parallel_requests_at_expiry_refresh_once(whistle: App, monkeypatch: pytest.MonkeyPatch) -> None:
    await whistle.sign_in("referee")
    refreshes = 0
    real_refresh = whistle.sessions.oidc.refresh

    async def counted(refresh_token: str):  # the real refresh, counted
        nonlocal refreshes
        refreshes += 1
        return await real_refresh(refresh_token)

    monkeypatch.setattr(whistle.sessions.oidc, "refresh", counted)
    await asyncio.sleep(ACCESS_TTL + 0.5)

    answers = await asyncio.gather(*(whistle.gql(VIEWER) for _ in range(6)))

    assert [a.get("data") for a in answers] == [{"viewer": {"role": "REFEREE", "refereeId": JANE_SMITH}}] * 6
    assert refreshes == 1
    assert (await whistle.status())["signedIn"] is True  # no rotated token was reused


async def test_reusing_a_rotated_refresh_token_is_refused_and_ends_the_session(
    whistle: App, oidc_provider: ProviderProcess
) -> None:
    await whistle.sign_in("referee")
    session_id = whistle.http.cookies[COOKIE]
    old = await whistle.sessions.store.get(session_id)
    assert old is not None and old.refresh_token

    refreshed = await whistle.http.post("/auth/refresh", headers=ORIGIN)
    assert refreshed.status_code == 200 and refreshed.json()["signedIn"] is True

    # Someone replays the old (rotated) refresh token: the provider refuses it and revokes the grant.
    settings = whistle.sessions.oidc
    async with httpx.AsyncClient(trust_env=False) as http:
        replay = await http.post(
            f"{oidc_provider.issuer}/token",
            data={"grant_type": "refresh_token", "refresh_token": old.refresh_token},
            auth=(settings.client_id, settings._secret),
        )
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"

    ended = await whistle.http.post("/auth/refresh", headers=ORIGIN)
    assert ended.status_code == 401
    error = ended.json()["errors"][0]
    assert error["extensions"] == {"code": "UNAUTHENTICATED", "reason": "SESSION_ENDED"}
    assert "sign in again" in error["message"]
    assert await whistle.sessions.store.get(session_id) is None
    assert await whistle.status() == {"signedIn": False, "loginUrl": "/auth/login"}


async def test_sign_out_revokes_ends_the_session_and_names_the_providers_logout(
    whistle: App, oidc_provider: ProviderProcess
) -> None:
    await whistle.sign_in("admin")
    session_id = whistle.http.cookies[COOKIE]
    session = await whistle.sessions.store.get(session_id)
    assert session is not None

    refused = await whistle.http.post("/auth/logout", headers={"Origin": "https://evil.example"})
    assert refused.status_code == 403 and refused.json()["errors"][0]["extensions"]["reason"] == "CSRF_ORIGIN"
    assert (await whistle.status())["signedIn"] is True

    answer = await whistle.http.post("/auth/logout", headers=ORIGIN)

    assert answer.status_code == 200
    body = answer.json()
    assert body["signedOut"] is True
    logout = urlsplit(body["logoutUrl"])
    assert f"{logout.scheme}://{logout.netloc}{logout.path}" == f"{oidc_provider.issuer}/session/end"
    assert query_of(body["logoutUrl"])["post_logout_redirect_uri"] == f"{BASE_URL}/"
    assert COOKIE not in whistle.http.cookies
    assert await whistle.sessions.store.get(session_id) is None
    # The refresh token was revoked at the provider.
    async with httpx.AsyncClient(trust_env=False) as http:
        oidc = whistle.sessions.oidc
        reuse = await http.post(
            f"{oidc_provider.issuer}/token",
            data={"grant_type": "refresh_token", "refresh_token": session.refresh_token},
            auth=(oidc.client_id, oidc._secret),
        )
    assert reuse.status_code == 400


@pytest.mark.parametrize("store_kind", ["redis"], indirect=False)
async def test_sign_out_ends_the_session_on_every_instance(open_app: OpenApp, store_kind: str) -> None:
    async with open_app() as first, open_app() as second:
        await first.sign_in("referee")
        cookie = first.http.cookies[COOKIE]
        second.http.cookies.set(COOKIE, cookie, domain="whistle.test")
        assert (await second.gql(VIEWER))["data"]["viewer"]["role"] == "REFEREE"  # any instance serves it

        assert (await first.http.post("/auth/logout", headers=ORIGIN)).status_code == 200

        answer = await second.gql(VIEWER)
        assert answer["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": "SESSION_ENDED"}
        assert (await second.status())["signedIn"] is False


@pytest.mark.parametrize("cookie", ["forged", "tampered"])
async def test_forged_or_tampered_session_cookies_sign_nobody_in(whistle: App, cookie: str) -> None:
    await whistle.sign_in("admin")
    value = whistle.http.cookies[COOKIE]
    whistle.http.cookies.clear()
    bad = secrets.token_urlsafe(48) if cookie == "forged" else value[:-1] + ("A" if value[-1] != "A" else "B")
    whistle.http.cookies.set(COOKIE, bad, domain="whistle.test")

    answer = await whistle.gql(VIEWER)

    assert answer["errors"][0]["extensions"] == {"code": "UNAUTHENTICATED", "reason": "SESSION_ENDED"}
    status = await whistle.http.get("/auth/status")
    assert status.json() == {"signedIn": False, "loginUrl": "/auth/login"}
    assert 'whistle_session=""' in status.headers["set-cookie"]  # the browser forgets it


async def test_an_idle_session_expires(open_app: OpenApp) -> None:
    async with open_app(session_idle_seconds=2) as whistle:
        await whistle.sign_in("referee")
        await asyncio.sleep(2.5)
        answer = await whistle.gql(VIEWER)
        assert answer["errors"][0]["extensions"]["reason"] == "SESSION_ENDED"


async def test_a_session_ends_at_its_absolute_lifetime_even_when_used(open_app: OpenApp) -> None:
    async with open_app(session_max_seconds=3) as whistle:
        await whistle.sign_in("referee")
        session_id = whistle.http.cookies[COOKIE]
        for _ in range(2):
            await asyncio.sleep(1)
            assert (await whistle.gql(VIEWER))["data"]["viewer"]["role"] == "REFEREE"
        await asyncio.sleep(1.5)
        # The browser has dropped the cookie (Max-Age); a copy of it is refused by the server.
        whistle.http.cookies.set(COOKIE, session_id, domain="whistle.test")
        assert (await whistle.gql(VIEWER))["errors"][0]["extensions"]["reason"] == "SESSION_ENDED"


# --- /auth/login and /auth/callback refusals ------------------------------------------------


@pytest.mark.parametrize("return_to", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"])
async def test_return_to_off_site_is_refused(whistle: App, return_to: str) -> None:
    answer = await whistle.http.get("/auth/login", params={"return_to": return_to})
    assert answer.status_code == 400
    assert "text/html" in answer.headers["content-type"] and "other sites" in answer.text


async def test_state_missing_wrong_or_reused_is_refused(whistle: App) -> None:
    login = await whistle.http.get("/auth/login")
    callback = await provider_login(login.headers["location"], "referee")
    code = query_of(callback)["code"]

    missing = await whistle.http.get("/auth/callback", params={"code": code})
    wrong = await whistle.http.get("/auth/callback", params={"code": code, "state": "made-up"})
    assert missing.status_code == 400 and "no state" in missing.text
    assert wrong.status_code == 400 and "unknown, was already used" in wrong.text
    assert "Try signing in again" in wrong.text

    assert (await whistle.http.get(callback)).status_code == 302
    whistle.http.cookies.clear()
    reused = await whistle.http.get(callback)
    assert reused.status_code == 400 and "already used" in reused.text
    assert COOKIE not in whistle.http.cookies


async def test_an_expired_state_is_refused(whistle: App, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sessions_module, "LOGIN_TTL_SECONDS", 1)
    login = await whistle.http.get("/auth/login")
    callback = await provider_login(login.headers["location"], "referee")
    await asyncio.sleep(1.5)
    answer = await whistle.http.get(callback)
    assert answer.status_code == 400 and "older than 10 minutes" in answer.text
    assert COOKIE not in whistle.http.cookies


async def test_a_reused_code_is_refused(whistle: App) -> None:
    login = await whistle.http.get("/auth/login")
    callback = await provider_login(login.headers["location"], "referee")
    assert (await whistle.http.get(callback)).status_code == 302
    whistle.http.cookies.clear()
    # A new sign-in's state with the old code: the provider refuses the code.
    state = query_of((await whistle.http.get("/auth/login")).headers["location"])["state"]
    answer = await whistle.http.get("/auth/callback", params={"code": query_of(callback)["code"], "state": state})
    assert answer.status_code == 400 and "already used or expired" in answer.text
    assert COOKIE not in whistle.http.cookies


async def test_the_provider_refusing_the_sign_in_shows_why(whistle: App) -> None:
    state = query_of((await whistle.http.get("/auth/login")).headers["location"])["state"]
    answer = await whistle.http.get(
        "/auth/callback", params={"error": "access_denied", "error_description": "The user said no", "state": state}
    )
    assert answer.status_code == 400 and "The user said no" in answer.text
    assert COOKIE not in whistle.http.cookies


async def test_an_account_without_a_whistle_role_gets_no_session(whistle: App) -> None:
    answer = await whistle.sign_in("nobody")
    assert answer.status_code == 403 and "no Whistle role" in answer.text
    assert COOKIE not in whistle.http.cookies


async def test_the_login_redirect_carries_pkce_state_and_nonce(whistle: App, oidc_provider: ProviderProcess) -> None:
    login = await whistle.http.get("/auth/login")
    params = query_of(login.headers["location"])
    assert login.headers["location"].startswith(f"{oidc_provider.issuer}/auth?")
    assert params["response_type"] == "code" and params["code_challenge_method"] == "S256"
    assert len(params["code_challenge"]) == 43 and params["state"] and params["nonce"]
    assert params["redirect_uri"] == f"{BASE_URL}/auth/callback"
    assert params["scope"] == "openid profile email"
