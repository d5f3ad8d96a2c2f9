"""The held-out evaluation games, played by a served model: one ``/completions`` request
with every waiting position per ply, each ply with its own sampling seed, so the same model,
seed and games give the same result."""

from __future__ import annotations

from collections.abc import Sequence

import httpx

from prefstream_demo.served_policy import ServedModel, batched_moves
from prefstream_demo.tictactoe.board import Board
from prefstream_demo.tictactoe.evaluation import EvaluationResult, evaluate_async


async def evaluate_served(
    client: httpx.AsyncClient,
    served: ServedModel,
    *,
    random_games: int,
    minimax_games: int,
    seed: int,
    temperature: float,
) -> EvaluationResult:
    plies = 0

    async def choose(boards: list[Board]) -> Sequence[int | None]:
        nonlocal plies
        plies += 1
        return await batched_moves(
            client, served, boards, temperature=temperature, seed=seed * 1000 + plies
        )

    return await evaluate_async(
        choose, random_games=random_games, minimax_games=minimax_games, seed=seed
    )
