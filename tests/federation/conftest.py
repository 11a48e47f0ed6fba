"""One federated stack for the whole session (starting it takes a few seconds): the demo
league in PostgreSQL, Redis, the monolith, three subgraphs and the gateway. Every process
verifies tokens signed by one local key pair (`local_keys`): the stack runs WHISTLE_AUTH=dev,
where a request without a token is ADMIN and a token, when sent, is verified and obeyed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from app.security.local_keys import LocalKeys
from tests.federation.stack import Stack, federated_stack


@pytest.fixture(scope="session")
def local_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The key pair's folder, made before the processes start (else each would make its own)."""
    folder = tmp_path_factory.mktemp("keys")
    LocalKeys.load_or_create(folder)
    return folder


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory, local_keys: Path) -> Iterator[Stack]:
    with federated_stack(tmp_path_factory.mktemp("federation"), jwt_local_keys=str(local_keys)) as running:
        yield running
