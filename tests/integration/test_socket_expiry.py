"""ExpiryWatch: a socket is closed (4401) when its context's identity expires; a replaced
identity moves the deadline (how a refreshed session plugs in)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import pytest

from app.security.expiry import EXPIRED_CLOSE_CODE, ExpiryWatch
from app.security.identity import DEV_ADMIN, Identity, Role


@dataclass
class Context:
    identity: Identity | None


@dataclass
class Socket:
    closed: list[tuple[int, str]] = field(default_factory=list)

    async def close(self, code: int, reason: str) -> None:
        self.closed.append((code, reason))


def admin(expires_in: float) -> Identity:
    return Identity(role=Role.ADMIN, subject="a", expires_at=datetime.now(timezone.utc) + timedelta(seconds=expires_in))


@pytest.mark.parametrize(
    ("identity", "wait", "closed"),
    [
        pytest.param(lambda: admin(0.2), 0.5, True, id="closed-at-expiry"),
        pytest.param(lambda: admin(-1), 0.05, True, id="already-expired-closed-at-once"),
        pytest.param(lambda: admin(5), 0.3, False, id="open-before-expiry"),
        pytest.param(lambda: DEV_ADMIN, 0.3, False, id="no-expiry-never-closed"),
        pytest.param(lambda: None, 0.3, False, id="no-identity-never-closed"),
    ],
)
async def test_a_socket_is_closed_when_its_identity_expires(identity, wait: float, closed: bool) -> None:  # type: ignore[no-untyped-def]
    socket = Socket()
    watch = ExpiryWatch(Context(identity()), socket.close)
    watch.watch()
    await asyncio.sleep(wait)
    await watch.stop()
    assert [code for code, _ in socket.closed] == ([EXPIRED_CLOSE_CODE] if closed else [])


async def test_a_replaced_identity_moves_the_deadline() -> None:
    socket = Socket()
    context = Context(admin(0.2))
    watch = ExpiryWatch(context, socket.close)
    watch.watch()
    context.identity = admin(0.6)  # a refreshed session, before the first deadline
    await asyncio.sleep(0.4)
    assert socket.closed == []
    await asyncio.sleep(0.4)
    await watch.stop()
    assert [code for code, _ in socket.closed] == [EXPIRED_CLOSE_CODE]
