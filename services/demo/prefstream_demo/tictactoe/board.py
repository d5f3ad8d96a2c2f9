"""An immutable 3x3 board: the state every other module reasons about.

Immutability makes boards hashable, so minimax can memoise on them and a turn's prompt,
candidates and scores all refer to one unchanging position. Squares are numbered 0-8 row
by row; people see them as 1-based (row, column).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Mark = Literal["X", "O"]
Square = Mark | None

SIZE = 3
SQUARES = SIZE * SIZE
CENTER = 4
CORNERS = (0, 2, 6, 8)
EDGES = (1, 3, 5, 7)
WIN_LINES: tuple[tuple[int, int, int], ...] = (
    (0, 1, 2),
    (3, 4, 5),
    (6, 7, 8),
    (0, 3, 6),
    (1, 4, 7),
    (2, 5, 8),
    (0, 4, 8),
    (2, 4, 6),
)


def other(mark: Mark) -> Mark:
    return "O" if mark == "X" else "X"


def row_col(square: int) -> tuple[int, int]:
    """1-based (row, column) of a square, as prompts and answers name it."""
    return square // SIZE + 1, square % SIZE + 1


def square_at(row: int, col: int) -> int:
    """Square index of a 1-based (row, column); raises ``ValueError`` off the board."""
    if not (1 <= row <= SIZE and 1 <= col <= SIZE):
        raise ValueError(f"row {row}, column {col} is off the 3x3 board")
    return (row - 1) * SIZE + (col - 1)


def describe_square(square: int) -> str:
    row, col = row_col(square)
    return f"row {row}, column {col}"


class IllegalMove(ValueError):
    """A move onto an occupied square, off the board, or after the game ended."""


@dataclass(frozen=True, slots=True)
class Board:
    cells: tuple[Square, ...] = (None,) * SQUARES

    def __post_init__(self) -> None:
        if len(self.cells) != SQUARES:
            raise ValueError(f"a board has {SQUARES} squares, got {len(self.cells)}")
        x, o = self.cells.count("X"), self.cells.count("O")
        if not 0 <= x - o <= 1:
            raise ValueError(f"unreachable position: {x} X and {o} O (X moves first)")

    @classmethod
    def parse(cls, text: str) -> Board:
        """``"XO.\\n.X.\\n..O"`` or ``"XO..X...O"``: ``X``/``O`` marks, ``.``/``-``/space empty."""
        chars = [c for c in text if c not in "\n|"]
        if len(chars) != SQUARES or any(c not in "XO.- " for c in chars):
            raise ValueError(f"cannot parse a board from {text!r}")
        marks: dict[str, Square] = {"X": "X", "O": "O"}
        return cls(tuple(marks.get(c) for c in chars))

    @property
    def to_move(self) -> Mark:
        return "X" if self.cells.count("X") == self.cells.count("O") else "O"

    @property
    def ply(self) -> int:
        """Moves played so far."""
        return SQUARES - self.cells.count(None)

    def winner(self) -> Mark | None:
        for a, b, c in WIN_LINES:
            mark = self.cells[a]
            if mark is not None and mark == self.cells[b] == self.cells[c]:
                return mark
        return None

    def is_terminal(self) -> bool:
        return self.winner() is not None or None not in self.cells

    def legal_moves(self) -> tuple[int, ...]:
        if self.winner() is not None:
            return ()
        return tuple(i for i, cell in enumerate(self.cells) if cell is None)

    def play(self, square: int) -> Board:
        """The board after the side to move takes ``square``."""
        if not 0 <= square < SQUARES:
            raise IllegalMove(f"square {square} is off the board")
        if self.winner() is not None:
            raise IllegalMove("the game is over")
        if self.cells[square] is not None:
            raise IllegalMove(f"{describe_square(square)} is already taken")
        cells = list(self.cells)
        cells[square] = self.to_move
        return Board(tuple(cells))

    def compact(self) -> str:
        """Nine characters, ``.`` for empty: a stable key for ids and logs."""
        return "".join(c or "." for c in self.cells)

    def render(self) -> str:
        """The grid with 1-based row and column labels, as the user message shows it."""
        lines = ["    1   2   3"]
        for r in range(SIZE):
            cells = [self.cells[r * SIZE + c] or " " for c in range(SIZE)]
            lines.append(f"{r + 1}   " + " | ".join(cells))
            if r < SIZE - 1:
                lines.append("   ---+---+---")
        return "\n".join(lines)
