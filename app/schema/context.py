"""The typed context of one GraphQL request, or of one WebSocket connection."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import strawberry

from app.domain.errors import DomainError
from app.events.broker import Broker, Wants
from app.events.envelope import Envelope
from app.loaders import Loaders
from app.schema.cursors import CursorCodec
from app.security.identity import Identity
from app.services.deps import ServiceDeps


@dataclass
class Context:
    deps: ServiceDeps
    loaders: Loaders
    cursors: CursorCodec
    new_loaders: Callable[[], Loaders]
    broker: Broker | None = None
    request: Any = None
    response: Any = None
    # Who is calling (None: anonymous), or why the credentials were refused; see app.security.
    identity: Identity | None = None
    auth_error: DomainError | None = None
    csrf_error: DomainError | None = None  # set when this request's mutations would be CSRF
    connection_params: dict[str, Any] | None = None  # a WebSocket's connection_init payload

    async def events(self, wants: Wants, after: int | None = None) -> AsyncIterator[Envelope]:
        """The events a subscription wants, as they arrive on this instance; with `after`
        (an event position), first the ones after it (see `Broker.stream`).

        Strawberry builds the context once per WebSocket connection, so each event gets
        fresh DataLoaders: its payload is resolved against the committed state, not
        against whatever an earlier event cached.
        """
        if self.broker is None:
            raise RuntimeError("subscriptions need the event broker")
        async with aclosing(self.broker.stream(wants, after)) as events:  # unsubscribes at once when closed
            async for event in events:
                self.loaders = self.new_loaders()
                yield event


Info = strawberry.Info[Context, None]
