"""The test suite's npm projects (tests/clients, tests/oidc/provider, tests/browser, gateway/):
each is installed with `npm ci` from its lock file on first use, so `make test` stays the
one command on a fresh machine."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path


def npm_ci(folder: Path, missing: Callable[[str], object]) -> Path:
    """FOLDER/node_modules, installed when missing or older than package-lock.json; `missing`
    skips (or fails, where services are required) with the reason when that cannot be done."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        missing("node and npm on PATH")
    stamp = folder / "node_modules" / ".package-lock.json"  # npm writes it on every install
    if not stamp.exists() or stamp.stat().st_mtime < (folder / "package-lock.json").stat().st_mtime:
        result = subprocess.run(
            ["npm", "ci", "--prefer-offline", "--no-audit", "--no-fund"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if result.returncode != 0:
            missing(f"`npm ci` in {folder.name}/ (it failed: {result.stderr[-2000:]})")
    return stamp.parent
