"""The top entries of a py-spy profile: `py-spy record -f raw -o FILE ...` writes collapsed
stacks (`frame;frame;... count`); this prints the functions with the largest shares of
samples, inclusive (the function or anything it called) and own (the innermost frame).

    .venv/bin/python -m bench.pyspy_top FILE [--top 25] [--grep app/]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def _label(frame: str) -> str:
    """`function (package/module.py)`, without the line and the site-packages prefix."""
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip()
    path = match["file"]
    for marker in ("site-packages/", "python3.11/", "/app/", "/bench/"):
        if marker in path:
            path = ("app/" if marker == "/app/" else "bench/" if marker == "/bench/" else "") + path.split(marker, 1)[1]
            break
    return f"{match['name']} ({path})"


def summarize(path: Path) -> tuple[int, Counter[str], Counter[str]]:
    total, inclusive, own = 0, Counter[str](), Counter[str]()
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_label(f) for f in stack.split(";") if f]
        # py-spy puts the thread (and process) first; frames are outermost first.
        frames = [f for f in frames if not f.startswith(("thread ", "process "))]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    return total, inclusive, own


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--grep", default="", help="only functions whose label contains this")
    args = parser.parse_args()
    total, inclusive, own = summarize(args.file)
    for title, counts in (("inclusive", inclusive), ("own", own)):
        print(f"\n{title} (of {total} samples)")
        shown = [(k, v) for k, v in counts.most_common() if args.grep in k][: args.top]
        for label, count in shown:
            print(f"{100 * count / total:6.1f} %  {label}")


if __name__ == "__main__":
    main()
