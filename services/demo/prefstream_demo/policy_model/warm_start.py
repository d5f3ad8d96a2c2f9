"""The base policy: a short seeded SFT that plays uniformly random legal moves.

The untrained model answers garbage; DPO cannot pair garbage (an unparsable answer is no
candidate), so the base first learns the format and the rules but no tactics: for every
reachable position the target is the uniform distribution over its legal squares (a
soft target, so one pass sees every legal move at once), then the end-of-sequence token.
That base is as weak as a random player, which leaves DPO all the tactics to learn.

:func:`build_policy` builds once per (shape, seed, settings) and caches the result in a
folder named by their hash, written to a temporary folder and renamed into place, so a
crash leaves no half-built model and concurrent builders agree.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import random
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from prefstream_demo.policy_model.architecture import Shape, build_untrained
from prefstream_demo.policy_model.inference import DIGIT_IDS, EOS_ID, encode, legal_mass
from prefstream_demo.policy_model.tokenizer import build_tokenizer
from prefstream_demo.tictactoe.board import Board
from prefstream_demo.tictactoe.compact import compact_prompt

if TYPE_CHECKING:
    from transformers import GPT2LMHeadModel

RECIPE_VERSION = 3
"""Bump when the warm start changes in a way its settings do not show: old caches go stale."""
MANIFEST = "warm_start.json"


@dataclass(frozen=True, kw_only=True)
class WarmStart:
    steps: int = 800
    """AdamW steps. Measured (width 64, one thread): 200 steps leave 17.5 % of the T = 1
    probability on illegal answers, 400 2.5 %, 800 0.5 % (19 s)."""
    batch: int = 64
    """Positions per step (of the 4,520 reachable non-terminal ones); 128 or 256 cost more
    per position on two cores and learnt no faster."""
    learning_rate: float = 3e-3
    """Constant after a short warm-up, decayed linearly to zero over the last half; 5e-3
    and 1e-2 ended with more illegal mass (1.1 %, 9.9 %)."""
    temperature: float = 2.0
    """The fit is of softmax(logits / temperature): fitted at the candidates' sampling
    temperature (recipe.py), the model is uniform over legal squares there and sharper
    below it. Illegal probability at sampling T = 0.3 / 1 / 1.5 / 2: fitted at 1.0,
    0 / 0.5 / 5 / 17 %; fitted at 2.0, 0 / 0.0 / 0.1 / 0.7 % (seed 0, same 19 s)."""


@cache
def reachable_positions() -> tuple[Board, ...]:
    """Every position reachable from the empty board where a move is still to be made."""
    seen: set[Board] = set()
    stack = [Board()]
    while stack:
        board = stack.pop()
        if board in seen or board.is_terminal():
            continue
        seen.add(board)
        stack.extend(board.play(m) for m in board.legal_moves())
    return tuple(sorted(seen, key=lambda b: (b.ply, b.compact())))


def train_warm_start(model: GPT2LMHeadModel, settings: WarmStart, seed: int) -> float:
    """SFT ``model`` in place; returns the final loss."""
    import torch

    torch.manual_seed(seed)
    rng = random.Random(seed)
    positions = reachable_positions()
    prompts = encode([compact_prompt(b) for b in positions])
    targets = torch.zeros(len(positions), len(DIGIT_IDS))
    for i, board in enumerate(positions):
        legal = board.legal_moves()
        targets[i, list(legal)] = 1.0 / len(legal)
    digit_ids = torch.tensor(DIGIT_IDS)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate, weight_decay=0.0)
    half = settings.steps // 2

    def lr_factor(step: int) -> float:
        return min(1.0, (step + 1) / 20, (settings.steps - step) / max(1, settings.steps - half))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    model.train()
    loss = torch.tensor(0.0)
    for _ in range(settings.steps):
        index = torch.tensor(rng.sample(range(len(positions)), settings.batch))
        answers = torch.tensor(
            [
                DIGIT_IDS[rng.choice(positions[int(i)].legal_moves())]
                for i in index  # a legal digit, so the next step learns to stop after it
            ]
        )
        ids = torch.cat([prompts[index], answers[:, None]], dim=1)
        log_probs = torch.log_softmax(model(ids).logits / settings.temperature, dim=-1)
        move_loss = -(log_probs[:, -2, digit_ids] * targets[index]).sum(dim=1).mean()
        eos_loss = -log_probs[:, -1, EOS_ID].mean()
        loss = move_loss + eos_loss
        optimizer.zero_grad()
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        schedule.step()
    model.eval()  # type: ignore[no-untyped-call]
    return float(loss.detach())


def cache_key(shape: Shape, seed: int, settings: WarmStart) -> str:
    spec = {
        "version": RECIPE_VERSION,
        "seed": seed,
        "shape": dataclasses.asdict(shape),
        "warm_start": dataclasses.asdict(settings),
    }
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


def build_policy(
    cache_dir: Path,
    *,
    seed: int,
    shape: Shape | None = None,
    settings: WarmStart | None = None,
) -> Path:
    """The warm-started base policy's folder (weights + tokenizer), built once and cached."""
    shape = shape or Shape()
    settings = settings or WarmStart()
    target = cache_dir / f"policy-{cache_key(shape, seed, settings)}"
    if (target / MANIFEST).is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".building-", dir=cache_dir))
    with one_thread():
        try:
            _build(scratch, target, shape, seed, settings)
        finally:
            if scratch.exists():
                shutil.rmtree(scratch)
    return target


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one thread for the duration: on the shared 2-core machine two threads
    spin-wait on each other once anything else runs (measured: 100 SFT steps took 55 s
    with two threads under load, 2.7 s with one)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _build(scratch: Path, target: Path, shape: Shape, seed: int, settings: WarmStart) -> None:
    started = time.perf_counter()
    model = build_untrained(shape, seed)
    loss = train_warm_start(model, settings, seed)
    model.save_pretrained(scratch)
    build_tokenizer().save_pretrained(scratch)
    record = {
        "seed": seed,
        "shape": dataclasses.asdict(shape),
        "warm_start": dataclasses.asdict(settings),
        "version": RECIPE_VERSION,
        "final_loss": round(loss, 4),
        "legal_mass_t1": round(legal_mass(model, reachable_positions(), 1.0), 5),
        "legal_mass_at_fit": round(
            legal_mass(model, reachable_positions(), settings.temperature), 5
        ),
        "build_seconds": round(time.perf_counter() - started, 2),
    }
    (scratch / MANIFEST).write_text(json.dumps(record, indent=2) + "\n")
    try:
        scratch.rename(target)
    except OSError:
        if not (target / MANIFEST).is_file():  # not a concurrent builder's finished copy
            raise


def manifest(policy_dir: Path) -> dict[str, object]:
    """What :func:`build_policy` measured when it built ``policy_dir``."""
    data: dict[str, object] = json.loads((policy_dir / MANIFEST).read_text())
    return data
