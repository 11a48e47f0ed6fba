"""Operation limits: what a single GraphQL operation may ask of the server.

Every limit is a setting (`app.config.Settings`) and every refusal happens before
execution, as an error with `extensions.code` GRAPHQL_VALIDATION_FAILED and an exact
`extensions.reason`:

| limit | setting (default) | reason |
| --- | --- | --- |
| query text length, characters | `max_query_length` (15,000) | `QUERY_LENGTH_LIMIT` |
| lexical tokens (comments not counted) | `max_tokens` (1,000) | `TOKEN_LIMIT` |
| depth: fields on the longest path, through fragments | `max_depth` (10) | `DEPTH_LIMIT` |
| aliases, through fragments | `max_aliases` (15) | `ALIAS_LIMIT` |
| directives, through fragments | `max_directives` (50) | `DIRECTIVE_LIMIT` |
| selected fields, through fragments | `max_fields` (200) | `FIELD_LIMIT` |
| estimated cost (below) | `max_cost` (5,000) | `COST_LIMIT` |

"Through fragments" means a fragment counts each time it is spread (so fragments can
not hide work), and depth continues into the fragment at the depth of its spread.
Counts are per operation of the document; one operation over a limit refuses the request.

The text limits are checked by the parser itself (graphql-core's `max_source_length`
and `max_lexical_tokens`, so an oversized text is refused before it is lexed or
parsed in full); the error is then given its reason here. A text that is over the
token limit is refused for that even if it also has a syntax error further on.

Cost model (`CostLimit`): every selected field costs 1; the cost of what is selected
under a list field is multiplied by the number of items the list may return:

- a field with a `first` argument (`fixtures`, `Referee.notifications`) multiplies by
  `first`: a literal, or the request's variable value (the variable's default in the
  operation, else the argument's schema default, when it is not given; a value that is
  not an integer counts as the schema default, because it will be refused anyway);
  values are clamped to the field's allowed page size (1..500, 1..200), since larger
  ones are refused by the resolver;
- a connection multiplies at the connection field, so its `edges` list does not
  multiply again (`fixtures(first: 50) { edges { node { id } } }` costs 1 + 50 × 3);
- `_entities` (federation) multiplies by the number of representations;
- any other list field multiplies by `DEFAULT_LIST_SIZE` (10).

For example `{ referees { name availableFixtures { id } } }` costs
1 + 10 × (1 + (1 + 10 × 1)) = 121. Variable values are taken from the request, so the
same query text can be accepted with `first: 20` and refused with `first: 500`.
(Because of that, do not cache validation results by query text alone.)

Introspection (`__schema`, `__type`) is not counted for depth, fields or cost, like
Strawberry's own depth limiter: GraphiQL's introspection query is 13 levels deep.
Its nesting is bounded instead by graphql-core's MaxIntrospectionDepthRule (one of its
specified rules), which is given reason DEPTH_LIMIT here. `__typename` counts as an
ordinary field.

The execution timeout (`execution_timeout_seconds`, 10) stops a query or mutation that
runs longer and answers `extensions.code` TIMEOUT, reason EXECUTION_TIMEOUT. A mutation
is one transaction: one that timed out was either applied completely or not at all.
PostgreSQL's statement_timeout (`statement_timeout_ms`, 5000; set by
`app.repos.engine.create_engine`) makes a field whose SQL statement ran too long fail
with TIMEOUT / STATEMENT_TIMEOUT (`is_statement_timeout`, used by `app.schema.errors`).
The HTTP body limit (`max_body_bytes`) and the refusal of batches are in `app.http`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from weakref import WeakKeyDictionary

from graphql import (
    ASTValidationRule,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    Source,
    TokenKind,
    ValidationContext,
    ValidationRule,
    ValueNode,
    VariableNode,
    get_named_type,
    get_nullable_type,
    is_list_type,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.language.lexer import Lexer
from graphql.validation import MaxIntrospectionDepthRule
from strawberry.extensions import SchemaExtension

from app.config import Settings

VALIDATION_FAILED = "GRAPHQL_VALIDATION_FAILED"
DEFAULT_LIST_SIZE = 10
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})

# The largest page each paginated field accepts (larger `first` values are refused by
# the resolver, so they never cost more than this).
PAGE_MAXIMA: Mapping[tuple[str, str], int] = {("Query", "fixtures"): 500, ("Referee", "notifications"): 200}


@dataclass(frozen=True)
class OperationLimits:
    max_depth: int
    max_aliases: int
    max_tokens: int
    max_query_length: int
    max_directives: int
    max_fields: int
    max_cost: int
    execution_timeout_seconds: float
    default_list_size: int = DEFAULT_LIST_SIZE
    page_maxima: Mapping[tuple[str, str], int] = field(default_factory=lambda: dict(PAGE_MAXIMA))

    @classmethod
    def from_settings(cls, settings: Settings) -> OperationLimits:
        return cls(
            max_depth=settings.max_depth,
            max_aliases=settings.max_aliases,
            max_tokens=settings.max_tokens,
            max_query_length=settings.max_query_length,
            max_directives=settings.max_directives,
            max_fields=settings.max_fields,
            max_cost=settings.max_cost,
            execution_timeout_seconds=settings.execution_timeout_seconds,
        )

    @cached_property
    def rules(self) -> tuple[type[ASTValidationRule], ...]:
        """Every limit as a graphql-core validation rule."""
        return (*self.variable_rules, IntrospectionDepthLimit)

    @cached_property
    def variable_rules(self) -> tuple[type[ASTValidationRule], ...]:
        """The rules whose verdict may depend on the request's variables (cost: `first: $n`);
        they all measure the document with `analyze`, so `variable_limit_errors` gives their
        errors without a validation pass."""
        return limit_rules(self)

    @classmethod
    def defaults(cls) -> OperationLimits:
        """The Settings defaults, without reading the environment."""
        names = [f for f in cls.__dataclass_fields__ if f in Settings.model_fields]
        return cls(**{name: Settings.model_fields[name].default for name in names})


def limit_error(reason: str, message: str, nodes: Any = None) -> GraphQLError:
    return GraphQLError(message, nodes, extensions={"code": VALIDATION_FAILED, "reason": reason})


# --- the query text: length and tokens ----------------------------------------------------


def count_tokens(query: str, stop_after: int | None = None) -> int:
    """Lexical tokens of `query` as graphql-core's `max_lexical_tokens` counts them
    (comments and the end-of-file token left out), up to the first lexical error;
    counting stops early once `stop_after` is exceeded."""
    lexer = Lexer(Source(query))
    count = 0
    try:
        while lexer.advance().kind is not TokenKind.EOF:
            count += 1
            if stop_after is not None and count > stop_after:
                break
    except GraphQLSyntaxError:
        pass
    return count


def text_refusal(query: str, limits: OperationLimits) -> GraphQLError | None:
    """The error for a query text over the length or token limit, if it is."""
    if len(query) > limits.max_query_length:
        return limit_error(
            "QUERY_LENGTH_LIMIT",
            f"The query text is {len(query)} characters long; the limit is {limits.max_query_length}. "
            "Send a shorter operation.",
        )
    if count_tokens(query, stop_after=limits.max_tokens) > limits.max_tokens:
        return limit_error(
            "TOKEN_LIMIT",
            f"The query text has more than {limits.max_tokens} tokens (names, punctuation, values); "
            f"the limit is {limits.max_tokens}. Send a smaller operation.",
        )
    return None


# --- the document: depth, aliases, directives, fields, cost --------------------------------


@dataclass(frozen=True)
class Metrics:
    """What a selection costs; `depth` counts the fields on its longest path."""

    depth: int = 0
    aliases: int = 0
    directives: int = 0
    fields: int = 0
    cost: int = 0

    def __add__(self, other: Metrics) -> Metrics:
        return Metrics(
            max(self.depth, other.depth),
            self.aliases + other.aliases,
            self.directives + other.directives,
            self.fields + other.fields,
            self.cost + other.cost,
        )


class _OperationWalker:
    """Metrics of one operation, fragments expanded (memoized, so a fragment that is
    spread many times is measured once; a fragment cycle counts nothing, and is
    refused by graphql-core's NoFragmentCyclesRule anyway)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        limits: OperationLimits,
    ) -> None:
        self.schema, self.fragments, self.variables, self.limits = schema, fragments, variables, limits
        self.variable_defaults = {
            d.variable.name.value: d.default_value for d in operation.variable_definitions or ()
        }
        self.memo: dict[str, Metrics] = {}
        self.entered: set[str] = set()
        self.read: set[str] = set()  # the variables whose values the metrics depend on

    def operation(self, node: OperationDefinitionNode) -> Metrics:
        own = len(node.directives or ()) + sum(len(d.directives or ()) for d in node.variable_definitions or ())
        root = self.schema.get_root_type(node.operation)
        return Metrics(directives=own) + self.selection_set(node.selection_set, root)

    def selection_set(self, node: SelectionSetNode | None, parent: GraphQLNamedType | None) -> Metrics:
        total = Metrics()
        for selection in node.selections if node else ():
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                scope = self.schema.get_type(condition.name.value) if condition else parent
                total += Metrics(directives=len(selection.directives or ()))
                total += self.selection_set(selection.selection_set, scope)
            elif isinstance(selection, FragmentSpreadNode):
                total += Metrics(directives=len(selection.directives or ()))
                total += self.fragment(selection.name.value)
        return total

    def fragment(self, name: str) -> Metrics:
        if name in self.memo:
            return self.memo[name]
        definition = self.fragments.get(name)
        if definition is None or name in self.entered:
            return Metrics()
        self.entered.add(name)
        scope = self.schema.get_type(definition.type_condition.name.value)
        metrics = Metrics(directives=len(definition.directives or ())) + self.selection_set(
            definition.selection_set, scope
        )
        self.entered.discard(name)
        self.memo[name] = metrics
        return metrics

    def field(self, node: FieldNode, parent: GraphQLNamedType | None) -> Metrics:
        name = node.name.value
        own = Metrics(aliases=1 if node.alias else 0, directives=len(node.directives or ()))
        definition = parent.fields.get(name) if isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)) else None
        inner = self.selection_set(node.selection_set, get_named_type(definition.type) if definition else None)
        if name in INTROSPECTION_ROOTS:
            return own + Metrics(aliases=inner.aliases, directives=inner.directives)
        size = self.list_size(node, parent, definition)
        return own + Metrics(
            depth=1 + inner.depth,
            aliases=inner.aliases,
            directives=inner.directives,
            fields=1 + inner.fields,
            cost=1 + size * inner.cost,
        )

    def list_size(self, node: FieldNode, parent: GraphQLNamedType | None, definition: GraphQLField | None) -> int:
        """How many items the field may return (1 for a field that is not a list)."""
        if definition is None or parent is None:
            return 1
        name = node.name.value
        if "first" in definition.args:
            default = definition.args["first"].default_value
            fallback = default if _is_int(default) else self.limits.default_list_size
            given = self.argument(node, "first")
            size = given if _is_int(given) else fallback
            maximum = self.limits.page_maxima.get((parent.name, name))
            return max(1, min(size, maximum) if maximum is not None else size)
        if name == "_entities":
            representations = self.argument(node, "representations")
            if isinstance(representations, list):
                return max(1, len(representations))
            return self.limits.default_list_size
        if is_list_type(get_nullable_type(definition.type)):
            if name == "edges" and parent.name.endswith("Connection"):
                return 1  # counted at the connection field, by its `first`
            return self.limits.default_list_size
        return 1

    def argument(self, node: FieldNode, name: str) -> Any:
        """The argument's value as far as it is known before execution (None if not)."""
        argument = next((a for a in node.arguments or () if a.name.value == name), None)
        return None if argument is None else self.value(argument.value)

    def value(self, node: ValueNode | None) -> Any:
        if isinstance(node, VariableNode):
            name = node.name.value
            self.read.add(name)
            if name in self.variables:
                return self.variables[name]
            return self.value(self.variable_defaults.get(name))
        if isinstance(node, IntValueNode):
            return int(node.value)
        if isinstance(node, ListValueNode):
            return list(node.values)
        return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Analysis:
    """Metrics per operation; `too_deep` when the document nests too deeply to walk;
    `variables_read`: the variables whose values the metrics depend on (none: the same
    metrics for every request with this document)."""

    operations: list[tuple[OperationDefinitionNode, Metrics]]
    too_deep: bool = False
    variables_read: frozenset[str] = frozenset()


