"""Every service of a running stack and nmp-local serve ``/metrics`` that promtool's lint
accepts without a warning, naming exactly the metrics monitoring/metric_names.txt lists
(the list the dashboard and the alert rules are checked against), with consumer lag per
partition for every Kafka service."""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request

import pytest
from prefstream_config import PrefstreamConfig, load_config
from prefstream_demo.agents import play_games
from prometheus_client.parser import text_string_to_metric_families

from tests.support.metric_names import load_metric_names
from tests.support.promtool import check_metrics

from .support import DEMO_CONFIG, CliProcess

pytestmark = pytest.mark.slow

KAFKA_SERVICES = ("pairing", "batcher", "submitter", "ui")
"""The services that consume topics, so expose ``prefstream_consumer_lag_records``."""


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def families(exposition: str) -> set[str]:
    return set(re.findall(r"^# TYPE (\S+) \S+$", exposition, re.MULTILINE))


def lag_partitions(exposition: str) -> set[tuple[str, str]]:
    """(topic, partition) of each lag series."""
    return {
        (s.labels["topic"], s.labels["partition"])
        for family in text_string_to_metric_families(exposition)
        if family.name == "prefstream_consumer_lag_records"
        for s in family.samples
    }


def metrics_urls(config: PrefstreamConfig) -> dict[str, str]:
    return {
        "pairing": f"http://127.0.0.1:{config.pairing.http_port}/metrics",
        "batcher": f"http://127.0.0.1:{config.batcher.http_port}/metrics",
        "submitter": f"http://127.0.0.1:{config.submitter.http_port}/metrics",
        "ui": f"http://127.0.0.1:{config.ui.http_port}/metrics",
        "nmp-local": f"http://127.0.0.1:{config.nmp_local.port}/metrics",
    }


def wait_for_lag(url: str, topic: str, timeout_s: float = 60) -> str:
    """The scrape once the consumer has fetched ``topic`` (lag is known after a fetch)."""
    deadline = time.monotonic() + timeout_s
    while True:
        text = scrape(url)
        if any(t == topic for t, _ in lag_partitions(text)) or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


def test_every_scrape_passes_promtool_and_names_only_the_listed_metrics(
    loop_overrides: list[tuple[str, str]],
) -> None:
    up = CliProcess(["up"], loop_overrides, stop_timeout=90)
    try:
        up.wait_for(r"everything is running", timeout=180)
        config = load_config(DEMO_CONFIG, loop_overrides)
        bootstrap = f"127.0.0.1:{config.kafka.embedded_port}"
        config = config.model_copy(
            update={"kafka": config.kafka.model_copy(update={"bootstrap_servers": bootstrap})}
        )
        asyncio.run(play_games(config, 2, 2, seed=0))  # candidates flow: lag, labelled series
        urls = metrics_urls(config)
        scrapes = {name: scrape(url) for name, url in urls.items()}
        scrapes["pairing"] = wait_for_lag(urls["pairing"], config.kafka.topics.candidates)
        scrapes["ui"] = wait_for_lag(urls["ui"], config.kafka.topics.jobs)
    finally:
        assert up.stop() == 130

    listed = load_metric_names()
    for service, text in scrapes.items():
        assert check_metrics(text) == [], service
        exposed = families(text)
        assert {"process_resident_memory_bytes", "python_info"} <= exposed, service
        assert not [f for f in exposed if f.endswith("_created")], service
        ours = {f for f in exposed if f.startswith("prefstream_")}
        expected = {
            m.name
            for m in listed.values()
            if m.service == service or (m.service == "runtime" and service in KAFKA_SERVICES)
        }
        assert ours == expected, (service, ours ^ expected)
    pairing_lag = lag_partitions(scrapes["pairing"])
    partitions = {p for t, p in pairing_lag if t == config.kafka.topics.candidates}
    assert partitions == {str(p) for p in range(config.kafka.partitions)}, pairing_lag
    assert {t for t, _ in lag_partitions(scrapes["ui"])} >= {config.kafka.topics.jobs}
