"""Logs an operator can search: JSON lines, a request id on every line of a request,
one access line per GraphQL operation.

- `logging_config(settings)`: the `logging.config.dictConfig` of the CLI and of every
  uvicorn worker: JSON lines (`time`, `level`, `logger`, `message`, then whatever the
  line carries: `request_id`, `operation_name`, `duration_ms`, `sql_statements`, `user_id`,
  `correlation_id`, `exc`, ...) in production or with WHISTLE_LOG_FORMAT=json, text
  otherwise.
- `RequestIdMiddleware`: takes the caller's `X-Request-ID` (when it is a sane token) or
  makes one, answers it in the same header, and keeps it in a context variable for
  the log lines written while the request runs.
- `OperationLog`: a schema extension that writes the access line of each operation
  (HTTP and WebSocket alike) and tells the log lines inside it which operation and
  which user they belong to.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

import orjson
from sqlalchemy import event
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from strawberry.extensions import SchemaExtension

from app.config import Settings

REQUEST_ID_HEADER = "x-request-id"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:/+=@-]{1,128}")

request_id_var: ContextVar[str | None] = ContextVar("whistle_request_id", default=None)
operation_name_var: ContextVar[str | None] = ContextVar("whistle_operation_name", default=None)
user_id_var: ContextVar[str | None] = ContextVar("whistle_user_id", default=None)

access_log = logging.getLogger("whistle.access")

# What every LogRecord has; anything else on a record came from `extra=` and is logged too.
_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's ANSI-coloured copy of the message
}
_CONTEXT = (("request_id", request_id_var), ("operation_name", operation_name_var), ("user_id", user_id_var))


# --- log records -----------------------------------------------------------------------------


class RequestContextFilter(logging.Filter):
    """Puts the request id, operation name and user id of the running request on a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in _CONTEXT:
            if getattr(record, name, None) is None:
                value = var.get()
                if value is not None:
                    setattr(record, name, value)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_") and value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exc"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message [request_id=...]` for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id is None:
            return line
        first, newline, rest = line.partition("\n")  # keep a traceback below the line
        return f"{first} [request_id={request_id}]{newline}{rest}"


def log_format(settings: Settings) -> str:
    return settings.log_format or ("json" if settings.is_production else "text")


def logging_config(settings: Settings) -> dict[str, Any]:
    """The dictConfig of the CLI and of each uvicorn worker (uvicorn's own loggers included)."""
    formatter = "app.observability.JsonFormatter" if log_format(settings) == "json" else "app.observability.TextFormatter"
    level = settings.log_level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": "app.observability.RequestContextFilter"}},
        "formatters": {"whistle": {"()": formatter}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "whistle",
                "filters": ["request"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level},
        # uvicorn's loggers write through the root handler, in the same format.
        "loggers": {
            **{
                name: {"handlers": [], "propagate": True, "level": level}
                for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
            },
            # Alembic's INFO lines (its plugins, each migration step) on every start are
            # noise to whoever runs the server; its warnings still show, DEBUG shows all.
            "alembic": {"level": level if level == "DEBUG" else "WARNING"},
        },
    }


# --- request ids -----------------------------------------------------------------------------


def new_request_id() -> str:
    """A random (version 4) UUID in hex, as `uuid.uuid4().hex`, without the UUID object
    (a request id is made for every request that does not bring one)."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40  # version 4
    raw[8] = raw[8] & 0x3F | 0x80  # RFC 4122 variant
    return raw.hex()


def _given_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _SANE_REQUEST_ID.fullmatch(candidate) else None
    return None


def request_id_for(scope: Scope) -> str:
    """The id of this request: the caller's when it is sane, else a new one."""
    return _given_request_id(scope) or new_request_id()


class RequestIdMiddleware:
    """X-Request-ID in (kept when sane, made otherwise) and out; a context variable in between."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (b"x-request-id", request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] in ("http.response.start", "websocket.accept"):
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-request-id"]
                message = {**message, "headers": [*headers, header]}
            await send(message)

        token = request_id_var.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)


# --- the access line of each operation ------------------------------------------------------------


def user_id_of(context: Any) -> str | None:
    """The subject of the caller's identity (app.security), when the context has one."""
    identity = getattr(context, "identity", None)
    subject = getattr(identity, "subject", None)
    return subject or None


def _operation_type(execution_context: Any) -> str | None:
    try:
        operation_type = execution_context.operation_type
    except Exception:  # noqa: BLE001 - no parsable document, no operation type
        return None
    return getattr(operation_type, "value", None)


# The SQL statements of the operation being executed (DataLoader batches run in tasks that
# inherit the context): counted by `count_sql_statements`, logged on the access line.
_sql_statements: ContextVar[list[int] | None] = ContextVar("whistle_sql_statements", default=None)


def _count_statement(*_args: Any) -> None:
    counter = _sql_statements.get()
    if counter is not None:
        counter[0] += 1


def count_sql_statements(engine: Any) -> None:
    """Count `engine`'s statements into the access line of the operation that sent them."""
    event.listen(engine.sync_engine, "before_cursor_execute", _count_statement)


class LoggedOperation:
    """One operation between `begin` and `end`: its SQL statements are counted, the log
    lines written meanwhile name it and its user, and `end` writes its access line. Used
    by OperationLog (operations through Strawberry) and by the lean lane (app.lean_lane)."""

    __slots__ = ("_started", "_statements", "_previous", "_user_id")

    def __init__(self, operation_name: str | None, user_id: str | None) -> None:
        self._started = time.perf_counter()
        self._statements = [0]
        # Restored by value, not by token: a subscription's stream abandoned by its transport is
        # closed by the garbage collector in another task and context, where a token is refused.
        self._previous = operation_name_var.get(), user_id_var.get(), _sql_statements.get()
        _sql_statements.set(self._statements)
        self._user_id = user_id
        operation_name_var.set(operation_name)
        user_id_var.set(user_id)

    def end(self, name: str | None, kind: str | None, codes: list[str]) -> None:
        duration_ms = round((time.perf_counter() - self._started) * 1000, 2)
        statements = self._statements[0]
        _sql_statements.set(self._previous[2])
        args = (kind or "operation", name or "(anonymous)", duration_ms, statements, f" errors={','.join(codes)}" if codes else "")
        extra = {
            "operation_name": name,
            "operation_type": kind,
            "duration_ms": duration_ms,
            "sql_statements": statements,
            "user_id": self._user_id,
            "error_codes": codes or None,
        }
        handler = _direct_json_handler()
        if handler is None:
            access_log.info(_ACCESS_MESSAGE, *args, extra=extra)
        else:
            _write_json_line(handler, _ACCESS_MESSAGE % args, extra)
        operation_name_var.set(self._previous[0])
        user_id_var.set(self._previous[1])


# --- the access line without the logging machinery ------------------------------------------------
# An access line per operation through `Logger.info` costs, on a small query, a few per cent
# of the request (the caller's frame looked up, a LogRecord with thread and process names,
# the handler chain). When the configuration is exactly `logging_config`'s JSON one (one
# StreamHandler on the root, JsonFormatter, RequestContextFilter, nothing else on the way),
# the line is written directly: the same bytes (keys, order, values), the same lock, write
# and flush (so the log is as complete at shutdown as before). Any other configuration (a
# test's caplog, text format, another handler or filter) goes through `Logger.info`.

_ACCESS_MESSAGE = "%s %s %.1f ms sql=%d%s"


def _direct_json_handler() -> logging.StreamHandler[Any] | None:
    """The handler the access line can be written to directly, or None."""
    logger: Any = access_log
    if type(logger) is not logging.Logger or logger.filters or not logger.isEnabledFor(logging.INFO):
        return None
    if logging.getLogRecordFactory() is not logging.LogRecord:
        return None  # a factory may add attributes, which JsonFormatter would log
    while logger.parent is not None:  # up to the root: no other handler on the way
        if logger.handlers or not logger.propagate:
            return None
        logger = logger.parent
    handlers = logger.handlers
    if len(handlers) != 1:
        return None
    handler = handlers[0]
    if (
        type(handler) is not logging.StreamHandler
        or type(handler.formatter) is not JsonFormatter
        or handler.level > logging.INFO
        or len(handler.filters) != 1
        or type(handler.filters[0]) is not RequestContextFilter
    ):
        return None
    return handler


def _write_json_line(handler: logging.StreamHandler[Any], message: str, extra: dict[str, Any]) -> None:
    """What `access_log.info(message, extra=extra)` writes through `handler` (see
    `_direct_json_handler`): RequestContextFilter's fields, JsonFormatter's line, StreamHandler's
    write and flush under the handler's lock, its handleError on failure."""
    entry: dict[str, Any] = {
        "time": datetime.fromtimestamp(time.time(), timezone.utc).isoformat(timespec="milliseconds"),
        "level": "INFO",
        "logger": access_log.name,
        "message": message,
    }
    for name, var in _CONTEXT:  # RequestContextFilter: a field the line lacks from the context
        if extra.get(name) is None:
            extra[name] = var.get()
    for key, value in extra.items():
        if value is not None:
            entry[key] = value
    with handler.lock:  # type: ignore[union-attr]
        try:
            stream = handler.stream
            stream.write(orjson.dumps(entry, default=str).decode() + handler.terminator)
            stream.flush()
        except RecursionError:
            raise
        except Exception:  # noqa: BLE001 - as StreamHandler.emit: reported, the request goes on
            handler.handleError(access_log.makeRecord(access_log.name, logging.INFO, "(unknown file)", 0, message, (), None))


def error_codes(errors: Any) -> list[str]:
    """The `extensions.code` of each error ("UNKNOWN" where there is none)."""
    return [(getattr(error, "extensions", None) or {}).get("code") or "UNKNOWN" for error in errors or ()]


class OperationLog(SchemaExtension):
    """One `whistle.access` line per operation: name, type, duration, user, error codes.

    List it BEFORE ContractErrors: hooks exit in reverse order, so the errors it sees
    are already the contract's (with their codes).
    """

    def __init__(self, *, execution_context: Any = None) -> None:
        pass

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        logged = LoggedOperation(ec.operation_name, user_id_of(ec.context))
        try:
            yield
        finally:
            logged.end(ec.operation_name, _operation_type(ec), error_codes(getattr(ec.result, "errors", None)))

    def on_execute(self) -> Iterator[None]:
        # The name is known once the document is parsed, also when the client sent none.
        operation_name_var.set(self.execution_context.operation_name)
        yield


# --- wiring -------------------------------------------------------------------------------------


class Observability:
    """What `create_app` wires: the schema extensions that observe operations, the tracer
    for DataLoader batches (None when tracing is off) and what to flush at shutdown."""

    def __init__(self, settings: Settings, engine: Any, tracer_provider: Any = None) -> None:
        self.observers: list[Any] = [OperationLog]
        count_sql_statements(engine)
        self.tracer: Any = None
        self._owned_provider: Any = None
        if tracer_provider is None and settings.otel_endpoint:
            try:
                from app.tracing import provider_from_settings

                tracer_provider = self._owned_provider = provider_from_settings(settings)
            except ImportError as error:
                raise RuntimeError(
                    f"OTEL_EXPORTER_OTLP_ENDPOINT is set but OpenTelemetry is not installed ({error.name}): "
                    "pip install 'whistle[otel]', or unset it."
                ) from error
        if tracer_provider is not None:
            from app import tracing  # needs the `otel` extra; imported only when tracing is on

            tracing.instrument_engine(engine, tracer_provider)
            self.tracer = tracer_provider.get_tracer(tracing.TRACER_NAME)
            self.observers.insert(0, tracing.operation_extension(self.tracer, settings.otel_field_spans))

    def shutdown(self) -> None:
        """Export the spans still buffered (only a provider made here from the settings)."""
        if self._owned_provider is not None:
            self._owned_provider.shutdown()
