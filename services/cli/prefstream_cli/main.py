"""The ``prefstream`` command: one entry point for every service, tool and demo."""

from __future__ import annotations

import click

from prefstream_cli.commands.broker import broker
from prefstream_cli.commands.config_cmd import config_group
from prefstream_cli.commands.demo import demo
from prefstream_cli.commands.nmp_local import nmp_local
from prefstream_cli.commands.pairs import build as pairs_build
from prefstream_cli.commands.publish import publish
from prefstream_cli.commands.service import service
from prefstream_cli.commands.submit import submit
from prefstream_cli.commands.up import up
from prefstream_cli.commands.watch import watch

PAIRING = "the Pairing service issue (#3)"
BATCHER = "the Batcher service issue (#4)"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prefstream-cli", prog_name="prefstream")
def cli() -> None:
    """prefstream: agents' scored candidates -> DPO datasets -> NeMo Customizer jobs."""


cli.add_command(broker)
cli.add_command(config_group)
cli.add_command(demo)
cli.add_command(nmp_local)
cli.add_command(service)
cli.add_command(up)
cli.add_command(watch)
cli.add_command(publish)
cli.add_command(submit)


@cli.group("pairs")
def pairs_group() -> None:
    """Build DPO pairs."""


pairs_group.add_command(pairs_build)


@cli.group("dataset")
def dataset_group() -> None:
    """Cut and list datasets."""


dataset_group.add_command(__import__("prefstream_cli.commands.dataset", fromlist=["cut"]).cut)
dataset_group.add_command(__import__("prefstream_cli.commands.dataset", fromlist=["ls"]).ls)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
