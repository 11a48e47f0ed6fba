"""The shipped deployment files are safe by default (README "Authentication and roles").

Docker is not run here: the Dockerfile's ENV and each whistle service of
docker-compose.yml (every profile) are read, merged as a container would see them, and
given to the same start-up check `whistle serve` runs. Plus the rule behind them: dev
mode (a request without a token is ADMIN) refuses any non-loopback bind address.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from app.config import Settings
from app.security.authn import AuthConfigError, check_auth_settings
from tests.e2e.processes import ROOT, whistle_env


def dockerfile_env() -> dict[str, str]:
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    env: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("ENV "):
            env.update(dict(item.split("=", 1) for item in shlex.split(line[4:])))
    return env


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def whistle_services() -> dict[str, dict[str, Any]]:
    """The services that run the whistle image (built from this repository)."""
    return {name: service for name, service in compose()["services"].items() if service.get("build") == "."}


def container_settings(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> Settings:
    for key in [k for k in os.environ if k.startswith("WHISTLE_")]:
        monkeypatch.delenv(key)
    for key, value in {**dockerfile_env(), **environment}.items():
        monkeypatch.setenv(key, str(value))
    return Settings()


def test_the_image_defaults_to_tokens_and_not_to_root(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = container_settings(monkeypatch, {})
    assert settings.host == "0.0.0.0" and settings.auth_mode == "jwt"
    with pytest.raises(AuthConfigError, match="WHISTLE_AUTH=jwt needs"):  # whose tokens: the deployment says
        check_auth_settings(settings)
    check_auth_settings(container_settings(monkeypatch, {"WHISTLE_JWT_LOCAL_KEYS": "/var/lib/whistle/keys"}))
    users = [line.split()[1] for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")


@pytest.mark.parametrize("name", sorted(whistle_services()))
def test_every_whistle_service_of_the_compose_file_is_safe(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    service = whistle_services()[name]
    settings = container_settings(monkeypatch, service.get("environment") or {})
    assert settings.auth_mode != "dev", f"{name}: whoever reaches it would be ADMIN"
    check_auth_settings(settings)
    assert settings.rate_limit_points > 0, f"{name}: the rate limit is off"
    if settings.jwt_local_keys:  # the key pair outlives the container and is the same for every service
        mounts = [str(v).split(":") for v in service.get("volumes") or []]
        assert [settings.jwt_local_keys] in [m[1:2] for m in mounts], f"{name}: the keys folder is not a volume"
        assert all(m[0] in compose()["volumes"] for m in mounts if m[1] == settings.jwt_local_keys)


def test_dev_mode_in_the_image_refuses_to_start(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AuthConfigError, match="WHISTLE_AUTH=dev is refused on 0.0.0.0"):
        check_auth_settings(container_settings(monkeypatch, {"WHISTLE_AUTH": "dev"}))


@pytest.mark.parametrize(
    ("host", "forced", "starts"),
    [
        pytest.param("127.0.0.1", False, True, id="loopback"),
        pytest.param("127.0.0.5", False, True, id="loopback-range"),
        pytest.param("localhost", False, True, id="localhost"),
        pytest.param("::1", False, True, id="ipv6-loopback"),
        pytest.param("0.0.0.0", False, False, id="all-ipv4-interfaces"),
        pytest.param("::", False, False, id="all-ipv6-interfaces"),
        pytest.param("192.168.1.5", False, False, id="lan-address"),
        pytest.param("whistle.example", False, False, id="host-name"),
        pytest.param("0.0.0.0", True, True, id="forced-with-WHISTLE_INSECURE_DEV_BIND"),
    ],
)
def test_dev_mode_listens_on_loopback_only_unless_forced(host: str, forced: bool, starts: bool) -> None:
    settings = Settings(auth="dev", host=host, insecure_dev_bind=forced)
    if starts:
        check_auth_settings(settings)
    else:
        with pytest.raises(AuthConfigError, match="WHISTLE_INSECURE_DEV_BIND"):
            check_auth_settings(settings)
    check_auth_settings(settings.model_copy(update={"auth": "jwt", "jwt_local_keys": "keys"}))  # jwt: any address


def test_whistle_serve_refuses_dev_mode_on_all_interfaces(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT, env=whistle_env(database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db"),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "WHISTLE_AUTH=dev is refused on 0.0.0.0" in result.stderr and "Traceback" not in result.stderr
