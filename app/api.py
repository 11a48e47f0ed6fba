"""The federated GraphQL schema (Apollo Federation 2 subgraph), assembled from app/schema and app/resolvers."""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import DisableIntrospection, SchemaExtension
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from app.config import Settings
from app.execution import CompiledExecutor
from app.resolvers.mutation import Mutation
from app.resolvers.query import Query
from app.schema.document_cache import DocumentStore, document_cache
from app.schema.errors import ContractErrors
from app.schema.extensions_runner import LeanExtensionsRunner
from app.schema.federation import FederationAny, Info, entity_names, resolve_entities
from app.schema.limits import ExecutionTimeout, OperationLimits, OperationLimitsExtension
from app.schema.scalars import DateTime
from app.schema.subgraphs import Subgraph, has_root_fields
from app.schema.subscription import Subscription
from app.schema.views import SubgraphView
from app.schema.policy import check_coverage, guard

# Composition tools accept federation v2.0-v2.9 (see the federation notes).
FEDERATION_VERSION = "2.9"


class WhistleSchema(SubgraphView, ExecutionTimeout, strawberry.federation.Schema):
    document_store: DocumentStore | None = None  # build_schema sets these three
    operation_limits: OperationLimits | None = None
    hide_suggestions = False  # production: no "Did you mean" hints

    def _get_federation_query_type(self, *args: Any, **kwargs: Any) -> type:
        """Federation's own `_entities` and `_service` get the authorization Policy too."""
        query = super()._get_federation_query_type(*args, **kwargs)
        guard(f for f in query.__strawberry_definition__.fields if f.python_name.lstrip("_") in ("entities", "service"))
        return query

    def entities_resolver(self, info: Info, representations: list[FederationAny]) -> list[FederationAny]:
        """A malformed representation is BAD_USER_INPUT at its index, not an internal error."""
        if not hasattr(self, "_entity_names"):
            self._entity_names = self.resolvable_entities(entity_names(self))
        resolve = super().entities_resolver
        return resolve_entities(representations, self._entity_names, lambda valid: resolve(info, valid))

    def create_extensions_runner(self, execution_context: ExecutionContext, extensions: list[SchemaExtension]) -> Any:
        """The extensions' hooks without Strawberry's per-request hook lookups (app.schema.extensions_runner)."""
        return LeanExtensionsRunner(execution_context=execution_context, extensions=extensions)

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Logging happens in ContractErrors, which logs unexpected errors only."""


def build_schema(
    settings: Settings | None = None,
    observers: Sequence[Callable[[], SchemaExtension]] = (),
    subgraph: Subgraph | None = None,
    compiled: bool | None = None,
    **kwargs: Any,
) -> WhistleSchema:
    """The schema; `settings` gives the operation limits (default: the Settings defaults) and,
    in production, turns introspection (but federation's `_service`) and "Did you mean"
    suggestions off. `observers` (logging, tracing) see each operation's final errors.
    `subgraph` serves one bounded context only (app.schema.subgraphs); None: all of them.
    `compiled` runs queries as compiled plans (app.execution; None: the setting
    `compiled_execution`, on by default)."""
    limits = OperationLimits.from_settings(settings) if settings else OperationLimits.defaults()
    production = settings is not None and settings.is_production
    extensions: list[Any] = [
        *observers,  # first: hooks exit in reverse order, so they see the contract's errors
        functools.partial(ContractErrors, hide_suggestions=production),
        functools.partial(OperationLimitsExtension, limits=limits),
    ]
    cache = document_cache(settings.document_cache_size if settings else 0, limits)
    if cache is not None:
        extensions.append(cache)
    if compiled is None:
        compiled = settings.compiled_execution if settings else Settings.model_fields["compiled_execution"].default
    if production:
        extensions.append(DisableIntrospection)  # refuses __schema and __type; _service stays
    schema = WhistleSchema(
        subgraph=subgraph,
        query=Query,
        mutation=Mutation if subgraph is None or has_root_fields(subgraph, "Mutation") else None,
        subscription=Subscription if subgraph is None or has_root_fields(subgraph, "Subscription") else None,
        extensions=extensions,
        config=StrawberryConfig(scalar_map={datetime: DateTime}, disable_field_suggestions=production),
        federation_version=FEDERATION_VERSION,
        execution_context_class=CompiledExecutor if compiled else None,
        **kwargs,
    )
    schema.execution_timeout = limits.execution_timeout_seconds
    # What the lean lane (app.lean_lane) reads: the same documents, limits and settings.
    schema.document_store = cache.store if cache is not None else None
    schema.operation_limits = limits
    schema.hide_suggestions = production
    check_coverage(schema)  # every root field is authorized by app.schema.policy, or no schema
    return schema
