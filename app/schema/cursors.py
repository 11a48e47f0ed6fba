"""Opaque, signed keyset cursors for the fixtures connection.

A cursor is base64url(JSON [date, id]) + "." + a truncated HMAC of it, so a cursor
this server did not issue is refused (INVALID_CURSOR) instead of silently paging
from an arbitrary position.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime
from uuid import UUID

from app.domain.errors import InvalidInput

_SIGNATURE_BYTES = 12


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class CursorCodec:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode(), hashlib.sha256).digest()[:_SIGNATURE_BYTES])

    def encode(self, date: datetime, id: UUID) -> str:
        body = _b64(json.dumps([date.isoformat(), str(id)], separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def decode(self, cursor: str) -> tuple[datetime, UUID]:
        body, _, signature = cursor.partition(".")
        if not hmac.compare_digest(signature.encode(), self._sign(body).encode()):
            raise self._invalid()
        try:
            date, id = json.loads(_unb64(body))
            return datetime.fromisoformat(date), UUID(id)
        except (ValueError, TypeError, binascii.Error) as error:
            raise self._invalid() from error

    @staticmethod
    def _invalid() -> InvalidInput:
        return InvalidInput("INVALID_CURSOR", "`after` is not a cursor this server issued; use an endCursor or cursor.")
