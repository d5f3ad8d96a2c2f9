"""Pure tic-tac-toe for the demo agents: board, memoised minimax, seeded policy, prompts."""

from prefstream_demo.tictactoe.board import Board, IllegalMove, Mark, describe_square
from prefstream_demo.tictactoe.game import Turn, result, score_turn, self_play
from prefstream_demo.tictactoe.minimax import Outcome, best_score, score_move, score_moves, solve
from prefstream_demo.tictactoe.policy import Candidate, generate_candidates
from prefstream_demo.tictactoe.prompts import build_messages, format_answer, parse_move

__all__ = [
    "Board",
    "Candidate",
    "IllegalMove",
    "Mark",
    "Outcome",
    "Turn",
    "best_score",
    "build_messages",
    "describe_square",
    "format_answer",
    "generate_candidates",
    "parse_move",
    "result",
    "score_move",
    "score_moves",
    "score_turn",
    "self_play",
    "solve",
]
