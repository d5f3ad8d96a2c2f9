"""The prompt every candidate of a turn shares, and the answer format both policies use.

The prompt is an OpenAI message list (system + user) so datasets built with
``use_full_message_history`` keep the instructions, and the last message alone (the
default) still holds the whole position. The answer ends in one machine-readable line so
LLM and offline candidates are parsed the same way.
"""

from __future__ import annotations

import re

from prefstream_events import ChatMessage

from prefstream_demo.tictactoe.board import Board, describe_square, row_col, square_at

SYSTEM_PROMPT = (
    "You are an expert tic-tac-toe player. Squares are named by 1-based row and column. "
    "Think briefly about wins, blocks and forks, then give your move. Reply with one or two "
    "sentences of reasoning followed by a final line exactly of the form "
    "'Move: row R, column C'."
)

_MOVE_LINE = re.compile(r"move\s*:\s*row\s*(\d)\s*,?\s*col(?:umn)?\s*(\d)", re.IGNORECASE)


def user_prompt(board: Board) -> str:
    legal = "; ".join(describe_square(s) for s in board.legal_moves())
    return (
        f"You play {board.to_move}. The board after {board.ply} moves:\n\n"
        f"{board.render()}\n\n"
        f"Empty squares: {legal}.\n"
        f"Choose the best move for {board.to_move}."
    )


def build_messages(board: Board) -> list[ChatMessage]:
    """The turn's prompt: a system message with the rules and a user message with the board."""
    return [
        ChatMessage(role="system", content=SYSTEM_PROMPT),
        ChatMessage(role="user", content=user_prompt(board)),
    ]


def format_answer(square: int, reasoning: str) -> str:
    row, col = row_col(square)
    return f"{reasoning.strip()}\nMove: row {row}, column {col}"


def parse_move(text: str) -> int | None:
    """The square named by the last ``Move: row R, column C`` line, or ``None``."""
    matches = _MOVE_LINE.findall(text)
    if not matches:
        return None
    row, col = (int(v) for v in matches[-1])
    try:
        return square_at(row, col)
    except ValueError:
        return None