def analyze(
    schema: GraphQLSchema, document: Any, variables: Mapping[str, Any] | None, limits: OperationLimits
) -> Analysis:
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    measured, read = [], set()
    try:
        for definition in document.definitions:
            if isinstance(definition, OperationDefinitionNode):
                walker = _OperationWalker(schema, fragments, definition, variables or {}, limits)
                measured.append((definition, walker.operation(definition)))
                read |= walker.read
    except RecursionError:
        return Analysis([], too_deep=True)
    return Analysis(measured, variables_read=frozenset(read))


def _describe(operation: OperationDefinitionNode) -> str:
    return f"Operation '{operation.name.value}'" if operation.name else "The operation"


# The variables of the operation being validated: the cost of `first: $n` depends on them.
# Set around validation by OperationLimitsExtension (or `operation_variables`).
_variables: ContextVar[Mapping[str, Any] | None] = ContextVar("whistle_operation_variables", default=None)
# One analysis per validation run, shared by the rules.
_analyses: WeakKeyDictionary[ValidationContext, Analysis] = WeakKeyDictionary()


@contextmanager
def operation_variables(variables: Mapping[str, Any] | None) -> Iterator[None]:
    """Validation inside this block costs `first: $n` with these variable values."""
    token = _variables.set(variables)
    try:
        yield
    finally:
        _variables.reset(token)


