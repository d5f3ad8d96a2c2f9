"""A DPO pair as the library produces it, and the counters of what was not paired."""

from __future__ import annotations

from dataclasses import dataclass, fields

import msgspec

from prefstream_pairing.candidate import PromptValue


class Pair(msgspec.Struct, frozen=True, gc=False, omit_defaults=True, kw_only=True):
    """Field names and meaning as ``prefstream_events.PairEvent``; encodes to a valid one.

    Fields are keyword-only: a pair is built by name, never by position."""

    pair_id: str
    content_hash: str
    run_id: str
    example_id: str
    turn_id: str
    prompt: PromptValue
    chosen: str
    rejected: str
    chosen_score: float
    rejected_score: float
    score_diff: float
    reward: float
    chosen_index: int
    rejected_index: int
    ttc_step_name: str = "dpo_candidate_move"
    policy_model: str | None = None
    rejected_policy_model: str | None = None
    close_reason: str | None = None
    event_time: str | None = None


@dataclass(slots=True)
class PairingStats:
    """NAT's metrics plus the reasons NAT does not have (ties, prompt mismatch)."""

    turns: int = 0
    candidates: int = 0
    pairs: int = 0
    skipped_single_candidate: int = 0
    skipped_score_diff: int = 0
    skipped_equal_score: int = 0
    skipped_prompt_mismatch: int = 0

    def add(self, other: PairingStats) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}
