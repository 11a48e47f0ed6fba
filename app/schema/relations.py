"""Relation fields: the object another one refers to by the id it keeps, through a loader.

`relation(...)` makes the Strawberry field, whose resolver loads the one id of its object,
and puts the field's batch form in its metadata (app.execution.plan.BATCH), which a
compiled plan runs once for all the objects of a level: their ids through one
`load_all`, each referred object made once however many objects refer to it. Both are
made from the same facts (key, loader, conversion, whether it is required), so they
cannot disagree; the differential tests (tests/execution) compare them.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

import strawberry

from app.execution.plan import BATCH
from app.schema.context import Info

# A required relation is one the database guarantees (a foreign key): missing means a
# bug, not a client error.
MISSING = "a referenced row is missing"
_UNMADE = object()


def relation(
    target: type,
    convert: Callable[[Any], Any],
    *,
    key: str,
    loader: str,
    required: bool = True,
    description: str | None = None,
) -> Any:
    """A field of type `target` (nullable unless `required`): `convert` of what the
    loader `loaders.<loader>` gives for the id in the object's attribute `key` (None:
    no relation, null)."""
    read_key = attrgetter(key)

    async def resolve(self: Any, info: Info) -> Any:
        id_ = read_key(self)
        found = None if id_ is None else await getattr(info.context.loaders, loader).load(id_)
        if found is None:
            if required:
                raise LookupError(MISSING)
            return None
        return convert(found)

    async def resolve_many(context: Any, sources: list[Any]) -> list[Any]:
        ids = [read_key(source) for source in sources]
        by_id = getattr(context.loaders, loader)
        at_hand = by_id.peek(ids, convert)
        if at_hand is not None:
            return [_missing(required) if id_ is None else at_hand[id_] for id_ in ids]
        found = await by_id.load_all(ids)
        made: dict[Any, Any] = {}
        values: list[Any] = []
        for id_ in ids:
            value = None if id_ is None else made.get(id_, _UNMADE)
            if value is _UNMADE:
                value = made[id_] = _made(convert, found[id_])
            if value is None and required:
                value = LookupError(MISSING)
            values.append(value)
        return values

    resolve.__annotations__ = {"info": Info, "return": target if required else target | None}
    resolve.__qualname__ = resolve.__name__ = f"{target.__name__}_by_{key}"
    return strawberry.field(resolver=resolve, description=description, metadata={BATCH: resolve_many})


def _missing(required: bool) -> Any:
    return LookupError(MISSING) if required else None


def _made(convert: Callable[[Any], Any], found: Any) -> Any:
    """`convert(found)`, or what the resolver would raise: a failed load's error, or convert's."""
    if found is None or isinstance(found, Exception):
        return found
    try:
        return convert(found)
    except Exception as error:  # noqa: BLE001 - that object's resolver would raise it
        return error
