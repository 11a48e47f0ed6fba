"""Runs one operation in-process through a schema, on the seeded demo league, and gives
its response as JSON text: the differential tests compare these texts byte for byte."""

from __future__ import annotations

import json
import re
from datetime import timedelta, timezone
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine

from app.cache.memory_cache import MemoryCache
from app.domain.calendar import LeagueCalendar
from app.loaders import Loaders
from app.repos.engine import read_only
from app.schema.context import Context
from app.schema.cursors import CursorCodec
from app.security.identity import Identity, Role
from app.services.deps import ServiceDeps
from tests.federation.corpus import League, known_league

CALENDAR = LeagueCalendar(timezone.utc, timedelta(minutes=150))
ADMIN = Identity(role=Role.ADMIN, subject="admin")
# Masked errors carry a fresh correlation id each time (32 hex digits; UUIDs have dashes).
_CORRELATION_ID = re.compile(r"\b[0-9a-f]{32}\b")


def referee_identity(referee_id: str) -> Identity:
    return Identity(role=Role.REFEREE, referee_id=UUID(referee_id), subject="referee")


def new_context(engine: AsyncEngine, identity: Identity | None, cache: MemoryCache | None = None) -> Context:
    """A request's context; its directory cache is `cache` (shared by the caller) or its own."""

    def loaders() -> Loaders:
        return Loaders(read_only(engine), MemoryCache() if cache is None else cache)

    return Context(
        deps=ServiceDeps(engine, CALENDAR),
        loaders=loaders(),
        cursors=CursorCodec(b"compiled-execution-tests"),
        new_loaders=loaders,
        identity=identity,
    )


async def run(
    schema: Any,
    engine: AsyncEngine,
    query: str,
    variables: dict[str, Any] | None = None,
    identity: Identity | None = ADMIN,
    operation_name: str | None = None,
    cache: MemoryCache | None = None,
) -> str:
    """The response as the HTTP layer would shape it (data, then errors), as JSON text."""
    context = new_context(engine, identity, cache)
    try:
        result = await schema.execute(
            query, variable_values=variables, context_value=context, operation_name=operation_name
        )
    finally:
        await context.loaders.settle()
    response: dict[str, Any] = {"data": result.data}
    if result.errors:
        response["errors"] = [error.formatted for error in result.errors]
    return _CORRELATION_ID.sub("<correlation id>", json.dumps(response))


async def league_of(schema: Any, engine: AsyncEngine) -> League:
    """Ids of the demo league, as the federation corpus chooses them (read as ADMIN)."""

    async def side(query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        return json.loads(await run(schema, engine, query, variables, ADMIN))

    return await known_league(side)  # type: ignore[arg-type]
