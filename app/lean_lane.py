"""The lean lane: a POST /graphql whose answer is certain goes the short way.

A query whose document is cached and valid and whose plan is compiled spends, on the
generic lane, about as much CPU in the machinery around the plan as in the plan itself
(Starlette's middleware chain and router, Strawberry's HTTP view and `Schema.execute`
with its extension stages, graphql-core's `execute`). The lean lane answers such a
request directly:

    ASGI -> body (orjson) -> APQ lookup -> document cache -> limits -> variables -> plan
         -> authentication (context) -> rate limit -> run the plan -> orjson bytes

calling the SAME functions the generic lane calls for each step (authentication and the
CSRF verdict in `GraphQLEndpoint.get_context`, the rate limit in `charge_caller`, APQ in
`PersistedQueries.query_of`, the limits' verdict in the document cache's `Entry`, the
error contract in `contract_errors`, the access line in `LoggedOperation`, request ids in
`request_id_for`), so a change to any of them holds on both lanes.

Everything whose answer is not certain goes to the generic lane, untouched (the body read
so far is replayed): another method or path, a body that is not a JSON object of the
usual shape, an `Accept` that names other than JSON media types (a stream; see
`lean_media_type`), an APQ registration (text and hash: the generic lane decides when a text is stored), a document
not cached yet or with errors, a limit refused, variables that do not coerce, a mutation,
subscription or introspection, an operation without a compiled plan. Every such decision
is taken before anything is spent or logged, so a request is never charged twice.

Off with WHISTLE_LEAN_LANE=0; also off when there is nothing to compile or cache
(WHISTLE_COMPILED_EXECUTION=0, WHISTLE_DOCUMENT_CACHE_SIZE=0) or tracing is on (its spans
come from the schema extensions of the generic lane).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from graphql import (
    FragmentDefinitionNode,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    default_field_resolver,
    default_type_resolver,
)
from graphql.execution.collect_fields import FragmentDetails
from graphql.execution.values import get_variable_values
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import Message, Receive, Scope, Send
from strawberry.execution.is_awaitable import optimized_is_awaitable

from app.config import Settings
from app.execution.executor import CompiledExecutor, Refused, cached_plan, execution_counts
from app.graphql_http import GRAPHQL_RESPONSE_JSON, LEGACY_JSON, graphql_http_answer, response_media_type
from app.http import GraphQLEndpoint, json_bytes, too_many_requests
from app.observability import REQUEST_ID_HEADER, LoggedOperation, RequestIdMiddleware, error_codes, request_id_for, request_id_var, user_id_of
from app.persisted_queries import PersistedQueryError
from app.schema.errors import contract_errors
from app.security.hosts import HostGuard, allowed_host, host_of
from app.schema.limits import TIMED_OUT, timed_out_result, within_timeout

log = logging.getLogger("whistle.lean_lane")


ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


_JSON_TYPES = frozenset({"*/*", "application/*", LEGACY_JSON, GRAPHQL_RESPONSE_JSON})


def lean_media_type(accept: str | None) -> str | None:
    """The media type the lean lane answers a request with this `Accept` header in (the
    generic lane's negotiation, app.graphql_http), or None when the generic lane must answer:
    an `Accept` that names anything but JSON media types (a stream: SSE, multipart)."""
    if accept is not None and not {part.split(";", 1)[0].strip().lower() for part in accept.split(",")} <= _JSON_TYPES:
        return None
    return response_media_type(accept)


class _Prepared:
    """What one query operation of a cached document needs on every request, made once."""

    __slots__ = ("operation", "name", "fragment_definitions", "fragments")

    def __init__(self, operation: OperationDefinitionNode, document: Any) -> None:
        self.operation = operation
        self.name = operation.name.value if operation.name else None
        self.fragment_definitions: dict[str, FragmentDefinitionNode] = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        # Fragment variables are refused by the plan builder; a fragment needs no signatures.
        self.fragments = {name: FragmentDetails(d, None) for name, d in self.fragment_definitions.items()}


def _prepare(document: Any, operation_name: str | None) -> _Prepared | None:
    """The query operation `operation_name` selects (None: not a query, or not exactly one)."""
    found = None
    for definition in document.definitions:
        if not isinstance(definition, OperationDefinitionNode):
            continue
        if operation_name is None:
            if found is not None:
                return None  # several operations and no name: graphql-core's error
            found = definition
        elif definition.name is not None and definition.name.value == operation_name:
            found = definition
    if found is None or found.operation is not OperationType.QUERY or found.loc is None:
        return None
    if any(d.variable_definitions for d in document.definitions if isinstance(d, FragmentDefinitionNode)):
        return None
    return _Prepared(found, document)


class LeanLane:
    """The ASGI entry of the application: answers the requests it can, passes the rest to
    `generic` (the Starlette application: middleware, routes, Strawberry's view)."""

    def __init__(
        self,
        generic: ASGIApp,
        endpoint: GraphQLEndpoint,
        *,
        cors: CORSMiddleware | None,
        max_body_bytes: int,
        host_rule: Any = None,
        path: str = "/graphql",
    ) -> None:
        self.generic = generic
        self.endpoint = endpoint
        schema = endpoint.schema
        self.schema = schema
        self.graphql_schema: GraphQLSchema = schema._schema
        self.store = schema.document_store
        self.limits = schema.operation_limits
        self.hide_suggestions = schema.hide_suggestions
        self.cors = cors
        self.host_rule = host_rule
        self.max_body_bytes = max_body_bytes
        self.path = path
        # Requests by lane, and why the generic lane got the others (GET /healthz shows them).
        self.counts: Counter[str] = Counter()
        self.queries = execution_counts(self.graphql_schema)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path:
            await self.generic(scope, receive, send)
            return
        headers = _headers(scope)
        reason = self._refusal(scope, headers)
        if reason is not None:
            await self._generic(reason, scope, receive, send)
            return
        messages, body = await _read_body(receive, self.max_body_bytes)
        reason = "body" if body is None else await self._answer(scope, receive, send, headers, body)  # type: ignore[arg-type]
        if reason is not None:
            await self._generic(reason, scope, _replaying(messages, receive), send)  # the body once more

    # --- the decisions ---------------------------------------------------------------------

    def _refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        """Why the headers alone send the request to the generic lane (None: they do not).
        One check per line: a new check that both lanes must make is one more line here."""
        if self.host_rule is not None and not allowed_host(host_of(scope), self.host_rule):
            return "host"  # HostGuard refuses it there (DNS rebinding)
        if b"application/json" not in headers.get(b"content-type", b"").lower():
            return "content type"
        accept = headers.get(b"accept")
        if lean_media_type(None if accept is None else accept.decode("latin-1")) is None:
            return "accept"
        if b"transfer-encoding" in headers or not headers.get(b"content-length", b"").isdigit():
            return "body length"
        if int(headers[b"content-length"]) > self.max_body_bytes:
            return "body length"  # refused with 413 there
        return None

    async def _answer(self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes], body: bytes) -> str | None:
        """Answer the request and return None, or return why the generic lane must (then
        nothing has been spent, logged or sent)."""
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return "body"
        if type(data) is not dict:
            return "body"
        query, variables = data.get("query"), data.get("variables")
        operation_name, extensions = data.get("operationName"), data.get("extensions")
        if not (
            (query is None or type(query) is str)
            and (variables is None or type(variables) is dict)
            and (operation_name is None or type(operation_name) is str)
            and (extensions is None or type(extensions) is dict)
        ):
            return "body"
        if extensions is not None and "persistedQuery" in extensions:
            if query is not None:
                return "persisted query registration"
            try:
                query = await self.endpoint.persisted.query_of(None, extensions)
            except PersistedQueryError:
                return "persisted query"
        if query is None:
            return "no query"
        entry = self.store.get(query)  # type: ignore[union-attr]
        if entry is None:
            return "document not cached"
        if entry.errors:
            return "invalid document"
        prepared = entry.operations.get(operation_name)
        if prepared is None:
            prepared = _prepare(entry.document, operation_name)
            if prepared is None:
                return "not one query operation"  # not kept: the names a client sends are unbounded
            entry.operations[operation_name] = prepared
        if entry.limit_errors(self.graphql_schema, variables, self.limits):  # type: ignore[arg-type]
            return "limits"
        coerced = get_variable_values(self.graphql_schema, prepared.operation.variable_definitions or (), variables or {})
        if isinstance(coerced, list):
            return "variables"
        plan = cached_plan(self.graphql_schema, prepared.operation, coerced.coerced)
        if plan is None:
            return "no plan yet"
        if type(plan) is Refused:
            return "not compiled"
        self.counts["lean"] += 1
        self.queries["compiled"] += 1  # as CompiledExecutor counts the plans it runs
        request_id = request_id_for(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        try:
            status, response_headers, answer = await self._execute(
                Request(scope, receive), query, operation_name or prepared.name, extensions, prepared, coerced, plan
            )
        except Exception:
            # As Starlette's ServerErrorMiddleware: a plain 500, and the exception goes on to
            # the server, which logs it.
            await send({"type": "http.response.start", "status": 500, "headers": _PLAIN_500_HEADERS})
            await send({"type": "http.response.body", "body": _PLAIN_500})
            raise
        finally:
            request_id_var.reset(token)
        # As Starlette's Response with RequestIdMiddleware and CORSMiddleware around it.
        response_headers = [*(h for h in response_headers if h[0].lower() != _REQUEST_ID), (_REQUEST_ID, request_id.encode("latin-1"))]
        start = {"type": "http.response.start", "status": status, "headers": response_headers}
        if self.cors is None:
            await send(start)
        else:
            await self.cors.send(start, send, Headers(scope=scope))  # the same instance's headers
        await send({"type": "http.response.body", "body": answer})
        return None

    async def _execute(
        self,
        request: Request,
        query: str,
        operation_name: str | None,
        extensions: dict[str, Any] | None,
        prepared: _Prepared,
        variables: Any,
        plan: Any,
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """Authenticate, charge, run the plan: (status, headers, body), as the generic lane
        answers."""
        endpoint = self.endpoint
        sub_response = await endpoint.get_sub_response(request)
        context = await endpoint.get_context(request, response=sub_response)
        retry_after = await endpoint.charge_caller(context, request, query, operation_name)
        if retry_after is not None:
            refused = too_many_requests(retry_after)
            refused.headers["content-type"] = response_media_type(request.headers.get("accept"))  # as GraphQLEndpoint
            return refused.status_code, refused.raw_headers, refused.body
        logged = LoggedOperation(operation_name, user_id_of(context))
        executor = CompiledExecutor(
            self.graphql_schema,
            prepared.fragment_definitions,
            prepared.fragments,
            None,
            context,
            prepared.operation,
            variables,
            default_field_resolver,
            default_type_resolver,
            default_field_resolver,
            is_awaitable=optimized_is_awaitable,
            operation_extensions=extensions,
        )
        try:
            result = await within_timeout(self.schema.execution_timeout, executor._run(plan))
            if result is TIMED_OUT:
                result = timed_out_result(self.schema.execution_timeout)  # type: ignore[arg-type]
            errors = contract_errors(result.errors, True, self.hide_suggestions) if result.errors else None
            logged.end(operation_name, "query", error_codes(errors))
        finally:
            await context.loaders.settle()  # reads of abandoned fields finish before the response goes
        answer: dict[str, Any] = {"data": result.data}
        if errors:
            answer["errors"] = [error.formatted for error in errors]
        # As GraphQLEndpoint.create_response: the negotiated media type, its status code and body.
        media_type = sub_response.media_type or response_media_type(None)
        status, answer = graphql_http_answer(media_type, answer)
        body = json_bytes(answer)
        headers = [(b"content-length", str(len(body)).encode()), (b"content-type", media_type.encode()), *sub_response.headers.raw]
        return sub_response.status_code or status, headers, body

    async def _generic(self, reason: str, scope: Scope, receive: Receive, send: Send) -> None:
        self.counts["generic"] += 1
        self.counts[f"generic: {reason}"] += 1
        await self.generic(scope, receive, send)


class LeanApp(Starlette):
    """The Starlette application with the lean lane in front (`install_lean_lane`)."""

    lane: LeanLane | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.lane is None:
            await super().__call__(scope, receive, send)
        else:
            await self.lane(scope, receive, send)

    async def generic(self, scope: Scope, receive: Receive, send: Send) -> None:
        await super().__call__(scope, receive, send)


def install_lean_lane(app: LeanApp, endpoint: GraphQLEndpoint, settings: Settings, tracing: bool) -> None:
    """Put the lean lane in front of `app` when the settings allow it (see the module doc)."""
    schema = endpoint.schema
    if not settings.lean_lane or tracing or schema.execution_context_class is not CompiledExecutor:
        return
    if getattr(schema, "document_store", None) is None:
        return
    # The lane gives its answers what the app's middleware gives them: request ids (the same
    # functions) and CORS headers (the same CORSMiddleware configuration and code). With any
    # other middleware it stays off rather than answer without it.
    cors, host_rule = None, None
    for middleware in app.user_middleware:
        if middleware.cls is CORSMiddleware:
            cors = CORSMiddleware(_unused_app, *middleware.args, **middleware.kwargs)
        elif middleware.cls is HostGuard:
            host_rule = middleware.kwargs["rule"]  # the same rule, checked with the same functions
        elif middleware.cls is not RequestIdMiddleware:
            log.warning("the lean lane is off: it does not know the middleware %s", middleware.cls.__name__)
            return
    app.lane = LeanLane(app.generic, endpoint, cors=cors, max_body_bytes=settings.max_body_bytes, host_rule=host_rule)


async def _unused_app(scope: Scope, receive: Receive, send: Send) -> None:  # pragma: no cover
    raise RuntimeError("the lean lane calls its CORSMiddleware's `send` only")


def operation_counts(app: LeanApp, endpoint: GraphQLEndpoint) -> dict[str, Any]:
    """What GET /healthz reports: how requests went (lean or generic lane, and why) and how
    queries ran (compiled, or fell back to graphql-core, and why)."""
    lane = app.lane
    return {
        "lean_lane": "on" if lane is not None else "off",
        "requests": dict(sorted(lane.counts.items())) if lane is not None else {},
        "queries": dict(sorted(execution_counts(endpoint.schema._schema).items())),
    }


# --- HTTP -----------------------------------------------------------------------------------


def _headers(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by lower-case name (ASGI servers give lower-case names); the
    first of repeated ones."""
    headers: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        headers.setdefault(name, value)
    return headers


async def _read_body(receive: Receive, max_bytes: int) -> tuple[list[Message], bytes | None]:
    """The messages received and the body (None: the client left, or sent more than
    `max_bytes` whatever its Content-Length said; the generic lane answers that)."""
    messages: list[Message] = []
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_bytes:
            return messages, None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return messages, chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    """`receive` that first gives back the messages already received."""
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay


_PLAIN_500 = b"Internal Server Error"
_PLAIN_500_HEADERS = [(b"content-length", b"21"), (b"content-type", b"text/plain; charset=utf-8")]
_REQUEST_ID = REQUEST_ID_HEADER.encode()