def limit_rules(limits: OperationLimits) -> tuple[type[ASTValidationRule], ...]:
    """graphql-core validation rules for these limits (built once: `OperationLimits.rules`)."""

    def analysis_of(context: ValidationContext) -> Analysis:
        found = _analyses.get(context)
        if found is None:
            found = _analyses[context] = analyze(context.schema, context.document, _variables.get(), limits)
        return found

    class _LimitRule(ValidationRule):
        reason = ""
        metric = ""
        maximum = 0

        @classmethod
        def message(cls, operation: OperationDefinitionNode, value: int) -> str:
            raise NotImplementedError

        @classmethod
        def errors(cls, analysis: Analysis) -> list[GraphQLError]:
            found = []
            if analysis.too_deep and cls.reason == "DEPTH_LIMIT":
                found.append(limit_error(cls.reason, f"The operation is nested too deeply; the limit is {cls.maximum}."))
            for operation, metrics in analysis.operations:
                value = getattr(metrics, cls.metric)
                if value > cls.maximum:
                    found.append(limit_error(cls.reason, cls.message(operation, value), [operation]))
            return found

        def enter_document(self, *_args: Any) -> None:
            for error in self.errors(analysis_of(self.context)):
                self.report_error(error)

    class DepthLimit(_LimitRule):
        reason, metric, maximum = "DEPTH_LIMIT", "depth", limits.max_depth

        @classmethod
        def message(cls, operation: OperationDefinitionNode, value: int) -> str:
            return (
                f"{_describe(operation)} is {value} fields deep (through fragments); the limit is "
                f"{cls.maximum}. Ask for fewer nested fields, or split it into several operations."
            )

    class AliasLimit(_LimitRule):
        reason, metric, maximum = "ALIAS_LIMIT", "aliases", limits.max_aliases

        @classmethod
        def message(cls, operation: OperationDefinitionNode, value: int) -> str:
            return (
                f"{_describe(operation)} uses {value} aliases (counted through fragments); the limit is "
                f"{cls.maximum}. Use fewer aliases, or split it into several operations."
            )

    class DirectiveLimit(_LimitRule):
        reason, metric, maximum = "DIRECTIVE_LIMIT", "directives", limits.max_directives

        @classmethod
        def message(cls, operation: OperationDefinitionNode, value: int) -> str:
            return (
                f"{_describe(operation)} uses {value} directives (counted through fragments); the limit is "
                f"{cls.maximum}."
            )

    class FieldLimit(_LimitRule):
        reason, metric, maximum = "FIELD_LIMIT", "fields", limits.max_fields

        @classmethod
        def message(cls, operation: OperationDefinitionNode, value: int) -> str:
            return (
                f"{_describe(operation)} selects {value} fields (counted through fragments); the limit is "
                f"{cls.maximum}. Select fewer fields, or split it into several operations."
            )

    class CostLimit(_LimitRule):
        reason, metric, maximum = "COST_LIMIT", "cost", limits.max_cost

        @classmethod
        def message(cls, operation: OperationDefinitionNode, value: int) -> str:
            return (
                f"{_describe(operation)} has an estimated cost of {value}; the limit is {cls.maximum}. "
                "Each field costs 1, and what is selected under a list counts once per item it may "
                f"return (its `first`, or {limits.default_list_size}): ask for smaller pages or fewer "
                "nested lists."
            )

    return (DepthLimit, AliasLimit, DirectiveLimit, FieldLimit, CostLimit)


