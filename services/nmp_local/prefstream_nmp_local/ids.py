"""Platform-style identifiers: ``<prefix>-<base58(uuid4)>`` (e.g. ``cust-…``, ``dataset-…``)."""

from __future__ import annotations

import uuid

_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58(data: bytes) -> str:
    """Bitcoin-alphabet base58, as the platform uses for entity ids."""
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, rem = divmod(number, 58)
        out.append(_ALPHABET[rem])
    pad = len(data) - len(data.lstrip(b"\0"))
    return "1" * pad + "".join(reversed(out))


def new_id(prefix: str) -> str:
    """A fresh id such as ``cust-KqV8…``."""
    return f"{prefix}-{base58(uuid.uuid4().bytes)}"
