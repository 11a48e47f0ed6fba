"""Observability: JSON log lines, request ids, one access line per operation, the
correlation id of a masked error in its log line, and OpenTelemetry spans (operation,
SQL statements, DataLoader batches) with an in-memory exporter."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from app.config import Settings
from app.observability import JsonFormatter, RequestContextFilter, TextFormatter, logging_config, request_id_var
from app.server import create_app
from tests.e2e.conftest import running_app
from tests.e2e.helpers import GraphQL, League


@pytest.fixture
def dev_settings(tmp_path: Path) -> Settings:
    return Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db", seed_demo=False)


@pytest.fixture
async def http(dev_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with running_app(dev_settings) as client:
        yield client


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """caplog with the request context on its records, as the real handler has it."""
    context = RequestContextFilter()
    caplog.handler.addFilter(context)
    caplog.set_level(logging.INFO)
    yield caplog
    caplog.handler.removeFilter(context)


def record(name: str, message: str = "hello", **extra: Any) -> logging.LogRecord:
    entry = logging.LogRecord(name, logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(entry, key, value)
    return entry


# --- formatters --------------------------------------------------------------------------------------


def test_the_json_formatter_writes_one_object_per_line_with_the_context_fields() -> None:
    entry = record("whistle.access", "query Refs 1.5 ms", request_id="r-1", operation_name="Refs", duration_ms=1.5, user_id="u")
    line = JsonFormatter().format(entry)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["level"] == "INFO" and parsed["logger"] == "whistle.access" and parsed["message"] == "query Refs 1.5 ms"
    assert parsed["time"].endswith("+00:00")
    assert {k: parsed[k] for k in ("request_id", "operation_name", "duration_ms", "user_id")} == {
        "request_id": "r-1",
        "operation_name": "Refs",
        "duration_ms": 1.5,
        "user_id": "u",
    }


def test_the_json_formatter_puts_a_traceback_in_exc_on_the_same_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        import sys

        entry = logging.LogRecord("whistle.errors", logging.ERROR, __file__, 1, "failed", None, sys.exc_info())
    line = JsonFormatter().format(entry)
    assert "\n" not in line
    parsed = json.loads(line)
    assert "ValueError: boom" in parsed["exc"] and "Traceback" in parsed["exc"]


def test_the_filter_adds_the_request_id_of_the_running_request() -> None:
    token = request_id_var.set("abc")
    try:
        entry = record("whistle")
        RequestContextFilter().filter(entry)
    finally:
        request_id_var.reset(token)
    assert entry.request_id == "abc"  # type: ignore[attr-defined]
    assert TextFormatter().format(entry).endswith("hello [request_id=abc]")


def test_logs_are_json_in_production_and_text_otherwise(tmp_path: Path) -> None:
    def formatter(**values: Any) -> str:
        return logging_config(Settings(**values))["formatters"]["whistle"]["()"]

    keys = {"jwt_local_keys": str(tmp_path)}
    assert formatter().endswith("TextFormatter")
    assert formatter(env="production", **keys).endswith("JsonFormatter")
    assert formatter(log_format="json").endswith("JsonFormatter")
    assert formatter(env="production", log_format="text", **keys).endswith("TextFormatter")


def test_a_start_that_migrates_a_new_database_logs_no_alembic_info_line(tmp_path: Path) -> None:
    from tests.e2e.processes import ServerProcess, whistle_env
    from tests.integration.bus_fixtures import free_port

    def started(level: str) -> str:
        env = whistle_env(database_url=f"sqlite+aiosqlite:///{tmp_path}/{level}.db", seed_demo="false", log_level=level)
        return ServerProcess(f"quiet-{level}", free_port(), env, tmp_path).start().stop()

    assert "alembic" not in started("INFO"), "a plain start says nothing about its migrations"
    assert "alembic.runtime.migration" in started("DEBUG"), "DEBUG still shows them"


# --- request ids and the access line ------------------------------------------------------------------


async def test_every_response_carries_a_request_id_the_callers_when_sane(http: httpx.AsyncClient) -> None:
    made = await http.get("/healthz")
    assert len(made.headers["x-request-id"]) == 32
    given = await http.post("/graphql", json={"query": "{ __typename }"}, headers={"x-request-id": "gateway-42.a"})
    assert given.headers["x-request-id"] == "gateway-42.a"
    insane = await http.get("/healthz", headers={"x-request-id": "x" * 500})
    assert insane.headers["x-request-id"] != "x" * 500 and len(insane.headers["x-request-id"]) == 32


async def test_each_operation_writes_one_access_line_with_request_id_name_duration_and_user(
    http: httpx.AsyncClient, logs: pytest.LogCaptureFixture
) -> None:
    logs.clear()
    response = await http.post(
        "/graphql",
        json={"query": "query Refs { referees { id } } query Other { teams { id } }", "operationName": "Refs"},
        headers={"x-request-id": "req-1"},
    )
    assert response.status_code == 200, response.text
    lines = [r for r in logs.records if r.name == "whistle.access"]
    assert len(lines) == 1
    line = lines[0]
    assert line.request_id == "req-1"  # type: ignore[attr-defined]
    assert line.operation_name == "Refs" and line.operation_type == "query"  # type: ignore[attr-defined]
    assert isinstance(line.duration_ms, float) and line.duration_ms >= 0  # type: ignore[attr-defined]
    assert line.user_id == "dev"  # type: ignore[attr-defined]  # dev mode's implicit ADMIN
    parsed = json.loads(JsonFormatter().format(line))
    assert {"request_id", "operation_name", "duration_ms", "user_id"} <= parsed.keys()

    logs.clear()
    await http.post("/graphql", json={"query": "{ referee(id: \"nope\") { id } }"}, headers={"x-request-id": "req-2"})
    (line,) = [r for r in logs.records if r.name == "whistle.access"]
    assert line.error_codes == ["BAD_USER_INPUT"] and line.operation_name is None  # type: ignore[attr-defined]


async def test_a_masked_error_has_the_same_correlation_id_in_the_response_and_the_log_line(
    http: httpx.AsyncClient, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from app.repos import reads

    async def broken(*args: Any) -> Any:
        raise RuntimeError("the database melted")

    monkeypatch.setattr(reads, "all_referees", broken)
    logs.clear()
    body = (
        await http.post("/graphql", json={"query": "query Broken { referees { id } }"}, headers={"x-request-id": "req-3"})
    ).json()
    correlation_id = body["errors"][0]["extensions"]["correlationId"]
    (error_line,) = [r for r in logs.records if r.name == "whistle.errors"]
    parsed = json.loads(JsonFormatter().format(error_line))
    assert parsed["correlation_id"] == correlation_id and correlation_id in parsed["message"]
    assert parsed["request_id"] == "req-3" and parsed["operation_name"] == "Broken" and parsed["user_id"] == "dev"
    assert "the database melted" in parsed["exc"]
    (access,) = [r for r in logs.records if r.name == "whistle.access"]
    assert access.error_codes == ["INTERNAL_SERVER_ERROR"]  # type: ignore[attr-defined]


# --- tracing ------------------------------------------------------------------------------------------


async def test_an_operation_gives_operation_sql_and_dataloader_spans(dev_settings: Settings) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    application = create_app(dev_settings, tracer_provider=provider)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            league = League(GraphQL(client))
            await league.fixture("2026-03-01T18:30:00+01:00")
            await league.fixture("2026-03-02T18:30:00+01:00")
            exporter.clear()
            traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            response = await client.post(
                "/graphql",
                json={"query": "query Schedule { fixtures { edges { node { venue { name } teamHome { name } } } } }"},
                headers={"traceparent": traceparent},
            )
            assert "errors" not in response.json(), response.text

    spans = exporter.get_finished_spans()
    (operation,) = [s for s in spans if s.name == "query Schedule"]
    assert operation.attributes["graphql.operation.name"] == "Schedule"
    assert operation.attributes["graphql.operation.type"] == "query"
    assert format(operation.context.trace_id, "032x") == "0af7651916cd43dd8448eb211c80319c"  # the caller's trace
    assert operation.parent is not None and format(operation.parent.span_id, "016x") == "b7ad6b7169203331"

    trace_id = operation.context.trace_id
    in_trace = [s for s in spans if s.context.trace_id == trace_id]
    sql = [s for s in in_trace if "db.statement" in (s.attributes or {}) or "db.query.text" in (s.attributes or {})]
    batches = [s for s in in_trace if s.name.startswith("dataloader.batch ")]
    assert sql, [s.name for s in spans]
    assert {s.name for s in batches} >= {"dataloader.batch venue", "dataloader.batch team"}
    assert all(s.attributes["dataloader.keys"] >= 1 for s in batches)
    # SQL of a batch nests in the batch's span; everything nests under the operation.
    by_id = {s.context.span_id: s for s in in_trace}

    def ancestors(span: Any) -> list[str]:
        names = []
        while span.parent is not None and span.parent.span_id in by_id:
            span = by_id[span.parent.span_id]
            names.append(span.name)
        return names

    assert all("query Schedule" in ancestors(s) for s in sql + batches)
    assert any(ancestors(s)[0].startswith("dataloader.batch ") for s in sql)
    assert not [s for s in spans if s.name.startswith("graphql.resolve")]  # per-field spans are off by default


async def test_per_field_spans_only_when_asked_for(dev_settings: Settings) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    application = create_app(dev_settings.model_copy(update={"otel_field_spans": True}), tracer_provider=provider)
    async with application.router.lifespan_context(application):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://localhost") as client:
            response = await client.post("/graphql", json={"query": "{ referees { id } }"})
            assert "errors" not in response.json()
    assert "graphql.resolve Query.referees" in {s.name for s in exporter.get_finished_spans()}


async def test_without_a_tracer_loaders_are_not_wrapped() -> None:
    from app.loaders import Loaders

    loaders = Loaders(None, None)  # type: ignore[arg-type]
    assert "batch_load_fn" not in vars(loaders.fixture) and "batch_load_fn" not in vars(loaders.referee)
    assert "batch_load_fn" not in vars(loaders.notifications(False, 50))


async def test_with_an_otlp_endpoint_spans_are_exported_over_http(dev_settings: Settings) -> None:
    """The settings path: OTEL_EXPORTER_OTLP_ENDPOINT -> a batch exporter to <endpoint>/v1/traces,
    flushed when the app shuts down. A tiny local collector records what arrives."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[tuple[str, str, int]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            received.append((self.path, self.headers.get("content-type", ""), len(body)))
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    collector = HTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=collector.serve_forever, daemon=True)
    thread.start()
    try:
        endpoint = f"http://127.0.0.1:{collector.server_address[1]}/"
        async with running_app(dev_settings.model_copy(update={"otel_endpoint": endpoint})) as client:
            response = await client.post("/graphql", json={"query": "query Exported { referees { id } }"})
            assert "errors" not in response.json()
    finally:
        collector.shutdown()
        collector.server_close()
    assert received, "no spans reached the collector"
    assert all(path == "/v1/traces" and content_type == "application/x-protobuf" for path, content_type, _ in received)


async def test_sql_outside_any_operation_makes_no_lone_spans(dev_settings: Settings) -> None:
    """The relay polls the outbox every second: no trace per statement of it."""
    import asyncio

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    application = create_app(dev_settings, tracer_provider=provider)
    async with application.router.lifespan_context(application):
        await asyncio.sleep(1.5)  # a relay poll or two
    assert exporter.get_finished_spans() == ()


async def test_the_access_line_counts_the_sql_statements_of_the_operation(
    client: Any, logs: Any
) -> None:
    """Each operation's statements (DataLoader batches included), not the background tasks'."""
    await client.post("/graphql", json={"query": "{ referees { id } fixtures(first: 5) { totalCount edges { node { venue { name } } } } }"})
    (line,) = [r for r in logs.records if r.name == "whistle.access"]
    # referees, fixtures page, count, venues (none: the league is empty, no venue to load)
    assert line.sql_statements == 3, line.getMessage()  # type: ignore[attr-defined]
    assert line.getMessage().endswith(" sql=3")
