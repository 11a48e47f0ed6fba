"""`make bench`: Whistle next to the peers (../shared/peers) on the fixtures page, side by side.

1. the peers' setup.sh (wrk, their venv and node deps, the `peers` database);
2. bench/load_peers.py copies the peers' rows (same ids) into a fresh Whistle database;
3. one `whistle serve` per variant (one worker, pinned to CPU 0 like the peers);
4. the peers' run.sh with every variant as an extra, at each concurrency (1 and 16):
   node-apollo and the variants are measured in the same run, one after the other;
5. the table (Whistle's rows, ratios to node-apollo) goes into BENCHMARKS.md.

A variant is `NAME` or `NAME:ENV=VALUE,ENV=VALUE` (Whistle settings), e.g.
`--variant on --variant gc-off:WHISTLE_GC_THRESHOLD=0,WHISTLE_GC_FREEZE=false`:
the same run then measures Whistle with a lever on and off.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from bench.server import BENCH_DIR, BENCH_SETTINGS, PEERS, REPO, Variant, bench_database, sqlite_url, whistle_servers
from bench.markdown import replace_section, table

RESULTS_LINE = "results: "


def run_harness(conns: int, servers: dict[str, tuple[str, int]], database: str, args: argparse.Namespace) -> Path:
    """One run.sh at `conns` connections with every server as an extra; its TSV."""
    command = [str(PEERS / "run.sh"), "--conns", str(conns), "--duration", str(args.duration), "--only", args.peers]
    for name, (url, pid) in servers.items():
        command += [
            "--extra", f"{name}={url}", "--extra-pid", f"{name}={pid}",
            "--extra-q1", f"{name}={BENCH_DIR / 'q1_connection.json'}",
            "--extra-list-path", f"{name}=data.fixtures.edges[].node", "--extra-db", f"{name}={database}",
        ]  # fmt: skip
    print("+", " ".join(command), flush=True)
    run = subprocess.run(command, capture_output=True, text=True)
    print(run.stdout[-3000:], run.stderr[-2000:], sep="\n", flush=True)
    line = next((l for l in run.stdout.splitlines() if l.startswith(RESULTS_LINE)), None)
    if line is None:
        raise SystemExit(f"run.sh wrote no results (exit {run.returncode})")
    return Path(line[len(RESULTS_LINE):].split(".{")[0] + ".tsv")


def read_tsv(path: Path) -> dict[str, dict[str, str]]:
    with path.open() as f:
        return {row["peer"]: row for row in csv.DictReader(f, delimiter="\t")}


def ratio(value: str, reference: str) -> str:
    try:
        return f"{float(value) / float(reference):.2f}×"
    except (ValueError, ZeroDivisionError):
        return "–"


def results_table(runs: dict[int, dict[str, dict[str, str]]]) -> str:
    """The issue's table for every peer measured at both concurrencies, plus ratios to node-apollo."""
    low, high = runs[min(runs)], runs[max(runs)]
    apollo_low, apollo_high = low.get("node-apollo", {}), high.get("node-apollo", {})
    rows = []
    for peer in low:
        if peer not in high:
            continue
        a, b = low[peer], high[peer]
        rows.append([
            peer,
            f"{a['q1_rps']} / {b['q1_rps']}", b["q1_p99_ms"], f"{a['srv_cpu_ms_q1']} / {b['srv_cpu_ms_q1']}",
            f"{a['q2_rps']} / {b['q2_rps']}", b["sql_data_q1"],
            f"{ratio(a['q1_rps'], apollo_low.get('q1_rps', ''))} / {ratio(b['q1_rps'], apollo_high.get('q1_rps', ''))}",
            f"{ratio(a['q2_rps'], apollo_low.get('q2_rps', ''))} / {ratio(b['q2_rps'], apollo_high.get('q2_rps', ''))}",
        ])  # fmt: skip
    c1, c2 = min(runs), max(runs)
    header = [
        "server (one process)", f"Q1 req/s at {c1} / {c2} conns", f"Q1 p99 ms at {c2}",
        f"server CPU ms per Q1 at {c1} / {c2}", f"Q2 req/s at {c1} / {c2}", "SQL per Q1 (data)",
        f"Q1 vs node-apollo at {c1} / {c2}", f"Q2 vs node-apollo at {c1} / {c2}",
    ]  # fmt: skip
    return table(header, rows)


