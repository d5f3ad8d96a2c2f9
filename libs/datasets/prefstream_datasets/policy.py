"""The policy-model filter of a cut, and how a pair without a policy model is counted."""

from __future__ import annotations

from collections.abc import Sequence

UNKNOWN_POLICY = "unknown"
"""How a pair without ``policy_model`` is counted in manifests."""


def policy_key(policy_model: str | None) -> str:
    return UNKNOWN_POLICY if policy_model is None else policy_model


def policy_allowed(policy_model: str | None, allowed: Sequence[str] | None) -> bool:
    """No filter allows everything; a filter allows only the models it names."""
    return allowed is None or (policy_model is not None and policy_model in allowed)
