"""Deterministic ids: sha256 over a canonical JSON encoding, hex truncated to 32 characters.

128 bits keep collisions out of reach for any realistic stream while halving key size.
The encodings are part of the contract (replays and other instances must agree), so they
are spelled out here and pinned by tests.
"""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

ID_HEX_CHARS = 32

_encode = msgspec.json.Encoder(order="sorted").encode


def canonical_prompt(prompt: str | list[Any]) -> bytes:
    """JSON of the prompt with object keys sorted: ``"x"`` and ``[{"role":"user",...}]``
    stay distinct, and key order inside messages never matters."""
    return _encode(prompt)


def text_digest(data: bytes | str) -> bytes:
    """Raw sha256 of a text (UTF-8) or bytes; the building block of ``content_hash``."""
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).digest()


def window_prefix(run_id: str, example_id: str, turn_id: str) -> bytes:
    """``[run_id,example_id,turn_id`` as compact JSON, without the closing bracket."""
    return _encode([run_id, example_id, turn_id])[:-1]


def window_id(run_id: str, example_id: str, turn_id: str) -> str:
    """Hex id of a window: sha256 of ``["run","example","turn"]``."""
    return hashlib.sha256(window_prefix(run_id, example_id, turn_id) + b"]").hexdigest()[
        :ID_HEX_CHARS
    ]


def window_ids(run_id: str, example_id: str, turn_id: str) -> tuple[int, str]:
    """(:func:`window_key`, :func:`window_id`) from one digest."""
    digest = hashlib.sha256(window_prefix(run_id, example_id, turn_id) + b"]").digest()
    return int.from_bytes(digest[:8], "big", signed=True), digest.hex()[:ID_HEX_CHARS]


def window_key(run_id: str, example_id: str, turn_id: str) -> int:
    """Signed 64-bit form of the window hash: a compact integer primary key for DuckDB."""
    digest = hashlib.sha256(window_prefix(run_id, example_id, turn_id) + b"]").digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def pair_id_from_prefix(prefix: bytes, chosen_index: int, rejected_index: int) -> str:
    """sha256 of ``["run","example","turn",chosen_index,rejected_index]`` (compact JSON)."""
    data = b"%s,%d,%d]" % (prefix, chosen_index, rejected_index)
    return hashlib.sha256(data).hexdigest()[:ID_HEX_CHARS]


def pair_id(
    run_id: str, example_id: str, turn_id: str, chosen_index: int, rejected_index: int
) -> str:
    return pair_id_from_prefix(
        window_prefix(run_id, example_id, turn_id), chosen_index, rejected_index
    )


def content_hash_from_digests(prompt: bytes, chosen: bytes, rejected: bytes) -> str:
    """sha256(sha256(canonical prompt) || sha256(chosen) || sha256(rejected)).

    Hashing digests lets each candidate's text be hashed once per window instead of once
    per pair, which matters at six pairs per four candidates.
    """
    return hashlib.sha256(prompt + chosen + rejected).hexdigest()[:ID_HEX_CHARS]


def content_hash(prompt: str | list[Any], chosen: str, rejected: str) -> str:
    return content_hash_from_digests(
        text_digest(canonical_prompt(prompt)), text_digest(chosen), text_digest(rejected)
    )
