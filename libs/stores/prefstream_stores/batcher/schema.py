"""The tables of the batcher's DuckDB file, and the row it stores per pair.

``pairs`` is append-only and has no index, so its physical order is arrival order
(``seq``). ``pair_keys`` and ``contents`` hold the 128-bit MD5 (``md5_number``) of every
``pair_id`` and ``content_hash`` seen; ``positions`` the next offset per source partition;
``traceparent`` (nullable, added to older files on open) is the pair record's trace
context; ``datasets`` is the cut log (one row per cut) and ``dataset_pairs`` dataset membership.
"""

from __future__ import annotations

from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS pairs (
    seq BIGINT NOT NULL,
    pair_id VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    is_dup BOOLEAN NOT NULL,
    example_id VARCHAR NOT NULL,
    policy_model VARCHAR,
    src_partition INTEGER NOT NULL,
    src_offset BIGINT NOT NULL,
    received_at DOUBLE NOT NULL,
    chosen_score DOUBLE NOT NULL,
    rejected_score DOUBLE NOT NULL,
    score_diff DOUBLE NOT NULL,
    reward DOUBLE NOT NULL,
    prompt_text VARCHAR NOT NULL,
    prompt_messages VARCHAR NOT NULL,
    chosen VARCHAR NOT NULL,
    rejected VARCHAR NOT NULL,
    traceparent VARCHAR
);
ALTER TABLE pairs ADD COLUMN IF NOT EXISTS traceparent VARCHAR;
CREATE TABLE IF NOT EXISTS pair_keys (k UHUGEINT PRIMARY KEY, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS contents (k UHUGEINT PRIMARY KEY, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    src_partition INTEGER PRIMARY KEY,
    next_offset BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS datasets (
    sequence INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    spec VARCHAR NOT NULL,
    dataset_id VARCHAR,
    event VARCHAR,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS dataset_pairs (
    sequence INTEGER NOT NULL,
    pair_id VARCHAR NOT NULL,
    side VARCHAR NOT NULL
);
"""

PAIR_COLUMNS = (
    "seq",
    "pair_id",
    "content_hash",
    "is_dup",
    "example_id",
    "policy_model",
    "src_partition",
    "src_offset",
    "received_at",
    "chosen_score",
    "rejected_score",
    "score_diff",
    "reward",
    "prompt_text",
    "prompt_messages",
    "chosen",
    "rejected",
    "traceparent",
)

FRAGMENT_COLUMNS = ("prompt_text", "prompt_messages", "chosen", "rejected")
SCORE_COLUMNS = ("chosen_score", "rejected_score", "score_diff", "reward")


@dataclass(frozen=True, slots=True)
class PairRow:
    """One pair as the batcher keeps it: identity, provenance, scores, JSON fragments."""

    pair_id: str
    content_hash: str
    example_id: str
    policy_model: str | None
    src_partition: int
    src_offset: int
    received_at: float
    chosen_score: float
    rejected_score: float
    score_diff: float
    reward: float
    prompt_text: str
    prompt_messages: str
    chosen: str
    rejected: str
    traceparent: str | None = None
    """The W3C trace context of the pair's record, linked from its dataset's span."""
