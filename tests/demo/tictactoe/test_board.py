"""Board rules: turn order, legality, winners, parsing and rendering."""

from __future__ import annotations

import pytest
from prefstream_demo.tictactoe import Board, IllegalMove
from prefstream_demo.tictactoe.board import describe_square, row_col, square_at


def test_x_moves_first_and_turns_alternate() -> None:
    board = Board()
    assert board.to_move == "X"
    board = board.play(4)
    assert board.to_move == "O"
    assert board.cells[4] == "X"
    assert board.play(0).cells[0] == "O"
    assert board.ply == 1


def test_winner_on_each_kind_of_line() -> None:
    assert Board.parse("XXX.OO...").winner() == "X"
    assert Board.parse("XX.OOOX.X").winner() == "O"
    assert Board.parse("X.OX.OX..").winner() == "X"
    assert Board.parse("OXXXOX..O").winner() == "O"
    assert Board.parse("XXO.O.OX.").winner() == "O"
    assert Board.parse("XO.OX...X").winner() == "X"


def test_a_won_game_has_no_legal_moves_and_rejects_more() -> None:
    board = Board.parse("XXX.OO...")
    assert board.is_terminal()
    assert board.legal_moves() == ()
    with pytest.raises(IllegalMove, match="over"):
        board.play(3)


def test_full_board_without_winner_is_a_draw() -> None:
    board = Board.parse("XOXXOOOXX")
    assert board.winner() is None
    assert board.is_terminal()


def test_occupied_and_off_board_squares_are_illegal() -> None:
    board = Board().play(4)
    with pytest.raises(IllegalMove, match="row 2, column 2 is already taken"):
        board.play(4)
    with pytest.raises(IllegalMove, match="off the board"):
        board.play(9)


def test_unreachable_positions_are_rejected() -> None:
    with pytest.raises(ValueError, match="unreachable"):
        Board.parse("OO.......")
    with pytest.raises(ValueError, match="unreachable"):
        Board.parse("XX.......")
    with pytest.raises(ValueError, match="cannot parse"):
        Board.parse("XO")


def test_parse_accepts_a_grid_and_compact_round_trips() -> None:
    board = Board.parse("X.O\n.X.\n..O")
    assert board.compact() == "X.O.X...O"
    assert Board.parse(board.compact()) == board


def test_render_labels_rows_and_columns() -> None:
    rendered = Board.parse("X.O.X...O").render().splitlines()
    assert rendered[0].split() == ["1", "2", "3"]
    assert rendered[1] == "1   X |   | O"
    assert rendered[3] == "2     | X |  "
    assert rendered[5] == "3     |   | O"


def test_square_names_are_one_based() -> None:
    assert row_col(0) == (1, 1)
    assert row_col(5) == (2, 3)
    assert square_at(3, 3) == 8
    assert describe_square(7) == "row 3, column 2"
    with pytest.raises(ValueError, match="off the 3x3 board"):
        square_at(0, 4)
