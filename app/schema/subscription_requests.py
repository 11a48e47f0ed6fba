"""A subscription sent where it cannot stream: an HTTP request that wants one JSON answer.

It cannot run, but the caller still learns first what a WebSocket would have told it:
UNAUTHENTICATED / FORBIDDEN from the policy table (app.schema.policy), exactly as the
subscription's root field would refuse it; only a caller who may subscribe hears that
subscriptions need a WebSocket (BAD_REQUEST, reason SUBSCRIPTION_NEEDS_STREAM).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
    parse,
)
from graphql.execution.values import get_argument_values, get_variable_values

from app.domain.errors import DomainError
from app.schema.policy import authorize

DEFINITION = "strawberry-definition"  # Strawberry's back reference from a GraphQL argument to its own


def subscription_document(query: str | None, operation_name: str | None) -> DocumentNode | None:
    """The request's document when the operation it would run is a subscription (None
    otherwise, and for a text that does not parse: the normal path reports that)."""
    if not query:
        return None
    try:
        document = parse(query, max_tokens=10_000)
    except GraphQLSyntaxError:
        return None
    operation = get_operation_ast(document, operation_name)
    return document if operation is not None and operation.operation is OperationType.SUBSCRIPTION else None


def policy_refusal(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None, context: Any
) -> GraphQLError | None:
    """The error of the first root field this caller may not subscribe to, else None."""
    root = schema.subscription_type
    operation = get_operation_ast(document, operation_name)
    if root is None or operation is None:
        return None
    coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {}, hide_suggestions=True)
    values = None if isinstance(coerced, list) else coerced  # bad variables: judged without them
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    for node in _fields(operation.selection_set, fragments, set()):
        if node.name.value not in root.fields:
            continue  # unknown fields are validation's to report: nothing runs either way
        field = root.fields[node.name.value]
        try:
            arguments = get_argument_values(field, node, values, hide_suggestions=True)
        except GraphQLError:
            arguments = {}
        python_names = {
            name: getattr(argument.extensions.get(DEFINITION), "python_name", name) for name, argument in field.args.items()
        }
        try:
            authorize(
                context,
                "Subscription",
                node.name.value,
                arguments={python_names.get(name, name): value for name, value in arguments.items()},
            )
        except DomainError as error:
            key = node.alias.value if node.alias else node.name.value
            return GraphQLError(error.message, nodes=[node], path=[key], extensions=error.extensions())
    return None


def _fields(
    selections: SelectionSetNode, fragments: Mapping[str, FragmentDefinitionNode], spread: set[str]
) -> Iterator[FieldNode]:
    """The root fields of a selection set, through inline fragments and fragment spreads."""
    for node in selections.selections:
        if isinstance(node, FieldNode):
            yield node
        elif isinstance(node, InlineFragmentNode):
            yield from _fields(node.selection_set, fragments, spread)
        elif isinstance(node, FragmentSpreadNode) and node.name.value in fragments and node.name.value not in spread:
            spread.add(node.name.value)
            yield from _fields(fragments[node.name.value].selection_set, fragments, spread)


NEEDS_STREAM = (
    "Subscriptions stream their events: open a WebSocket on /graphql (graphql-transport-ws) "
    "and subscribe there. This request asked for a single JSON answer."
)
