"""No token appears in the submitter's logs, its events, or ``prefstream config show``."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from prefstream_events import JobStatus

from .conftest import Stack
from .harness import JobsReader, dataset_event, final, publish, terminal, write_rows

HF_TOKEN = "hf_SECRETdatastore4242"
API_TOKEN = "nvapi-SECRETgateway9191"
SASL_PASSWORD = "kafka-SECRETpassword7373"
SECRETS = (HF_TOKEN, API_TOKEN, SASL_PASSWORD)


def raw_bytes(records: list[Any]) -> bytes:
    """Every byte of the records read: keys, values and headers."""
    blob = b""
    for r in records:
        blob += (r.key or b"") + (r.value or b"")
        blob += b"".join(k.encode() + v for k, v in r.headers)
    return blob


async def test_no_token_in_logs_events_or_config_show(stack: Stack) -> None:
    config = stack.config(
        adapter={"hf_token": "${TEST_HF_TOKEN}", "api_token": API_TOKEN},
        kafka={"sasl_username": "svc", "sasl_password": SASL_PASSWORD},
        logging={"level": "DEBUG"},
    )
    env = {"TEST_HF_TOKEN": HF_TOKEN}
    proc = stack.submitter(config, env=env)
    proc.start().wait_ready()
    good = dataset_event(write_rows(stack.tmp_path / "s-1"), f"{stack.name}-1", 1)
    bad = dataset_event(write_rows(stack.tmp_path / "s-2", bad_line=2), f"{stack.name}-2", 2)

    async with JobsReader(stack.kafka) as reader:
        await publish(stack.kafka, good, bad)
        events = await reader.wait_for(
            lambda evs: terminal(good.dataset_id)(evs) and terminal(bad.dataset_id)(evs),
            60,
            "both datasets to finish",
        )
        topics = raw_bytes(reader.records)
    good_last = final(events, good.dataset_id)
    assert good_last is not None
    assert good_last.status is JobStatus.COMPLETED
    proc.stop()

    show = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "prefstream_cli",
        "config",
        "show",
        "--config",
        str(config),
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    shown = (await show.communicate())[0].decode()
    assert show.returncode == 0, shown
    assert shown.count("**********") >= 3, shown  # the three secrets were loaded, and masked

    logs = proc.logs()
    assert "submitter started" in logs
    assert "DEBUG" in logs.upper()
    assert good.dataset_id.encode() in topics
    for secret in SECRETS:
        assert secret not in logs, f"{secret} leaked into the logs"
        assert secret.encode() not in topics, f"{secret} leaked into the jobs topic"
        assert secret not in shown, f"{secret} leaked into config show"
