"""``prefstream publish`` validates lines with the decoder ``pairs build`` and the service use."""

from __future__ import annotations

import json
from pathlib import Path

from prefstream_cli.commands.publish import read_candidates
from prefstream_events import CandidateEvent, InvalidEvent
from prefstream_pairing import OfflineBuilder, PairingOptions

MAX_BYTES = 1 << 20


def line(**fields: object) -> bytes:
    doc = {
        "example_id": "e",
        "turn_id": "t",
        "turn_index": 0,
        "candidate_index": 0,
        "input": "p",
        "output": "o",
        "score": 0.5,
        **fields,
    }
    return json.dumps(doc, ensure_ascii=False).encode()


HOSTILE: list[tuple[bytes, str | None]] = [
    (line(candidate_index=0, output="ünïcödé"), None),
    (line(candidate_index=1).replace(b'"o"', b'"\xff\xfe"'), "invalid_utf8"),
    (line(candidate_index=2, u="K").replace(b'"u"', b'"\xed\xa0\x80"'), "invalid_utf8"),
    (
        line(candidate_index=3, u=0).replace(b": 0}", b": " + b"[" * 1000 + b"]" * 1000 + b"}"),
        "too_deep",
    ),
    (line(candidate_index=4, score=True), "invalid_field"),
    (line(candidate_index=5, score="0.5"), "invalid_field"),
    (line(candidate_index=6, score=" 1e3 "), "invalid_field"),
    (line(candidate_index=True), "invalid_field"),
    (line(candidate_index=8, turn_index=1.0), "invalid_field"),
    (line(candidate_index=9, score=1), None),
    (line(candidate_index=10) + b"\x0c", None),  # ASCII whitespace around a line is not data
    (b"{not json", "not_json"),
]


def test_publish_and_pairs_build_reject_the_same_lines_for_the_same_reasons(
    tmp_path: Path,
) -> None:
    src = tmp_path / "in.jsonl"
    src.write_bytes(b"\n".join(raw for raw, _ in HOSTILE) + b"\n\n")
    expected = [(n, reason) for n, (_, reason) in enumerate(HOSTILE, 1) if reason is not None]

    with src.open("rb") as fh:
        results = list(read_candidates(fh, max_bytes=MAX_BYTES))
    published = [r for _, r in results if isinstance(r, CandidateEvent)]
    rejected = [(n, r.reason) for n, r in results if isinstance(r, InvalidEvent)]
    assert rejected == expected
    assert [e.candidate_index for e in published] == [0, 9, 10]
    assert published[1].score == 1.0

    offline: list[tuple[int, str]] = []
    builder = OfflineBuilder(
        PairingOptions(),
        max_bytes=MAX_BYTES,
        on_invalid=lambda n, exc: offline.append((n, exc.reason)),
    )
    with src.open("rb") as fh:
        builder.feed(fh)
    assert offline == expected
    assert builder.summary.valid == len(published)
