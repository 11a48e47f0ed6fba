"""Flat selections compiled to Python code.

An object whose selected fields are all leaves read straight from attributes (`{ id name
club }` of a venue, team or referee: most of a page's objects) is built by one generated
function of straight-line code (`v0 = source.id`, a type check, one dict display) instead
of the runner's general machinery per field. The function gives up (None) on any value it
cannot copy or coerce as it is (a null where one is not allowed, a value of another type,
a failed coercion), and the runner then completes that object the general way, with
graphql-core's answer and errors: the generated code only ever takes the common case.
"""

from __future__ import annotations

import keyword
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql.pyutils import Undefined

Build = Callable[[Any], dict[str, Any] | None]


@dataclass(frozen=True, slots=True)
class FlatField:
    key: str  # the response key (a GraphQL name: safe in generated code)
    attribute: str | None  # the source's attribute, or None: `constant` (`__typename`)
    constant: str | None  # (None: a place kept for a value that comes later)
    verbatim: type | None  # a value of exactly this type is its own serialization
    coerce: Callable[[Any], Any] | None  # else: the leaf type's coerce_output_value
    non_null: bool


def flat_builder(type_name: str, fields: list[FlatField]) -> Build | None:
    """The generated builder of an object of `type_name` with these fields, or None when
    a field cannot be written as code (an attribute that is not a plain identifier)."""
    namespace: dict[str, Any] = {"Undefined": Undefined}
    lines = ["def build(source):"]
    items = []
    for i, field in enumerate(fields):
        value = f"v{i}"
        items.append(f"{field.key!r}: {value}")
        if field.attribute is None:
            namespace[value] = field.constant
            continue
        if not field.attribute.isidentifier() or keyword.iskeyword(field.attribute):
            return None
        lines.append(f"    {value} = source.{field.attribute}")
        if field.verbatim is not None:
            namespace[f"t{i}"] = field.verbatim
            allowed = "" if field.non_null else f" and {value} is not None"
            lines.append(f"    if type({value}) is not t{i}{allowed}: return None")
            continue
        namespace[f"c{i}"] = field.coerce
        if field.non_null:
            indent = "    "
            lines.append(f"    if {value} is None: return None")
        else:
            indent = "        "
            lines.append(f"    if {value} is not None:")
        lines.append(f"{indent}if {value} is Undefined: return None")
        lines.append(f"{indent}{value} = c{i}({value})")
        lines.append(f"{indent}if {value} is None or {value} is Undefined: return None")
    lines.append("    return {" + ", ".join(items) + "}")
    exec(compile("\n".join(lines), f"<flat selection of {type_name}>", "exec"), namespace)  # noqa: S102 - our own code
    return namespace["build"]  # type: ignore[no-any-return]
