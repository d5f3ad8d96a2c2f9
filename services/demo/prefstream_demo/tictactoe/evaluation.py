"""Held-out evaluation games of a policy against a random and a minimax opponent.

Pure and stepped in batches: :meth:`Evaluation.pending` lists every unfinished game's
position that waits for a model move, the caller answers them all at once (one batched
model call per ply, e.g. one ``/completions`` request with a list of prompts), and
:meth:`Evaluation.answer` plays those moves and the opponents' replies. The caller owns
the model, so a test drives it with a plain function and the demo with an async client.

Every game has its own seeded rng, derived from the evaluation seed and the game's
number, so the opponents' moves never depend on batching or on the other games. The
model plays X in even-numbered games and O in odd ones. An illegal or unparsable answer
loses that game and is counted.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from prefstream_demo.tictactoe.board import Board, Mark
from prefstream_demo.tictactoe.minimax import score_moves

Opponent = Literal["random", "minimax"]
OPPONENTS: tuple[Opponent, ...] = ("random", "minimax")
_SEED_SALT = {"random": 0x5EED_0001, "minimax": 0x5EED_0002}
"""Keeps evaluation games apart from self-play games that use the same demo seed."""


def opponent_move(opponent: Opponent, board: Board, rng: random.Random) -> int:
    """Random: a uniform legal move. Minimax: a best-scored move, ties broken by ``rng``."""
    moves = board.legal_moves()
    if opponent == "random":
        return rng.choice(moves)
    scores = score_moves(board)
    best = max(scores.values())
    return rng.choice([m for m in moves if scores[m] == best])


@dataclass(frozen=True, slots=True)
class OpponentResult:
    """Games against one opponent, from the model's side."""

    opponent: Opponent
    games: int
    wins: int
    draws: int
    losses: int
    illegal: int
    """Games lost by an illegal or unparsable answer (included in ``losses``)."""
    model_moves: int
    """Answers the model gave, the denominator of :attr:`illegal_rate`."""

    @property
    def win_rate(self) -> float:
        return self.wins / self.games if self.games else 0.0

    @property
    def points(self) -> float:
        """(wins + draws / 2) / games: the usual chess-style score."""
        return (self.wins + self.draws / 2) / self.games if self.games else 0.0

    @property
    def illegal_rate(self) -> float:
        """Illegal answers per model move (each game has at most one)."""
        return self.illegal / self.model_moves if self.model_moves else 0.0


@dataclass(frozen=True, slots=True)
class EvaluationResult:
    random: OpponentResult
    minimax: OpponentResult

    @property
    def score(self) -> float:
        """The promotion score: win rate against the random opponent."""
        return self.random.win_rate

    @property
    def stderr(self) -> float:
        """Binomial standard error of :attr:`score` (at least one game's worth of noise)."""
        n = self.random.games
        if n == 0:
            return 0.0
        p = self.score
        return max(math.sqrt(p * (1 - p) / n), 1 / n)

    @property
    def illegal_rate(self) -> float:
        """Illegal answers per model move, over both opponents."""
        moves = self.random.model_moves + self.minimax.model_moves
        return (self.random.illegal + self.minimax.illegal) / moves if moves else 0.0


@dataclass(slots=True)
class _Game:
    opponent: Opponent
    model: Mark
    rng: random.Random
    board: Board = field(default_factory=Board)
    model_moves: int = 0
    illegal: bool = False

    @property
    def over(self) -> bool:
        return self.illegal or self.board.is_terminal()

    def advance(self) -> None:
        """Play the opponent's moves until the model is to move or the game is over."""
        while not self.over and self.board.to_move != self.model:
            self.board = self.board.play(opponent_move(self.opponent, self.board, self.rng))

    def outcome(self) -> Literal["win", "draw", "loss"]:
        if self.illegal:
            return "loss"
        winner = self.board.winner()
        if winner is None:
            return "draw"
        return "win" if winner == self.model else "loss"


class Evaluation:
    """One seeded set of games; step it with :meth:`pending` and :meth:`answer`."""

    def __init__(self, *, random_games: int, minimax_games: int, seed: int) -> None:
        self._games: list[_Game] = []
        counts: tuple[tuple[Opponent, int], ...] = (
            ("random", random_games),
            ("minimax", minimax_games),
        )
        for opponent, count in counts:
            for i in range(count):
                rng = random.Random(f"{seed}:{_SEED_SALT[opponent]}:{i}")
                game = _Game(opponent=opponent, model="X" if i % 2 == 0 else "O", rng=rng)
                game.advance()
                self._games.append(game)
        self._waiting: list[int] = []
        self.steps = 0
        """Batches answered so far: a caller can derive a per-ply sampling seed from it."""

    @property
    def finished(self) -> bool:
        return all(g.over for g in self._games)

    def pending(self) -> list[Board]:
        """Positions waiting for a model move, in a stable order; answer them all at once."""
        self._waiting = [i for i, g in enumerate(self._games) if not g.over]
        return [self._games[i].board for i in self._waiting]

    def answer(self, moves: Sequence[int | None]) -> None:
        """The model's move for each position of the last :meth:`pending` (``None``: no move)."""
        if len(moves) != len(self._waiting):
            raise ValueError(f"expected {len(self._waiting)} moves, got {len(moves)}")
        for index, move in zip(self._waiting, moves, strict=True):
            game = self._games[index]
            game.model_moves += 1
            if move is None or move not in game.board.legal_moves():
                game.illegal = True
                continue
            game.board = game.board.play(move)
            game.advance()
        self._waiting = []
        self.steps += 1

    def result(self) -> EvaluationResult:
        if not self.finished:
            raise ValueError("the evaluation games are not over")
        return EvaluationResult(random=self._tally("random"), minimax=self._tally("minimax"))

    def _tally(self, opponent: Opponent) -> OpponentResult:
        games = [g for g in self._games if g.opponent == opponent]
        outcomes = [g.outcome() for g in games]
        return OpponentResult(
            opponent=opponent,
            games=len(games),
            wins=outcomes.count("win"),
            draws=outcomes.count("draw"),
            losses=outcomes.count("loss"),
            illegal=sum(g.illegal for g in games),
            model_moves=sum(g.model_moves for g in games),
        )


Choose = Callable[[list[Board]], Sequence[int | None]]
AsyncChoose = Callable[[list[Board]], Awaitable[Sequence[int | None]]]


def evaluate(
    choose: Choose, *, random_games: int, minimax_games: int, seed: int
) -> EvaluationResult:
    """Play every game to the end, asking ``choose`` once per ply for all waiting positions."""
    evaluation = Evaluation(random_games=random_games, minimax_games=minimax_games, seed=seed)
    while not evaluation.finished:
        evaluation.answer(choose(evaluation.pending()))
    return evaluation.result()


async def evaluate_async(
    choose: AsyncChoose, *, random_games: int, minimax_games: int, seed: int
) -> EvaluationResult:
    """:func:`evaluate` for an async ``choose`` (e.g. one ``/completions`` call per ply)."""
    evaluation = Evaluation(random_games=random_games, minimax_games=minimax_games, seed=seed)
    while not evaluation.finished:
        evaluation.answer(await choose(evaluation.pending()))
    return evaluation.result()
