"""The compact prompt and answer a tiny character-level policy reads and writes.

A position is the side to move and the nine squares, ``"O|X2O4X6789|"``: twelve
characters, so a 110k-parameter model sees the whole board in one short sequence. An empty
square shows its own answer digit, ``"1"``..``"9"`` for squares 0..8 (board.py's row-by-row
numbering, shifted to start at 1 the way people count), so a legal answer is a digit the
prompt already holds: the model can copy it instead of mapping positions to digits.
"""

from __future__ import annotations

from prefstream_demo.tictactoe.board import SQUARES, Board

SEPARATOR = "|"


def compact_prompt(board: Board) -> str:
    """``"{to move}|{nine squares, an empty one as its digit}|"``: the user content (and the
    completion prompt)."""
    squares = "".join(cell or compact_answer(i) for i, cell in enumerate(board.cells))
    return f"{board.to_move}{SEPARATOR}{squares}{SEPARATOR}"


def compact_answer(square: int) -> str:
    """The digit naming ``square`` (0-based index) as the model writes it."""
    if not 0 <= square < SQUARES:
        raise ValueError(f"square {square} is off the board")
    return str(square + 1)


def parse_compact_move(text: str) -> int | None:
    """The square named by the answer's first non-blank character, or ``None``.

    Only the first character counts: a model that forgets its end-of-sequence token still
    named a square with its first one (a served answer is capped at two tokens anyway).
    """
    stripped = text.strip()
    if not stripped or stripped[0] not in "123456789":
        return None
    return int(stripped[0]) - 1


def parse_compact_prompt(prompt: str) -> Board:
    """The board a compact prompt shows; raises ``ValueError`` on anything else."""
    mark, sep, rest = prompt.partition(SEPARATOR)
    cells, sep2, tail = rest.partition(SEPARATOR)
    if not sep or not sep2 or tail:
        raise ValueError(f"not a compact prompt: {prompt!r}")
    if len(cells) != SQUARES or any(
        c not in ("X", "O", compact_answer(i)) for i, c in enumerate(cells)
    ):
        raise ValueError(f"cannot parse a board from {prompt!r}")
    board = Board.parse("".join("." if c.isdigit() else c for c in cells))
    if board.to_move != mark:
        raise ValueError(f"{prompt!r} says {mark} to move, the board says {board.to_move}")
    return board
