"""The builder options of NAT's ``dpo_traj_builder``, frozen for the hot path."""

from __future__ import annotations

from dataclasses import dataclass

from prefstream_config import DPOTrajectoryBuilderConfig


@dataclass(frozen=True, slots=True)
class PairingOptions:
    """Pairing rules; defaults are NAT's. See docs/pairing.md."""

    ttc_step_name: str = "dpo_candidate_move"
    exhaustive_pairs: bool = True
    min_score_diff: float = 0.0
    max_pairs_per_turn: int | None = None
    reward_from_score_diff: bool = True
    require_multiple_candidates: bool = True

    def __post_init__(self) -> None:
        # Validated here too so the pure library cannot be driven into NAT's NaN traps.
        if not self.min_score_diff >= 0.0 or self.min_score_diff == float("inf"):
            raise ValueError(
                f"min_score_diff must be a finite number >= 0, got {self.min_score_diff}"
            )
        if self.max_pairs_per_turn is not None and self.max_pairs_per_turn < 1:
            raise ValueError(f"max_pairs_per_turn must be >= 1, got {self.max_pairs_per_turn}")

    @classmethod
    def from_builder(cls, builder: DPOTrajectoryBuilderConfig) -> PairingOptions:
        return cls(
            ttc_step_name=builder.ttc_step_name,
            exhaustive_pairs=builder.exhaustive_pairs,
            min_score_diff=builder.min_score_diff,
            max_pairs_per_turn=builder.max_pairs_per_turn,
            reward_from_score_diff=builder.reward_from_score_diff,
            require_multiple_candidates=builder.require_multiple_candidates,
        )