def variable_limit_errors(analysis: Analysis, limits: OperationLimits) -> list[GraphQLError]:
    """The errors of `limits.variable_rules` for this analysis, in the rules' order, without a
    validation pass: for a document whose other rules' verdict is cached
    (app.schema.document_cache), since the cost may differ from request to request."""
    return [error for rule in limits.variable_rules for error in rule.errors(analysis)]  # type: ignore[attr-defined]


def with_limit_rules(
    rules: tuple[type[ASTValidationRule], ...], limits: OperationLimits
) -> tuple[type[ASTValidationRule], ...]:
    """`rules` with the limit rules added (and graphql-core's introspection depth rule
    replaced by the one that gives its error a reason)."""
    return tuple(r for r in rules if r is not MaxIntrospectionDepthRule) + limits.rules


class IntrospectionDepthLimit(MaxIntrospectionDepthRule):
    """graphql-core's guard against deeply nested introspection, with our reason."""

    def report_error(self, error: GraphQLError) -> None:
        super().report_error(
            limit_error(
                "DEPTH_LIMIT",
                "The introspection query nests lists of types and fields too deeply.",
                error.nodes,
            )
        )


# --- the Strawberry side -------------------------------------------------------------------


class OperationLimitsExtension(SchemaExtension):
    """Applies the limits to every operation (HTTP and WebSocket).

    Use a factory per schema: `functools.partial(OperationLimitsExtension, limits=...)`."""

    def __init__(self, *, limits: OperationLimits, execution_context: Any = None) -> None:
        self.limits = limits
        self._refusal: GraphQLError | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        self._refusal = None
        # The parser refuses oversized texts early; `on_parse` gives the error its reason.
        context.parse_options["max_source_length"] = self.limits.max_query_length  # type: ignore[typeddict-unknown-key]
        context.parse_options["max_lexical_tokens"] = self.limits.max_tokens  # type: ignore[typeddict-unknown-key]
        context.validation_rules = with_limit_rules(context.validation_rules, self.limits)
        yield
        self._apply_refusal(context.result)

    def on_validate(self) -> Iterator[None]:
        with operation_variables(self.execution_context.variables):
            yield

    def on_parse(self) -> Iterator[None]:
        yield
        errors = self.execution_context.pre_execution_errors
        query = self.execution_context.query
        if errors and isinstance(errors[0], GraphQLSyntaxError) and query:
            self._refusal = text_refusal(query, self.limits)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Operations over WebSocket: the result before it is sent."""
        self._apply_refusal(result)
        yield

    def _apply_refusal(self, result: Any) -> None:
        if self._refusal is not None and result is not None and getattr(result, "errors", None):
            result.errors = [self._refusal]


def timeout_error(seconds: float) -> GraphQLError:
    return GraphQLError(
        f"The operation ran longer than {seconds:g} seconds and was stopped. Ask for less data "
        "(smaller pages, fewer nested lists) or try again later.",
        extensions={"code": "TIMEOUT", "reason": "EXECUTION_TIMEOUT"},
    )


class ExecutionTimeout:
    """Schema mixin: queries and mutations (HTTP and WebSocket) stop after
    `execution_timeout` seconds with a TIMEOUT error; subscriptions are not limited.

    Strawberry has no public hook that can both cancel execution and supply its result,
    so this wraps `Schema._execute_operation` (checked by tests/unit/test_limits.py)."""

    execution_timeout: float | None = None

    async def _execute_operation(self, execution_context: Any, *args: Any, **kwargs: Any) -> Any:
        execute = super()._execute_operation  # type: ignore[misc]
        result = await within_timeout(self.execution_timeout, execute(execution_context, *args, **kwargs))
        if result is TIMED_OUT:
            result = execution_context.result = timed_out_result(self.execution_timeout)  # type: ignore[arg-type]
        return result


TIMED_OUT = object()


async def within_timeout(seconds: float | None, operation: Any) -> Any:
    """The result of awaiting `operation`, or TIMED_OUT when it ran longer than `seconds`
    (None: no limit) and was cancelled. The lean lane (app.lean_lane) times its plans with it too.

    What `async with asyncio.timeout(seconds)` does, step for step (the task cancelled at
    the deadline, that cancellation withdrawn with `uncancel` on the way out, a cancellation
    from elsewhere passed on), without its context manager's two coroutines and state
    machine: on a small query those were about 1.5 % of the request."""
    if seconds is None:
        return await operation
    task = asyncio.current_task()
    if task is None:
        raise RuntimeError("Timeout should be used inside a task")
    deadline = _Deadline(task)
    loop = task.get_loop()
    when = loop.time() + seconds
    handle = loop.call_soon(deadline.expire) if when <= loop.time() else loop.call_at(when, deadline.expire)
    try:
        return await operation
    except asyncio.CancelledError as cancelled:
        if not deadline.expired:
            raise
        deadline.expired = False  # withdrawn here, once
        if task.uncancel() > deadline.cancelling or type(cancelled) is not asyncio.CancelledError:
            raise  # a cancellation from elsewhere as well: it goes on
    except TimeoutError:
        if not deadline.expired:
            raise  # the operation's own, not the deadline's
    finally:
        handle.cancel()
        if deadline.expired:  # the deadline's cancellation, whatever the operation ended with
            task.uncancel()
    return TIMED_OUT


class _Deadline:
    """The end of `within_timeout`'s time: cancels the task it times."""

    __slots__ = ("task", "cancelling", "expired")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.cancelling = task.cancelling()  # cancellations requested before the deadline's own
        self.expired = False

    def expire(self) -> None:
        self.task.cancel()
        self.expired = True


def timed_out_result(seconds: float) -> GraphQLExecutionResult:
    return GraphQLExecutionResult(data=None, errors=[timeout_error(seconds)])


# PostgreSQL's SQLSTATE for a statement cancelled by statement_timeout (query_canceled).
QUERY_CANCELED = "57014"
STATEMENT_TIMEOUT_MESSAGE = (
    "A database query ran longer than the server allows and was stopped. Ask for less data "
    "(smaller pages, fewer nested lists) or try again later."
)


def is_statement_timeout(error: BaseException | None) -> bool:
    """Whether `error` is a database statement stopped by PostgreSQL's statement_timeout
    (a SQLAlchemy DBAPIError whose driver error carries SQLSTATE 57014)."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) == QUERY_CANCELED
