"""The whole prefstream stack on one machine: broker, nmp-local, the three services and the
web view.

Shared by ``prefstream up`` (runs until Ctrl-C) and ``prefstream demo`` (runs until the
demo's jobs complete). Children get the resolved settings through the same config file,
``PREFSTREAM__*`` environment (``-o`` overrides travel that way) a user would use by hand.
"""

from __future__ import annotations

import contextlib
import ipaddress
import shutil
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from prefstream_config import NeMoCustomizerTrainerAdapterConfig, NmpLocalConfig, PrefstreamConfig
from prefstream_config.loader import ENV_PREFIX
from prefstream_kafka import ensure_topics
from prefstream_kafka.local_brokers import EmbeddedTansu

from prefstream_cli.stack_ports import ANY_HOST, check_ports, stack_ports
from prefstream_cli.supervisor import ChildSpec, Supervisor

SERVICE_ORDER = ("pairing", "batcher", "submitter")
LOCAL_NAMESPACE = "prefstream-local"
LOCAL_CUSTOMIZATION_CONFIG = "meta/llama-3.2-1b-instruct@v1.0.0+A100"
DEFAULT_NMP_LOCAL_PORT = NmpLocalConfig().port


def nmp_local_url(config: PrefstreamConfig) -> str:
    """Where clients reach nmp-local: the one address the submitter's NeMo hosts follow."""
    host = config.nmp_local.host
    if host in ANY_HOST:
        host = "127.0.0.1"
    return f"http://{host}:{config.nmp_local.port}"


def web_view_url(config: PrefstreamConfig) -> str:
    return f"http://{config.ui.http_host}:{config.ui.http_port}/"


def _endpoint(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) with every loopback spelling as one host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host == "localhost" or host in ANY_HOST:
        host = "127.0.0.1"
    with contextlib.suppress(ValueError):
        if ipaddress.ip_address(host).is_loopback:
            host = "127.0.0.1"
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = None
    return parts.scheme, host, port


def targets_nmp_local(config: PrefstreamConfig, url: str) -> bool:
    """True for nmp-local's address, and for the loopback address nmp-local has by default:
    a config written for nmp-local at :8000 follows ``-o nmp_local.port``."""
    scheme, host, port = _endpoint(url)
    _, local_host, local_port = _endpoint(nmp_local_url(config))
    return scheme == "http" and host == local_host and port in (local_port, DEFAULT_NMP_LOCAL_PORT)


def _adapter_name(config: PrefstreamConfig) -> str:
    adapter = config.adapter()
    return next(name for name, value in config.trainer_adapters.items() if value is adapter)


def needs_nmp_local(config: PrefstreamConfig) -> bool:
    """nmp-local runs unless a trainer adapter points at some other NeMo platform."""
    if not config.has_adapter():
        return True
    adapter = config.adapter()
    return targets_nmp_local(config, adapter.entity_host) or targets_nmp_local(
        config, adapter.datastore_host
    )


def local_adapter_hosts(config: PrefstreamConfig) -> dict[str, str]:
    """Dotted keys -> values that point the submitter at nmp-local: a whole adapter when
    none is configured, else those of the adapter's hosts that mean nmp-local."""
    url = nmp_local_url(config)
    if not config.has_adapter():
        prefix = "trainer_adapters.local."
        return {
            f"{prefix}entity_host": url,
            f"{prefix}datastore_host": url,
            f"{prefix}namespace": LOCAL_NAMESPACE,
            f"{prefix}customization_config": LOCAL_CUSTOMIZATION_CONFIG,
        }
    adapter = config.adapter()
    prefix = f"trainer_adapters.{_adapter_name(config)}."
    return {
        prefix + key: url
        for key, value in (
            ("entity_host", adapter.entity_host),
            ("datastore_host", adapter.datastore_host),
        )
        if targets_nmp_local(config, value)
    }


def local_adapter_env(config: PrefstreamConfig) -> dict[str, str]:
    """:func:`local_adapter_hosts` as the ``PREFSTREAM__*`` variables the children read."""
    return overrides_env(list(local_adapter_hosts(config).items()))


def stack_config(config: PrefstreamConfig) -> PrefstreamConfig:
    """``config`` as the stack's children resolve it (NeMo hosts following nmp-local)."""
    hosts = local_adapter_hosts(config)
    if not hosts:
        return config
    if not config.has_adapter():
        adapter = NeMoCustomizerTrainerAdapterConfig.model_validate(
            {key.rsplit(".", 1)[1]: value for key, value in hosts.items()}
        )
        return config.model_copy(update={"trainer_adapters": {"local": adapter}})
    name = _adapter_name(config)
    adapter = config.adapter().model_copy(
        update={key.rsplit(".", 1)[1]: value for key, value in hosts.items()}
    )
    return config.model_copy(
        update={"trainer_adapters": {**config.trainer_adapters, name: adapter}}
    )


