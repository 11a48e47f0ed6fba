"""The OpenID Provider of the sign-in tests: `oidc-provider` (Node) as a real process.

tests/oidc/provider/ holds its script and lock file; node_modules is installed with
`npm ci` when missing (as gateway/ is). Without Node / npm the tests skip loudly, or
fail when WHISTLE_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from tests.npm import npm_ci

PROVIDER_DIR = Path(__file__).parent / "provider"
USERS = {"admin": "admin-password", "referee": "referee-password", "nobody": "nobody-password"}
JANE_SMITH = "e1214a09-42e1-4194-9acc-d310172d001a"  # the referee user's referee id (a demo referee)
ACCESS_TTL = 4  # seconds: refreshes happen within a test


def missing(reason: str) -> None:
    if os.environ.get("WHISTLE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"the sign-in tests need {reason} (WHISTLE_REQUIRE_SERVICES=1)", pytrace=False)
    pytest.skip(f"SIGN-IN TESTS SKIPPED: {reason}")


def install_provider() -> None:
    """tests/oidc/provider/node_modules, installed with `npm ci` from the lock file when missing."""
    npm_ci(PROVIDER_DIR, missing)


class ProviderProcess:
    def __init__(self, port: int, log_dir: Path) -> None:
        self.port = port
        self.issuer = f"http://127.0.0.1:{port}"
        self.log_path = log_dir / f"oidc-provider-{port}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def start(self, timeout: float = 30.0) -> ProviderProcess:
        install_provider()
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        env = {**os.environ, "ACCESS_TTL": str(ACCESS_TTL)}
        self.process = subprocess.Popen(
            ["node", "provider.mjs", str(self.port)], cwd=PROVIDER_DIR, env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0, trust_env=False) as http:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"oidc-provider exited on start:\n{self.output()}")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(f"{self.issuer}/.well-known/openid-configuration").status_code == 200:
                        return self
                if time.monotonic() > deadline:
                    self.stop()
                    raise AssertionError(f"oidc-provider did not start in {timeout} s:\n{self.output()}")
                time.sleep(0.1)

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    def register(self, redirect_uri: str, **metadata: Any) -> tuple[str, str]:
        """A new confidential client (Dynamic Client Registration): (client_id, client_secret)."""
        origin = "{0.scheme}://{0.netloc}/".format(urlsplit(redirect_uri))
        body = {
            "redirect_uris": [redirect_uri],
            "post_logout_redirect_uris": [origin],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            **metadata,
        }
        response = httpx.post(f"{self.issuer}/reg", json=body, trust_env=False)
        assert response.status_code == 201, response.text
        client = response.json()
        return client["client_id"], client["client_secret"]


async def provider_login(authorization_url: str, user: str = "referee", password: str | None = None) -> str:
    """Sign in on the provider's own login form over HTTP, as a browser would; the URL the
    provider sends the browser back to (Whistle's /auth/callback?code=...&state=...)."""
    async with httpx.AsyncClient(trust_env=False, timeout=10) as browser:
        url = authorization_url
        response = await browser.get(url)
        while response.status_code in (302, 303):
            url = urljoin(url, response.headers["location"])
            if not url.startswith(authorization_url.split("/auth?")[0]):
                return url  # leaving the provider: back to the client
            if "/interaction/" in url and response.request.method == "GET":
                page = await browser.get(url)
                assert page.status_code == 200 and "Sign in to the league" in page.text, page.text
                response = await browser.post(
                    url, data={"username": user, "password": USERS.get(user, "") if password is None else password}
                )
                if response.status_code == 200:
                    raise AssertionError(f"the provider refused the credentials: {response.text}")
                continue
            response = await browser.get(url)
        raise AssertionError(f"the provider answered {response.status_code}: {response.text[:500]}")


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
