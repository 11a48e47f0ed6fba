"""GC tuning is applied for the life of the server and undone afterwards."""

from __future__ import annotations

import gc
from pathlib import Path

from app.config import Settings
from app.gc_tuning import tuned_gc
from tests.e2e.conftest import running_app


def test_threshold_and_freeze_hold_inside_and_are_undone_after() -> None:
    before = gc.get_threshold()
    assert gc.get_freeze_count() == 0
    with tuned_gc(123_457, freeze=True):
        assert gc.get_threshold() == (123_457, *before[1:])
        assert gc.get_freeze_count() > 1000  # at least the modules imported so far
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_zero_threshold_and_no_freeze_change_nothing() -> None:
    before = gc.get_threshold()
    with tuned_gc(0, freeze=False):
        assert gc.get_threshold() == before
        assert gc.get_freeze_count() == 0
    assert gc.get_threshold() == before


async def test_the_server_lifespan_applies_the_settings(tmp_path: Path) -> None:
    before = gc.get_threshold()
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/w.db", seed_demo=False, gc_threshold=98_765)
    async with running_app(settings) as http:
        assert (await http.get("/healthz")).status_code == 200
        assert gc.get_threshold()[0] == 98_765
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
