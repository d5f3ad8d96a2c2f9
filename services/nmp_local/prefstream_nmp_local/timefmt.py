"""Timestamps: stored as epoch floats, rendered as ``…Z`` ISO strings.

``huggingface_hub`` rejects ``+00:00`` offsets, so every date nmp-local emits ends in ``Z``.
"""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float) -> str:
    """``2025-01-02T03:04:05.678901Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
