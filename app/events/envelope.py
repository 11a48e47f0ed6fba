"""The envelope one domain event travels in, from the outbox row to the bus and on."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from uuid import UUID

FIELDS = ("id", "seq", "type", "aggregate_type", "aggregate_id", "version", "payload", "created_at")


@dataclass(frozen=True)
class Envelope:
    """One domain event as it travels: what the outbox row holds."""

    id: UUID  # the outbox event id (dedup key)
    seq: int  # outbox sequence number
    type: str  # e.g. "AssignmentsCommitted"
    aggregate_type: str
    aggregate_id: UUID
    version: int  # aggregate version reached with this event
    payload: dict[str, Any]  # JSON-ready
    created_at: datetime  # aware UTC
    # Gap-free order of every event, given by the relay before it publishes: the event id
    # subscribers see and resume after. None only for envelopes made outside the relay (tests).
    position: int | None = None

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise ValueError(f"Envelope.created_at must be timezone-aware, got {self.created_at!r}")
        if self.created_at.utcoffset():
            object.__setattr__(self, "created_at", self.created_at.astimezone(timezone.utc))

    def to_fields(self) -> dict[str, str]:
        """Flat string fields for XADD; the payload as compact JSON."""
        fields = {
            "id": str(self.id),
            "seq": str(self.seq),
            "type": self.type,
            "aggregate_type": self.aggregate_type,
            "aggregate_id": str(self.aggregate_id),
            "version": str(self.version),
            "payload": json.dumps(self.payload, separators=(",", ":"), ensure_ascii=False),
            "created_at": self.created_at.isoformat(),
        }
        if self.position is not None:
            fields["position"] = str(self.position)
        return fields

    @classmethod
    def from_fields(cls, fields: Mapping[bytes | str, bytes | str]) -> Envelope:
        """The inverse of `to_fields`; keys and values may be bytes (UTF-8) or str, and
        fields other than the envelope's own (e.g. a dead letter's `error`) are ignored.
        Raises KeyError or ValueError on a malformed entry."""
        text = {_text(key): _text(value) for key, value in fields.items()}
        missing = [name for name in FIELDS if name not in text]
        if missing:
            raise KeyError(f"envelope fields missing: {', '.join(missing)}")
        payload = json.loads(text["payload"])
        if not isinstance(payload, dict):
            raise ValueError("envelope payload is not a JSON object")
        return cls(
            id=UUID(text["id"]),
            seq=int(text["seq"]),
            type=text["type"],
            aggregate_type=text["aggregate_type"],
            aggregate_id=UUID(text["aggregate_id"]),
            version=int(text["version"]),
            payload=payload,
            created_at=datetime.fromisoformat(text["created_at"]),
            position=int(text["position"]) if "position" in text else None,
        )


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
