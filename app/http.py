"""The GraphQL HTTP/WebSocket endpoint: Strawberry's ASGI view with the contract's
answers to malformed requests (a JSON 400 with code BAD_REQUEST instead of text)."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import validate
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import (
    GRAPHQL_SSE_PROTOCOL,
    GRAPHQL_TRANSPORT_WS_PROTOCOL,
    GRAPHQL_WS_PROTOCOL,
    MULTIPART_SUBSCRIPTION_PROTOCOL,
)
from strawberry.types import ExecutionResult
from strawberry.types.unset import UNSET, UnsetType

from app.cache.port import Cache
from app.config import Settings
from app.domain.errors import DomainError
from app.events.broker import Broker
from app.graphql_http import graphql_http_answer, response_media_type
from app.http_streams import apply_stream_rules, until_credentials_end
from app.loaders import Loaders
from app.persisted_queries import PersistedQueries, PersistedQueryError, sends_new_text
from app.repos.engine import ReadConnections, read_only
from app.schema.context import Context
from app.schema.cursors import CursorCodec
from app.security.authn import Authentication, Authenticator
from app.schema.subscription_requests import NEEDS_STREAM, policy_refusal, subscription_document
from app.security.ratelimit import RateLimiter, charge, operation_type, rate_limited_error
from app.security.session_store import SessionStoreUnavailable
from app.security.sessions import SessionUnavailable
from app.security.ws_session import close_when_session_ends
from app.security.ws import LegacyWSHandler, TransportWSHandler
from app.services.deps import ServiceDeps


def bad_request(message: str, status_code: int = 400, reason: str | None = None) -> JSONResponse:
    extensions = {"code": "BAD_REQUEST"} if reason is None else {"code": "BAD_REQUEST", "reason": reason}
    return JSONResponse({"errors": [{"message": message, "extensions": extensions}]}, status_code)


class RateLimited(Exception):
    """The caller has spent its points of this minute (app.security.ratelimit)."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def too_many_requests(retry_after: int) -> JSONResponse:
    return JSONResponse({"errors": [rate_limited_error(retry_after)]}, 429, headers={"Retry-After": str(retry_after)})


class NeedsStream(Exception):
    """A subscription the caller may run, asked for as a single JSON answer."""


class BodyTooLarge(Exception):
    """The request body is over the `max_body_bytes` setting."""


def limited_receive(receive: Receive, max_bytes: int) -> Receive:
    """`receive` that raises BodyTooLarge as soon as the body has grown past `max_bytes`
    (whatever Content-Length said, e.g. for a chunked body)."""
    received = 0

    async def receive_limited() -> Any:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise BodyTooLarge
        return message

    return receive_limited


def _declared_length(request: Request) -> int:
    """The Content-Length header (0 when absent or not a number; the body is counted anyway)."""
    value = request.headers.get("content-length", "")
    return int(value) if value.isdigit() else 0


