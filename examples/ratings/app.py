"""Another team's subgraph that extends Whistle's `Referee`: the referee-coaching team
serves each referee's `rating` (here a stand-in computed from the id) without touching
Whistle's code. It refers to `Referee` by its key and resolves only its own field.

    uvicorn examples.ratings.app:app --port 4004      # serve it
    python -m examples.ratings.app                    # print its subgraph SDL

Compose it with Whistle's three subgraphs (see README, "Adding another team's subgraph").
"""

from __future__ import annotations

import hashlib

import strawberry
from strawberry.asgi import GraphQL


@strawberry.federation.type(keys=["id"], description="A referee who officiates fixtures.")
class Referee:
    id: strawberry.ID

    @strawberry.field(description="The coaches' rating of this referee, 1 (weakest) to 5.")
    def rating(self) -> int:
        return 1 + hashlib.sha256(self.id.lower().encode()).digest()[0] % 5

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Referee:
        return cls(id=id)


@strawberry.type
class Query:
    @strawberry.field(description="The highest rating a referee can have.")
    def max_rating(self) -> int:
        return 5


# Composition tools accept federation v2.0-v2.9 (Strawberry's default is newer).
schema = strawberry.federation.Schema(query=Query, types=[Referee], federation_version="2.9")
app = GraphQL(schema)

if __name__ == "__main__":
    print(schema.as_str())
