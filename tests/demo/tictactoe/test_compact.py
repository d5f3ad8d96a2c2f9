"""Compact prompts and answers: round trips over reachable positions, strict parsing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prefstream_demo.tictactoe import Board
from prefstream_demo.tictactoe.compact import (
    compact_answer,
    compact_prompt,
    parse_compact_move,
    parse_compact_prompt,
)


@st.composite
def positions(draw: st.DrawFn) -> Board:
    board = Board()
    for _ in range(draw(st.integers(0, 9))):
        if board.is_terminal():
            break
        board = board.play(draw(st.sampled_from(board.legal_moves())))
    return board


def test_prompt_shows_side_to_move_and_squares() -> None:
    board = Board().play(0).play(4).play(8)
    assert compact_prompt(board) == "O|X234O678X|"
    assert compact_prompt(Board()) == "X|123456789|"


@given(positions())
def test_legal_answers_are_the_digits_the_prompt_shows(board: Board) -> None:
    shown = {parse_compact_move(c) for c in compact_prompt(board)[2:11] if c.isdigit()}
    assert shown == {i for i, cell in enumerate(board.cells) if cell is None}


@given(positions())
def test_prompt_round_trips(board: Board) -> None:
    prompt = compact_prompt(board)
    assert len(prompt) == 12
    assert parse_compact_prompt(prompt) == board


@pytest.mark.parametrize("square", range(9))
def test_answer_round_trips(square: int) -> None:
    assert compact_answer(square) == str(square + 1)
    assert parse_compact_move(compact_answer(square)) == square


@pytest.mark.parametrize(
    ("text", "square"),
    [("5", 4), (" 9\n", 8), ("1X", 0), ("0", None), ("", None), ("  ", None), ("X5", None)],
)
def test_parse_reads_the_first_character_only(text: str, square: int | None) -> None:
    assert parse_compact_move(text) == square


def test_answer_off_the_board_is_refused() -> None:
    with pytest.raises(ValueError, match="off the board"):
        compact_answer(9)


@pytest.mark.parametrize(
    "prompt", ["X|123456789", "O|123456789|", "X|12345678|", "X123456789|", "X|213456789|"]
)
def test_malformed_prompts_are_refused(prompt: str) -> None:
    with pytest.raises(ValueError, match=r"compact prompt|says O to move|cannot parse"):
        parse_compact_prompt(prompt)
