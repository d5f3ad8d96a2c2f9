"""Moves from the policy in-process: one forward pass answers a whole batch of positions.

Every compact prompt is twelve characters, so a batch needs no padding and a move is the
next token after the prompt: its distribution at temperature T is what a server sampling
``max_tokens=2`` draws the first character from. Encoding uses the tokenizer's own
vocabulary (one printable character, one token), which is what the saved tokenizer does.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from prefstream_demo.policy_model.tokenizer import vocabulary
from prefstream_demo.tictactoe.board import SQUARES, Board
from prefstream_demo.tictactoe.compact import compact_answer, compact_prompt

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel

_VOCAB = vocabulary()
DIGIT_IDS: tuple[int, ...] = tuple(_VOCAB[compact_answer(s)] for s in range(SQUARES))
"""Token id of each square's answer digit, square 0 first."""
EOS_ID = _VOCAB["<eos>"]


def encode(texts: Sequence[str]) -> torch.Tensor:
    """Equal-length texts as a ``[batch, length]`` id tensor (unknown characters refused)."""
    import torch

    return torch.tensor([[_VOCAB[c] for c in text] for text in texts], dtype=torch.long)


def load_policy(path: Path) -> PreTrainedModel:
    from transformers import AutoModelForCausalLM

    model: PreTrainedModel = AutoModelForCausalLM.from_pretrained(path)
    model.eval()  # type: ignore[no-untyped-call]
    return model


def next_token_log_probs(model: PreTrainedModel, boards: Sequence[Board]) -> torch.Tensor:
    """``[batch, vocab]`` log-probabilities of the first answer token, at temperature 1."""
    import torch

    with torch.no_grad():
        logits = model(encode([compact_prompt(b) for b in boards])).logits[:, -1, :]
    return torch.log_softmax(logits.float(), dim=-1)


def sample_moves(
    model: PreTrainedModel,
    boards: Sequence[Board],
    *,
    samples: int,
    temperature: float,
    generator: torch.Generator,
) -> list[list[int | None]]:
    """``samples`` draws per board (with replacement, as a server's ``n``): a square, or
    ``None`` when the sampled first character names none. Temperature 0 is greedy."""
    import torch

    if not boards:
        return []
    log_probs = next_token_log_probs(model, boards)
    if temperature == 0:
        tokens = log_probs.argmax(dim=-1, keepdim=True).expand(-1, samples)
    else:
        probs = torch.softmax(log_probs / temperature, dim=-1)
        tokens = torch.multinomial(probs, samples, replacement=True, generator=generator)
    square_of = {token: square for square, token in enumerate(DIGIT_IDS)}
    return [[square_of.get(int(t)) for t in row] for row in tokens]


def legal_mass(model: PreTrainedModel, boards: Sequence[Board], temperature: float) -> float:
    """Mean probability, at ``temperature``, that the first answer token is a legal square."""
    import torch

    log_probs = next_token_log_probs(model, boards)
    probs = torch.softmax(log_probs / max(temperature, 1e-6), dim=-1)
    total = 0.0
    for row, board in zip(probs, boards, strict=True):
        total += float(row[[DIGIT_IDS[m] for m in board.legal_moves()]].sum())
    return total / len(boards)
