"""Helpers of the end-to-end tests that run REAL processes: `whistle serve` subprocesses,
throw-away PostgreSQL databases and a tiny GraphQL-over-WebSocket client that speaks
both `graphql-transport-ws` and the legacy `graphql-ws` protocol."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

TRANSPORT_WS = "graphql-transport-ws"
LEGACY_WS = "graphql-ws"


# --- databases ------------------------------------------------------------------------------


def _postgres_server_url() -> str:
    return os.environ.get("WHISTLE_TEST_DATABASE_URL", DEFAULT_POSTGRES_URL)


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(_dsn(_postgres_server_url()), timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_postgres_database() -> str:
    """A fresh, empty PostgreSQL database; its SQLAlchemy URL. Skips (or fails with
    WHISTLE_REQUIRE_SERVICES=1) when the server cannot be reached."""
    name = f"whistle_live_{uuid.uuid4().hex}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        message = f"PostgreSQL unavailable ({type(error).__name__}: {error})"
        if os.environ.get("WHISTLE_REQUIRE_SERVICES") == "1":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return make_url(_postgres_server_url()).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --- whistle processes ----------------------------------------------------------------------


def whistle_env(**settings: str | int | None) -> dict[str, str]:
    """The environment of a whistle process: this one without any WHISTLE_* variable,
    plus the given settings (`database_url="..."` -> WHISTLE_DATABASE_URL)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISTLE_")}
    env["PYTHONUNBUFFERED"] = "1"
    for key, value in settings.items():
        if value is not None:
            env[f"WHISTLE_{key.upper()}"] = str(value)
    return env


