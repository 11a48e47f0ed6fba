"""Markdown tables and BENCHMARKS.md sections for the bench scripts."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

HEADER = (
    "# Benchmarks\n\nFigures are from a shared 2-core machine: medians unless stated otherwise, and noisy; "
    "compare them with figures from the same machine only.\n"
)


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def replace_section(path: Path, title: str, body: str) -> None:
    """Write `## title` + body into the file, replacing that section if it is there (up to the next `## `)."""
    current = path.read_text() if path.exists() else HEADER
    lines = current.splitlines(keepends=True)
    heading = f"## {title}"
    text = f"{heading}\n\n{body.rstrip()}\n"
    start = next((i for i, line in enumerate(lines) if line.rstrip() == heading), None)
    if start is None:
        path.write_text(current.rstrip("\n") + "\n\n" + text)
        return
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    rest = "".join(lines[end:])
    path.write_text("".join(lines[:start]) + text + ("\n" + rest if rest else ""))
