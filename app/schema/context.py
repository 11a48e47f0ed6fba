"""The typed context of one GraphQL request (or one subscription event)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry

from app.loaders import Loaders
from app.schema.cursors import CursorCodec
from app.services.deps import ServiceDeps


@dataclass
class Context:
    deps: ServiceDeps
    loaders: Loaders
    cursors: CursorCodec
    request: Any = None
    response: Any = None


Info = strawberry.Info[Context, None]