def local_state_paths(config: PrefstreamConfig) -> list[Path]:
    """Files that only make sense with the broker they were built against: DuckDB state
    (with its WAL), cut datasets and nmp-local's data."""
    paths = []
    for db in (config.pairing.db_path, config.batcher.db_path, config.submitter.db_path):
        paths += [Path(db), Path(f"{db}.wal")]
    paths += [Path(config.batcher.datasets_dir), Path(config.nmp_local.data_dir)]
    return [p for p in paths if p.exists()]


def remove_local_state(config: PrefstreamConfig) -> list[Path]:
    """The embedded broker forgets every topic when it stops, so state committed against
    its offsets would make a new run skip or collide; start such a run from nothing."""
    removed = local_state_paths(config)
    for path in removed:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    return removed


@dataclass
class Stack:
    config: PrefstreamConfig
    bootstrap_servers: str
    supervisor: Supervisor
    env: dict[str, str] = field(default_factory=dict)


def cli_argv(command: list[str], config_path: str | None) -> list[str]:
    argv = [sys.executable, "-m", "prefstream_cli", *command]
    if config_path:
        argv += ["--config", config_path]
    return argv


def overrides_env(overrides: list[tuple[str, str]]) -> dict[str, str]:
    """``-o`` overrides as ``PREFSTREAM__*`` variables: a token given on the command line
    must not show up again in every child's ``ps`` line."""
    return {
        ENV_PREFIX + "__".join(part.upper() for part in key.split(".")): value
        for key, value in overrides
    }


def child_specs(
    config: PrefstreamConfig,
    config_path: str | None,
    env: dict[str, str],
) -> list[ChildSpec]:
    specs = []
    if needs_nmp_local(config):
        specs.append(
            ChildSpec(
                "nmp-local",
                cli_argv(["nmp-local"], config_path),
                env,
                ready_url=f"{nmp_local_url(config)}/health",
            )
        )
    ports = {
        "pairing": (config.pairing.http_host, config.pairing.http_port),
        "batcher": (config.batcher.http_host, config.batcher.http_port),
        "submitter": (config.submitter.http_host, config.submitter.http_port),
    }
    for name in SERVICE_ORDER:
        host, port = ports[name]
        specs.append(
            ChildSpec(
                name,
                cli_argv(["service", name], config_path),
                env,
                ready_url=f"http://{host}:{port}/readyz",
            )
        )
    if config.ui.enabled:  # last: stopped first, before the services whose topics it reads
        specs.append(
            ChildSpec(
                "ui", cli_argv(["ui"], config_path), env, ready_url=f"{web_view_url(config)}readyz"
            )
        )
    return specs


@asynccontextmanager
async def running_stack(
    config: PrefstreamConfig,
    config_path: str | None,
    overrides: list[tuple[str, str]],
    *,
    out: Callable[[str], None] | None = None,
) -> AsyncIterator[Stack]:
    check_ports(stack_ports(config, with_nmp_local=needs_nmp_local(config)))
    broker: EmbeddedTansu | None = None
    env: dict[str, str] = {
        "PREFSTREAM__LOGGING__FORMAT": config.logging.format,
        **overrides_env(overrides),
    }
    if config.kafka.bootstrap_servers is None:
        broker = EmbeddedTansu(config.kafka.embedded_port)
        broker.start()
        bootstrap = broker.bootstrap_servers
        env["PREFSTREAM__KAFKA__BOOTSTRAP_SERVERS"] = bootstrap
        config = config.model_copy(
            update={"kafka": config.kafka.model_copy(update={"bootstrap_servers": bootstrap})}
        )
    else:
        bootstrap = config.kafka.bootstrap_servers
    env.update(local_adapter_env(config))
    config = stack_config(config)
    supervisor = Supervisor(child_specs(config, config_path, env), out=out)
    try:
        supervisor.say("up", f"Kafka at {bootstrap}" + (" (embedded Tansu)" if broker else ""))
        await ensure_topics(config.kafka)
        await supervisor.start()
        if config.ui.enabled:
            supervisor.say("up", f"web view at {web_view_url(config)}")
        yield Stack(config, bootstrap, supervisor, env)
    finally:
        await supervisor.stop()
        if broker is not None:
            broker.stop()
