"""CPU per request through the whole application, in process: the ASGI app that `whistle
serve` runs (middleware, endpoint, schema, plan, database), called directly with the
peers' Q1 and Q2 bodies, without uvicorn or sockets. On a shared machine, CPU time per
request is steadier than throughput; this is what development decisions were made on.

    .venv/bin/python -m bench.asgi_loop [--n 400] [--concurrency 1] [--variant NAME:ENV=V,...]

The bench configuration (BENCH_SETTINGS in bench/server.py: JSON request log at INFO, rate
limits on with a budget wrk cannot spend, ...) is used; a variant adds settings, e.g.
`--variant generic:WHISTLE_LEAN_LANE=0 --variant lean` measures both lanes by turns
(runs alternate, so load from elsewhere falls on all alike); `BENCH_TRACING=1` in a variant
turns OpenTelemetry on (spans made and dropped, no collector). Requires PostgreSQL and the
peers' `peers` database (bench/README.md). `--profile-seconds S` runs the first variant's
Q1 (or `--query q2`) in a loop for S seconds (for `py-spy record --pid`).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import logging
import logging.config
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from bench.server import BENCH_DIR, BENCH_SETTINGS, PEERS, Variant, bench_database

App = Callable[..., Awaitable[None]]


def _bodies() -> dict[str, bytes]:
    return {
        "q1": orjson.dumps(json.loads((BENCH_DIR / "q1_connection.json").read_text())),
        "q2": (PEERS / "bodies" / "q2.json").read_bytes(),
    }


def scope_for(body: bytes, headers: list[tuple[bytes, bytes]] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"127.0.0.1:8000"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }


async def request(app: App, body: bytes, headers: list[tuple[bytes, bytes]] = ()) -> tuple[int, dict[bytes, bytes], bytes]:  # type: ignore[assignment]
    """One HTTP request through `app`: (status, headers, body)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)  # a client that stays connected
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    status, response_headers, chunks = 0, {}, []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, response_headers
        if message["type"] == "http.response.start":
            status, response_headers = message["status"], dict(message.get("headers", ()))
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope_for(body, headers), receive, send)
    return status, response_headers, b"".join(chunks)


class Lifespan:
    """Runs the app's lifespan (start-up and shutdown) like a server would."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def __aenter__(self) -> Lifespan:
        self.task = asyncio.create_task(self.app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}, self.inbox.get, self.outbox.put))
        await self.inbox.put({"type": "lifespan.startup"})
        message = await self.outbox.get()
        if message["type"] != "lifespan.startup.complete":
            raise RuntimeError(f"start-up failed: {message}")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.inbox.put({"type": "lifespan.shutdown"})
        await self.outbox.get()
        await self.task


def build_app(url: str, variant: Variant, log_stream: io.TextIOBase) -> App:
    """The application of `whistle serve` with the bench settings and the variant's."""
    from app.config import Settings
    from app.observability import logging_config
    from app.server import create_app

    env = {**BENCH_SETTINGS, "WHISTLE_DATABASE_URL": url, **variant.env}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        settings = Settings()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    logging.config.dictConfig(logging_config(settings))
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(log_stream)  # the request log is written (and formatted), not shown
    return create_app(settings, tracer_provider=_tracing() if variant.env.get("BENCH_TRACING") == "1" else None)


def _tracing() -> Any:
    """An OpenTelemetry provider whose spans are made, ended and handed to an exporter that
    drops them (a variant with BENCH_TRACING=1: tracing on, without a collector)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult

    class Dropped(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(Dropped()))
    return provider


async def _measure(url: str, variants: list[Variant], n: int, concurrency: int, profile_seconds: float, query: str) -> None:
    bodies = _bodies()
    devnull = open(os.devnull, "w")  # noqa: SIM115
    apps = {variant.name: build_app(url, variant, devnull) for variant in variants}
    async with contextlib_stack(apps.values()):
        for app in apps.values():  # warm-up: documents, plans, caches, connections
            for body in bodies.values():
                for _ in range(30):
                    status, _headers, answer = await request(app, body)
                    assert status == 200 and b'"errors"' not in answer, answer[:300]
        if profile_seconds:
            app = next(iter(apps.values()))
            print(f"pid {os.getpid()}: {query} in a loop for {profile_seconds} s", flush=True)
            deadline = time.monotonic() + profile_seconds
            count = 0
            while time.monotonic() < deadline:
                await asyncio.gather(*(request(app, bodies[query]) for _ in range(concurrency)))
                count += concurrency
            print(f"{count} requests", flush=True)
            return
        print(f"{'query':<6}{'variant':<24}{'CPU µs/request':>16}{'min–max of rounds':>24}")
        for name, body in bodies.items():
            rounds: dict[str, list[float]] = {v: [] for v in apps}
            for _ in range(10):
                for variant, app in apps.items():
                    cpu = time.process_time()
                    for _ in range(n // 10 // concurrency):
                        await asyncio.gather(*(request(app, body) for _ in range(concurrency)))
                    rounds[variant].append((time.process_time() - cpu) / (n // 10 // concurrency * concurrency) * 1e6)
            for variant, values in rounds.items():
                print(f"{name:<6}{variant:<24}{statistics.median(values):>16.0f}{f'{min(values):.0f}–{max(values):.0f}':>24}")


class contextlib_stack:
    """Start-up and shutdown of several apps."""

    def __init__(self, apps: Any) -> None:
        self.lifespans = [Lifespan(app) for app in apps]

    async def __aenter__(self) -> None:
        for lifespan in self.lifespans:
            await lifespan.__aenter__()

    async def __aexit__(self, *exc: object) -> None:
        for lifespan in reversed(self.lifespans):
            await lifespan.__aexit__(*exc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", type=Variant.parse, help="NAME[:ENV=V,...] (repeatable)")
    parser.add_argument("--n", type=int, default=400, help="requests per query and variant (default 400)")
    parser.add_argument("--concurrency", type=int, default=1, help="requests in flight at a time (default 1)")
    parser.add_argument("--profile-seconds", type=float, default=0, help="loop the first variant for py-spy")
    parser.add_argument("--query", choices=["q1", "q2"], default="q1", help="what --profile-seconds loops")
    args = parser.parse_args()
    variants = args.variant or [Variant.parse("default")]
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    with bench_database() as url:
        asyncio.run(_measure(url, variants, args.n, args.concurrency, args.profile_seconds, args.query))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
