"""The cluster under test, all on 127.0.0.1 on free ports: a PostgreSQL database of its
own (on the shared server), a private redis-server, three `whistle serve` instances and
HAProxy in front of them (installed with apt-get when missing)."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("WHISTLE_TEST_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def dsn(url: str) -> str:
    """The asyncpg DSN of a SQLAlchemy URL."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class Database:
    """A fresh PostgreSQL database, dropped at the end."""

    def __init__(self) -> None:
        name = f"whistle_chaos_{uuid.uuid4().hex[:12]}"
        self.name = name
        self.url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)

    async def _admin(self, sql: str) -> None:
        conn = await asyncpg.connect(dsn(POSTGRES_URL), timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    async def create(self) -> None:
        await self._admin(f'CREATE DATABASE "{self.name}"')

    async def drop(self) -> None:
        await self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    async def terminate_connections(self) -> int:
        """pg_terminate_backend on every other connection to THIS database only."""
        conn = await asyncpg.connect(dsn(self.url), timeout=10)
        try:
            return int(
                await conn.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                    " WHERE datname = $1 AND pid <> pg_backend_pid()",
                    self.name,
                )
            )
        finally:
            await conn.close()


class Process:
    """A child process with its output in a log file; SIGKILL/SIGTERM/SIGSTOP/SIGCONT."""

    def __init__(self, name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def launch(self) -> None:
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )

    def signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    async def wait_exit(self, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        while self.process is not None and self.process.poll() is None:
            if time.monotonic() > deadline:
                return None
            await asyncio.sleep(0.05)
        return None if self.process is None else self.process.returncode

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()


class Redis(Process):
    """A private redis-server without persistence: a restart comes back empty."""

    def __init__(self, log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        super().__init__(
            "redis",
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            log_dir,
        )

    async def start(self, timeout: float = 10.0) -> None:
        self.launch()
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server did not start") from None
                await asyncio.sleep(0.05)


class Instance(Process):
    """One `whistle serve`; `url` is its own address (HAProxy's backend server)."""

    def __init__(self, name: str, env: dict[str, str], log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(name, [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)], log_dir, env)

    async def ready(self, http: httpx.AsyncClient) -> bool:
        try:
            return (await http.get(f"{self.url}/readyz", timeout=1.0)).status_code == 200
        except httpx.HTTPError:
            return False

    async def wait_ready(self, http: httpx.AsyncClient, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not await self.ready(http):
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"whistle {self.name} exited on start; see {self.log_path}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"whistle {self.name} not ready within {timeout} s; see {self.log_path}")
            await asyncio.sleep(0.1)


def whistle_env(database_url: str, redis_url: str, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WHISTLE_")}
    env.update(
        PYTHONUNBUFFERED="1",
        WHISTLE_DATABASE_URL=database_url,
        WHISTLE_REDIS_URL=redis_url,
        WHISTLE_INSTANCE_NAME=name,
        WHISTLE_SEED_DEMO="0",
        WHISTLE_RATE_LIMIT_POINTS="0",  # the load balancer's address would share one budget
        WHISTLE_CURSOR_SECRET="chaos-run-cursor-secret",  # the same on every instance
        WHISTLE_DB_POOL_SIZE="4",
        WHISTLE_CONSUMER_RETRY_MS="2000",
        WHISTLE_LOG_FORMAT="text",
    )
    return env


HAPROXY_CONFIG = """\
global
    maxconn 2000
    log stdout format raw local0


defaults
    mode http
    log global
    option httplog
    option dontlog-normal  # only errors and failed retries reach haproxy.log (CHAOS_ARGS=--keep)
    timeout connect 1s
    timeout client 60s
    timeout server 30s
    timeout tunnel 1h
    timeout http-request 10s
    option redispatch 1
    retries 3
    # Idempotent requests (queries over GET) are retried on another instance when the
    # connection failed, the answer was empty or a 503; a POST (a mutation) only when
    # the connection failed, i.e. the request was never sent.
    retry-on conn-failure empty-response response-timeout 503

frontend whistle
    bind 127.0.0.1:{port}
    default_backend instances
    http-after-response set-header X-Served-By %s

backend instances
    balance roundrobin
    http-request disable-l7-retry if METH_POST
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1
{servers}
"""


def ensure_haproxy() -> str:
    """The haproxy binary, installed from Debian's package when missing."""
    found = shutil.which("haproxy") or (Path("/usr/sbin/haproxy").exists() and "/usr/sbin/haproxy")
    if found:
        return str(found)
    print("haproxy missing: apt-get install -y haproxy", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "haproxy"]
    if subprocess.run(install, env=env, stdout=subprocess.DEVNULL).returncode != 0:  # a fresh machine: no package lists yet
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(install, check=True, env=env, stdout=subprocess.DEVNULL)
    found = shutil.which("haproxy") or "/usr/sbin/haproxy"
    return str(found)


class HAProxy(Process):
    def __init__(self, instances: list[Instance], log_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = f"ws://127.0.0.1:{self.port}/graphql"
        servers = "\n".join(f"    server {i.name} 127.0.0.1:{i.port} check" for i in instances)
        config = log_dir / "haproxy.cfg"
        config.write_text(HAPROXY_CONFIG.format(port=self.port, servers=servers))
        super().__init__("haproxy", [ensure_haproxy(), "-db", "-f", str(config)], log_dir)

    async def wait_ready(self, http: httpx.AsyncClient, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if (await http.get(f"{self.url}/healthz", timeout=1.0)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"haproxy not ready; see {self.log_path}")
            await asyncio.sleep(0.1)
