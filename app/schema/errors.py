"""The one place where errors become the contract's errors (API.md, "Errors").

Every error leaving an operation, over HTTP or WebSocket, gets `extensions.code`
(and `extensions.reason` where a rule refused): domain errors carry their own,
syntax errors are GRAPHQL_PARSE_FAILED, validation errors GRAPHQL_VALIDATION_FAILED,
bad variables BAD_USER_INPUT / INVALID_VARIABLE, and anything unexpected is masked
as INTERNAL_SERVER_ERROR with a correlation id that is also in the log line.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError, GraphQLSyntaxError
from sqlalchemy.exc import DBAPIError
from strawberry.extensions import SchemaExtension

from app.domain.errors import DomainError
from app.repos.uow import ConnectionLost
from app.schema.limits import STATEMENT_TIMEOUT_MESSAGE, is_statement_timeout

log = logging.getLogger("whistle.errors")

# graphql-core's hints (" Did you mean 'x', 'y', or 'z'?", " Did you mean to use an inline
# fragment on 'T'?"): names never contain "?", so a hint ends at the first one.
_SUGGESTION = re.compile(r"\s*Did you mean [^?]*\?")


def without_suggestions(message: str) -> str:
    """`message` without graphql-core's "Did you mean ...?" hints (they reveal the schema)."""
    return _SUGGESTION.sub("", message)


def _rebuilt(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def _given_code(error: GraphQLError) -> dict[str, Any] | None:
    """Extensions already set by our own code (e.g. the DateTime scalar), if any."""
    for candidate in (error, error.original_error):
        if isinstance(candidate, GraphQLError) and candidate.extensions and "code" in candidate.extensions:
            return dict(candidate.extensions)
    return None


def classify(error: GraphQLError, executed: bool) -> GraphQLError:
    """The contract's version of `error`; `executed` tells whether execution had begun."""
    original = error.original_error
    if isinstance(original, DomainError):
        return _rebuilt(error, original.message, original.extensions())
    if isinstance(error, GraphQLSyntaxError):
        return _rebuilt(error, error.message, {"code": "GRAPHQL_PARSE_FAILED"})
    if (given := _given_code(error)) is not None:
        return _rebuilt(error, error.message, given)
    if not executed:
        return _rebuilt(error, error.message, {"code": "GRAPHQL_VALIDATION_FAILED"})
    if error.path is None and (original is None or isinstance(original, GraphQLError)):
        return _rebuilt(error, error.message, {"code": "BAD_USER_INPUT", "reason": "INVALID_VARIABLE"})
    if is_statement_timeout(original):
        log.warning("a database statement timed out in %s", ".".join(map(str, error.path or ())) or "operation")
        return _rebuilt(error, STATEMENT_TIMEOUT_MESSAGE, {"code": "TIMEOUT", "reason": "STATEMENT_TIMEOUT"})
    if isinstance(original, ConnectionLost) or (isinstance(original, DBAPIError) and original.connection_invalidated):
        return _connection_lost(error, original)
    return _masked(error)


def _connection_lost(error: GraphQLError, original: Exception) -> GraphQLError:
    """The database dropped the connection (a restart, a failover, pg_terminate_backend)
    and the retry, if any, did not help: infrastructure, not a bug, so a one-line WARNING
    without traceback (as the outbox relay logs it), and a message that says whether the
    change may have been applied: only a loss during COMMIT leaves that unknown."""
    correlation_id = uuid.uuid4().hex
    unknown = isinstance(original, ConnectionLost) and original.commit_sent
    log.warning(
        "database connection lost in %s, %s (correlationId=%s)",
        ".".join(map(str, error.path or ())) or "operation",
        "during COMMIT: outcome unknown" if unknown else "nothing applied",
        correlation_id,
        extra={"correlation_id": correlation_id},
    )
    outcome = "the change may or may not have been applied, check before retrying" if unknown else "nothing was changed, retry"
    return _rebuilt(
        error,
        f"The database connection was lost; {outcome}. Quote reference {correlation_id} when reporting it.",
        {"code": "INTERNAL_SERVER_ERROR", "correlationId": correlation_id},
    )


def _masked(error: GraphQLError) -> GraphQLError:
    correlation_id = uuid.uuid4().hex
    log.error(
        "unexpected error in %s (correlationId=%s)",
        ".".join(map(str, error.path or ())) or "operation",
        correlation_id,
        exc_info=error.original_error or error,
        extra={"correlation_id": correlation_id},
    )
    return _rebuilt(
        error,
        f"Internal server error; quote reference {correlation_id} when reporting it.",
        {"code": "INTERNAL_SERVER_ERROR", "correlationId": correlation_id},
    )


def contract_errors(errors: list[GraphQLError], executed: bool, hide_suggestions: bool) -> list[GraphQLError]:
    """`errors` as the contract has them (`classify`), without "Did you mean" hints when
    `hide_suggestions` (production). ContractErrors and the lean lane both answer with it."""
    classified = [classify(e, executed) for e in errors]
    if hide_suggestions:
        for error in classified:
            error.message = without_suggestions(error.message)
    return classified


class ContractErrors(SchemaExtension):
    """Rewrites the errors of every operation with `classify`."""

    def __init__(self, *, execution_context: Any = None, hide_suggestions: bool = False) -> None:
        self._executed = False
        self._hide_suggestions = hide_suggestions  # production: no "Did you mean ...?" in any message

    def on_execute(self) -> Iterator[None]:
        self._executed = True
        yield

    def on_operation(self) -> Iterator[None]:
        self._executed = False
        yield
        self._classify(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        """Subscriptions and operations over WebSocket: each result before it is sent."""
        self._classify(result)
        yield

    def _classify(self, result: Any) -> None:
        if result is not None and getattr(result, "errors", None):
            result.errors = contract_errors(result.errors, self._executed, self._hide_suggestions)
