"""What a move does on the board (wins, blocks, forks, blunders): the facts reasoning cites.

Kept apart from minimax because reasoning needs *why* a move is good, not only how good.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from prefstream_demo.tictactoe.board import CENTER, CORNERS, WIN_LINES, Board, Mark, other

LINE_NAMES: dict[tuple[int, int, int], str] = {
    (0, 1, 2): "row 1",
    (3, 4, 5): "row 2",
    (6, 7, 8): "row 3",
    (0, 3, 6): "column 1",
    (1, 4, 7): "column 2",
    (2, 5, 8): "column 3",
    (0, 4, 8): "the main diagonal",
    (2, 4, 6): "the anti-diagonal",
}


class Kind(StrEnum):
    """How a move reads to a player, most decisive first."""

    WIN = "win"
    BLOCK = "block"
    FORK = "fork"
    BLUNDER = "blunder"
    """Lets the opponent win on the next move (or walks into a forced loss)."""
    PASSIVE = "passive"
    """Not losing, but worse than the best move available (even if it blocks or forks)."""
    CENTER = "center"
    CORNER = "corner"
    EDGE = "edge"


def threat_lines(board: Board, mark: Mark) -> list[tuple[tuple[int, int, int], int]]:
    """(line, empty square) for every line where ``mark`` needs one more move."""
    out = []
    for line in WIN_LINES:
        cells = [board.cells[i] for i in line]
        if cells.count(mark) == 2 and cells.count(None) == 1:
            out.append((line, line[cells.index(None)]))
    return out


def lines_through(square: int) -> list[str]:
    return [LINE_NAMES[line] for line in WIN_LINES if square in line]


@dataclass(frozen=True, slots=True)
class MoveFacts:
    square: int
    mark: Mark
    kind: Kind
    lines: tuple[str, ...]
    """The lines the reasoning talks about: completed, blocked, threatened or touched."""


def describe_move(board: Board, square: int, score: float, best: float) -> MoveFacts:
    """Classify ``square`` for the side to move, given its minimax ``score`` and the ``best``."""
    mark = board.to_move
    after = board.play(square)
    if after.winner() == mark:
        won = [LINE_NAMES[line] for line in WIN_LINES if _full(after, line, mark)]
        return MoveFacts(square, mark, Kind.WIN, tuple(won))
    if score < 0:
        return MoveFacts(square, mark, Kind.BLUNDER, tuple(lines_through(square)))
    if score < best:
        return MoveFacts(square, mark, Kind.PASSIVE, tuple(lines_through(square)))
    threatened = threat_lines(board, other(mark))
    blocked = [LINE_NAMES[line] for line, empty in threatened if empty == square]
    if blocked:
        return MoveFacts(square, mark, Kind.BLOCK, tuple(blocked))
    threats = threat_lines(after, mark)
    if len(threats) >= 2:
        return MoveFacts(square, mark, Kind.FORK, tuple(LINE_NAMES[line] for line, _ in threats))
    kind = Kind.CENTER if square == CENTER else Kind.CORNER if square in CORNERS else Kind.EDGE
    return MoveFacts(square, mark, kind, tuple(lines_through(square)))


def _full(board: Board, line: tuple[int, int, int], mark: Mark) -> bool:
    return all(board.cells[i] == mark for i in line)
