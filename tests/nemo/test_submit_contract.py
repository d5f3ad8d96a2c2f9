"""``prefstream submit`` against a server written only from the reference contract (with
the quirks nmp-local does not have), run as a user runs it."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import yaml

from tests.support.fake_nemo import write_dataset

from .contract_server import contract_server


def config(path: Path, base_url: str) -> Path:
    adapter = {
        "_type": "nemo_customizer_trainer_adapter",
        "entity_host": base_url,
        "datastore_host": base_url,
        "namespace": "cli",
        "customization_config": "meta/llama-3.2-1b-instruct@v1.0.0+A100",
        "poll_interval_seconds": 0.05,
        "deploy_on_completion": True,
        "hf_token": "",
        "api_token": "gateway-token",
    }
    body = {"trainer_adapters": {"nemo": adapter}, "submitter": {"retry_max_seconds": 0.2}}
    path.write_text(yaml.safe_dump(body))
    return path


async def submit(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "prefstream_cli",
        "submit",
        *args,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return int(proc.returncode or 0), out.decode(), err.decode()


async def test_submit_against_any_server_that_follows_the_contract(tmp_path: Path) -> None:
    directory = write_dataset(tmp_path / "contract", rows=80)
    with contract_server() as (base, state):
        state.lfs_threshold = 2048
        code, out, err = await submit(str(directory), "-c", str(config(tmp_path / "c.yml", base)))
        again = await submit(str(directory), "-c", str(config(tmp_path / "c.yml", base)), "--json")

    assert code == 0, err
    assert "deployment ready" in out
    assert again[0] == 0, again[2]
    last = json.loads(again[1].splitlines()[-1])
    assert last["status"] == "completed"
    assert last["deployment"]["status"] == "ready"
    assert len(state.jobs) == 1
    assert len(state.commits) == 1
    assert state.seen("/lfs-store")
