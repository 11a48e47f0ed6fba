"""The access line of an operation whose end runs in another context than its start (a
subscription's stream closed by the garbage collector, in a task of its own)."""

from __future__ import annotations

import contextvars
import logging
from types import SimpleNamespace

import pytest

from app.observability import OperationLog, operation_name_var


def test_an_operation_ended_in_another_context_still_writes_its_access_line(caplog: pytest.LogCaptureFixture) -> None:
    execution_context = SimpleNamespace(context=None, operation_name="Live", operation_type=None, result=None)
    extension = OperationLog(execution_context=execution_context)
    extension.execution_context = execution_context
    hook = extension.on_operation()
    contextvars.Context().run(next, hook)  # started in one context ...
    with caplog.at_level(logging.INFO, logger="whistle.access"):
        contextvars.Context().run(hook.close)  # ... ended in another: no error
    (line,) = caplog.records
    assert "Live" in line.getMessage()
    assert operation_name_var.get() is None
