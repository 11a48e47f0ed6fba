"""The hook into Strawberry: an executor class (Schema's `execution_context_class`) that
runs a compiled plan where it can and graphql-core's execution everywhere else.

Parsing, validation, schema extensions (errors, limits, timeouts, logging, tracing),
error formatting and the HTTP layer are Strawberry's and unchanged: only the executor's
`execute_operation` differs. Plans are cached per schema by the operation's source text,
its name and the values of the variables @skip/@include use (the only variables a plan
depends on); an operation the compiler does not support is cached as such.
"""

from __future__ import annotations

from collections import Counter, OrderedDict
from typing import Any
from weakref import WeakKeyDictionary

from graphql import GraphQLSchema, OperationDefinitionNode, OperationType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from app.execution.plan import Selection, Unsupported, build_plan, directive_variables
from app.execution.run import Run

PLAN_CACHE_SIZE = 512  # distinct (text, operation, directive values): far more than any client sends



class Refused:
    """The plan cache's entry for an operation graphql-core must run, and why."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason


_caches: WeakKeyDictionary[GraphQLSchema, OrderedDict[tuple[Any, ...], Any]] = WeakKeyDictionary()
_counts: WeakKeyDictionary[GraphQLSchema, Counter[str]] = WeakKeyDictionary()


def plan_cache(schema: GraphQLSchema) -> OrderedDict[tuple[Any, ...], Any]:
    """The plans of `schema` (least recently used first); tests look into it."""
    cache = _caches.get(schema)
    if cache is None:
        cache = _caches[schema] = OrderedDict()
    return cache


def execution_counts(schema: GraphQLSchema) -> Counter[str]:
    """How the queries of `schema` ran: `compiled` (as a plan) and `fell_back` (the compiler
    refused them and graphql-core ran them), with `fell_back: REASON` per reason."""
    counts = _counts.get(schema)
    if counts is None:
        counts = _counts[schema] = Counter()
    return counts


def cached_plan(schema: GraphQLSchema, operation: OperationDefinitionNode, coerced: dict[str, Any]) -> Any:
    """The cached plan of `operation` for these coerced variable values: a plan, a Refused,
    or None when none has been built yet (only `compiled_plan` builds them)."""
    text = operation.loc.source.body  # type: ignore[union-attr]
    name = operation.name.value if operation.name else None
    cache = plan_cache(schema)
    names = cache.get((text, name))
    if names is None:
        return None
    key = (text, name, tuple(coerced.get(n) for n in names))
    plan = cache.get(key)
    if plan is not None:
        cache.move_to_end(key)
    return plan


class CompiledExecutor(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's executor, but queries it can plan run as plans (app.execution.run)."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        plan = self.compiled_plan() if serially is None else None
        if plan is None:
            return super().execute_operation(serially)
        return self._run(plan)

    async def _run(self, plan: Selection) -> Any:
        try:
            return await Run(self).execute(plan)
        finally:
            # graphql-core's executor refers to itself (its async helpers are its own bound
            # methods), so it and all it holds (the context: loaders, rows, objects) would
            # wait for the garbage collector; a compiled run never uses the helpers.
            del self.async_helpers

    def compiled_plan(self) -> Selection | None:
        """This operation's plan, or None when graphql-core must run it."""
        if (
            (self.middleware_manager is not None and self.middleware_manager.middlewares)  # per-field hooks
            or self.abort_signal is not None
            or self.hooks is not None
            or self.operation.loc is None
        ):
            return None
        operation = self.operation
        text = operation.loc.source.body
        name = operation.name.value if operation.name else None
        cache = plan_cache(self.schema)
        variables_key = (text, name)
        names = cache.get(variables_key)
        if names is None:
            names = cache[variables_key] = directive_variables(operation, self.fragment_definitions)
        coerced = self.variable_values.coerced
        key = (text, name, tuple(coerced.get(n) for n in names))
        plan = cache.get(key)
        if plan is None:
            try:
                plan = build_plan(self.schema, self.fragments, self.variable_values, operation, self.field_resolver)
            except (Unsupported, RecursionError) as refused:
                plan = Refused(str(refused) if isinstance(refused, Unsupported) else "nesting too deep")
            cache[key] = plan
            while len(cache) > PLAN_CACHE_SIZE:
                cache.popitem(last=False)
        else:
            cache.move_to_end(key)
        refused = type(plan) is Refused
        if operation.operation is OperationType.QUERY:
            counts = execution_counts(self.schema)
            if refused:
                counts["fell_back"] += 1
                counts[f"fell_back: {plan.reason}"] += 1
            else:
                counts["compiled"] += 1
        return None if refused else plan


def compiled_plans(schema: Any, text: str, operation_name: str | None = None) -> list[Selection]:
    """The cached plans of `text` (that operation of it), one per set of @skip/@include
    variable values seen; `schema` is a Strawberry schema or its GraphQLSchema."""
    graphql_schema = getattr(schema, "_schema", schema)
    return [
        plan
        for key, plan in plan_cache(graphql_schema).items()
        if len(key) == 3 and key[:2] == (text, operation_name) and type(plan) is not Refused
    ]


def is_compiled(schema: Any, text: str, operation_name: str | None = None) -> bool:
    """Whether `text` (that operation of it) has run as a plan on `schema`."""
    return bool(compiled_plans(schema, text, operation_name))
