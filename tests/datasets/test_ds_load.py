"""A directory cut by the batcher loads with ``datasets.load_dataset`` through its card.

``datasets`` runs in a child process, offline, with its caches under the test's tmp dir, so
nothing is fetched and nothing outside the test is written (its config is read at import).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prefstream_datasets import CARD, FILES, read_manifest
from prefstream_events import ChatMessage, PairEvent
from prefstream_testing.strategies import pair_event

from tests.support.batcher_cut import cut_dataset

LOAD = """
import json, sys
from datasets import load_dataset

path, cache, configs = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
out = {}
for config in configs:
    loaded = load_dataset(path, config, cache_dir=cache)
    out[str(config)] = {
        split: {"features": ds.features.to_dict(), "rows": ds.to_list()}
        for split, ds in loaded.items()
    }
print(json.dumps(out))
"""

STRING = {"dtype": "string", "_type": "Value"}
MESSAGES = {"feature": {"role": STRING, "content": STRING}, "_type": "List"}


def _pairs(n: int) -> list[PairEvent]:
    return [
        pair_event(
            i,
            example=i % 6,
            content=i,
            prompt=[
                ChatMessage(role="system", content='You play "X".'),
                ChatMessage(role="user", content=f"board {i}\nyour move?"),
            ],
            chosen=f"move {i} é",
            rejected="pass",
            policy_model="policy-a",
        )
        for i in range(n)
    ]


def _load(directory: Path, tmp_path: Path, configs: list[str | None]) -> dict[str, Any]:
    env = {
        **os.environ,
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf-home"),
        "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
    }
    result = subprocess.run(
        [sys.executable, "-c", LOAD, str(directory), str(tmp_path / "cache"), json.dumps(configs)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    loaded: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded


def _file_rows(directory: Path, relpath: str) -> list[Any]:
    return [json.loads(line) for line in (directory / relpath).read_text().splitlines()]


def test_every_format_loads_with_its_splits_and_columns(tmp_path: Path) -> None:
    event = cut_dataset(
        tmp_path,
        _pairs(30),
        formats=("trl_standard", "trl_conversational"),
        keep_system=True,
        license="apache-2.0",
    )
    directory = Path(event.directory)
    assert (directory / CARD).is_file()
    loaded = _load(directory, tmp_path, [None, "trl_standard", "trl_conversational"])

    default = loaded["None"]
    assert set(default) == {"train", "validation"}
    for split, side in (("train", 0), ("validation", 1)):
        assert default[split]["rows"] == _file_rows(directory, FILES["nemo"][side])
        assert default[split]["features"] == {
            "prompt": STRING,
            "chosen_response": STRING,
            "rejected_response": STRING,
        }
        standard = loaded["trl_standard"][split]
        assert standard["rows"] == _file_rows(directory, FILES["trl_standard"][side])
        assert standard["features"] == {"prompt": STRING, "chosen": STRING, "rejected": STRING}
        conversational = loaded["trl_conversational"][split]
        assert conversational["rows"] == _file_rows(directory, FILES["trl_conversational"][side])
        assert conversational["features"] == {
            "prompt": MESSAGES,
            "chosen": MESSAGES,
            "rejected": MESSAGES,
        }
    assert len(default["train"]["rows"]) == event.training.rows
    assert len(default["validation"]["rows"]) == event.validation.rows
    assert default["train"]["rows"][0]["prompt"].startswith('You play "X".\n\nboard ')


def test_full_history_and_an_empty_validation_file_load(tmp_path: Path) -> None:
    """A message-list NeMo prompt is typed as such; an empty validation file (fraction 0) is
    left out of the card, since ``datasets`` cannot load it as a split."""
    event = cut_dataset(tmp_path, _pairs(12), full_history=True, validation_fraction=0.0)
    directory = Path(event.directory)
    manifest = read_manifest(directory)
    assert (manifest.counts.training, manifest.counts.validation) == (12, 0)
    loaded = _load(directory, tmp_path, ["nemo"])["nemo"]
    assert set(loaded) == {"train"}
    assert loaded["train"]["features"]["prompt"] == MESSAGES
    assert loaded["train"]["rows"] == _file_rows(directory, FILES["nemo"][0])
