"""The query documents of the e2e suite, and variable values for them from the demo league.

Documents are the string literals of tests/e2e that parse as GraphQL and hold no mutation
or subscription (those run through graphql-core anyway, and mutations would change the
league the other comparisons read)."""

from __future__ import annotations

import ast
from datetime import timedelta
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    VariableNode,
    parse,
    type_from_ast,
    visit,
    Visitor,
)

from tests.dates import demo_season_start
from tests.federation.corpus import League

# Date-times for variables: the whole demo season (it moves with the seed day, today).
SEASON_FROM = f"{demo_season_start() - timedelta(days=4)}T00:00:00Z"
SEASON_TO = f"{demo_season_start() + timedelta(weeks=38, days=3)}T00:00:00Z"

E2E = Path(__file__).resolve().parent.parent / "e2e"


def e2e_query_documents() -> list[str]:
    found: set[str] = set()
    for path in sorted(E2E.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            try:
                document = parse(node.value)
            except GraphQLError:
                continue
            operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
            if operations and all(o.operation is OperationType.QUERY for o in operations):
                found.add(node.value)
    return sorted(found)


def operation_names(text: str) -> list[str | None]:
    """Each operation of the document by name (None: its only, anonymous, operation)."""
    operations = [d for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) == 1:
        return [None]
    return [o.name.value for o in operations if o.name]


class _Usages(Visitor):
    """Which argument of which field each variable is given to (the first use)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[str] = []
        self.used: dict[str, tuple[str, str]] = {}

    def enter_field(self, node: Any, *_: Any) -> None:
        self.fields.append(node.name.value)

    def leave_field(self, *_: Any) -> None:
        self.fields.pop()

    def enter_argument(self, node: Any, *_: Any) -> None:
        if isinstance(node.value, VariableNode) and self.fields:
            self.used.setdefault(node.value.name.value, (self.fields[-1], node.name.value))


def variables_for(schema: GraphQLSchema, text: str, operation_name: str | None, league: League) -> dict[str, Any]:
    """Plausible values of the operation's variables: ids of the demo league chosen by the
    argument a variable is given to, a window of the season, small pages."""
    document: DocumentNode = parse(text)
    usages = _Usages()
    visit(document, usages)
    operation = next(
        d for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and (operation_name is None or (d.name and d.name.value == operation_name))
    )
    ids = {"referee": league.busy_referee, "team": league.team, "venue": league.venue, "fixture": league.fixture}
    values: dict[str, Any] = {}
    for definition in operation.variable_definitions or ():
        name = definition.variable.name.value
        field, argument = usages.used.get(name, ("", name))
        entity = argument[:-2] if argument.endswith("Id") else field
        value = _value(type_from_ast(schema, definition.type), argument, ids.get(entity, league.fixture), league)
        if value is not None:
            values[name] = value
    return values


def _value(type_: Any, argument: str, id_: str, league: League) -> Any:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    if isinstance(type_, GraphQLList):
        inner = _value(type_.of_type, argument, id_, league)
        return None if inner is None else [inner]
    if isinstance(type_, GraphQLEnumType):
        return next(iter(type_.values))
    if type_ is None or isinstance(type_, GraphQLInputObjectType):
        return None  # an unknown type (the document is refused anyway), or an input object
    return {
        "ID": id_,
        "Int": 5,
        "Boolean": True,
        "DateTime": SEASON_FROM if argument != "to" else SEASON_TO,
        "String": league.cursor if argument == "after" else "text",
    }.get(type_.name)