class GraphQLEndpoint(GraphQL[Context, None]):
    graphql_ws_handler_class = LegacyWSHandler  # graphql-ws with the connection_init timeout
    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(
        self,
        schema: Any,
        deps: ServiceDeps,
        settings: Settings,
        broker: Broker,
        cache: Cache,
        authenticator: Authenticator | None = None,
        rate_limiter: RateLimiter | None = None,
        tracer: Any = None,
        persisted: PersistedQueries | None = None,
        **kwargs: Any,
    ) -> None:
        # A socket must authenticate in connection_init within 10 s; the legacy protocol is off in production.
        # Subscriptions stream over HTTP too: Server-Sent Events and Apollo's multipart responses.
        kwargs.setdefault("connection_init_wait_timeout", timedelta(seconds=10))
        sockets = (GRAPHQL_TRANSPORT_WS_PROTOCOL,) if settings.is_production else (GRAPHQL_TRANSPORT_WS_PROTOCOL, GRAPHQL_WS_PROTOCOL)
        kwargs.setdefault("subscription_protocols", (*sockets, GRAPHQL_SSE_PROTOCOL, MULTIPART_SUBSCRIPTION_PROTOCOL))
        # WebSocket handshakes from these pages are accepted (Strawberry refuses other cross-site ones).
        kwargs.setdefault("allowed_origins", [o.strip() for o in settings.cors_origins.split(",") if o.strip()])
        super().__init__(schema, **kwargs)
        self._auth = authenticator or Authenticator.from_settings(settings)
        self._rate_limiter, self._tracer = rate_limiter, tracer
        self._persisted = persisted or PersistedQueries(None, 0)
        self._deps = deps
        self._broker = broker
        self._cache, self._cache_ttl = cache, settings.cache_ttl_seconds
        # The loaders' reads keep up to half the pool's connections open between reads (PostgreSQL).
        self.read_connections = ReadConnections(read_only(deps.engine), keep=settings.db_pool_size // 2)
        self._max_body_bytes = settings.max_body_bytes
        secret = settings.cursor_secret or f"whistle-cursor:{settings.database_url}"
        self._cursors = CursorCodec(hashlib.sha256(secret.encode()).digest())

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        # HTTP: each request authenticates; a WebSocket authenticates in connection_init (on_ws_connect).
        auth = Authentication(identity=None) if isinstance(request, WebSocket) else await self._auth.http(request)
        return Context(
            deps=self._deps,
            loaders=self._new_loaders(),
            cursors=self._cursors,
            new_loaders=self._new_loaders,
            broker=self._broker,
            request=request,
            response=response,
            identity=auth.identity,
            auth_error=auth.error,
            csrf_error=auth.csrf_error,
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate connection_init (`{"token": ...}` / `{"authorization": "Bearer ..."}`, else
        the handshake's header or cookie); a refused one closes the socket with 4403."""
        try:
            context.identity = await self._auth.websocket(context.request, context.connection_params)
        except DomainError as error:
            raise ConnectionRejectionError({"message": error.message, "extensions": error.extensions()}) from None
        except (SessionUnavailable, SessionStoreUnavailable) as error:
            raise ConnectionRejectionError(
                {"message": session_unavailable(error)[1], "extensions": {"code": "SERVICE_UNAVAILABLE"}}
            ) from None
        if context.identity is not None and context.identity.session_id and self._auth.sessions is not None:
            close_when_session_ends(context.request, self._auth.sessions, context.identity.session_id)
        return UNSET

    @property
    def rate_limiter(self) -> RateLimiter | None:
        return self._rate_limiter

    async def charge_caller(self, context: Context, request: Any, query: str | None, operation_name: str | None) -> int | None:
        """Spend the operation's points of the caller's budget: None when allowed (or rate
        limiting is off), else the seconds to wait. Both lanes call it (app.lean_lane)."""
        if self._rate_limiter is None:
            return None
        return await charge(self._rate_limiter, context, request, query, operation_name)

    @property
    def persisted(self) -> PersistedQueries:
        return self._persisted

    def _new_loaders(self) -> Loaders:
        return Loaders(self.read_connections, self._cache, self._cache_ttl, tracer=self._tracer)

    async def execute_operation(
        self, request: Any, request_adapter: Any, request_data: Any, context: Any, **kwargs: Any
    ) -> Any:
        """Resolve a persisted query's text, charge the caller's rate-limit budget (query 1,
        mutation 5) before anything runs; answer only once every read the operation started
        has finished. A persisted query's new text is stored only once it has run as the
        operation of a signed-in caller (within the rate limit and every operation limit)."""
        new_text = not isinstance(request_data, list) and sends_new_text(request_data.query, request_data.extensions)
        if not isinstance(request_data, list):
            request_data.query = await self._persisted.query_of(request_data.query, request_data.extensions)
            apply_stream_rules(request, request_data, context)  # SSE and multipart subscriptions
        if not isinstance(request_data, list):
            retry_after = await self.charge_caller(context, request, request_data.query, request_data.operation_name)
            if retry_after is not None:
                raise RateLimited(retry_after)
        if not isinstance(request_data, list) and request_data.protocol == "http":
            refused = self._subscription_refusal(request_data, context)
            if refused is not None:
                return refused
        try:
            result = await super().execute_operation(
                request=request, request_adapter=request_adapter, request_data=request_data, context=context, **kwargs
            )
        finally:
            await context.loaders.settle()  # reads of abandoned fields finish before the response goes
        if isinstance(request_data, list):
            return result
        if new_text and _ran_for_a_signed_in_caller(result, context):
            await self._persisted.remember(request_data.query)
        return until_credentials_end(result, request_data, context, self._auth.sessions)

    def _subscription_refusal(self, request_data: Any, context: Context) -> ExecutionResult | None:
        """A subscription asked for as one JSON answer: the policy's refusal; else, when the
        document is valid, NeedsStream."""
        if operation_type(request_data.query, request_data.operation_name) != "subscription":
            return None  # the cheap scan: most requests are not subscriptions
        document = subscription_document(request_data.query, request_data.operation_name)
        if document is None:
            return None
        schema = self.schema._schema  # graphql-core's schema
        error = policy_refusal(schema, document, request_data.operation_name, request_data.variables, context)
        if error is not None:
            return ExecutionResult(data=None, errors=[error])
        if validate(schema, document, max_errors=1):
            return None  # the normal path reports what is wrong with it (and runs nothing)
        raise NeedsStream

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive=limited_receive(receive, self._max_body_bytes))
        try:
            if _declared_length(request) > self._max_body_bytes:
                raise BodyTooLarge  # refused before reading the body
            response = await self.run(request)
        except HTTPException as error:
            response = bad_request(error.reason, error.status_code)
        except NeedsStream:
            response = bad_request(NEEDS_STREAM, 400, reason="SUBSCRIPTION_NEEDS_STREAM")
        except RateLimited as refused:
            response = too_many_requests(refused.retry_after)
        except PersistedQueryError as refused:
            response = JSONResponse(refused.body(), refused.status)
        except (SessionUnavailable, SessionStoreUnavailable) as error:
            reason, message = session_unavailable(error)
            response = JSONResponse(
                {"errors": [{"message": message, "extensions": {"code": "SERVICE_UNAVAILABLE", "reason": reason}}]},
                503,
                headers={"Retry-After": "5"},
            )
        except BodyTooLarge:
            response = bad_request(
                f"The request body is larger than {self._max_body_bytes} bytes; send a smaller request.",
                413,
                reason="BODY_LIMIT",
            )
        if isinstance(response, JSONResponse):  # the refusals above, in the media type the client asked for
            response.headers["content-type"] = response_media_type(request.headers.get("accept"))
        await response(scope, receive, send)

    def parse_json(self, data: str | bytes) -> Any:
        parsed = super().parse_json(data)
        if not isinstance(parsed, (dict, list)):
            raise HTTPException(400, "The request body must be a JSON object with a `query`.")
        return parsed

    def decode_json(self, data: str | bytes) -> object:
        """Strict JSON (HTTP bodies, GET parameters, WebSocket messages): a lone surrogate
        ("\\ud800") is malformed JSON here, never text that later fails to be stored or sent."""
        return orjson.loads(data)

    def encode_json(self, data: object) -> str:
        """Text, not bytes: Strawberry sends bytes as BINARY WebSocket frames, which
        JavaScript graphql-ws clients (browsers, the Hive Gateway) cannot read."""
        return json_bytes(data).decode()

    async def get_sub_response(self, request: Request) -> Response:
        """The response's media type is negotiated once, from the request's Accept header."""
        sub_response = await super().get_sub_response(request)
        sub_response.media_type = response_media_type(request.headers.get("accept"))
        return sub_response

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """HTTP answers get orjson's bytes as they are (no str round trip of a ~60 KB page),
        in the negotiated media type with its status code (app.graphql_http)."""
        media_type = sub_response.media_type or response_media_type(None)
        status, body = graphql_http_answer(media_type, response_data)
        response = Response(json_bytes(body), status_code=sub_response.status_code or status, media_type=media_type)
        response.headers.raw.extend(sub_response.headers.raw)
        response.background = sub_response.background
        return response


def _ran_for_a_signed_in_caller(result: Any, context: Context) -> bool:
    """The operation parsed, validated and passed every limit (it has data), and its caller
    is signed in (dev mode's implicit ADMIN included)."""
    signed_in = context.identity is not None and context.auth_error is None
    return signed_in and isinstance(result, ExecutionResult) and result.data is not None


def session_unavailable(error: Exception) -> tuple[str, str]:
    """(reason, message) of a session that cannot be served now (Redis or the provider down)."""
    if isinstance(error, SessionUnavailable):
        return error.reason, error.message
    return "SESSION_STORE_UNAVAILABLE", "Sessions cannot be read right now; try again shortly."


def json_bytes(data: object) -> bytes:
    try:
        return orjson.dumps(data)
    except TypeError:  # text orjson refuses (a lone surrogate): escaped instead of a 500
        return json.dumps(data, separators=(",", ":")).encode()
