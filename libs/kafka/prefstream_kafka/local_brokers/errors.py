"""Errors raised by the local broker launchers.

Every message is meant to be read by a developer at a terminal, so each one says what to
do next (install something, read a log) rather than only what went wrong.
"""

from __future__ import annotations


class LocalBrokerError(RuntimeError):
    """Base class: a local broker could not be provided."""


class BrokerStartError(LocalBrokerError):
    """The broker process exited, or never answered a metadata request, during startup."""


class ToolNotFoundError(LocalBrokerError):
    """A required external tool (java, mvn, the Tansu binary) is missing or too old."""


class FetchError(LocalBrokerError):
    """Maven could not fetch the Apache Kafka jars."""


class BrokerNotReadyError(LocalBrokerError, TimeoutError):
    """No successful metadata round-trip before the deadline."""
