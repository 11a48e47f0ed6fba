"""Parse and validate each query text once (WHISTLE_DOCUMENT_CACHE_SIZE).

A cached document skips graphql-core's parser and the validation pass (a visitor over
the whole document with ~30 rules), which together cost as much as resolving a small
query. What is cached by the text alone: the parsed document and the errors of the rules
that do not look at variables. The operation limits that do (the cost counts `first: $n`
with the request's value) are judged for every request with that request's variables:
their verdict is kept per value of the variables they read (so `first: 20` is measured
once, not per request) and measured anew for a value not seen yet, so one text can be
accepted with `first: 20` and refused with `first: 500`, cached or not.

Bounded (least recently used first out), so unique texts from clients cannot grow the
memory without limit; texts that fail to parse are never cached.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import orjson
from graphql import DocumentNode, GraphQLError, GraphQLSchema
from strawberry.extensions import SchemaExtension
from strawberry.schema.schema import validate_document

from app.schema.limits import OperationLimits, analyze, variable_limit_errors


# Limit verdicts kept per document, one per combination of the values of the variables
# the limits read (e.g. each page size asked for); beyond that the verdicts start over.
VERDICTS_PER_DOCUMENT = 32


class Entry:
    """A parsed document, the errors of the rules that do not look at variables, and the
    limits' verdicts by the values of the variables they read."""

    def __init__(self, document: DocumentNode, errors: list[GraphQLError]) -> None:
        self.document, self.errors = document, errors
        self._read: tuple[str, ...] | None = None  # known after the first analysis
        self._verdicts: dict[bytes, list[GraphQLError]] = {}
        # What the lean lane (app.lean_lane) prepared once per operation name of the document.
        self.operations: dict[str | None, Any] = {}

    def limit_errors(
        self, schema: GraphQLSchema, variables: Mapping[str, Any] | None, limits: OperationLimits
    ) -> list[GraphQLError]:
        """The variable-dependent limits' errors for these variables: analysed again only
        for values of the variables the limits read (usually just `first`) not seen yet."""
        key = None if self._read is None else _key(self._read, variables)
        if key is not None and key in self._verdicts:
            return self._verdicts[key]
        analysis = analyze(schema, self.document, variables, limits)
        errors = variable_limit_errors(analysis, limits)
        self._read = tuple(sorted(analysis.variables_read))
        if (key := _key(self._read, variables)) is not None:
            if len(self._verdicts) >= VERDICTS_PER_DOCUMENT:
                self._verdicts.clear()
            self._verdicts[key] = errors
        return errors


def _key(names: tuple[str, ...], variables: Mapping[str, Any] | None) -> bytes | None:
    """The values of `names` in `variables` (absent and null told apart), as bytes; None for
    values that are not plain JSON (then nothing is cached)."""
    variables = variables or {}
    try:
        return orjson.dumps([[name in variables, variables.get(name)] for name in names], option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return None


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
        per_request = entry.limit_errors(context.schema._schema, context.variables, self.limits)
        context.pre_execution_errors = [*entry.errors, *per_request]
        yield


class DocumentCacheFactory:
    """Makes the extension of each operation; `store` is the schema's one store (the lean
    lane looks documents up in it too)."""

    def __init__(self, store: DocumentStore, limits: OperationLimits) -> None:
        self.store, self.limits = store, limits

    def __call__(self) -> DocumentCache:
        return DocumentCache(store=self.store, limits=self.limits)


def document_cache(size: int, limits: OperationLimits) -> DocumentCacheFactory | None:
    """The extension factory for a schema (one store per schema), or None when `size` is 0."""
    if size <= 0:
        return None
    return DocumentCacheFactory(DocumentStore(size), limits)
