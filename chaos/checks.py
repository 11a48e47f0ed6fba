"""The invariants, judged from the database (the outbox: every change and its events
commit together) and from the clients' own logs, and the figures of the run."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from chaos.faults import Happened
from chaos.workload import Call, Subscriber

CHANGE_KINDS = {"FixtureCreated", "FixtureDateChanged", "FixtureVenueChanged", "FixtureCancelled", "RefereesChanged"}
# How long after an instance is back HAProxy may still hold a connection it opened to it before.
GRACE = 2.0


@dataclass(frozen=True)
class Event:
    position: int
    type: str
    payload: dict[str, Any]


@dataclass
class Verdict:
    violations: list[str] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    def check(self, name: str, bad: int, detail: str = "") -> None:
        self.figures[name] = bad
        if bad:
            self.violations.append(f"{name}: {bad}" + (f" ({detail})" if detail else ""))


def expected_events(subscriber: Subscriber, events: list[Event]) -> list[int]:
    """The positions this subscriber may see, after the one it started after."""

    def wants(event: Event) -> bool:
        if subscriber.field == "fixtureChanged":
            return event.type in CHANGE_KINDS
        if subscriber.field == "assignmentsCommitted":
            return event.type == "AssignmentsCommitted"
        return event.type == "NotificationCreated" and event.payload.get("referee_id") == subscriber.variables["r"]

    return [e.position for e in events if e.position > subscriber.after and wants(e)]


def judge(calls: list[Call], events: list[Event], subscribers: list[Subscriber], faults: list[Happened]) -> Verdict:
    verdict = Verdict()
    _mutations(verdict, calls, events)
    _subscribers(verdict, subscribers, events)
    _server_errors(verdict, calls, faults)
    _figures(verdict, calls, faults)
    return verdict


def _mutations(verdict: Verdict, calls: list[Call], events: list[Event]) -> None:
    """Acknowledged ones are in the database (their events are); none applied twice: per key,
    the applied effects number at least the acknowledged calls and at most those plus the
    calls whose outcome the client could not know."""
    applied: Counter[tuple[str, ...]] = Counter()
    commits = set()
    for event in events:
        p = event.payload
        if event.type == "AvailabilityDeclared":
            applied[("declare", p["fixture_id"], p["referee_id"])] += 1
        elif event.type == "AvailabilityWithdrawn":
            applied[("withdraw", p["fixture_id"], p["referee_id"])] += 1
        elif event.type == "AssignmentsCommitted":
            commits.add(p["commit_id"])
    sent: dict[tuple[str, ...], Counter[str]] = defaultdict(Counter)
    for call in calls:
        if call.op in ("declare", "withdraw"):
            sent[(call.op, call.key[1], call.key[2])][call.outcome] += 1
    lost = [key for key, outcomes in sent.items() if applied[key] < outcomes["ok"]]
    twice = [key for key, outcomes in sent.items() if applied[key] > outcomes["ok"] + outcomes["unknown"]]
    acked_commits = [c for c in calls if c.op == "commit" and c.outcome == "ok" and c.data]
    lost_commits = [
        c.data["commitAssignments"]["id"]
        for c in acked_commits
        if c.data["commitAssignments"]["assignments"] and c.data["commitAssignments"]["id"] not in commits
    ]
    commit_calls = Counter(c.outcome for c in calls if c.op == "commit")
    empty = sum(1 for c in acked_commits if not c.data["commitAssignments"]["assignments"])
    extra_commits = max(0, len(commits) - (commit_calls["ok"] - empty + commit_calls["unknown"]))
    verdict.check("acknowledged mutations lost", len(lost) + len(lost_commits), f"{lost[:3]} {lost_commits[:3]}")
    verdict.check("effects applied twice", len(twice) + extra_commits, f"{twice[:3]}")
    mutations = [c for c in calls if c.mutation]
    verdict.figures["mutations"] = dict(Counter(c.outcome for c in mutations))
    verdict.figures["commits in the database"] = len(commits)


def _subscribers(verdict: Verdict, subscribers: list[Subscriber], events: list[Event]) -> None:
    missed = duplicated = disordered = refused = 0
    for subscriber in subscribers:
        expected = expected_events(subscriber, events)
        received = subscriber.received
        missed += len(set(expected) - set(received))
        duplicated += len(received) - len(set(received))
        disordered += sum(1 for a, b in zip(received, received[1:]) if b <= a)
        refused += len(subscriber.errors)
    verdict.check("subscriber events missed", missed)
    verdict.check("subscriber events duplicated", duplicated)
    verdict.check("subscriber events out of order", disordered)
    verdict.check("subscription errors", refused, "; ".join(e for s in subscribers for e in s.errors[:1])[:300])
    verdict.figures["subscribers"] = len(subscribers)
    verdict.figures["events delivered"] = sum(len(s.received) for s in subscribers)
    verdict.figures["reconnections"] = sum(max(0, s.connects - 1) for s in subscribers)
    closes: Counter[str] = Counter()
    for subscriber in subscribers:
        closes.update(subscriber.closes)
    verdict.figures["socket ends (close code or error)"] = dict(closes)


def _down(faults: list[Happened], backend: str, at: float) -> bool:
    return any(start - GRACE <= at <= end + GRACE for f in faults for name, (start, end) in f.windows.items() if name == backend)


def _server_errors(verdict: Verdict, calls: list[Call], faults: list[Happened]) -> None:
    errors = [c for c in calls if c.status is not None and c.status >= 500]
    blamed = [c for c in errors if c.backend not in ("?", "<NOSRV>") and not _down(faults, c.backend, c.start)]
    verdict.check("5xx from an instance not being killed", len(blamed), ", ".join(f"{c.status} {c.backend}" for c in blamed[:5]))
    verdict.figures["5xx in all"] = dict(Counter(f"{c.status} {c.backend}" for c in errors))


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def _overlaps(call: Call, fault: Happened) -> bool:
    """The call was in flight at some moment between the fault and the recovery."""
    return call.start <= (fault.recovered or fault.started) and call.end >= fault.started


def _figures(verdict: Verdict, calls: list[Call], faults: list[Happened]) -> None:
    answered = [c for c in calls if c.outcome in ("ok", "refused")]
    verdict.figures["requests"] = len(calls)
    verdict.figures["unknown reasons"] = dict(Counter(c.reason for c in calls if c.outcome == "unknown"))
    verdict.figures["failed per fault"] = {
        id(f): sum(1 for c in calls if c.outcome == "unknown" and _overlaps(c, f)) for f in faults
    }
    verdict.figures["availability"] = len(answered) / len(calls) if calls else None

    def during(call: Call) -> bool:
        return any(_overlaps(call, f) for f in faults)

    for label, chosen in (("during faults", [c for c in calls if during(c)]), ("outside faults", [c for c in calls if not during(c)])):
        latencies = [(c.end - c.start) * 1000 for c in chosen]
        ok = [c for c in chosen if c.outcome in ("ok", "refused")]
        verdict.figures[f"latency {label}"] = {
            "requests": len(chosen),
            "availability": len(ok) / len(chosen) if chosen else None,
            "p50 ms": _percentile(latencies, 50),
            "p99 ms": _percentile(latencies, 99),
        }
