"""One federated stack for the whole session (starting it takes a few seconds): the demo
league in PostgreSQL, Redis, the monolith, three subgraphs and the gateway."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.federation.stack import Stack, federated_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with federated_stack(tmp_path_factory.mktemp("federation")) as running:
        yield running
