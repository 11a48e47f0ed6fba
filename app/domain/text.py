"""Text value rules of the API contract: trimmed, never blank, bounded length."""

from __future__ import annotations

import re

from app.domain.errors import InvalidInput

NAME_MAX = 200  # names, clubs, streets, cities
ZIP_MAX = 20
TELEPHONE_MAX = 50
EMAIL_MAX = 254

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# Characters no database column can hold: NUL (PostgreSQL refuses it) and unpaired surrogates.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _storable(text: str, field: str) -> str:
    if _UNSTORABLE.search(text):
        raise InvalidInput("INVALID_TEXT", f"{field} must not contain NUL characters or unpaired surrogates.")
    return text


def required_text(value: str, field: str, limit: int = NAME_MAX) -> str:
    """Trim; refuse blank text or text over `limit` characters."""
    text = value.strip()
    if not text:
        raise InvalidInput("INVALID_TEXT", f"{field} must not be blank.")
    if len(text) > limit:
        raise InvalidInput("INVALID_TEXT", f"{field} must be at most {limit} characters (got {len(text)}).")
    return _storable(text, field)


def optional_text(value: str | None, field: str, limit: int) -> str | None:
    """Like `required_text`, but absent, blank or "" means None."""
    if value is None or not value.strip():
        return None
    return required_text(value, field, limit)


def optional_email(value: str | None) -> str | None:
    """An email must look like local@domain.tld: one @, a dot in the domain, no spaces."""
    if value is None or not value.strip():
        return None
    email = value.strip()
    if _UNSTORABLE.search(email) or len(email) > EMAIL_MAX or not _EMAIL.fullmatch(email):
        raise InvalidInput("INVALID_EMAIL", f"{email[:60]!r} is not an email address like name@example.org.")
    return email
