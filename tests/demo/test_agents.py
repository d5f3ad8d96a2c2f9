"""Demo agents against a real broker: what a plain consumer of the candidates topic sees."""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

import pytest
from prefstream_config import LLMConfig, PrefstreamConfig
from prefstream_demo import play_games
from prefstream_demo.agents import ILLEGAL_SCORE
from prefstream_demo.llm_policy import Proposal, Proposals
from prefstream_demo.tictactoe import Board, Candidate, score_move
from prefstream_demo.tictactoe.board import square_at
from prefstream_demo.tictactoe.compact import compact_answer, compact_prompt, parse_compact_move
from prefstream_events import CandidateEvent, ChatMessage, decode, parse_ce_headers

pytestmark = pytest.mark.timeout(90)


async def test_agents_publish_scored_turns_keyed_by_example_id(
    demo_config: PrefstreamConfig, read_records: Any
) -> None:
    stats = await play_games(demo_config, 3, 2, seed=7, candidates_per_move=3)
    assert stats.games == 6
    assert stats.x_wins + stats.o_wins + stats.draws == 6
    assert len(set(stats.run_ids)) == 3

    records = await read_records(demo_config.kafka, stats.candidates)
    assert len(records) == stats.candidates
    events = [decode(CandidateEvent, r.value) for r in records]

    partitions: dict[str, set[int]] = defaultdict(set)
    turns: dict[tuple[str, str, str], list[CandidateEvent]] = defaultdict(list)
    for record, event in zip(records, events, strict=True):
        assert record.key == event.example_id.encode()
        assert parse_ce_headers(record.headers).type == "dev.prefstream.candidate.v1"
        partitions[event.example_id].add(record.partition)
        turns[(event.run_id, event.example_id, event.turn_id)].append(event)

    assert set(partitions) == {f"game-{n}" for n in range(6)}
    assert all(len(p) == 1 for p in partitions.values())  # a game stays on one partition
    assert len(turns) == stats.turns
    assert {e.agent_id for e in events} == {f"demo-agent-{i}" for i in range(3)}
    assert {e.run_id for e in events} == set(stats.run_ids)
    assert {e.policy_model for e in events} == {"demo-policy-v0"}

    for (_, _, turn_id), group in turns.items():
        group.sort(key=lambda e: e.candidate_index)
        assert [e.candidate_index for e in group] == list(range(len(group)))
        assert {e.num_candidates for e in group} == {len(group)}
        assert turn_id == f"move-{group[0].turn_index}"
        board = Board.parse(group[0].metadata["board"])
        assert len(group) == min(3, len(board.legal_moves()))
        prompt = group[0].input
        assert isinstance(prompt, list)
        assert [m.role for m in prompt] == ["system", "user"]
        assert board.render() in prompt[1].content
        assert all(e.input == prompt for e in group)
        for e in group:
            square = e.metadata["square"]
            row, col = e.metadata["row"], e.metadata["column"]
            assert e.output.endswith(f"Move: row {row}, column {col}")
            assert square == square_at(e.metadata["row"], e.metadata["column"])
            assert e.score == score_move(board, square)
            assert e.metadata["source"] == "offline"
        selected = [e for e in group if e.is_selected]
        assert len(selected) == 1
        assert selected[0].score == max(e.score for e in group)


async def test_llm_agents_publish_the_models_answers(
    demo_config: PrefstreamConfig, read_records: Any, fake_openai: Any
) -> None:
    config = demo_config.model_copy(
        update={
            "llms": {
                "nim": LLMConfig(
                    model_name="meta/llama-3.1-8b-instruct", base_url=fake_openai.base_url
                )
            }
        }
    )
    stats = await play_games(config, 1, 1, seed=3, candidates_per_move=2, llm="nim")
    assert stats.llm.failed_requests == 0
    assert stats.llm.fallback_candidates == 0
    assert stats.llm.llm_candidates == stats.candidates
    assert stats.policy_model == "meta/llama-3.1-8b-instruct"

    events = [
        decode(CandidateEvent, r.value) for r in await read_records(config.kafka, stats.candidates)
    ]
    assert len(events) == stats.candidates
    assert {e.metadata["source"] for e in events} == {"llm"}
    assert all(e.output.startswith("The fake model likes it.") for e in events)
    assert {e.policy_model for e in events} == {"meta/llama-3.1-8b-instruct"}
    sent_prompts = [[ChatMessage(**m) for m in body["messages"]] for body in fake_openai.requests]
    assert all(e.input in sent_prompts for e in events)


class ScriptedSource:
    """A served model's answers, scripted: the first legal square twice (one is a repeat),
    an occupied or unparsable answer, and a compact prompt."""

    def messages(self, board: Board) -> list[ChatMessage]:
        return [ChatMessage(role="user", content=compact_prompt(board))]

    async def propose(self, board: Board, n: int, rng: random.Random) -> Proposals:
        legal = board.legal_moves()
        taken = [i for i in range(9) if i not in legal]
        moves = [Proposal(Candidate(square, compact_answer(square)), "llm") for square in legal[:2]]
        illegal = [compact_answer(taken[0])] if taken else ["?"]
        return Proposals(moves, illegal)


async def test_illegal_answers_are_published_below_every_legal_move(
    demo_config: PrefstreamConfig, read_records: Any
) -> None:
    stats = await play_games(
        demo_config, 1, 1, seed=3, source=ScriptedSource(), policy_model="m1", play_sampled=True
    )
    records = await read_records(demo_config.kafka, stats.candidates)
    events = [decode(CandidateEvent, r.value) for r in records]
    assert {e.policy_model for e in events} == {"m1"}
    illegal = [e for e in events if e.metadata.get("illegal")]
    assert len(illegal) == stats.turns  # one per turn
    for event in illegal:
        board = Board.parse(event.metadata["board"])
        same_turn = [e for e in events if e.turn_id == event.turn_id]
        assert event.score == ILLEGAL_SCORE < min(e.score for e in same_turn if e is not event)
        assert event.metadata["square"] is None
        assert parse_compact_move(event.output) not in board.legal_moves()
        assert event.input == [ChatMessage(role="user", content=compact_prompt(board))]
    played = [e for e in events if e.is_selected]
    assert all(e.candidate_index == 0 for e in played)  # the first sample is played
