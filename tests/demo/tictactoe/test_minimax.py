"""Minimax scores: known positions, agreement with a plain search, and the score classes."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from prefstream_demo.tictactoe import Board, score_move, score_moves, score_turn, solve
from prefstream_demo.tictactoe.minimax import Outcome, move_outcome
from prefstream_demo.tictactoe.policy import Candidate


def naive_result(board: Board) -> int:
    """Win/draw/loss for the side to move by exhaustive search, without memo or depth."""
    if board.winner() is not None:
        return -1
    if None not in board.cells:
        return 0
    return max(-naive_result(board.play(m)) for m in board.legal_moves())


@st.composite
def positions(draw: st.DrawFn, min_ply: int = 0) -> Board:
    """A reachable, non-terminal position: random legal moves from the empty board."""
    board = Board()
    plies = draw(st.integers(min_ply, 8))
    for _ in range(plies):
        moves = board.legal_moves()
        if board.is_terminal() or len(moves) == 1:
            break
        nxt = board.play(draw(st.sampled_from(moves)))
        if nxt.is_terminal():
            break
        board = nxt
    return board


def test_empty_board_is_a_draw_and_corners_set_the_most_traps() -> None:
    scores = score_moves(Board())
    assert solve(Board()) == Outcome(0, 9)
    assert all(0.0 <= s <= 0.1 for s in scores.values())
    corners = {scores[s] for s in (0, 2, 6, 8)}
    assert len(corners) == 1
    assert corners.pop() > max(scores[s] for s in (1, 3, 4, 5, 7))


def test_immediate_win_scores_one_a_block_draws_and_the_rest_lose() -> None:
    # X: 0 1 / O: 3 4 ; X to move. Square 2 wins now; 5 blocks O and draws; the rest lose.
    scores = score_moves(Board.parse("XX.OO...."))
    assert {sq: s for sq, s in scores.items() if sq != 5} == {2: 1.0, 6: -0.9, 7: -0.9, 8: -0.9}
    assert 0.0 < scores[5] <= 0.1  # a draw that leaves O some losing replies


def test_double_threat_means_every_move_loses_on_the_next_ply() -> None:
    # X: 0 2 4 threatens 1 (row 1) and 8 (main diagonal); O cannot win and cannot block both.
    board = Board.parse("X.XOX.O..")
    assert board.to_move == "O"
    assert set(score_moves(board).values()) == {-0.9}
    assert solve(board) == Outcome(-1, 2)


def test_a_win_now_outscores_a_forced_win_later() -> None:
    # X: 0 4 / O: 2 7 ; X to move. 8 completes the diagonal; 3, 5 and 6 win two plies later.
    board = Board.parse("X.O.X..O.")
    scores = score_moves(board)
    assert scores[8] == 1.0
    assert scores[3] == scores[5] == scores[6] == 0.8
    assert move_outcome(board, 6) == Outcome(1, 3)


def test_slow_losses_score_above_fast_ones_and_below_draws() -> None:
    # X: 0 8 / O: 4 ; O to move. A corner walks into a fork (lost in 4 plies); an edge draws.
    board = Board.parse("X...O...X")
    assert board.to_move == "O"
    assert move_outcome(board, 2) == Outcome(-1, 4)
    scores = score_moves(board)
    assert scores[2] == scores[6] == -0.7
    assert scores[1] == scores[3] == scores[5] == scores[7]
    assert 0.0 <= scores[1] <= 0.1
    assert score_move(Board.parse("X.XOX.O.."), 1) == -0.9 < scores[2]


@settings(max_examples=150, deadline=None)
@given(positions(min_ply=3))
def test_memoised_solve_agrees_with_a_plain_search(board: Board) -> None:
    assert solve(board).result == naive_result(board)


@settings(max_examples=200, deadline=None)
@given(positions())
def test_scores_fall_in_disjoint_classes_by_game_value(board: Board) -> None:
    for move, score in score_moves(board).items():
        result = move_outcome(board, move).result
        if result > 0:
            assert 0.2 <= score <= 1.0
        elif result == 0:
            assert 0.0 <= score <= 0.1
        else:
            assert -0.9 <= score <= -0.2


@settings(max_examples=200, deadline=None)
@given(positions(), st.data())
def test_the_selected_candidate_is_never_worse_by_game_value(
    board: Board, data: st.DataObject
) -> None:
    moves = list(board.legal_moves())
    chosen = data.draw(st.lists(st.sampled_from(moves), min_size=1, unique=True))
    turn = score_turn(board, [Candidate(m, f"move {m}") for m in chosen])
    best = move_outcome(board, turn.square)
    for candidate, score in zip(turn.candidates, turn.scores, strict=True):
        other = move_outcome(board, candidate.square)
        assert best.preference() >= other.preference() or best.result > other.result
        assert turn.scores[turn.selected] >= score
    # first on ties: no earlier candidate has the selected score
    assert turn.scores.index(turn.scores[turn.selected]) == turn.selected
