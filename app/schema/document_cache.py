"""Parse and validate each query text once (WHISTLE_DOCUMENT_CACHE_SIZE).

A cached document skips graphql-core's parser and the validation pass (a visitor over
the whole document with ~30 rules), which together cost as much as resolving a small
query. What is cached is only what depends on the text alone: the parsed document and
the errors of the rules that do not look at variables. The operation limits that do
(the cost counts `first: $n` with the request's value) are checked on every request with
that request's variables (`variable_limit_errors`), so one text can be accepted with
`first: 20` and refused with `first: 500`, cached or not.

Bounded (least recently used first out), so unique texts from clients cannot grow the
memory without limit; texts that fail to parse are never cached.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from graphql import DocumentNode, GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from app.schema.limits import OperationLimits, variable_limit_errors


@dataclass(frozen=True)
class Entry:
    document: DocumentNode
    errors: list[GraphQLError]  # of the rules that do not depend on variables


class DocumentStore:
    """Query text -> Entry, an LRU of at most `size` entries."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[str, Entry] = OrderedDict()

    def get(self, query: str | None) -> Entry | None:
        entry = self._entries.get(query) if query is not None else None
        if entry is not None:
            self._entries.move_to_end(query)  # type: ignore[arg-type]
        return entry

    def put(self, query: str, entry: Entry) -> None:
        self._entries[query] = entry
        self._entries.move_to_end(query)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class DocumentCache(SchemaExtension):
    def __init__(self, *, store: DocumentStore, limits: OperationLimits, execution_context: object = None) -> None:
        self.store, self.limits = store, limits

    def on_parse(self) -> Iterator[None]:
        entry = self.store.get(self.execution_context.query)
        if entry is not None:
            self.execution_context.graphql_document = entry.document  # Strawberry then skips parsing
        yield

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document, query = context.graphql_document, context.query
        entry = self.store.get(query)
        if entry is None or entry.document is not document:
            rules = tuple(r for r in context.validation_rules if r not in self.limits.variable_rules)
            entry = Entry(document, validate_document(context.schema._schema, document, rules))
            self.store.put(query, entry)  # type: ignore[arg-type]
        # Setting the errors (even none) tells Strawberry validation has run.
        per_request = variable_limit_errors(context.schema._schema, document, context.variables, self.limits)
        context.pre_execution_errors = [*entry.errors, *per_request]
        yield


def document_cache(size: int, limits: OperationLimits) -> Callable[[], DocumentCache] | None:
    """The extension factory for a schema (one store per schema), or None when `size` is 0."""
    if size <= 0:
        return None
    store = DocumentStore(size)
    return lambda: DocumentCache(store=store, limits=limits)
