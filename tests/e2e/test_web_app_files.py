"""The web app's files as the server serves them (no browser): the page and every module
it loads, with the Content-Security-Policy, in dev and in production mode."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.ui import STATIC
from tests.e2e.conftest import running_app

IMPORT = re.compile(r"""(?:import|export)\s*(?:[^'"]*?\bfrom\s*)?['"](\.{1,2}/[^'"]+)['"]""")
# An import or re-export statement (minified ones too) whose specifier is not a relative path.
BARE_IMPORT = re.compile(r"""(?:^|;)\s*(?:import|export)\b[^;'"\n]*?\bfrom\s*['"](?![./])""", re.MULTILINE)


def modules_reached(start: Path) -> set[Path]:
    """Every ES module `start` imports, directly or not (relative specifiers only: no import map)."""
    seen: set[Path] = set()
    pending = [start]
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        for specifier in IMPORT.findall(module.read_text()):
            target = (module.parent / specifier).resolve()
            assert target.is_file(), f"{module.relative_to(STATIC)} imports {specifier}, which does not exist"
            pending.append(target)
    return seen


def test_every_module_the_app_imports_exists_and_needs_no_import_map() -> None:
    reached = modules_reached((STATIC / "js" / "main.js").resolve())
    names = {path.relative_to(STATIC.resolve()).as_posix() for path in reached}
    assert {"vendor/preact/preact.module.js", "vendor/preact/hooks.module.js", "vendor/htm/htm.module.js",
            "vendor/graphql-ws/client.mjs", "js/pages/board.js"} <= names
    for path in reached:
        assert not BARE_IMPORT.search(path.read_text()), f"{path.name} imports a bare specifier"


def test_the_vendored_libraries_keep_their_licences() -> None:
    for library in ("preact", "htm", "graphql-ws"):
        assert any((STATIC / "vendor" / library).glob("LICENSE*")), f"{library} has no licence file"


@pytest.mark.parametrize("env", ["development", "production"])
async def test_the_page_and_its_modules_are_served_with_a_strict_csp(tmp_path: Path, env: str) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db", seed_demo=False, env=env,
                        auth="jwt", jwt_local_keys=str(tmp_path / "keys"))
    async with running_app(settings) as http:
        page = await http.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "<script>" not in page.text and '<script type="module" src="/static/js/main.js">' in page.text
        for path in ("/static/js/main.js", "/static/vendor/graphql-ws/client.mjs", "/static/js/pages/fixtures.js"):
            module = await http.get(path)
            assert module.status_code == 200, path
            assert module.headers["content-type"].startswith("text/javascript"), (path, module.headers["content-type"])
            assert module.headers["content-security-policy"] == csp
            assert module.headers["x-content-type-options"] == "nosniff"
            assert module.headers["cache-control"] == "no-cache"  # revalidated: a release is picked up at once
        assert (await http.get("/static/app.css")).headers["content-type"].startswith("text/css")
        assert (await http.get("/static/nothing.js")).status_code == 404
        assert (await http.get("/static/../server.py")).status_code == 404


async def test_a_subgraph_serves_no_web_app(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/whistle.db", seed_demo=False, subgraph="directory")
    async with running_app(settings) as http:
        assert (await http.get("/")).status_code == 404
        assert (await http.get("/static/js/main.js")).status_code == 404
        assert (await http.get("/healthz")).status_code == 200
