"""The warm start: a tiny build plays legal moves, saves a loadable folder, and is cached."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from prefstream_demo.policy_model.architecture import Shape
from prefstream_demo.policy_model.inference import encode, legal_mass, load_policy
from prefstream_demo.policy_model.warm_start import (
    WarmStart,
    build_policy,
    manifest,
    reachable_positions,
)
from prefstream_demo.tictactoe import Board
from prefstream_demo.tictactoe.compact import compact_prompt

TINY = Shape(context=16)
QUICK = WarmStart(steps=400, batch=64, learning_rate=3e-3)
"""~10 s here; the full 800 steps leave < 0.1 % illegal at T = 1."""


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    cache = tmp_path_factory.mktemp("policy-cache")
    return cache, build_policy(cache, seed=7, shape=TINY, settings=QUICK)


def test_reachable_positions_are_every_nonterminal_position() -> None:
    positions = reachable_positions()
    assert len(positions) == 4520  # 5,478 reachable positions less 958 finished games
    assert positions[0] == Board()
    assert not any(p.is_terminal() for p in positions)


def test_tiny_build_plays_legal_moves(built: tuple[Path, Path]) -> None:
    _, policy = built
    model = load_policy(policy)
    mass = legal_mass(model, reachable_positions(), temperature=1.0)
    assert mass > 0.9
    assert manifest(policy)["legal_mass_t1"] == pytest.approx(mass, abs=1e-4)
    hot = legal_mass(model, reachable_positions(), temperature=QUICK.temperature)
    assert manifest(policy)["legal_mass_at_fit"] == pytest.approx(hot, abs=1e-4)
    assert 0.5 < hot < mass  # the fit temperature samples hotter, so less legal


def test_saved_tokenizer_matches_the_in_process_encoding(built: tuple[Path, Path]) -> None:
    from transformers import AutoTokenizer

    _, policy = built
    tokenizer = AutoTokenizer.from_pretrained(policy)
    prompt = compact_prompt(Board().play(4).play(0))
    assert tokenizer(prompt)["input_ids"] == encode([prompt])[0].tolist()


def test_cached_build_is_reused(built: tuple[Path, Path]) -> None:
    cache, policy = built
    before = (policy / "warm_start.json").stat().st_mtime_ns
    assert build_policy(cache, seed=7, shape=TINY, settings=QUICK) == policy
    assert (policy / "warm_start.json").stat().st_mtime_ns == before
    assert [p.name for p in cache.iterdir()] == [policy.name]  # no scratch folder left


def test_seed_and_settings_key_the_cache(built: tuple[Path, Path]) -> None:
    from prefstream_demo.policy_model.warm_start import cache_key

    assert cache_key(TINY, 7, QUICK) != cache_key(TINY, 8, QUICK)
    assert cache_key(TINY, 7, QUICK) != cache_key(TINY, 7, WarmStart(steps=151))
    assert cache_key(TINY, 7, QUICK) != cache_key(Shape(), 7, QUICK)
    assert built[1].name.endswith(cache_key(TINY, 7, QUICK))