def _num(row: dict[str, str], key: str) -> float | None:
    try:
        return float(row[key])
    except (KeyError, ValueError):
        return None


def _with_ratio(value: float | None, reference: float | None) -> str:
    if value is None:
        return "–"
    if reference:
        return f"{value:g} ({value / reference:.2f}×)"
    return f"{value:g}"


def issue_table(runs: dict[int, dict[str, dict[str, str]]]) -> str:
    """Issue 17's table: req/s at 16 and 1 connection with the ratio to node-apollo, and
    server CPU per Q1 at 16 connections with the ratio to py-plan."""
    high, low = runs[max(runs)], runs[min(runs)]
    apollo_high, apollo_low, plan = high.get("node-apollo", {}), low.get("node-apollo", {}), high.get("py-plan", {})
    rows = []
    for peer in high:
        if peer not in low:
            continue
        rows.append([
            peer,
            _with_ratio(_num(high[peer], "q1_rps"), _num(apollo_high, "q1_rps")),
            _with_ratio(_num(low[peer], "q1_rps"), _num(apollo_low, "q1_rps")),
            _with_ratio(_num(high[peer], "q2_rps"), _num(apollo_high, "q2_rps")),
            _with_ratio(_num(low[peer], "q2_rps"), _num(apollo_low, "q2_rps")),
            _with_ratio(_num(high[peer], "srv_cpu_ms_q1"), _num(plan, "srv_cpu_ms_q1")),
        ])  # fmt: skip
    c_high, c_low = max(runs), min(runs)
    header = [
        "", f"Q1 req/s {c_high} conns", f"Q1 req/s {c_low} conn", f"Q2 req/s {c_high}", f"Q2 req/s {c_low}",
        f"CPU ms/Q1 at {c_high} (vs py-plan)",
    ]  # fmt: skip
    return table(header, rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", type=Variant.parse, help="NAME[:ENV=V,...] (repeatable)")
    parser.add_argument("--conns", default="1,16", help="concurrencies, comma-separated (default 1,16)")
    parser.add_argument("--duration", type=int, default=10, help="seconds of wrk per query (default 10)")
    parser.add_argument("--peers", default="node-apollo,py-plan", help="built-in peers to run with (run.sh --only)")
    parser.add_argument("--skip-setup", action="store_true", help="do not run the peers' setup.sh")
    parser.add_argument("--section", default="Fixtures page vs the peers", help="BENCHMARKS.md section to write")
    parser.add_argument("--no-write", action="store_true", help="print the table only")
    parser.add_argument(
        "--backend", choices=["postgres", "sqlite"], default="postgres",
        help="Whistle's database: PostgreSQL, or the embedded SQLite (run.sh then counts no SQL for it)",
    )  # fmt: skip
    args = parser.parse_args()
    variants = args.variant or [Variant.parse(os.environ.get("WHISTLE_BENCH_VARIANT", "default"))]
    if not args.skip_setup:
        subprocess.run([str(PEERS / "setup.sh")], check=True)
    runs: dict[int, dict[str, dict[str, str]]] = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(sqlite_url(tmp) if args.backend == "sqlite" else None) as url,
        whistle_servers(url, variants) as servers,
    ):
        database = url.rsplit("/", 1)[1]
        for conns in (int(c) for c in args.conns.split(",")):
            runs[conns] = read_tsv(run_harness(conns, servers, database, args))
    body = "\n".join([
        f"- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Whistle's database: {'the embedded SQLite (a file; the SQL column counts PostgreSQL statements only)' if args.backend == 'sqlite' else 'PostgreSQL 15 (the peers use the same server)'}",
        f"- Machine: {os.cpu_count()} cores, {platform.processor() or platform.machine()}, {_cpu_model()}; "
        "shared with other sessions",
        f"- Command: `.venv/bin/python -m bench.run {' '.join(sys.argv[1:])}` (what `make bench` runs)",
        "- Variants: " + "; ".join(f"`{v.name}`: {v.describe()}" for v in variants),
        "- Whistle's configuration: " + ", ".join(f"{k}={v}" for k, v in BENCH_SETTINGS.items())
        + " (request ids, the JSON request log, operation limits, dev-mode authentication, APQ: on)",
        "",
        issue_table(runs) if len(runs) > 1 else "",
        "",
        results_table(runs),
    ])  # fmt: skip
    print(body)
    if not args.no_write:
        replace_section(REPO / "BENCHMARKS.md", args.section, body)


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


if __name__ == "__main__":
    main()
