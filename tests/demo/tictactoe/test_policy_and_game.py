"""The seeded offline policy, the answer format, and self-play games."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prefstream_demo.tictactoe import (
    Board,
    build_messages,
    format_answer,
    generate_candidates,
    parse_move,
    result,
    score_moves,
    self_play,
)
from prefstream_demo.tictactoe.policy import TEMPLATES
from prefstream_demo.tictactoe.tactics import Kind, describe_move


def game_record(seed: int, n: int = 4) -> list[tuple[str, tuple[str, ...], tuple[float, ...]]]:
    return [
        (t.board.compact(), tuple(c.text for c in t.candidates), t.scores)
        for t in self_play(random.Random(seed), n)
    ]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32), st.integers(1, 9))
def test_games_terminate_with_legal_distinct_candidates(seed: int, n: int) -> None:
    turns = list(self_play(random.Random(seed), n))
    assert 5 <= len(turns) <= 9  # nobody can win before the fifth move
    for turn in turns:
        squares = [c.square for c in turn.candidates]
        assert len(squares) == len(set(squares)) == min(n, len(turn.board.legal_moves()))
        assert set(squares) <= set(turn.board.legal_moves())
        assert all(parse_move(c.text) == c.square for c in turn.candidates)
    last = turns[-1].after
    assert last.is_terminal()
    assert result(last) == last.winner()


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32))
def test_same_seed_same_game(seed: int) -> None:
    assert game_record(seed) == game_record(seed)


def test_different_seeds_play_different_games() -> None:
    games = {tuple(record) for record in (tuple(game_record(seed)) for seed in range(8))}
    assert len(games) == 8


def test_sampling_favours_better_moves() -> None:
    board = Board.parse("XX.OO....")  # 2 wins, 5 draws, three squares lose
    picks = [generate_candidates(board, 1, random.Random(i))[0].square for i in range(400)]
    assert picks.count(2) > picks.count(5) > max(picks.count(s) for s in (6, 7, 8))
    assert {6, 7, 8} & set(picks)  # still a fallible player


def test_reasoning_matches_the_kind_of_move() -> None:
    board = Board.parse("XX.OO....")
    best = max(score_moves(board).values())
    assert describe_move(board, 2, 1.0, best).kind is Kind.WIN
    assert describe_move(board, 6, -0.9, best).kind is Kind.BLUNDER
    cands = {c.square: c.text for c in generate_candidates(board, 5, random.Random(3))}
    assert "row 1" in cands[2]
    assert cands[2].endswith("Move: row 1, column 3")
    blunders = [cands[s].splitlines()[0] for s in (6, 7, 8)]
    assert not any("win" in text or "block" in text for text in blunders)
    blunder_starts = {t.split("{")[0] for t in TEMPLATES[Kind.BLUNDER]}
    assert all(
        any(t.startswith(p) for p in blunder_starts) or t.startswith("Row") for t in blunders
    )
    blocking = Board.parse("XX..O....")  # O to move must block at square 2
    scores = score_moves(blocking)
    facts = describe_move(blocking, 2, scores[2], max(scores.values()))
    assert facts.kind is Kind.BLOCK
    assert facts.lines == ("row 1",)


def test_forks_and_slower_wins_are_told_apart() -> None:
    board = Board.parse("XO..X...O")  # X: 0 4, O: 1 8 ; X to move, nothing to win or block
    scores = score_moves(board)
    best = max(scores.values())
    facts = describe_move(board, 6, scores[6], best)
    assert facts.kind is Kind.FORK
    assert set(facts.lines) == {"column 1", "the anti-diagonal"}
    slower = Board.parse("X.O.X..O.")  # 8 wins now; 6 also wins, but only later
    assert describe_move(slower, 6, 0.8, 1.0).kind is Kind.PASSIVE


def test_generate_rejects_finished_games_and_bad_counts() -> None:
    with pytest.raises(ValueError, match="over"):
        generate_candidates(Board.parse("XXX.OO..."), 2, random.Random(0))
    with pytest.raises(ValueError, match="at least 1"):
        generate_candidates(Board(), 0, random.Random(0))


def test_prompt_is_a_system_and_user_message_with_the_board() -> None:
    board = Board.parse("X...O....")
    messages = build_messages(board)
    assert [m.role for m in messages] == ["system", "user"]
    assert "Move: row R, column C" in messages[0].content
    assert board.render() in messages[1].content
    assert "You play X" in messages[1].content
    assert "row 1, column 2" in messages[1].content  # empty squares are listed


@given(st.integers(0, 8), st.text(max_size=80))
def test_answers_round_trip(square: int, reasoning: str) -> None:
    assert parse_move(format_answer(square, reasoning + " x")) == square


def test_parse_move_takes_the_last_move_line_and_rejects_nonsense() -> None:
    assert parse_move("Move: row 1, column 1\nActually...\nmove: Row 3 Col 2") == 7
    assert parse_move("I like the center.") is None
    assert parse_move("Move: row 4, column 1") is None
