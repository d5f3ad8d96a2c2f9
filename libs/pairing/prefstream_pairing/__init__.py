"""Pure DPO pairing rules and window bookkeeping (no I/O except ``offline_reader`` and
``offline_writer``, the files of ``pairs build``).

NAT's ``dpo_traj_builder`` semantics with the corrections of docs/pairing.md; the same code
runs in ``prefstream pairs build`` and in the pairing service, so both produce the same pair ids.
"""

from prefstream_pairing.candidate import Candidate, PromptValue, make_candidate
from prefstream_pairing.closed import ClosedCache, ClosedWindow
from prefstream_pairing.decode import CandidateRecord, decode_candidate, fast_decode
from prefstream_pairing.ids import (
    canonical_prompt,
    content_hash,
    pair_id,
    window_id,
    window_ids,
    window_key,
)
from prefstream_pairing.offline import BuildSummary, OfflineBuilder
from prefstream_pairing.options import PairingOptions
from prefstream_pairing.pair import Pair, PairingStats
from prefstream_pairing.rules import pair_window
from prefstream_pairing.windows import INACTIVITY, MAX_AGE, NUM_CANDIDATES, Window, WindowSet

__all__ = [
    "INACTIVITY",
    "MAX_AGE",
    "NUM_CANDIDATES",
    "BuildSummary",
    "Candidate",
    "CandidateRecord",
    "ClosedCache",
    "ClosedWindow",
    "OfflineBuilder",
    "Pair",
    "PairingOptions",
    "PairingStats",
    "PromptValue",
    "Window",
    "WindowSet",
    "canonical_prompt",
    "content_hash",
    "decode_candidate",
    "fast_decode",
    "make_candidate",
    "pair_id",
    "pair_window",
    "window_id",
    "window_ids",
    "window_key",
]
