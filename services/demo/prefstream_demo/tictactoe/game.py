"""One turn as the agent sees it (candidates, scores, the move played) and offline self-play.

``score_turn`` is the only place that decides which candidate is played, so the agent
runner, the tests and the docs all agree: the highest score, the first one on a tie.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from prefstream_demo.tictactoe.board import Board, Mark
from prefstream_demo.tictactoe.minimax import score_move
from prefstream_demo.tictactoe.policy import Candidate, generate_candidates


@dataclass(frozen=True, slots=True)
class Turn:
    board: Board
    candidates: tuple[Candidate, ...]
    scores: tuple[float, ...]
    selected: int

    @property
    def square(self) -> int:
        return self.candidates[self.selected].square

    @property
    def after(self) -> Board:
        return self.board.play(self.square)


def score_turn(board: Board, candidates: Sequence[Candidate]) -> Turn:
    """Score every candidate by game value and select the best (first on ties)."""
    if not candidates:
        raise ValueError("a turn needs at least one candidate")
    scores = tuple(score_move(board, c.square) for c in candidates)
    selected = max(range(len(scores)), key=lambda i: (scores[i], -i))
    return Turn(board, tuple(candidates), scores, selected)


def result(board: Board) -> Mark | None:
    """The winner of a finished game, ``None`` for a draw."""
    if not board.is_terminal():
        raise ValueError("the game is not over")
    return board.winner()


def self_play(rng: random.Random, candidates_per_move: int) -> Iterator[Turn]:
    """One offline game, both sides played by the seeded policy; at most nine turns."""
    board = Board()
    while not board.is_terminal():
        turn = score_turn(board, generate_candidates(board, candidates_per_move, rng))
        yield turn
        board = turn.after
