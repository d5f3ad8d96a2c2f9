"""Commands of DESIGN.md whose issues have not landed yet; each says where it comes from."""

from __future__ import annotations

import click

from prefstream_cli.options import not_yet


def placeholder(name: str, help_text: str, issue: str, *, group: str = "") -> click.Command:
    full = f"{group} {name}".strip()

    @click.command(
        name,
        help=f"{help_text} (coming with {issue})",
        context_settings={"ignore_unknown_options": True},
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        not_yet(full, issue)

    return command
