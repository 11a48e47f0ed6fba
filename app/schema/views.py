"""A federation schema that shows one bounded context (app.schema.subgraphs) of the
shared classes: Strawberry's `get_fields` hook hides the other contexts' fields, the
`_Entity` union lists only the entities this subgraph resolves, and the entities it
only refers to print as `@key(fields: "id", resolvable: false)` stubs."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from strawberry.annotation import StrawberryAnnotation
from strawberry.federation.schema_directives import Key
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.types.field import StrawberryField
from strawberry.types.union import StrawberryUnion

from app.schema.subgraphs import ENTITY_OWNERS, KEY_FIELD, Subgraph, resolves, shows


def _entity_classes() -> dict[str, type]:
    from app.schema.types import Fixture, Referee, Team, Venue

    return {cls.__name__: cls for cls in (Fixture, Referee, Team, Venue)}


class SubgraphView:
    """Schema mixin; `subgraph=None` (the monolith) changes nothing."""

    subgraph: Subgraph | None = None

    def __init__(self, *args: Any, subgraph: Subgraph | None = None, **kwargs: Any) -> None:
        self.subgraph = subgraph  # before the base class converts the types
        super().__init__(*args, **kwargs)
        if subgraph is not None:
            self._print_stubs_unresolvable()

    def get_fields(self, type_definition: StrawberryObjectDefinition) -> list[StrawberryField]:
        fields = super().get_fields(type_definition)  # type: ignore[misc]
        if self.subgraph is None:
            return fields
        name_of = self.config.name_converter.get_graphql_name  # type: ignore[attr-defined]
        return [f for f in fields if shows(self.subgraph, type_definition.name, name_of(f))]

    def _get_federation_query_type(self, *args: Any, **kwargs: Any) -> type:
        query = super()._get_federation_query_type(*args, **kwargs)  # type: ignore[misc]
        if self.subgraph is not None:
            # Strawberry's `_Entity` union lists every @key type reachable through ALL fields;
            # a subgraph's lists the entities it resolves.
            members = [cls for name, cls in sorted(_entity_classes().items()) if resolves(self.subgraph, name)]
            union = StrawberryUnion("_Entity", type_annotations=tuple(StrawberryAnnotation(c) for c in members))
            for field in query.__strawberry_definition__.fields:
                if field.graphql_name == "_entities":
                    field.type = list[union | None]  # type: ignore[valid-type]
        return query

    def resolvable_entities(self, names: Iterable[str]) -> frozenset[str]:
        """The entity type names `_entities` accepts here."""
        if self.subgraph is None:
            return frozenset(names)
        return frozenset(n for n in names if resolves(self.subgraph, n))

    def _print_stubs_unresolvable(self) -> None:
        """The printed SDL (`_service { sdl }`) reads a type's directives from its Strawberry
        definition: give the stub types of this schema a copy with a non-resolvable key."""
        assert self.subgraph is not None
        backref = GraphQLCoreConverter.DEFINITION_BACKREF
        for name in ENTITY_OWNERS:
            graphql_type = self._schema.type_map.get(name)  # type: ignore[attr-defined]
            if graphql_type is None or resolves(self.subgraph, name):
                continue
            definition = copy.copy(graphql_type.extensions[backref])
            definition.directives = [Key(fields=KEY_FIELD, resolvable=False)]  # type: ignore[arg-type]
            graphql_type.extensions = {**graphql_type.extensions, backref: definition}
