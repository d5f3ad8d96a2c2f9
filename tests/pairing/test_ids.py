"""The id encodings are a contract between instances and replays: pin them."""

from __future__ import annotations

import hashlib
import json

from hypothesis import given
from hypothesis import strategies as st
from prefstream_pairing import (
    PairingOptions,
    canonical_prompt,
    content_hash,
    make_candidate,
    pair_id,
    pair_window,
    window_id,
    window_ids,
    window_key,
)

ids = st.text(min_size=0, max_size=20)


@given(ids, ids, ids, st.integers(0, 2**63 - 1), st.integers(0, 2**63 - 1))
def test_pair_id_is_sha256_of_compact_json(r: str, e: str, t: str, c: int, j: int) -> None:
    text = json.dumps([r, e, t, c, j], separators=(",", ":"), ensure_ascii=False)
    assert pair_id(r, e, t, c, j) == hashlib.sha256(text.encode()).hexdigest()[:32]


def test_window_ids_agree() -> None:
    digest = hashlib.sha256(b'["","ex","t1"]').digest()
    assert window_id("", "ex", "t1") == digest.hex()[:32]
    assert window_key("", "ex", "t1") == int.from_bytes(digest[:8], "big", signed=True)
    assert window_key("a::b", "c", "d") != window_key("a", "b::c", "d")
    assert window_ids("", "ex", "t1") == (window_key("", "ex", "t1"), window_id("", "ex", "t1"))


def test_content_hash_is_over_content_only() -> None:
    msgs = [{"role": "user", "content": "x", "name": "n"}]
    digest = hashlib.sha256(
        hashlib.sha256(canonical_prompt(msgs)).digest()
        + hashlib.sha256(b"good").digest()
        + hashlib.sha256(b"bad").digest()
    ).hexdigest()[:32]
    assert content_hash(msgs, "good", "bad") == digest
    assert canonical_prompt("x") != canonical_prompt([{"role": "user", "content": "x"}])
    a = pair_window(
        "r",
        "e1",
        "t",
        [
            make_candidate(candidate_index=0, score=1.0, output="good", prompt=msgs),
            make_candidate(candidate_index=1, score=0.0, output="bad", prompt=msgs),
        ],
        PairingOptions(),
    )
    b = pair_window(
        "r",
        "e2",
        "u",
        [
            make_candidate(candidate_index=4, score=3.0, output="good", prompt=msgs),
            make_candidate(candidate_index=7, score=1.0, output="bad", prompt=msgs),
        ],
        PairingOptions(),
    )
    assert a[0].content_hash == b[0].content_hash == digest
    assert a[0].pair_id == pair_id("r", "e1", "t", 0, 1)
    assert a[0].pair_id != b[0].pair_id
