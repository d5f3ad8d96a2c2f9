"""``prefstream broker``: the embedded Tansu broker in the foreground."""

from __future__ import annotations

import click
from prefstream_kafka.local_brokers import EmbeddedTansu, LocalBrokerError

from prefstream_cli.options import fail


@click.command("broker")
@click.option("--port", type=click.IntRange(0, 65535), default=9092, show_default=True)
def broker(port: int) -> None:
    """Run the embedded Tansu broker (memory only) on 127.0.0.1 until Ctrl-C."""
    tansu = EmbeddedTansu(port)
    try:
        code = tansu.run_forever()
    except LocalBrokerError as exc:
        fail(str(exc))
    raise SystemExit(code)
