"""`allowed_host`, the one Host check every entry point calls (app.security.hosts)."""

from __future__ import annotations

import pytest

from app.config import Settings
from app.security.hosts import LOOPBACK_NAMES, allowed_host, host_rule

CONFIGURED = ("whistle.example", "*.league.example")


@pytest.mark.parametrize(
    ("host", "rule", "allowed"),
    [
        pytest.param("localhost:8000", LOOPBACK_NAMES, True, id="localhost-with-port"),
        pytest.param("localhost", LOOPBACK_NAMES, True, id="localhost"),
        pytest.param("LOCALHOST.:80", LOOPBACK_NAMES, True, id="case-and-trailing-dot"),
        pytest.param("127.0.0.1:8000", LOOPBACK_NAMES, True, id="ipv4-loopback"),
        pytest.param("[::1]:8000", LOOPBACK_NAMES, True, id="ipv6-loopback"),
        pytest.param("[::1]", LOOPBACK_NAMES, True, id="ipv6-loopback-no-port"),
        pytest.param("::1", LOOPBACK_NAMES, False, id="ipv6-without-brackets-is-no-host-header"),
        pytest.param("rebind.attacker.example:8000", LOOPBACK_NAMES, False, id="rebound-name"),
        pytest.param("localhost.attacker.example", LOOPBACK_NAMES, False, id="localhost-prefix"),
        pytest.param("localhost:8000@attacker.example", LOOPBACK_NAMES, False, id="userinfo-trick"),
        pytest.param("127.0.0.1:8000:9000", LOOPBACK_NAMES, False, id="two-ports"),
        pytest.param("", LOOPBACK_NAMES, False, id="empty"),
        pytest.param(None, LOOPBACK_NAMES, False, id="no-host-header"),
        pytest.param("whistle.example", CONFIGURED, True, id="configured-name"),
        pytest.param("a.b.league.example:443", CONFIGURED, True, id="configured-subdomain"),
        pytest.param("league.example", CONFIGURED, False, id="pattern-is-subdomains-only"),
        pytest.param("evilleague.example", CONFIGURED, False, id="pattern-needs-the-dot"),
        pytest.param("anything.example", None, True, id="no-rule"),
        pytest.param(None, None, True, id="no-rule-no-host"),
    ],
)
def test_allowed_host(host: str | None, rule: tuple[str, ...] | None, allowed: bool) -> None:
    assert allowed_host(host, rule) is allowed


@pytest.mark.parametrize(
    ("settings", "rule"),
    [
        pytest.param({"auth": "dev"}, LOOPBACK_NAMES, id="dev-loopback-only"),
        pytest.param({"auth": "jwt"}, None, id="jwt-any-host"),
        pytest.param({"auth": "dev", "allowed_hosts": "A.example, *.b.example"}, ("a.example", "*.b.example"), id="configured"),
        pytest.param({"auth": "jwt", "allowed_hosts": "a.example"}, ("a.example",), id="configured-in-jwt-mode-too"),
        pytest.param({"auth": "dev", "allowed_hosts": "*"}, None, id="wildcard-any-host"),
    ],
)
def test_host_rule_of_the_settings(settings: dict[str, str], rule: tuple[str, ...] | None) -> None:
    assert host_rule(Settings(**settings)) == rule
