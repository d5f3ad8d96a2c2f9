"""Structured logs on stderr through structlog: every ``extra={...}`` field is kept, as
top-level keys in ``json`` (one object per line) and as ``key=value`` after the message in
``text``, so the text people read says as much as the JSON machines read."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

LogFormat = Literal["json", "text"]
NOISY_LOGGERS = ("aiokafka", "uvicorn.access", "uvicorn.error")


def _add_service(service: str) -> Processor:
    def add(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
        event.setdefault("service", service)
        return event

    return add


def _text_level(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    event["level"] = str(event.get("level", "")).upper()
    return event


def _exception_as_exc(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    if "exception" in event:
        event["exc"] = event.pop("exception")
    return event


def formatter(service: str, fmt: LogFormat = "json") -> logging.Formatter:
    """A stdlib formatter: ``ts``, ``level``, ``service``, ``logger``, ``msg``, the extra
    fields, and ``exc`` for a traceback."""
    pre_chain: list[Processor] = [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.ExtraAdder(),
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        _add_service(service),
    ]
    if fmt == "json":
        render: list[Processor] = [
            structlog.processors.EventRenamer("msg"),
            structlog.processors.format_exc_info,
            _exception_as_exc,
            structlog.processors.JSONRenderer(default=str),
        ]
    else:
        render = [
            _text_level,
            structlog.dev.ConsoleRenderer(
                colors=False,
                pad_event_to=0,
                pad_level=False,
                timestamp_key="ts",
                exception_formatter=structlog.dev.plain_traceback,
            ),
        ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=pre_chain,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *render],
    )


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    """Replace root handlers; ``text`` is for humans at a terminal, ``json`` for everything else."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(service, "json" if fmt == "json" else "text"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
