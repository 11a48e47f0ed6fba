"""The README's example of another team's subgraph, run for real: examples/ratings under
uvicorn joins the three Whistle subgraphs behind a second gateway, and one request
reads fields of all four."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import ROOT
from tests.federation.stack import SUBGRAPHS, GATEWAY_DIR, GatewayProcess, Stack, node
from tests.integration.bus_fixtures import free_port

pytestmark = pytest.mark.federation


def test_a_referee_rating_from_another_teams_subgraph_joins_whistles_fields(stack: Stack, tmp_path: Path) -> None:
    sdl = subprocess.run([sys.executable, "-m", "examples.ratings.app"], cwd=ROOT, capture_output=True, text=True, check=True)
    (tmp_path / "ratings.graphql").write_text(sdl.stdout)
    supergraph = tmp_path / "supergraph.graphql"
    files = [str(GATEWAY_DIR / "subgraphs" / f"{n}.graphql") for n in SUBGRAPHS] + [str(tmp_path / "ratings.graphql")]
    composed = node("compose.mjs", "--out", str(supergraph), *files)
    assert composed.returncode == 0, composed.stderr

    port = free_port()
    ratings = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "examples.ratings.app:app", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    urls = {name: f"{server.url}/graphql" for name, server in stack.subgraphs.items()}
    urls["ratings"] = f"http://127.0.0.1:{port}/graphql"
    gateway = GatewayProcess(free_port(), urls, tmp_path, supergraph)
    gateway.env["EXTRA_SUBGRAPHS"] = "ratings"
    try:
        deadline = time.monotonic() + 30
        while True:  # the ratings subgraph answers
            try:
                httpx.post(urls["ratings"], json={"query": "{ maxRating }"}, timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                assert time.monotonic() < deadline, "the ratings subgraph did not start"
                time.sleep(0.1)
        gateway.start()
        result = httpx.post(
            f"{gateway.url}/graphql",
            json={"query": "{ maxRating referees { id name rating assignments { role fixture { venue { name } } } } }"},
            timeout=30,
        ).json()
    finally:
        gateway.stop()
        ratings.terminate()
        ratings.wait(10)
    assert "errors" not in result, result
    referees = result["data"]["referees"]
    assert result["data"]["maxRating"] == 5 and len(referees) >= 40
    assert all(1 <= r["rating"] <= 5 and r["name"] for r in referees)
    assert any(r["assignments"] and r["assignments"][0]["fixture"]["venue"]["name"] for r in referees)
