"""Where a turn's candidate moves come from: the offline policy, or an OpenAI-compatible LLM.

The LLM path asks ``/chat/completions`` once per candidate (``n`` is not supported by every
OpenAI-compatible server, one request per answer is), keeps answers that name a legal,
not yet proposed square, and tops the turn up from the offline policy for every request
that failed or answer it could not use. Every fallback is counted, so a demo that silently
ran offline shows it in its stats instead of in its data.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import httpx
from prefstream_config import ConfigError, LLMConfig, PrefstreamConfig
from prefstream_events import ChatMessage

from prefstream_demo.tictactoe import (
    Board,
    Candidate,
    build_messages,
    generate_candidates,
    parse_move,
)

log = logging.getLogger(__name__)

Source = Literal["llm", "offline"]
DEFAULT_TEMPERATURE = 0.7
MAX_TOKENS = 256


@dataclass(frozen=True, slots=True)
class Proposal:
    candidate: Candidate
    source: Source


@dataclass(frozen=True, slots=True)
class Proposals:
    """A turn's legal, distinct moves, and the answers that named no legal square."""

    moves: list[Proposal]
    illegal: list[str] = field(default_factory=list)
    """Distinct texts of answers that named an occupied square or none (a source that
    tops up or drops them leaves this empty)."""


@dataclass(slots=True)
class LLMStats:
    requests: int = 0
    failed_requests: int = 0
    unusable_answers: int = 0
    """Answers with no parseable move, an illegal square, or a square already proposed."""
    llm_candidates: int = 0
    fallback_candidates: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "requests": self.requests,
            "failed_requests": self.failed_requests,
            "unusable_answers": self.unusable_answers,
            "llm_candidates": self.llm_candidates,
            "fallback_candidates": self.fallback_candidates,
        }


class CandidateSource(Protocol):
    """Proposes a turn's moves and says which prompt they answer (what the pairs train on)."""

    def messages(self, board: Board) -> list[ChatMessage]: ...

    async def propose(self, board: Board, n: int, rng: random.Random) -> Proposals: ...


class OfflinePolicy:
    """The seeded policy from ``prefstream_demo.tictactoe``; needs no network."""

    def messages(self, board: Board) -> list[ChatMessage]:
        return build_messages(board)

    async def propose(self, board: Board, n: int, rng: random.Random) -> Proposals:
        return Proposals([Proposal(c, "offline") for c in generate_candidates(board, n, rng)])


def chat_completions_url(base_url: str) -> str:
    """NAT-style ``base_url`` ends in ``/v1``; a bare host gets ``/v1`` added."""
    base = base_url.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return base + "/chat/completions"


def resolve_llm(config: PrefstreamConfig, name: str) -> LLMConfig:
    """The ``llms.<name>`` entry the demo uses, with a fix-it message when it is unusable."""
    if name not in config.llms:
        known = ", ".join(sorted(config.llms)) or "none"
        raise ConfigError(f"demo.llm is {name!r} but llms defines {known}: add llms.{name}.")
    llm = config.llms[name]
    if not llm.base_url or not llm.model_name:
        raise ConfigError(
            f"llms.{name} needs base_url and model_name for the demo agents "
            "(an OpenAI-compatible endpoint, e.g. a NIM at http://host:8000/v1)."
        )
    return llm


class OpenAIPolicy:
    """Candidates from an OpenAI-compatible endpoint, topped up offline when it fails."""

    def __init__(
        self, client: httpx.AsyncClient, llm: LLMConfig, *, stats: LLMStats | None = None
    ) -> None:
        if not llm.base_url or not llm.model_name:
            raise ConfigError("the LLM needs base_url and model_name")
        self._client = client
        self._url = chat_completions_url(llm.base_url)
        self._model = llm.model_name
        self._temperature = DEFAULT_TEMPERATURE if llm.temperature is None else llm.temperature
        self._headers = (
            {"Authorization": f"Bearer {llm.api_key.get_secret_value()}"}
            if (llm.api_key and llm.api_key.get_secret_value())
            else {}
        )
        self.stats = stats or LLMStats()

    def messages(self, board: Board) -> list[ChatMessage]:
        return build_messages(board)

    async def propose(self, board: Board, n: int, rng: random.Random) -> Proposals:
        wanted = min(n, len(board.legal_moves()))
        body = {
            "model": self._model,
            "messages": [m.model_dump() for m in build_messages(board)],
            "temperature": self._temperature,
            "max_tokens": MAX_TOKENS,
        }
        answers = await asyncio.gather(*(self._complete(body) for _ in range(wanted)))
        proposals: list[Proposal] = []
        used: set[int] = set()
        legal = set(board.legal_moves())
        for text in answers:
            if text is None:
                continue
            square = parse_move(text)
            if square is None or square not in legal or square in used:
                self.stats.unusable_answers += 1
                continue
            used.add(square)
            proposals.append(Proposal(Candidate(square, text.strip()), "llm"))
        self.stats.llm_candidates += len(proposals)
        if len(proposals) < wanted:
            offline = [c for c in generate_candidates(board, 9, rng) if c.square not in used]
            filler = offline[: wanted - len(proposals)]
            self.stats.fallback_candidates += len(filler)
            proposals.extend(Proposal(c, "offline") for c in filler)
        return Proposals(proposals)

    async def _complete(self, body: dict[str, Any]) -> str | None:
        """The first choice's content, or ``None`` (counted and logged) on any failure."""
        self.stats.requests += 1
        try:
            response = await self._client.post(self._url, json=body, headers=self._headers)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
            if not isinstance(content, str):
                raise TypeError(f"message content is {type(content).__name__}, not a string")
            return content
        except (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError) as exc:
            self.stats.failed_requests += 1
            log.warning("LLM request to %s failed, using the offline policy: %s", self._url, exc)
            return None
