"""The lean extensions runner calls the same hooks in the same order as Strawberry's
(entered in list order, left in reverse, an exception passed to the hooks as by an
ExitStack, and raised from the block even when a hook swallowed it), and leaves a stage with another kind of hook to Strawberry."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import OperationContextManager
from strawberry.extensions.runner import SchemaExtensionsRunner

from app.schema.extensions_runner import LeanExtensionsRunner, _Stage


def make(log: list[str]) -> list[SchemaExtension]:
    class First(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            log.append("first in")
            try:
                yield
            except ValueError:
                log.append("first saw ValueError")
                raise
            finally:
                log.append("first out")

        def on_parse(self) -> Iterator[None]:
            log.append("first parse")
            yield

    class Second(SchemaExtension):
        def on_operation(self) -> Iterator[None]:
            log.append("second in")
            try:
                yield
            except ValueError:
                log.append("second swallows ValueError")  # Strawberry's stage raises it anyway
            log.append("second out")

    class Quiet(SchemaExtension):
        pass

    return [First(execution_context=None), Quiet(execution_context=None), Second(execution_context=None)]


@pytest.mark.parametrize("runner_class", [SchemaExtensionsRunner, LeanExtensionsRunner])
async def test_same_hooks_same_order_same_exceptions(runner_class: type[SchemaExtensionsRunner]) -> None:
    log: list[str] = []
    runner = runner_class(execution_context=None, extensions=make(log))  # type: ignore[arg-type]
    async with runner.operation():
        async with runner.parsing():
            log.append("parsing")
        async with runner.validation():
            log.append("validating")
        with runner.executing():
            log.append("executing")
    assert log == ["first in", "second in", "first parse", "parsing", "validating", "executing", "second out", "first out"]

    log.clear()
    with pytest.raises(ValueError):
        async with runner.operation():
            raise ValueError("boom")
    # As in an ExitStack, hooks left after one that swallowed it see no exception; the block's
    # exception is raised all the same.
    assert log == ["first in", "second in", "second swallows ValueError", "second out", "first out"]


async def test_whistle_hooks_are_lean_and_other_kinds_are_strawberrys() -> None:
    runner = LeanExtensionsRunner(execution_context=None, extensions=make([]))  # type: ignore[arg-type]
    assert isinstance(runner.operation(), _Stage)

    class AsyncHook(SchemaExtension):
        async def on_operation(self) -> AsyncIterator[None]:
            yield

    mixed = LeanExtensionsRunner(execution_context=None, extensions=[*make([]), AsyncHook(execution_context=None)])  # type: ignore[arg-type]
    assert isinstance(mixed.operation(), OperationContextManager)
    assert isinstance(mixed.parsing(), _Stage)


def test_the_schema_uses_it() -> None:
    from app.api import build_schema

    schema = build_schema()
    assert isinstance(schema.create_extensions_runner(None, []), LeanExtensionsRunner)  # type: ignore[arg-type]
    assert strawberry  # the schema module imports cleanly with the runner