def run_cli(*args: str, env: Mapping[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=ROOT,
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"whistle {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result


_ERROR_LINE = re.compile(r'^\S+ \S+ (ERROR|CRITICAL) |"level":"(ERROR|CRITICAL)"', re.MULTILINE)


def error_lines(output: str) -> list[str]:
    """The ERROR and CRITICAL lines of a whistle log (text or JSON format), and any traceback."""
    lines = output.splitlines()
    return [line for line in lines if _ERROR_LINE.search(line)] + [line for line in lines if line.startswith("Traceback")]


class ServerProcess:
    """One `whistle serve --port PORT` subprocess; its output (stdout and stderr) goes to a log file."""

    def __init__(self, name: str, port: int, env: Mapping[str, str], log_dir: Path) -> None:
        self.name = name
        self.port = port
        self.env = dict(env)
        self.log_path = log_dir / f"whistle-{name}-{port}.log"
        self.url = f"http://127.0.0.1:{port}"
        self.ws_url = f"ws://127.0.0.1:{port}/graphql"
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: Any = None

    def start(self, timeout: float = 30.0) -> ServerProcess:
        """Launch the process and wait until it answers /healthz."""
        self.launch()
        return self.wait_ready(timeout)

    def launch(self) -> None:
        assert self.process is None
        self._log_file = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)],
            cwd=ROOT,
            env=self.env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 30.0) -> ServerProcess:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        with httpx.Client(timeout=1.0, trust_env=False) as http:
            while True:
                if self.process.poll() is not None:
                    raise AssertionError(f"whistle {self.name} exited on start:\n{self.output()}")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(f"{self.url}/healthz").status_code == 200:
                        return self
                if time.monotonic() > deadline:
                    self.kill()
                    raise AssertionError(f"whistle {self.name} did not answer /healthz in {timeout} s:\n{self.output()}")
                time.sleep(0.05)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def terminate(self) -> None:
        """Send SIGTERM (as a process manager would) without waiting."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float = 15.0) -> int:
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"whistle {self.name} did not exit within {timeout} s of SIGTERM:\n{self.output()}")

    def stop(self, timeout: float = 15.0) -> str:
        """SIGTERM, wait, and assert a clean exit: a graceful shutdown, no traceback and no
        ERROR line in the output."""
        if self.process is None:
            return self.output()
        if self.process.poll() is None:
            self.terminate()
        code = self.wait(timeout)
        self._close_log()
        output = self.output()
        self.process = None
        # Uvicorn (>= 0.29) re-raises the SIGTERM it caught once its graceful shutdown is
        # complete: "killed by SIGTERM" (-15) is the conventional clean exit, 0 is fine too.
        assert code in (0, -signal.SIGTERM), f"whistle {self.name} exited with {code}:\n{output}"
        assert "Application shutdown complete" in output, f"whistle {self.name} did not shut down gracefully:\n{output}"
        assert "Traceback" not in output, f"whistle {self.name} logged a traceback:\n{output}"
        assert not error_lines(output), f"whistle {self.name} logged errors:\n{output}"
        return output

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None


# --- GraphQL over WebSocket -----------------------------------------------------------------


class Closed(Exception):
    """The socket closed while a message was awaited."""

    def __init__(self, code: int | None, reason: str) -> None:
        super().__init__(f"socket closed with code {code} {reason!r}")
        self.code = code
        self.reason = reason


class WsClient:
    """A minimal GraphQL WebSocket client.

    `await client.subscribe(query, variables)` starts an operation and returns its id;
    `await client.next(id)` returns the next result payload `{"data": ..., "errors": ...}`
    of that operation; an `error` message comes back as `{"errors": [...]}` with
    `error_message=True`, a `complete` as `None`. Keep-alive messages are ignored.
    """

    def __init__(self, protocol: str, socket: ClientConnection) -> None:
        assert protocol in (TRANSPORT_WS, LEGACY_WS)
        self.protocol = protocol
        self.socket = socket
        self._queues: dict[str, asyncio.Queue[dict[str, Any] | None]] = {}
        self._ids = itertools.count(1)
        self._reader: asyncio.Task[None] | None = None
        self._acked = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.close_reason = ""
        self.closed = asyncio.Event()

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        url: str,
        protocol: str = TRANSPORT_WS,
        timeout: float = 5.0,
        init: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> AsyncIterator[WsClient]:
        """`init`: the connection_init payload; `headers`: the handshake's extra headers."""
        subprotocols: Any = [protocol]
        async with connect(
            url, subprotocols=subprotocols, open_timeout=timeout, close_timeout=2, proxy=None, additional_headers=headers
        ) as socket:
            assert socket.subprotocol == protocol, socket.subprotocol
            client = cls(protocol, socket)
            client._reader = asyncio.create_task(client._read())
            try:
                await socket.send(json.dumps({"type": "connection_init", "payload": init or {}}))
                await asyncio.wait_for(asyncio.shield(client._acked), timeout)
                yield client
            finally:
                client._reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await client._reader

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        op_id = str(next(self._ids))
        self._queues[op_id] = asyncio.Queue()
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = variables
        kind = "subscribe" if self.protocol == TRANSPORT_WS else "start"
        await self.socket.send(json.dumps({"id": op_id, "type": kind, "payload": payload}))
        return op_id

    async def stop(self, op_id: str) -> None:
        kind = "complete" if self.protocol == TRANSPORT_WS else "stop"
        await self.socket.send(json.dumps({"id": op_id, "type": kind}))

    async def next(self, op_id: str, timeout: float = 5.0) -> dict[str, Any] | None:
        queue = self._queues[op_id]
        getter = asyncio.ensure_future(queue.get())
        closed = asyncio.ensure_future(self.closed.wait())
        try:
            done, _ = await asyncio.wait({getter, closed}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in (getter, closed):
                if not waiter.done():
                    waiter.cancel()
        if getter in done:
            return getter.result()
        if closed in done and queue.empty():
            raise Closed(self.close_code, self.close_reason)
        if not queue.empty():
            return queue.get_nowait()
        raise TimeoutError(f"no message for operation {op_id} within {timeout} s")

    def pending(self, op_id: str) -> list[dict[str, Any] | None]:
        """Whatever has arrived for the operation and was not taken yet."""
        queue, items = self._queues[op_id], []
        while not queue.empty():
            items.append(queue.get_nowait())
        return items

    async def _read(self) -> None:
        try:
            async for raw in self.socket:
                message = json.loads(raw)
                kind, op_id = message.get("type"), message.get("id")
                if kind == "connection_ack":
                    if not self._acked.done():
                        self._acked.set_result(None)
                elif kind in ("ka", "ping", "pong"):
                    if kind == "ping":
                        await self.socket.send(json.dumps({"type": "pong"}))
                elif kind in ("next", "data"):
                    self._queues[op_id].put_nowait(message.get("payload") or {})
                elif kind == "error":
                    payload = message.get("payload")
                    errors = payload if isinstance(payload, list) else [payload]
                    self._queues[op_id].put_nowait({"errors": errors, "error_message": True})
                elif kind == "complete":
                    self._queues[op_id].put_nowait(None)
                elif kind == "connection_error":
                    if not self._acked.done():
                        self._acked.set_exception(RuntimeError(f"connection refused: {message}"))
        except ConnectionClosed:
            pass
        finally:
            received = self.socket.protocol.close_rcvd
            self.close_code = received.code if received is not None else None
            self.close_reason = received.reason if received is not None else ""
            self.closed.set()
            if not self._acked.done():
                self._acked.set_exception(Closed(self.close_code, self.close_reason))
