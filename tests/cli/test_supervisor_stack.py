"""Which addresses ``prefstream up`` derives from the config: nmp-local's URL is the one
place the submitter's NeMo hosts follow, and every port the stack binds is known up front."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefstream_cli.stack import child_specs, local_adapter_env, needs_nmp_local, stack_config
from prefstream_cli.stack_ports import StackPort, duplicate_ports, stack_ports
from prefstream_config import PrefstreamConfig, load_config

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONFIG = ROOT / "configs" / "demo-simulated.yml"
ENTITY = "PREFSTREAM__TRAINER_ADAPTERS__NEMO_ADAPTER__ENTITY_HOST"
DATASTORE = "PREFSTREAM__TRAINER_ADAPTERS__NEMO_ADAPTER__DATASTORE_HOST"


def demo(*overrides: tuple[str, str]) -> PrefstreamConfig:
    return load_config(DEMO_CONFIG, list(overrides), environ={})


def test_moving_nmp_local_moves_the_submitter_with_it() -> None:
    config = demo(("nmp_local.port", "39800"))
    assert needs_nmp_local(config)
    env = local_adapter_env(config)
    assert env[ENTITY] == env[DATASTORE] == "http://127.0.0.1:39800"
    assert stack_config(config).adapter().entity_host == "http://127.0.0.1:39800"
    ready = [spec.ready_url for spec in child_specs(config, None, env) if spec.name == "nmp-local"]
    assert ready == ["http://127.0.0.1:39800/health"]


@pytest.mark.parametrize("host", ["http://localhost:8000", "http://127.0.0.1:8000/"])
def test_localhost_and_127_0_0_1_are_the_same_nmp_local(host: str) -> None:
    config = demo(
        ("trainer_adapters.nemo_adapter.entity_host", host),
        ("trainer_adapters.nemo_adapter.datastore_host", host),
    )
    assert needs_nmp_local(config)
    assert stack_config(config).adapter().entity_host == "http://127.0.0.1:8000"


@pytest.mark.parametrize("host", ["https://nemo.example.com", "http://127.0.0.1:9000"])
def test_another_platform_is_left_alone(host: str) -> None:
    config = demo(
        ("trainer_adapters.nemo_adapter.entity_host", host),
        ("trainer_adapters.nemo_adapter.datastore_host", host),
        ("nmp_local.port", "39800"),
    )
    assert not needs_nmp_local(config)
    assert local_adapter_env(config) == {}
    assert [s.name for s in child_specs(config, None, {})] == [
        "pairing",
        "batcher",
        "submitter",
        "ui",
    ]


def test_every_bound_port_is_listed_with_the_key_that_moves_it() -> None:
    config = demo(("ui.enabled", "false"))
    keys = {p.key: p.port for p in stack_ports(config)}
    assert keys == {
        "kafka.embedded_port": 9092,
        "nmp_local.port": 8000,
        "pairing.http_port": 8081,
        "batcher.http_port": 8082,
        "submitter.http_port": 8083,
    }
    external = demo(("kafka.bootstrap_servers", "kafka:9092"), ("ui.http_port", "8090"))
    assert {p.key for p in stack_ports(external)} >= {"ui.http_port"}
    assert "kafka.embedded_port" not in {p.key for p in stack_ports(external)}


def test_one_port_set_twice_is_reported() -> None:
    a = StackPort("pairing.http_port", "pairing", "127.0.0.1", 8081)
    b = StackPort("batcher.http_port", "batcher", "0.0.0.0", 8081)
    c = StackPort("ui.http_port", "web view", "127.0.0.1", 8084)
    (message,) = duplicate_ports([a, b, c])
    assert "port 8081 is set for both pairing (pairing.http_port) and batcher" in message
    assert message.endswith("choose another with -o batcher.http_port PORT")
    assert duplicate_ports([a, c]) == []
