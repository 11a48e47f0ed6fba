"""The access line of an operation whose end runs in another context than its start (a
subscription's stream closed by the garbage collector, in a task of its own)."""

from __future__ import annotations

import contextvars
import io
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from types import SimpleNamespace
from unittest.mock import patch

import pytest

from app.observability import JsonFormatter, LoggedOperation, OperationLog, RequestContextFilter, _write_json_line, new_request_id, operation_name_var, request_id_var


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


@contextmanager
def json_log() -> Iterator[io.StringIO]:
    """The root logger as `logging_config` sets it up with WHISTLE_LOG_FORMAT=json (one
    StreamHandler, JsonFormatter, RequestContextFilter), writing into a StringIO; pytest's
    own capture handlers (added for the test's call phase) are taken off meanwhile."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestContextFilter())
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


def _end(name: str | None, user: str | None, codes: list[str]) -> None:
    token = request_id_var.set("req-1")
    try:
        LoggedOperation(name, user).end(name, "query", codes)
    finally:
        request_id_var.reset(token)


@pytest.mark.parametrize(("name", "user", "codes"), [("Q2", "u-1", []), (None, None, ["FORBIDDEN", "NOT_FOUND"])])
def test_the_access_line_written_directly_is_the_line_logging_writes(name: str | None, user: str | None, codes: list[str]) -> None:
    with json_log() as stream:
        with patch("app.observability._write_json_line", wraps=_write_json_line) as direct_way:
            _end(name, user, codes)
        assert direct_way.call_count == 1
        logging.getLogger().addHandler(other := logging.NullHandler())  # another handler: through Logger.info
        with patch("app.observability._write_json_line", wraps=_write_json_line) as direct_way:
            _end(name, user, codes)
        logging.getLogger().removeHandler(other)
        assert direct_way.call_count == 0
    direct, logged = (json.loads(line) for line in stream.getvalue().splitlines())
    for line in (direct, logged):
        assert line.pop("time").endswith("+00:00")
        line.pop("duration_ms")
        line["message"] = line["message"].split(" ms ")[-1]
    assert list(direct.items()) == list(logged.items())  # the same keys in the same order
    assert direct["request_id"] == "req-1" and direct["logger"] == "whistle.access"
    assert direct.get("user_id") == user and direct.get("error_codes", []) == codes


def test_an_access_line_that_cannot_be_written_is_reported_and_the_request_goes_on(capsys: pytest.CaptureFixture[str]) -> None:
    with json_log() as stream:
        stream.close()  # a closed stream: StreamHandler.emit's handleError
        _end("Q2", None, [])
    assert "Logging error" in capsys.readouterr().err
    assert operation_name_var.get() is None


def test_a_new_request_id_is_a_random_uuid4_in_hex() -> None:
    ids = {new_request_id() for _ in range(200)}
    assert len(ids) == 200
    for made in ids:
        parsed = uuid.UUID(made)
        assert parsed.hex == made and parsed.version == 4 and parsed.variant == uuid.RFC_4122
