"""The ``prefstream`` command: one entry point for every service, tool and demo."""

from __future__ import annotations

import sys
from typing import Any

import click

from prefstream_cli.lazy_group import LazyCommand, LazyGroup

C = "prefstream_cli.commands"
COMMANDS = (
    LazyCommand("broker", f"{C}.broker:broker", "Run the embedded Tansu broker (memory only)."),
    LazyCommand("config", f"{C}.config_cmd:config_group", "Inspect the resolved configuration."),
    LazyCommand("demo", f"{C}.demo:demo", "Agents play, train, serve and evaluate a model."),
    LazyCommand("nmp-local", f"{C}.nmp_local:nmp_local", "Serve the local NeMo platform."),
    LazyCommand("publish", f"{C}.publish:publish", "Validate and publish CandidateEvents."),
    LazyCommand("service", f"{C}.service:service", "Run one service (pairing, batcher, ...)."),
    LazyCommand("submit", f"{C}.submit:submit", "Train on a dataset and follow the job."),
    LazyCommand("ui", f"{C}.ui:ui", "Serve the web view of every job."),
    LazyCommand("up", f"{C}.up:up", "Start the whole stack on this machine."),
    LazyCommand("watch", f"{C}.watch:watch", "Show every training job live."),
)
PAIRS_COMMANDS = (
    LazyCommand("build", f"{C}.pairs:build", "Pair a JSONL file of CandidateEvents offline."),
)
DATASET_COMMANDS = (
    LazyCommand("cut", f"{C}.dataset:cut", "Ask the running batcher to cut a dataset now."),
    LazyCommand("list", f"{C}.dataset:ls", "List the datasets in batcher.datasets_dir."),
)


class _Group(LazyGroup):
    """Errors every command may hit, reported as one line with their own exit status."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            # Only a command that talked to Kafka imported this module, and only such a
            # command can raise its error: --help must not import aiokafka to catch it.
            reachability = sys.modules.get("prefstream_kafka.reachability")
            if reachability is not None and isinstance(exc, reachability.BrokerUnreachable):
                from prefstream_cli.options import EXIT_UNREACHABLE, fail

                fail(str(exc), EXIT_UNREACHABLE)
            raise


@click.group(cls=_Group, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="prefstream-cli", prog_name="prefstream")
def cli() -> None:
    """prefstream: agents' scored candidates -> DPO datasets -> NeMo Customizer jobs."""


@cli.group("pairs", cls=LazyGroup, lazy=PAIRS_COMMANDS)
def pairs_group() -> None:
    """Build DPO pairs."""


@cli.group("dataset", cls=LazyGroup, lazy=DATASET_COMMANDS)
def dataset_group() -> None:
    """Cut and list datasets."""


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
