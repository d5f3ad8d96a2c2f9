"""``prefstream nmp-local``: the local NeMo platform stand-in in the foreground."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from prefstream_cli.options import config_options, resolve_config


@click.group("nmp-local", invoke_without_command=True)
@click.option("--host", help="Interface to bind (default: nmp_local.host, 127.0.0.1).")
@click.option(
    "--port", type=click.IntRange(0, 65535), help="Port (default nmp_local.port; 0 = any)."
)
@click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path), help="State directory."
)
@click.option("--port-file", type=click.Path(dir_okay=False, path_type=Path), hidden=True)
@config_options()
@click.pass_context
def nmp_local(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    data_dir: Path | None,
    port_file: Path | None,
    config_path: str | None,
    overrides: tuple[tuple[str, str], ...],
) -> None:
    """Serve Entity Store, Data Store (HF Hub API), Customizer and Deployments locally.

    Fault injection and job clocks come from NMP_LOCAL_* env vars (see docs/nmp-local.md).
    `prefstream nmp-local add-model DIR --name NS/NAME` registers a local model to train.
    """
    if ctx.invoked_subcommand is not None:
        return
    from prefstream_nmp_local.server import serve
    from prefstream_nmp_local.settings import NmpLocalSettings

    section = resolve_config(config_path, overrides).nmp_local
    flags: dict[str, Any] = {"host": host, "port": port, "data_dir": data_dir}
    from_config: dict[str, Any] = {
        "host": section.host,
        "port": section.port,
        "data_dir": Path(section.data_dir),
        "job_seconds_per_epoch": section.job_seconds_per_epoch,
        "deployment_ready_seconds": section.deployment_ready_seconds,
        "trainer": section.trainer,
    }
    for name, value in from_config.items():
        if flags.get(name) is None and f"NMP_LOCAL_{name.upper()}" not in os.environ:
            flags[name] = value  # precedence: flag > NMP_LOCAL_* env > nmp_local config section
    settings = NmpLocalSettings.from_env(None, **flags)
    serve(settings, port_file=port_file)


@nmp_local.command("add-model")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--name", required=True, help="Register as NS/NAME (Entity Store and Data Store).")
@click.option(
    "--url",
    help="A running nmp-local (or NeMo platform); default: nmp_local.host and nmp_local.port.",
)
@config_options()
def add_model(
    directory: Path,
    name: str,
    url: str | None,
    config_path: str | None,
    overrides: tuple[tuple[str, str], ...],
) -> None:
    """Upload a local Hugging Face model directory (weights, tokenizer, config), register it,
    and create a DPO customization config NS/NAME@local that trains it."""
    from prefstream_nmp_local.model_registration import RegistrationError, register_local_model

    if url is None:
        section = resolve_config(config_path, overrides).nmp_local
        url = f"http://{section.host}:{section.port}"
    try:
        registered = register_local_model(url, directory, name)
    except RegistrationError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"registered {registered.name} ({registered.files_url}); "
        f"train it with customization config {registered.customization_config}"
    )
