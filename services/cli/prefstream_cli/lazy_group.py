"""A click group that imports a command's module only when that command runs.

Importing every command up front pulled in the whole stack (FastStream, aiokafka,
huggingface_hub, OpenTelemetry, ...) before ``prefstream --help`` could print a line:
1.6-1.9 s on the 2-core machine. Each :class:`LazyCommand` names where the command lives
and its one-line help, which is the command's only short help (set on it when loaded), so
the listing and ``prefstream COMMAND --help`` cannot disagree.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class LazyCommand:
    name: str
    target: str
    """``module:attribute`` of the click command."""
    short_help: str


class LazyGroup(click.Group):
    def __init__(self, *args: object, lazy: Sequence[LazyCommand] = (), **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = {c.name: c for c in lazy}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in self.lazy:
            return super().get_command(ctx, cmd_name)
        return load(self.lazy[cmd_name])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The listing from the table, importing nothing."""
        rows = []
        for name in self.list_commands(ctx):
            if name in self.lazy:
                rows.append((name, self.lazy[name].short_help))
            else:
                command = self.commands[name]
                if not command.hidden:
                    rows.append((name, command.get_short_help_str(formatter.width)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def load(entry: LazyCommand) -> click.Command:
    module, _, attribute = entry.target.partition(":")
    command = getattr(importlib.import_module(module), attribute)
    if not isinstance(command, click.Command):
        raise TypeError(f"{entry.target} is not a click command")
    command.short_help = entry.short_help
    return command
