"""The ``prefstream`` command: one entry point for every service, tool and demo."""

from __future__ import annotations

from typing import Any

import click
from prefstream_kafka.reachability import BrokerUnreachable

from prefstream_cli.commands.broker import broker
from prefstream_cli.commands.config_cmd import config_group
from prefstream_cli.commands.dataset import cut as dataset_cut
from prefstream_cli.commands.dataset import ls as dataset_list
from prefstream_cli.commands.demo import demo
from prefstream_cli.commands.nmp_local import nmp_local
from prefstream_cli.commands.pairs import build as pairs_build
from prefstream_cli.commands.publish import publish
from prefstream_cli.commands.service import service
from prefstream_cli.commands.submit import submit
from prefstream_cli.commands.ui import ui
from prefstream_cli.commands.up import up
from prefstream_cli.commands.watch import watch
from prefstream_cli.options import EXIT_UNREACHABLE, fail


class _Group(click.Group):
    """Errors every command may hit, reported as one line with their own exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokerUnreachable as exc:
            fail(str(exc), EXIT_UNREACHABLE)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prefstream-cli", prog_name="prefstream")
def cli() -> None:
    """prefstream: agents' scored candidates -> DPO datasets -> NeMo Customizer jobs."""


@cli.group("pairs")
def pairs_group() -> None:
    """Build DPO pairs."""


@cli.group("dataset")
def dataset_group() -> None:
    """Cut and list datasets."""


for command in (broker, config_group, demo, nmp_local, publish, service, submit, ui, up, watch):
    cli.add_command(command)
pairs_group.add_command(pairs_build)
dataset_group.add_command(dataset_cut)
dataset_group.add_command(dataset_list)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
