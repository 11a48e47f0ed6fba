"""The faults: a schedule drawn from the seed (the same seed, the same faults at the same
times on the same instances), and what each one does to the cluster."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx

from chaos.cluster import Database, Instance, Redis

KILL, ROLLING, REDIS, STOP, DATABASE = "SIGKILL", "rolling restart (SIGTERM)", "Redis restart", "SIGSTOP 5 s", "pg_terminate_backend"


@dataclass(frozen=True)
class Fault:
    at: float  # seconds after the workload started
    kind: str
    target: int | None = None  # instance index, for the faults of one instance


@dataclass
class Happened:
    """A fault as it went: when, and how long until every instance was ready again."""

    fault: Fault
    started: float  # monotonic
    recovered: float | None = None
    windows: dict[str, tuple[float, float]] = field(default_factory=dict)  # instance -> (down from, up again)
    note: str = ""

    @property
    def recovery_seconds(self) -> float | None:
        return None if self.recovered is None else self.recovered - self.started


def schedule(seed: int, duration: float, instances: int = 3) -> list[Fault]:
    """One of each one-off fault at a seeded spot in the middle of the run, and a SIGKILL of
    a random instance about every 10 s in the time left between them."""
    rng = random.Random(seed)
    one_offs = [ROLLING, REDIS, STOP, DATABASE]
    rng.shuffle(one_offs)
    slots = [duration * f for f in (0.1, 0.3, 0.45, 0.6)]
    faults = [
        Fault(at + rng.uniform(-1, 1), kind, rng.randrange(instances) if kind == STOP else None)
        for at, kind in zip(slots, one_offs, strict=True)
    ]
    at = rng.uniform(3, 6)
    while at < duration * 0.85:
        if all(abs(at - f.at) > 3 for f in faults):
            faults.append(Fault(at, KILL, rng.randrange(instances)))
        at += rng.uniform(8, 12)
    return sorted(faults, key=lambda f: f.at)


class Injector:
    def __init__(self, instances: list[Instance], redis: Redis, database: Database, http: httpx.AsyncClient) -> None:
        self.instances, self.redis, self.database, self.http = instances, redis, database, http

    async def run(self, faults: list[Fault], started: float, over: asyncio.Event, log: Callable[[str], None]) -> list[Happened]:
        """Inject each fault at its time (or once the previous one has recovered), in order.
        Once the workload time is `over`, only what has not happened at least once still
        does (a slow rolling restart must not leave a short run without a SIGKILL)."""
        happened: list[Happened] = []
        for fault in faults:
            delay = started + fault.at - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(over.wait(), delay)
            if over.is_set() and any(h.fault.kind == fault.kind for h in happened):
                continue
            record = Happened(fault, time.monotonic())
            target = f" of {self.instances[fault.target].name}" if fault.target is not None else ""
            log(f"t={record.started - started:6.1f}s  {fault.kind}{target}")
            await self._inject(record)
            await self._all_ready()
            record.recovered = time.monotonic()
            happened.append(record)
        return happened

    async def _inject(self, record: Happened) -> None:
        fault = record.fault
        if fault.kind == KILL:
            instance = self.instances[fault.target or 0]
            await self._down(record, instance, lambda: self._kill(instance))
        elif fault.kind == ROLLING:
            for instance in self.instances:
                await self._down(record, instance, lambda i=instance: self._terminate(i, record))  # type: ignore[misc]
        elif fault.kind == STOP:
            instance = self.instances[fault.target or 0]
            await self._down(record, instance, lambda: self._pause(instance))
        elif fault.kind == REDIS:
            self.redis.kill()
            await asyncio.sleep(1.0)
            await self.redis.start()
        elif fault.kind == DATABASE:
            record.note = f"{await self.database.terminate_connections()} connections terminated"

    async def _down(self, record: Happened, instance: Instance, action: Callable[[], Awaitable[None]]) -> None:
        down = time.monotonic()
        await action()
        await instance.wait_ready(self.http)
        record.windows[instance.name] = (down, time.monotonic())

    async def _kill(self, instance: Instance) -> None:
        instance.kill()
        instance.launch()

    async def _terminate(self, instance: Instance, record: Happened) -> None:
        instance.signal(signal.SIGTERM)
        code = await instance.wait_exit(40)
        if code is None:
            record.note += f" {instance.name} did not exit within 40 s of SIGTERM;"
            instance.kill()
        elif code not in (0, -signal.SIGTERM):  # uvicorn re-raises SIGTERM once drained: -15 is clean
            record.note += f" {instance.name} exited with {code};"
        instance.launch()

    async def _pause(self, instance: Instance) -> None:
        instance.signal(signal.SIGSTOP)
        await asyncio.sleep(5.0)
        instance.signal(signal.SIGCONT)

    async def _all_ready(self) -> None:
        for instance in self.instances:
            await instance.wait_ready(self.http)
