"""The fixtures connection: keyset pagination on (date, id) with opaque cursors."""

from __future__ import annotations

import strawberry

from app.repos import reads
from app.repos.reads import FixtureFilter
from app.schema.context import Info
from app.schema.types import FixtureEdge, PageInfo


@strawberry.type(description="A page of fixtures ordered by (date, id).")
class FixtureConnection:
    edges: list[FixtureEdge]
    page_info: PageInfo
    filter: strawberry.Private[FixtureFilter]

    @strawberry.field(description="Every fixture matching the filters, ignoring first/after.")
    async def total_count(self, info: Info) -> int:
        return await info.context.loaders.read(reads.count_fixtures, self.filter)
