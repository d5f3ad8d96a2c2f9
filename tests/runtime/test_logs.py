"""Logs keep every ``extra=`` field, in the text format people read as in the JSON one."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator

import pytest
from prefstream_runtime import configure_logging


@pytest.fixture
def captured(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    """What the configured handler writes to stderr (captured by pytest)."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield lambda: capsys.readouterr().err
    root.handlers[:] = handlers
    root.setLevel(level)


def emit() -> None:
    logging.getLogger("prefstream.test").warning(
        "dataset announced",
        extra={"dataset_id": "ds-7", "url": "http://127.0.0.1:1/v1/namespaces", "attempt": 2},
    )


def test_text_format_prints_the_extra_fields_after_the_message(captured: Callable[[], str]) -> None:
    configure_logging("submit", "INFO", "text")
    emit()

    line = captured().strip()
    assert "\n" not in line
    assert "dataset announced" in line
    assert "submit" in line
    assert "WARNING" in line.upper()
    after = line.split("dataset announced", 1)[1]
    assert "dataset_id=ds-7" in after
    assert "url=http://127.0.0.1:1/v1/namespaces" in after
    assert "attempt=2" in after


def test_json_format_keeps_the_extra_fields_as_keys(captured: Callable[[], str]) -> None:
    configure_logging("submitter", "INFO", "json")
    emit()

    entry = json.loads(captured())
    assert entry["msg"] == "dataset announced"
    assert entry["level"] == "warning"
    assert entry["service"] == "submitter"
    assert entry["logger"] == "prefstream.test"
    assert entry["ts"].endswith("Z")
    assert entry["dataset_id"] == "ds-7"
    assert entry["url"] == "http://127.0.0.1:1/v1/namespaces"
    assert entry["attempt"] == 2


def test_the_level_is_honoured_and_exceptions_stay_on_their_record(
    captured: Callable[[], str],
) -> None:
    configure_logging("submit", "WARNING", "json")
    log = logging.getLogger("prefstream.test")
    log.info("not shown", extra={"dataset_id": "hidden"})
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("step failed", extra={"dataset_id": "ds-8"})

    lines = captured().splitlines()
    assert len(lines) == 1
    entry = json.loads(lines[0])
    assert entry["dataset_id"] == "ds-8"
    assert "ValueError: boom" in entry["exc"]
