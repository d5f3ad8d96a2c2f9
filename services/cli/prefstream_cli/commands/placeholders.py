"""Commands of DESIGN.md whose issues have not landed yet; each says where it comes from."""

from __future__ import annotations

import click

from prefstream_cli.options import not_yet

PENDING: dict[str, tuple[str, str]] = {}
"""Command name -> (help, issue that delivers it). Emptied as the issues land."""


def placeholder(name: str, help_text: str, issue: str) -> click.Command:
    @click.command(name, help=f"{help_text} (coming with {issue})", context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        not_yet(name, issue)

    return command
