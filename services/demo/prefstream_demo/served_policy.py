"""Candidates and evaluation moves from a model served behind an OpenAI-compatible API.

The agents ask ``/chat/completions`` once per turn with ``n`` samples (one request, not one
per candidate: the server generates them in one batch), keep the distinct legal squares as
the turn's candidates, and count the rest as unusable. Nothing is topped up from the
offline policy: a closed loop must learn from what the model itself proposes. Evaluation
games ask ``/completions`` with a list of prompts, one request per ply for every game
still running.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import httpx
from prefstream_events import ChatMessage

from prefstream_demo.llm_policy import LLMStats, Proposal, Proposals
from prefstream_demo.tictactoe import Board, Candidate
from prefstream_demo.tictactoe.compact import compact_prompt, parse_compact_move

MOVE_TOKENS = 2
"""A move is one character and an end-of-sequence token."""


@dataclass(frozen=True, kw_only=True)
class ServedModel:
    model: str
    """The served model's name (what ``policy_model`` records)."""
    url: str
    """The deployment's OpenAI-compatible base URL, ending in ``/v1``."""


class ServedPolicy:
    """A ``CandidateSource`` backed by a served model."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        served: ServedModel,
        *,
        temperature: float,
        stats: LLMStats | None = None,
    ) -> None:
        self._client = client
        self._served = served
        self._temperature = temperature
        self.stats = stats or LLMStats()

    def messages(self, board: Board) -> list[ChatMessage]:
        """The compact prompt the model reads: the pairs must train on what it was asked."""
        return [ChatMessage(role="user", content=compact_prompt(board))]

    async def propose(self, board: Board, n: int, rng: random.Random) -> Proposals:
        body = {
            "model": self._served.model,
            "messages": [m.model_dump() for m in self.messages(board)],
            "n": n,
            "temperature": self._temperature,
            "max_tokens": MOVE_TOKENS,
            "seed": rng.randrange(2**31),
        }
        self.stats.requests += 1
        reply = await _post(self._client, f"{self._served.url}/chat/completions", body)
        legal = set(board.legal_moves())
        proposals: list[Proposal] = []
        illegal: list[str] = []
        for choice in reply["choices"]:
            text = str(choice["message"]["content"]).strip()
            square = parse_compact_move(text)
            if square is None or square not in legal:
                self.stats.unusable_answers += 1
                if text not in illegal:
                    illegal.append(text)
                continue
            if any(p.candidate.square == square for p in proposals):
                self.stats.unusable_answers += 1  # a square already proposed
            else:
                proposals.append(Proposal(Candidate(square, text), "llm"))
        self.stats.llm_candidates += len(proposals)
        return Proposals(proposals, illegal)


async def batched_moves(
    client: httpx.AsyncClient,
    served: ServedModel,
    boards: list[Board],
    *,
    temperature: float,
    seed: int,
) -> list[int | None]:
    """One move per board (``None`` when the answer names no square), in one request."""
    if not boards:
        return []
    body = {
        "model": served.model,
        "prompt": [compact_prompt(b) for b in boards],
        "temperature": temperature,
        "max_tokens": MOVE_TOKENS,
        "seed": seed,
    }
    reply = await _post(client, f"{served.url}/completions", body)
    texts: list[str] = [""] * len(boards)
    for choice in reply["choices"]:
        texts[int(choice["index"])] = str(choice["text"])
    return [parse_compact_move(t.strip()) for t in texts]


async def _post(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(url, json=body)
    if response.status_code >= 400:
        raise ServingError(f"{url} answered {response.status_code}: {response.text[:300]}")
    data: dict[str, Any] = response.json()
    return data


class ServingError(RuntimeError):
    """The served model refused or failed a request; the demo cannot go on without it."""
