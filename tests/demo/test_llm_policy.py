"""The OpenAI-compatible candidate source against a local fake server, fallbacks included."""

from __future__ import annotations

import random
from typing import Any

import httpx
import pytest
from prefstream_config import ConfigError, LLMConfig, PrefstreamConfig, load_config
from prefstream_demo import LLMStats, OpenAIPolicy, chat_completions_url
from prefstream_demo.llm_policy import resolve_llm
from prefstream_demo.tictactoe import Board, parse_move
from pydantic import SecretStr, ValidationError

pytestmark = pytest.mark.timeout(30)

BOARD = Board.parse("X...O....")


def llm_for(fake: Any, **extra: Any) -> LLMConfig:
    return LLMConfig(model_name="demo/llm", base_url=fake.base_url, **extra)


async def propose(llm: LLMConfig, n: int = 3) -> tuple[list[Any], LLMStats]:
    stats = LLMStats()
    async with httpx.AsyncClient(timeout=5) as client:
        proposed = await OpenAIPolicy(client, llm, stats=stats).propose(BOARD, n, random.Random(0))
        proposals = proposed.moves
    return proposals, stats


async def test_candidates_come_from_the_model_with_the_turn_prompt(fake_openai: Any) -> None:
    llm = llm_for(fake_openai, api_key=SecretStr("sk-test"), temperature=0.3)
    proposals, stats = await propose(llm)
    assert [p.source for p in proposals] == ["llm"] * 3
    assert len({p.candidate.square for p in proposals}) == 3
    assert all(parse_move(p.candidate.text) == p.candidate.square for p in proposals)
    assert stats.as_dict() == {
        "requests": 3,
        "failed_requests": 0,
        "unusable_answers": 0,
        "llm_candidates": 3,
        "fallback_candidates": 0,
    }
    body = fake_openai.requests[0]
    assert body["model"] == "demo/llm"
    assert body["temperature"] == 0.3
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert BOARD.render() in body["messages"][1]["content"]
    assert fake_openai.headers[0]["authorization"] == "Bearer sk-test"


async def test_server_errors_fall_back_to_the_offline_policy_and_are_counted(
    fake_openai: Any,
) -> None:
    fake_openai.responder = lambda body: (503, {"error": "overloaded"})
    proposals, stats = await propose(llm_for(fake_openai))
    assert [p.source for p in proposals] == ["offline"] * 3
    assert len({p.candidate.square for p in proposals}) == 3
    assert (stats.requests, stats.failed_requests, stats.fallback_candidates) == (3, 3, 3)
    assert "authorization" not in fake_openai.headers[0]


async def test_unusable_answers_are_replaced_by_distinct_offline_moves(fake_openai: Any) -> None:
    answers = iter(
        [
            "Move: row 2, column 2",  # occupied by O
            "I would rather not say.",  # no move line
            "Corner.\nMove: row 3, column 3",
            "Again.\nMove: row 3, column 3",  # already proposed
        ]
    )
    fake_openai.responder = lambda body: fake_openai.reply(next(answers))
    proposals, stats = await propose(llm_for(fake_openai), n=4)
    squares = [p.candidate.square for p in proposals]
    assert proposals[0].source == "llm"
    assert squares[0] == 8
    assert [p.source for p in proposals[1:]] == ["offline"] * 3
    assert len(set(squares)) == 4
    assert set(squares) <= set(BOARD.legal_moves())
    assert (stats.unusable_answers, stats.llm_candidates, stats.fallback_candidates) == (3, 1, 3)


async def test_malformed_responses_and_refused_connections_fall_back(fake_openai: Any) -> None:
    fake_openai.responder = lambda body: (200, b"not json")
    _, stats = await propose(llm_for(fake_openai), n=2)
    assert stats.failed_requests == 2
    fake_openai.responder = lambda body: (200, {"choices": []})
    _, stats = await propose(llm_for(fake_openai), n=2)
    assert stats.failed_requests == 2
    closed = LLMConfig(model_name="m", base_url="http://127.0.0.1:9/v1")
    proposals, stats = await propose(closed, n=2)
    assert stats.failed_requests == 2
    assert [p.source for p in proposals] == ["offline", "offline"]


def test_chat_completions_url_accepts_nat_style_and_bare_base_urls() -> None:
    assert chat_completions_url("http://nim:8000/v1") == "http://nim:8000/v1/chat/completions"
    assert chat_completions_url("http://nim:8000/v1/") == "http://nim:8000/v1/chat/completions"
    assert chat_completions_url("http://nim:8000") == "http://nim:8000/v1/chat/completions"


def test_demo_llm_must_name_a_usable_llm() -> None:
    config = PrefstreamConfig.model_validate(
        {"llms": {"nim": {"_type": "nim", "model_name": "m"}}, "demo": {"llm": "nim"}}
    )
    with pytest.raises(ConfigError, match=r"demo\.llm is 'other' but llms defines nim"):
        resolve_llm(config, "other")
    with pytest.raises(ConfigError, match=r"llms\.nim needs base_url and model_name"):
        resolve_llm(config, "nim")


def test_demo_section_loads_from_yaml_and_rejects_unknown_keys(tmp_path: Any) -> None:
    path = tmp_path / "prefstream.yml"
    path.write_text("demo:\n  agents: 2\n  games: 3\n  candidates_per_move: 5\n  llm: nim\n")
    demo = load_config(path, environ={}).demo
    assert (demo.agents, demo.games, demo.candidates_per_move, demo.llm) == (2, 3, 5, "nim")
    assert demo.seed == 0
    with pytest.raises(ValidationError, match="candidates_per_move"):
        PrefstreamConfig.model_validate({"demo": {"candidates_per_move": 1}})
    with pytest.raises(ValidationError, match="extra"):
        PrefstreamConfig.model_validate({"demo": {"agent": 2}})
