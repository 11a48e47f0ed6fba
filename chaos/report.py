"""CHAOS.md: the seed, the faults as they went, the invariants and the figures of one run."""

from __future__ import annotations

import argparse
import re
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from chaos.checks import Verdict
from chaos.faults import Happened

INVARIANTS = (
    "acknowledged mutations lost",
    "effects applied twice",
    "subscriber events missed",
    "subscriber events duplicated",
    "subscriber events out of order",
    "subscription errors",
    "5xx from an instance not being killed",
)


def _number(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.1f}" if value >= 1 else f"{value:.4f}"
    return str(value)


def write_report(
    out: Path, seed: int, args: argparse.Namespace, happened: list[Happened], started: float,
    verdict: Verdict, log_problems: list[str],
) -> None:
    f = verdict.figures
    lines = [
        "# Chaos run",
        "",
        f"`python -m chaos.run --seed {seed} --duration {args.duration:.0f} --subscribers {args.subscribers}`"
        f" ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC): three Whistle instances behind HAProxy, one PostgreSQL"
        " database, a private Redis; 2 admins staging, validating and committing, 4 referees declaring and"
        f" withdrawing, {f['subscribers']} subscription clients resuming with `after`. "
        + ("**Every invariant held.**" if not verdict.violations else "**INVARIANTS BROKEN:** " + "; ".join(verdict.violations)),
        "",
        "## Invariants",
        "",
        "| invariant | count |",
        "| --- | --- |",
        *(f"| {name} | {f.get(name, '—')} |" for name in INVARIANTS),
        "",
        "## Faults (seeded)",
        "",
        "| at | fault | target | recovered after (all instances ready again) | requests without an answer until recovered | note |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for h in happened:
        target = "" if h.fault.target is None else f"w{h.fault.target + 1}"
        failed = f.get("failed per fault", {}).get(id(h), 0)
        lines.append(
            f"| {h.started - started:.1f} s | {h.fault.kind} | {target} | {_seconds(h.recovery_seconds)} | {failed} | {h.note.strip()} |"
        )
    during, outside = f["latency during faults"], f["latency outside faults"]
    lines += [
        "",
        "## Figures",
        "",
        f"- Workload: {f['workload seconds']} s, {f['requests']} requests through HAProxy; availability"
        f" (answered, including the API's own refusals) {_percent(f['availability'])}.",
        f"- Mutations by what the client saw: {f['mutations']}. `unknown`: no answer or an unexpected error"
        f" ({f['unknown reasons']}); such a mutation was applied completely or not at all, and the checks allow either.",
        f"- Commits in the database: {f['commits in the database']}; events in the outbox during the run:"
        f" {f['events in the outbox']}; events delivered to subscribers: {f['events delivered']};"
        f" reconnections: {f['reconnections']}; socket ends: {f['socket ends (close code or error)']}.",
        "",
        "| requests | count | availability | p50 | p99 |",
        "| --- | --- | --- | --- | --- |",
        f"| during faults (in flight between a fault and its recovery) | {during['requests']} | {_percent(during['availability'])} |"
        f" {_number(during['p50 ms'])} ms | {_number(during['p99 ms'])} ms |",
        f"| outside faults | {outside['requests']} | {_percent(outside['availability'])} |"
        f" {_number(outside['p50 ms'])} ms | {_number(outside['p99 ms'])} ms |",
        "",
        f"- 5xx answers, by status and instance (HAProxy's `X-Served-By`): {f['5xx in all'] or 'none'}.",
        f"- ERROR lines in the instances' logs: {f['ERROR lines in server logs']}.",
    ]
    failures = f.get("failures", [])
    if failures:
        lines += ["", "Requests without an answer (time into the run, operation, what the client got, instance):", ""]
        lines += [f"- {at:.1f} s {op}: {what} ({backend})" for at, op, what, backend in failures[:20]]
    if log_problems:
        lines += ["", "Distinct ERROR lines (first 10):", "", "```"]
        distinct = Counter(_without_ids(line) for line in log_problems if "Traceback" not in line)
        lines += [f"{count}x {text}" for text, count in list(distinct.items())[:10]]
        lines.append("```")
    out.write_text("\n".join(lines) + "\n")


def _without_ids(line: str) -> str:
    """An ERROR line without its time stamp, correlation and request ids: alike lines count as one."""
    name, _, text = line.partition(": ")
    text = re.sub(r"^\S+ \S+ ", "", text)
    return name + ": " + re.sub(r" ?\(?(correlationId|\[request_id)=[^)\]]*[)\]]", "", text)


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} s"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.2f} %"
