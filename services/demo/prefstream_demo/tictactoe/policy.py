"""The offline demo policy: seeded, LLM-shaped candidate moves with reasoning.

It stands in for a model so the whole loop runs with no endpoint. Moves are sampled
without replacement, weighted towards better minimax scores (a decent but fallible
player), and each gets reasoning whose quality matches the move: precise tactics for
strong moves, vague or wrong justifications for blunders. That makes a chosen response
and its rejected partner differ in the way DPO should learn from.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from prefstream_demo.tictactoe.board import Board, describe_square, other
from prefstream_demo.tictactoe.minimax import score_moves
from prefstream_demo.tictactoe.prompts import format_answer
from prefstream_demo.tictactoe.tactics import Kind, MoveFacts, describe_move

DEFAULT_TEMPERATURE = 0.5
"""Softmax temperature over scores in [-1, 1]: a win is ~50x likelier than a loss to be
sampled, so most turns hold one good and one bad candidate."""

TEMPLATES: dict[Kind, tuple[str, ...]] = {
    Kind.WIN: (
        "Taking {square} completes {lines}, so {mark} wins right now.",
        "{mark} already has two on {lines}; {square} is the third and ends the game.",
    ),
    Kind.BLOCK: (
        "{opp} threatens to complete {lines} next move, so {square} must be blocked now.",
        "If I do not take {square}, {opp} wins on {lines}; blocking comes first.",
    ),
    Kind.FORK: (
        "{square} creates two threats at once ({lines}); {opp} can only block one of them.",
        "After {square}, {mark} threatens both {lines}, a fork that wins next move.",
    ),
    Kind.CENTER: (
        "The center lies on four lines ({lines}); holding it gives {mark} the most chances "
        "and takes them from {opp}.",
        "{square} is the strongest square: it is part of {lines} and leaves {opp} no threat.",
    ),
    Kind.CORNER: (
        "A corner sits on three lines ({lines}); {square} builds toward them and gives "
        "{opp} nothing to attack.",
        "{square} keeps {mark} safe and prepares a possible fork along {lines}.",
    ),
    Kind.EDGE: (
        "No square wins or needs blocking; {square} keeps the position balanced and safe.",
        "{square} holds {lines} and leaves {opp} without a forcing sequence.",
    ),
    Kind.PASSIVE: (
        "{square} looks solid enough, so I will develop there.",
        "I'll play {square}; it is a quiet move that keeps my options open.",
    ),
    Kind.BLUNDER: (
        "{square} is close to my other marks, so it should be fine.",
        "Any square works here; I'll just take {square}.",
        "{square} looks flexible, and I don't see anything urgent on the board.",
    ),
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """One proposed move and the full response text an agent would send."""

    square: int
    text: str


def reasoning(facts: MoveFacts, rng: random.Random) -> str:
    template = rng.choice(TEMPLATES[facts.kind])
    text = template.format(
        square=describe_square(facts.square),
        mark=facts.mark,
        opp=other(facts.mark),
        lines=_join(facts.lines),
    )
    return text[0].upper() + text[1:]


def _join(items: tuple[str, ...]) -> str:
    if not items:
        return "no line"
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def sample_squares(
    scores: dict[int, float], n: int, rng: random.Random, temperature: float
) -> list[int]:
    """``n`` distinct squares, weighted by ``exp(score / temperature)`` (Efraimidis-Spirakis)."""
    keys = {
        square: rng.random() ** (1.0 / math.exp(score / temperature))
        for square, score in scores.items()
    }
    return sorted(keys, key=lambda s: keys[s], reverse=True)[:n]


def generate_candidates(
    board: Board,
    n: int,
    rng: random.Random,
    *,
    temperature: float = DEFAULT_TEMPERATURE,
) -> list[Candidate]:
    """Up to ``n`` candidates (fewer when fewer squares are empty), in sampled order."""
    if n < 1:
        raise ValueError("n must be at least 1")
    scores = dict(score_moves(board))
    if not scores:
        raise ValueError("the game is over: no legal moves")
    best = max(scores.values())
    squares = sample_squares(scores, n, rng, temperature)
    out = []
    for square in squares:
        facts = describe_move(board, square, scores[square], best)
        out.append(Candidate(square, format_answer(square, reasoning(facts, rng))))
    return out
