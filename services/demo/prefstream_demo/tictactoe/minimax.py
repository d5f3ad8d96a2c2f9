"""Exact game values by memoised minimax: the reward that scores every candidate move.

A move's score is its outcome under perfect play from both sides, from the mover's point
of view, discounted by how many plies the game lasts: +1.0 for a win on this move, 0.8 for
a forced win two moves later, ..., down to 0.2; -0.9 for losing on the opponent's reply,
-0.7 a move later, and so on. A drawn move scores between 0 and 0.1: 0.1 times the share
of the opponent's replies that lose by force, so a draw that sets traps beats a draw that
sets none. Each class stays apart (wins >= 0.2 > draws >= 0 > -0.2 >= losses), so the
best score is always the best game value; the extra resolution makes equal scores (which
never pair) rarer, yet still possible, e.g. for symmetric squares.

Tic-tac-toe has 5,478 reachable positions, so caching :func:`solve` makes every later
query a dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from prefstream_demo.tictactoe.board import Board

DEPTH_DISCOUNT = 0.1
"""Score lost per extra ply before the game ends; small enough that a slow win (0.2)
still beats a draw and a slow loss (-0.2) still loses to one."""

DRAW_PRESSURE = 0.1
"""Most a drawn move can score: reached when every reply of the opponent loses by force."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result of perfect play for the side to move: +1 win, 0 draw, -1 loss."""

    result: int
    plies: int
    """Moves until the game ends under perfect play (0 if it already has)."""

    def preference(self) -> tuple[int, int]:
        """Sort key, larger is better: win fast, lose slowly, draws all alike."""
        return (self.result, -self.plies * self.result)


@lru_cache(maxsize=8192)
def solve(board: Board) -> Outcome:
    """Perfect-play outcome of ``board`` for the side to move."""
    if board.winner() is not None:
        return Outcome(-1, 0)  # the previous move won
    if None not in board.cells:
        return Outcome(0, 0)
    best: Outcome | None = None
    for move in board.legal_moves():
        reply = solve(board.play(move))
        mine = Outcome(-reply.result, reply.plies + 1)
        if best is None or mine.preference() > best.preference():
            best = mine
    assert best is not None  # a non-terminal board has a legal move
    return best


def move_outcome(board: Board, move: int) -> Outcome:
    """Outcome for the mover of playing ``move`` on ``board`` (plies count the move itself)."""
    reply = solve(board.play(move))
    return Outcome(-reply.result, reply.plies + 1)


def outcome_score(outcome: Outcome) -> float:
    """Discounted score of an outcome whose ``plies`` include the move being scored."""
    magnitude = 1.0 - DEPTH_DISCOUNT * (outcome.plies - 1)
    return round(outcome.result * magnitude, 6) + 0.0  # + 0.0 turns -0.0 into 0.0


def score_move(board: Board, move: int) -> float:
    """Score of one candidate move, from the mover's point of view."""
    outcome = move_outcome(board, move)
    if outcome.result != 0:
        return outcome_score(outcome)
    after = board.play(move)
    replies = after.legal_moves()
    if not replies:
        return 0.0  # the board is full: a plain draw
    losing = sum(1 for reply in replies if solve(after.play(reply)).result > 0)
    return round(DRAW_PRESSURE * losing / len(replies), 6)


def score_moves(board: Board) -> Mapping[int, float]:
    """Every legal move's score, in square order."""
    return {move: score_move(board, move) for move in board.legal_moves()}


def best_score(board: Board) -> float:
    """What the side to move gets with perfect play (the best candidate's ceiling)."""
    return max(score_moves(board).values())
