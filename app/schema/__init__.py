"""The federated GraphQL schema (Apollo Federation 2 subgraph)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from app.resolvers.mutation import Mutation
from app.resolvers.query import Query
from app.schema.errors import ContractErrors
from app.schema.scalars import DateTime
from app.schema.subscription import Subscription

# Composition tools accept federation v2.0-v2.9 (see the federation notes).
FEDERATION_VERSION = "2.9"


class WhistleSchema(strawberry.federation.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Logging happens in ContractErrors, which logs unexpected errors only."""


def build_schema(**kwargs: Any) -> WhistleSchema:
    return WhistleSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[ContractErrors],
        config=StrawberryConfig(scalar_map={datetime: DateTime}),
        federation_version=FEDERATION_VERSION,
        **kwargs,
    )
