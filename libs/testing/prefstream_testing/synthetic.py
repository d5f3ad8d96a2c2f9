"""Seeded synthetic CandidateEvents for benchmarks and tests (never downloaded data).

Turns of ``candidates`` events of about ``event_bytes`` each; half the prompts are chat
message lists. Text is drawn from a Zipf-like vocabulary so it compresses like prose.
Scores are multiples of 0.05, so ties and float-subtraction edges occur naturally.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import msgspec

_WORDS = ["".join(chr(97 + (i * 7 + j * 3) % 26) for j in range(2 + i % 7)) for i in range(2000)]
_WEIGHTS = [1.0 / (i + 1) for i in range(len(_WORDS))]
_encode = msgspec.json.Encoder().encode


_CORPUS = " ".join(random.Random(0).choices(_WORDS, _WEIGHTS, k=400_000))


def _text(rng: random.Random, size: int) -> str:
    """A random slice of a fixed Zipf corpus: realistic text at memcpy speed."""
    start = rng.randrange(0, len(_CORPUS) - size)
    return _CORPUS[start : start + size]


def synthetic_events(
    turns: int,
    candidates: int = 4,
    *,
    seed: int = 0,
    event_bytes: int = 1000,
    examples: int | None = None,
    run_id: str = "",
    with_num_candidates: bool = True,
    interleave: int = 1,
) -> Iterator[dict[str, Any]]:
    """Yield ``turns * candidates`` event dicts in emission order.

    ``interleave`` > 1 mixes the candidates of that many consecutive turns, as concurrent
    agents would. ``examples`` bounds the number of distinct example ids (several turns
    per example); default one example per 4 turns.
    """
    rng = random.Random(seed)
    n_examples = examples or max(1, turns // 4)
    prompt_chars = event_bytes // 2
    output_chars = max(8, event_bytes // 4)
    block: list[dict[str, Any]] = []
    for t in range(turns):
        ex = f"ex-{t % n_examples}"
        turn_id = f"turn-{t}"
        text = _text(rng, prompt_chars)
        prompt: Any = (
            [{"role": "system", "content": "play"}, {"role": "user", "content": text}]
            if t % 2
            else text
        )
        for c in range(candidates):
            ev: dict[str, Any] = {
                "example_id": ex,
                "turn_id": turn_id,
                "turn_index": t // n_examples,
                "candidate_index": c,
                "input": prompt,
                "output": _text(rng, output_chars),
                "score": rng.randrange(0, 21) * 0.05,
                "run_id": run_id,
                "policy_model": "policy-a",
            }
            if with_num_candidates:
                ev["num_candidates"] = candidates
            block.append(ev)
        if len(block) >= interleave * candidates or t == turns - 1:
            if interleave > 1:
                rng.shuffle(block)
            yield from block
            block = []


def synthetic_lines(turns: int, candidates: int = 4, **options: Any) -> Iterator[bytes]:
    for ev in synthetic_events(turns, candidates, **options):
        yield _encode(ev) + b"\n"
