"""`whistle serve --server granian`: the same application under Granian (an ASGI server
written in Rust, PyPI `granian`) instead of uvicorn. Measured against uvicorn in
BENCHMARKS.md ("HTTP servers"); uvicorn stays the default."""

from __future__ import annotations

from typing import Any

from app.config import Settings
from app.observability import logging_config


def serve(settings: Settings, host: str, port: int, workers: int) -> None:
    try:
        from granian import Granian
        from granian.constants import Interfaces, Loops
    except ImportError:
        raise SystemExit("whistle serve --server granian needs Granian: pip install 'whistle[granian]'") from None
    loop: Any = {"uvloop": Loops.uvloop, "asyncio": Loops.asyncio}.get(settings.event_loop, Loops.auto)
    Granian(
        "app.server:app_from_environment",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        loop=loop,
        log_level=settings.log_level.lower(),  # type: ignore[arg-type]
        log_dictconfig=logging_config(settings),  # every worker logs like the CLI (JSON in production)
        log_access=False,  # whistle.access logs each GraphQL operation instead
        # SIGTERM: let in-flight operations (bounded by the execution timeout) finish.
        workers_kill_timeout=int(settings.execution_timeout_seconds + 5),
    ).serve()
