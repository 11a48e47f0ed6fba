"""Plans: a validated query operation turned, once, into what to do per selection set.

A plan is a tree of `Selection`s (one per object type and selection set), each a list
of `Field`s that know how to get their value (a precomputed attribute getter for fields
without a resolver; the Strawberry resolver itself (`Direct`) where Strawberry's wrapper
would only convert arguments, or its batch form for a whole level where it has one
(`BATCH`); else the field's graphql-core `resolve`, i.e. that wrapper with argument
conversion, permissions and field extensions) and how to complete it (`Leaf`, `Object`,
with generated code when its selection is flat (app.execution.flat), `Abstract`: one
selection per possible type, `ListOf`). Fields are grouped by graphql-core's own `collect_fields`,
so merging, ordering, fragments and @skip/@include are exactly graphql-core's; the
plan therefore depends on the values of the variables those directives use, which are
part of the cache key (`directive_variables`).

Anything the runner does not reproduce exactly raises `Unsupported`, and the operation
runs through graphql-core instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

from graphql import (
    FieldNode,
    GraphQLAbstractType,
    GraphQLBoolean,
    GraphQLField,
    GraphQLID,
    GraphQLLeafType,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLString,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
    is_abstract_type,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)
from graphql.execution.collect_fields import FieldDetails, collect_fields, collect_subfields
from graphql.execution.values import VariableValues

from app.execution.flat import Build, FlatField, flat_builder

STRAWBERRY_FIELD = "strawberry-definition"  # GraphQLCoreConverter.DEFINITION_BACKREF
# A Strawberry field's metadata key for its batch form: `resolve_many(context, sources)`,
# an awaitable of the field's value for each source, in order (an Exception instance:
# that source's resolver would raise it). A plan runs it once for all the objects of a
# level instead of the resolver once per object; it must give what the resolver gives.
BATCH = "whistle.resolve_many"
# Leaf values of exactly this Python type are their own serialization (graphql-core's
# coerce_output_value returns them unchanged), so the runner skips the call.
_VERBATIM: dict[Any, type] = {GraphQLString: str, GraphQLID: str, GraphQLBoolean: bool}


class Unsupported(Exception):
    """The compiler leaves this operation to graphql-core; the message says why."""


@dataclass(slots=True, eq=False)
class Leaf:
    non_null: bool
    type: GraphQLLeafType
    verbatim: type | None


@dataclass(slots=True, eq=False)
class Object:
    non_null: bool
    selection: Selection
    build: Build | None = None  # generated code for a flat selection (app.execution.flat)
    # What `build` made, by id(value): (value, its dict), kept across runs (app.execution.run
    # `_settle_flat_batch`): the cached venues, teams and referees are the same objects
    # from one request to the next (app.loaders.cached), so their dicts are made once.
    built: dict[int, tuple[Any, dict[str, Any]]] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class Abstract:
    """A union or interface: the value's runtime type (graphql-core's resolve_type and
    checks) picks the selection."""

    non_null: bool
    type: GraphQLAbstractType
    selections: dict[str, Selection]  # by possible type name


@dataclass(slots=True, eq=False)
class ListOf:
    non_null: bool
    item: Leaf | Object | Abstract


Completion = Leaf | Object | Abstract | ListOf


@dataclass(slots=True, eq=False)
class Direct:
    """A Strawberry resolver called as Strawberry's own wrapper would call it, minus the
    wrapper: for fields without field extensions (permissions) or exception handlers,
    the wrapper only converts the arguments and passes source and Info, which are the
    same for every object of a level, so that work is done once per level."""

    function: Callable[..., Any]
    field: Any  # the StrawberryField
    config: Any  # the StrawberryConfig (its info_class)
    scalar_registry: Any
    self_parameter: bool  # the source goes first, as `self`
    source_names: tuple[str, ...]  # keyword parameters that also get the source (`root`, `parent`)
    info_name: str | None  # the keyword parameter that gets the Info


@dataclass(slots=True, eq=False)
class Field:
    key: str  # the response key (alias or name)
    name: str
    parent_type: GraphQLObjectType
    definition: GraphQLField
    nodes: list[FieldNode]  # every node merged into this response key (error locations)
    details: list[FieldDetails]  # the same, as graphql-core groups them
    getter: Callable[[Any], Any] | None  # a field without resolver: read the value directly
    attribute: str | None  # the attribute the getter reads (None: `__typename`, or no getter)
    resolve: Callable[..., Any] | None  # otherwise: the graphql-core resolve function
    direct: Direct | None  # or, where it is the same, the Strawberry resolver itself
    batch: Callable[[Any, list[Any]], Any] | None  # or, better still, its batch form (BATCH)
    has_args: bool
    completion: Completion
    may_wait: bool  # whether executing it may start an awaitable (a resolver here or below)

    @property
    def non_null_message(self) -> str:
        return f"Cannot return null for non-nullable field {self.parent_type.name}.{self.name}."


@dataclass(slots=True, eq=False)
class Selection:
    type: GraphQLObjectType
    fields: list[Field]
    # When every field is a leaf read from an attribute or a field with a batch form:
    # generated code for the leaves, with a None in the place of each batched field
    # (app.execution.flat), and the batched fields, which the run joins all at once.
    prefill: Build | None = None
    batched: tuple[Field, ...] = ()
    batched_keys: tuple[str, ...] = ()


def directive_variables(operation: OperationDefinitionNode, fragments: dict[str, Any]) -> tuple[str, ...]:
    """Names of the variables @skip/@include use in the operation or in any fragment
    definition (`fragments`: name to FragmentDefinitionNode)."""
    names: set[str] = set()

    def walk(selection_set: SelectionSetNode | None) -> None:
        for selection in selection_set.selections if selection_set else ():
            for directive in selection.directives or ():
                if directive.name.value in ("skip", "include"):
                    names.update(a.value.name.value for a in directive.arguments if isinstance(a.value, VariableNode))
            walk(getattr(selection, "selection_set", None))

    walk(operation.selection_set)
    for fragment in fragments.values():
        walk(fragment.selection_set)
    return tuple(sorted(names))


class _Builder:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, Any],
        variables: VariableValues,
        operation: OperationDefinitionNode,
        default_resolver: Callable[..., Any],
    ) -> None:
        self.schema, self.fragments, self.variables, self.operation = schema, fragments, variables, operation
        self.default_resolver = default_resolver

    def root(self) -> Selection:
        operation = self.operation
        if operation.operation is not OperationType.QUERY:
            raise Unsupported(f"{operation.operation.value} operations")
        if operation.directives:
            raise Unsupported("operation directives")
        root_type = self.schema.query_type
        assert root_type is not None  # a validated query has one
        grouped, defers, _ = collect_fields(self.schema, self.fragments, self.variables, root_type, operation)
        if defers:
            raise Unsupported("@defer")
        return self.selection(root_type, grouped)

    def selection(self, parent: GraphQLObjectType, grouped: dict[str, list[FieldDetails]]) -> Selection:
        if parent.is_type_of is not None:
            raise Unsupported(f"{parent.name} has is_type_of")
        selection = Selection(parent, [self.field(parent, key, details) for key, details in grouped.items()])
        batched = tuple(field for field in selection.fields if field.batch is not None)
        if batched:
            selection.prefill = _flat(selection, placeholders=True)
            if selection.prefill is not None:
                selection.batched, selection.batched_keys = batched, tuple(field.key for field in batched)
        return selection

    def field(self, parent: GraphQLObjectType, key: str, details: list[FieldDetails]) -> Field:
        if any(d.defer_usage is not None or d.fragment_variable_values is not None for d in details):
            raise Unsupported("deferred fields or fragment arguments")
        node = details[0].node
        name = node.name.value
        if name in ("__schema", "__type"):
            raise Unsupported("introspection")
        definition = self.schema.get_field(parent, name)
        if definition is None:
            raise Unsupported(f"unknown field {parent.name}.{name}")  # validation refuses it first
        attribute = self.attribute(definition)
        getter = self.typename(parent) if name == "__typename" else (attrgetter(attribute) if attribute else None)
        direct = None if getter else self.direct(definition)
        has_args = bool(definition.args or node.arguments)
        # The batch form is only taken where the resolver would be called directly (no
        # permissions, extensions or exception handlers between) and without arguments.
        batch = direct.field.metadata.get(BATCH) if direct is not None and not has_args else None
        completion = self.completion(definition.type, details)
        return Field(
            key=key,
            name=name,
            parent_type=parent,
            definition=definition,
            nodes=[d.node for d in details],
            details=details,
            getter=getter,
            attribute=attribute,
            resolve=None if getter else (definition.resolve or self.default_resolver),
            direct=direct,
            batch=batch,
            has_args=has_args,
            completion=completion,
            may_wait=getter is None or _may_wait(completion),
        )

    @staticmethod
    def typename(parent: GraphQLObjectType) -> Callable[[Any], Any]:
        typename = parent.name
        return lambda _source: typename

    @staticmethod
    def attribute(definition: GraphQLField) -> str | None:
        """The attribute to read for a field that needs no resolver: Strawberry's "basic"
        fields (no resolver, no extensions: Strawberry itself reads the attribute)."""
        field = (definition.extensions or {}).get(STRAWBERRY_FIELD)
        if (
            getattr(definition.resolve, "_is_default", False)
            and field is not None
            and field.is_basic_field
            and field.default_resolver is getattr
        ):
            return field.python_name  # type: ignore[no-any-return]
        return None

    def direct(self, definition: GraphQLField) -> Direct | None:
        field = (definition.extensions or {}).get(STRAWBERRY_FIELD)
        strawberry_schema = getattr(self.schema, "_strawberry_schema", None)
        if field is None or strawberry_schema is None or strawberry_schema.exception_handlers:
            return None
        resolver = field.base_resolver
        if resolver is None or field.extensions or not callable(resolver.wrapped_func):
            return None
        info = resolver.info_parameter
        return Direct(
            function=resolver.wrapped_func,
            field=field,
            config=strawberry_schema.config,
            scalar_registry=strawberry_schema.schema_converter.scalar_registry,
            self_parameter=resolver.self_parameter is not None,
            source_names=tuple(p.name for p in (resolver.parent_parameter, resolver.root_parameter) if p is not None),
            info_name=info.name if info is not None else None,
        )

    def completion(self, type_: GraphQLOutputType, details: list[FieldDetails]) -> Completion:
        non_null = is_non_null_type(type_)
        inner = type_.of_type if non_null else type_  # type: ignore[union-attr]
        if is_list_type(inner):
            item = self.completion(inner.of_type, details)
            if isinstance(item, ListOf):
                raise Unsupported("lists of lists")
            return ListOf(non_null, item)
        if is_leaf_type(inner):
            return Leaf(non_null, inner, _VERBATIM.get(inner))
        if is_object_type(inner):
            selection = self.subselection(inner, details)
            return Object(non_null, selection, _flat(selection))
        if is_abstract_type(inner):
            possible = self.schema.get_possible_types(inner)
            return Abstract(non_null, inner, {t.name: self.subselection(t, details) for t in possible})
        raise Unsupported(f"output type {inner}")  # not reached: every output type is one of the above

    def subselection(self, type_: GraphQLObjectType, details: list[FieldDetails]) -> Selection:
        grouped, defers, _ = collect_subfields(self.schema, self.fragments, self.variables, self.operation, type_, details)
        if defers:
            raise Unsupported("@defer")
        return self.selection(type_, grouped)


def _flat(selection: Selection, placeholders: bool = False) -> Build | None:
    """Generated code for a selection of leaves read from attributes (with `placeholders`,
    also of fields with a batch form, each a None in its place), else None."""
    fields = []
    for field in selection.fields:
        completion = field.completion
        if placeholders and field.batch is not None:
            fields.append(FlatField(field.key, attribute=None, constant=None, verbatim=None, coerce=None, non_null=False))
            continue
        if not isinstance(completion, Leaf) or field.getter is None:
            return None
        fields.append(
            FlatField(
                key=field.key,
                attribute=field.attribute,
                constant=selection.type.name if field.attribute is None else None,
                verbatim=completion.verbatim,
                coerce=completion.type.coerce_output_value,
                non_null=completion.non_null,
            )
        )
    return flat_builder(selection.type.name, fields)


def _may_wait(completion: Completion) -> bool:
    """Whether completing a value may start an awaitable (a field with a resolver below)."""
    item = completion.item if isinstance(completion, ListOf) else completion
    if isinstance(item, Object):
        return any(f.may_wait for f in item.selection.fields)
    if isinstance(item, Abstract):
        return any(f.may_wait for s in item.selections.values() for f in s.fields)
    return False


def build_plan(
    schema: GraphQLSchema,
    fragments: dict[str, Any],
    variables: VariableValues,
    operation: OperationDefinitionNode,
    default_resolver: Callable[..., Any],
) -> Selection:
    """The plan of a validated query operation, or `Unsupported`."""
    return _Builder(schema, fragments, variables, operation, default_resolver).root()
