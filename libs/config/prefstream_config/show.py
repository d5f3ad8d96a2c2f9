"""Printable view of a resolved config with every secret masked."""

from __future__ import annotations

import re
from typing import Any

import yaml
from pydantic import SecretStr

from prefstream_config.model import PrefstreamConfig

MASK = "**********"
_SECRET_KEY = re.compile(r"(api_?key|token|password|secret)", re.IGNORECASE)


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, SecretStr):
        return MASK if value.get_secret_value() else ""
    if isinstance(value, dict):
        return {k: _mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    if isinstance(value, str) and value and _SECRET_KEY.search(key):
        return MASK
    return value


def masked_dict(config: PrefstreamConfig) -> dict[str, Any]:
    """``by_alias`` so NAT's ``_type`` keys print as NAT writes them."""
    raw = config.model_dump(mode="python", by_alias=True)
    masked: dict[str, Any] = _mask(raw)
    return masked


def render_yaml(config: PrefstreamConfig) -> str:
    return yaml.safe_dump(masked_dict(config), sort_keys=False, default_flow_style=False)
