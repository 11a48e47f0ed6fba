"""OpenTelemetry tracing, on when OTEL_EXPORTER_OTLP_ENDPOINT is set (extra `otel`).

Spans: one per GraphQL operation (continuing the caller's `traceparent`, e.g. the
federation gateway's), one per SQL statement (SQLAlchemy's instrumentation on the
engine), one per DataLoader batch; per-field spans only with WHISTLE_OTEL_FIELD_SPANS.
Nothing here is imported, and nothing costs anything, when tracing is off.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, TypeVar

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from sqlalchemy.ext.asyncio import AsyncEngine
from strawberry.extensions import SchemaExtension
from strawberry.extensions.tracing.utils import should_skip_tracing

from app.config import Settings

TRACER_NAME = "whistle"
SERVICE_NAME = "whistle"

K = TypeVar("K")
V = TypeVar("V")


def provider_from_settings(settings: Settings) -> TracerProvider | None:
    """A provider exporting over OTLP/HTTP to the configured collector; None when none is."""
    if not settings.otel_endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    resource = Resource.create({"service.name": SERVICE_NAME})
    provider = TracerProvider(resource=resource)
    endpoint = settings.otel_endpoint.rstrip("/") + "/v1/traces"  # the base URL, as the OTel spec defines it
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def instrument_engine(engine: AsyncEngine, provider: TracerProvider) -> None:
    """A span per SQL statement of `engine` (and of engines derived from it with execution_options)."""
    from opentelemetry.instrumentation.sqlalchemy import __version__ as version
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
    from opentelemetry.metrics import NoOpMeterProvider

    # EngineTracer on this engine alone: the instrumentor would patch create_engine globally.
    connections = NoOpMeterProvider().get_meter(TRACER_NAME).create_up_down_counter("db.client.connections.usage")
    tracer = ParentedOnly(trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", version, provider))
    EngineTracer(tracer, engine.sync_engine, connections)


class ParentedOnly:
    """A tracer whose spans exist only inside another span (an operation, a loader batch):
    the outbox relay's polling every second would otherwise make a lone trace per statement."""

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def start_span(self, name: str, context: Any = None, *args: Any, **kwargs: Any) -> Any:
        if not trace.get_current_span(context).get_span_context().is_valid:
            return trace.INVALID_SPAN
        return self._tracer.start_span(name, context, *args, **kwargs)

    def start_as_current_span(self, name: str, context: Any = None, *args: Any, **kwargs: Any) -> Any:
        if not trace.get_current_span(context).get_span_context().is_valid:
            return trace.use_span(trace.INVALID_SPAN)
        return self._tracer.start_as_current_span(name, context, *args, **kwargs)


def traced_batch(
    tracer: Tracer, name: str, batch_load_fn: Callable[[Sequence[K]], Awaitable[list[V]]]
) -> Callable[[Sequence[K]], Awaitable[list[V]]]:
    """`batch_load_fn` in a `dataloader.batch` span."""

    @functools.wraps(batch_load_fn)
    async def traced(keys: Sequence[K]) -> list[V]:
        with tracer.start_as_current_span(
            f"dataloader.batch {name}", attributes={"dataloader.name": name, "dataloader.keys": len(keys)}
        ):
            return await batch_load_fn(keys)

    return traced


class OperationSpan(SchemaExtension):
    """A span around each GraphQL operation, current while it runs (SQL and loader spans nest in it)."""

    def __init__(self, *, tracer: Tracer, execution_context: Any = None) -> None:
        self._tracer = tracer
        self._span: Any = None

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        request = getattr(ec.context, "request", None)
        headers = getattr(request, "headers", None)
        parent = propagate.extract(dict(headers)) if headers is not None else None
        span = self._span = self._tracer.start_span("graphql.operation", context=parent, kind=SpanKind.SERVER)
        token = otel_context.attach(trace.set_span_in_context(span, parent))
        try:
            yield
        finally:
            self._finish(span)
            otel_context.detach(token)
            span.end()

    def _finish(self, span: Any) -> None:
        ec = self.execution_context
        try:
            kind = ec.operation_type.value
        except Exception:  # noqa: BLE001 - the document did not parse
            kind = None
        name = ec.operation_name
        span.update_name(" ".join(part for part in (kind, name) if part) or "graphql.operation")
        if kind:
            span.set_attribute("graphql.operation.type", kind)
        if name:
            span.set_attribute("graphql.operation.name", name)
        errors = getattr(ec.result, "errors", None) or ()
        codes = sorted({(getattr(e, "extensions", None) or {}).get("code") or "UNKNOWN" for e in errors})
        if codes:
            span.set_attribute("graphql.error.codes", codes)
        if "INTERNAL_SERVER_ERROR" in codes:
            span.set_status(Status(StatusCode.ERROR, "internal server error"))


class FieldSpans(OperationSpan):
    """OperationSpan plus a span per resolved (non-trivial) field: for debugging, it costs."""

    async def resolve(self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kwargs: Any) -> Any:
        if should_skip_tracing(_next, info):
            result = _next(root, info, *args, **kwargs)
            return await result if hasattr(result, "__await__") else result
        with self._tracer.start_as_current_span(
            f"graphql.resolve {info.parent_type.name}.{info.field_name}",
            attributes={"graphql.field.path": ".".join(str(p) for p in info.path.as_list())},
        ):
            result = _next(root, info, *args, **kwargs)
            return await result if hasattr(result, "__await__") else result


def operation_extension(tracer: Tracer, field_spans: bool = False) -> Callable[[], SchemaExtension]:
    """The schema extension factory of these tracing settings."""
    return functools.partial(FieldSpans if field_spans else OperationSpan, tracer=tracer)

