"""The oidc mode's settings and its neighbours: incomplete settings refuse to start, the
production cookie, bearer tokens next to sessions, /auth/status in the other modes."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import Settings
from app.security.authn import AuthConfigError, check_auth_settings
from app.security.session_store import MemorySessionStore, RedisSessionStore, create_session_store
from tests.oidc.conftest import App, OpenApp, running
from tests.oidc.provider_process import JANE_SMITH

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("missing", ["oidc_issuer", "oidc_client_id", "oidc_client_secret"])
def test_oidc_mode_without_its_provider_settings_refuses_to_start(missing: str) -> None:
    values = {"auth": "oidc", "oidc_issuer": "https://sso.example/realms/league", "oidc_client_id": "whistle",
              "oidc_client_secret": "s3cret", missing: None}
    with pytest.raises(AuthConfigError, match=f"WHISTLE_{missing.upper()}"):
        check_auth_settings(Settings(**values))


def test_sessions_live_in_redis_when_a_redis_url_is_set() -> None:
    assert isinstance(create_session_store(None), MemorySessionStore)
    assert isinstance(create_session_store("redis://127.0.0.1:1/0"), RedisSessionStore)


@pytest.mark.parametrize("store_kind", ["memory"])
async def test_in_production_the_cookie_is_host_prefixed_and_secure(open_app: OpenApp, store_kind: str) -> None:
    async with open_app(env="production", cursor_secret="test-secret") as whistle:
        answer = await whistle.sign_in("referee")
        assert answer.status_code == 302
        cookie = answer.headers["set-cookie"]
        assert cookie.startswith("__Host-whistle_session=")
        assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie and "Domain" not in cookie


@pytest.mark.parametrize("store_kind", ["memory"])
async def test_bearer_tokens_keep_working_next_to_sessions(whistle: App, store_kind: str) -> None:
    await whistle.sign_in("referee")
    session = await whistle.sessions.store.get(whistle.http.cookies["whistle_session"])
    assert session is not None
    whistle.http.cookies.clear()
    answer = await whistle.http.post(
        "/graphql",
        json={"query": "{ viewer { role refereeId } }"},
        headers={"Authorization": f"Bearer {session.access_token}"},
    )
    assert answer.json()["data"] == {"viewer": {"role": "REFEREE", "refereeId": JANE_SMITH}}


@pytest.mark.parametrize("auth", ["dev", "jwt"])
async def test_other_modes_say_they_do_not_sign_people_in(tmp_path: Path, auth: str) -> None:
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db", seed_demo=False, auth=auth,
        jwt_local_keys=str(tmp_path / "keys") if auth == "jwt" else None,
        allowed_hosts="whistle.test",  # dev mode answers loopback names only unless told (DNS rebinding)
    )
    async with running(settings) as whistle:
        assert (await whistle.http.get("/auth/status")).json() == {"signedIn": False, "loginUrl": None}
        assert (await whistle.http.get("/auth/login")).status_code == 404
        assert whistle.app.state.sessions is None
