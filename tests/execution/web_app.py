"""The GraphQL operations the web app sends (app/ui/static/js/**), read from its sources.

Every string literal of the JS modules ('...', "..." and `...`, with `${NAME}` replaced by
the module-level constant NAME of any module: FIXTURE_FIELDS, PAGE_SIZE) that parses as a
GraphQL document is one of them."""

from __future__ import annotations

import re
from pathlib import Path

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

JS = Path(__file__).resolve().parents[2] / "app" / "ui" / "static" / "js"
_LITERAL = re.compile(r"'((?:[^'\\\n]|\\.)*)'|\"((?:[^\"\\\n]|\\.)*)\"|`((?:[^`\\]|\\.)*)`", re.S)
_CONSTANT = re.compile(r"^(?:export\s+)?const\s+([A-Z_]+)\s*=\s*(?:'([^']*)'|`([^`$]*)`|(\d+));", re.M)
_PLACEHOLDER = re.compile(r"\$\{([A-Z_]+)\}")


def _sources() -> list[str]:
    return [path.read_text() for path in sorted(JS.rglob("*.js"))]


def _constants(sources: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for source in sources:
        for match in _CONSTANT.finditer(source):
            name, *values = match.groups()
            found[name] = next(v for v in values if v is not None)
    return found


def web_app_documents() -> list[str]:
    """Every GraphQL document of the web app, placeholders filled in."""
    sources = _sources()
    constants = _constants(sources)
    documents: set[str] = set()
    for source in sources:
        for match in _LITERAL.finditer(source):
            text = next(g for g in match.groups() if g is not None)
            if text.count("{") < 2:  # an operation selects an object at least; `{a, b}` is JS
                continue
            text = _PLACEHOLDER.sub(lambda m: constants.get(m[1], m[0]), text)
            try:
                document = parse(text)
            except GraphQLError:
                continue
            if any(isinstance(d, OperationDefinitionNode) for d in document.definitions):
                documents.add(text)
    return sorted(documents)


def web_app_queries() -> list[str]:
    return [t for t in web_app_documents() if _kinds(t) == {OperationType.QUERY}]


def _kinds(text: str) -> set[OperationType]:
    return {d.operation for d in parse(text).definitions if isinstance(d, OperationDefinitionNode)}
