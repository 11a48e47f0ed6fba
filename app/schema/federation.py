"""Federation's `_entities`, hardened: Strawberry trusts each representation to be an
object with a known `__typename` and exactly the key fields, and answers anything else
with an unexpected error (a 500-class INTERNAL_SERVER_ERROR). Here a malformed
representation is refused alone, as BAD_USER_INPUT / INVALID_REPRESENTATION at its index
(`path: ["_entities", i]`), and the others are resolved as usual."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from strawberry.federation.schema import FederationAny
from strawberry.types.info import Info

from app.domain.errors import InvalidInput

__all__ = ["FederationAny", "Info", "entity_names", "resolve_entities"]

KEY_FIELDS = ("id",)  # every entity is @key(fields: "id")


def _problem(representation: Any, entities: frozenset[str]) -> str | None:
    if not isinstance(representation, dict):
        return "A representation must be an object with `__typename` and `id`."
    typename = representation.get("__typename")
    if not isinstance(typename, str) or typename not in entities:
        return f"`__typename` must be one of the entity types {', '.join(sorted(entities))}."
    if "id" not in representation:
        return f"A {typename} representation needs its key field `id`."
    return None


def resolve_entities(
    representations: Sequence[Any],
    entities: frozenset[str],
    resolve: Callable[[list[Any]], list[Any]],
) -> list[Any]:
    """`resolve` (Strawberry's resolver) on the well-formed representations, reduced to
    `__typename` and the key fields; an InvalidInput in the place of each malformed one."""
    problems = [_problem(r, entities) for r in representations]
    valid = [
        {"__typename": r["__typename"], **{k: r[k] for k in KEY_FIELDS}}
        for r, problem in zip(representations, problems)
        if problem is None
    ]
    resolved = iter(resolve(valid) if valid else [])
    return [
        next(resolved) if problem is None else InvalidInput("INVALID_REPRESENTATION", problem) for problem in problems
    ]


def entity_names(schema: Any) -> frozenset[str]:
    """The types `_entities` can resolve: those with a `resolve_reference`."""
    names = set()
    for name, type_ in schema.schema_converter.type_map.items():
        origin = getattr(getattr(type_, "definition", None), "origin", None)
        if origin is not None and hasattr(origin, "resolve_reference"):
            names.add(name)
    return frozenset(names)
