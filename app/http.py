"""The GraphQL HTTP/WebSocket endpoint: Strawberry's ASGI view with the contract's
answers to malformed requests (a JSON 400 with code BAD_REQUEST instead of text)."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from app.cache.port import Cache
from app.config import Settings
from app.events.broker import Broker
from app.loaders import Loaders
from app.repos.engine import read_only
from app.schema.context import Context
from app.schema.cursors import CursorCodec
from app.services.deps import ServiceDeps


def bad_request(message: str, status_code: int = 400) -> JSONResponse:
    return JSONResponse({"errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]}, status_code)


class GraphQLEndpoint(GraphQL[Context, None]):
    def __init__(
        self, schema: Any, deps: ServiceDeps, settings: Settings, broker: Broker, cache: Cache, **kwargs: Any
    ) -> None:
        super().__init__(schema, **kwargs)
        self._deps = deps
        self._broker = broker
        self._cache, self._cache_ttl = cache, settings.cache_ttl_seconds
        self._read_engine = read_only(deps.engine)
        secret = settings.cursor_secret or f"whistle-cursor:{settings.database_url}"
        self._cursors = CursorCodec(hashlib.sha256(secret.encode()).digest())

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        return Context(
            deps=self._deps,
            loaders=self._new_loaders(),
            cursors=self._cursors,
            new_loaders=self._new_loaders,
            broker=self._broker,
            request=request,
            response=response,
        )

    def _new_loaders(self) -> Loaders:
        return Loaders(self._read_engine, self._cache, self._cache_ttl)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive=receive))
        except HTTPException as error:
            response = bad_request(error.reason, error.status_code)
        await response(scope, receive, send)

    def parse_json(self, data: str | bytes) -> Any:
        parsed = super().parse_json(data)
        if not isinstance(parsed, (dict, list)):
            raise HTTPException(400, "The request body must be a JSON object with a `query`.")
        return parsed

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)
