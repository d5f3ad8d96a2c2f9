"""Options every command shares: ``--config FILE`` and ``-o/--set dotted.key value``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click
from prefstream_config import ConfigError, PrefstreamConfig, load_config

F = TypeVar("F", bound=Callable[..., Any])

EXIT_CONFIG = 2
EXIT_UNREACHABLE = 5
"""The broker refused, never answered within kafka.request_timeout_ms, or went away."""


def config_options(*, short_override: bool = True) -> Callable[[F], F]:
    """Add ``--config/-c`` and the override option; ``-o`` is left free where it means output."""

    def decorate(func: F) -> F:
        names = ["--set", "-o", "overrides"] if short_override else ["--set", "overrides"]
        example = "-o" if short_override else "--set"
        func = click.option(
            *names,
            nargs=2,
            multiple=True,
            metavar="KEY VALUE",
            help=f"Override a config value by dotted key, e.g. {example} kafka.partitions 8.",
        )(func)
        return click.option(
            "--config",
            "-c",
            "config_path",
            type=click.Path(dir_okay=False, exists=True),
            envvar="PREFSTREAM_CONFIG",
            help="YAML config file (env PREFSTREAM_CONFIG).",
        )(func)

    return decorate


def fail(message: str, code: int = 1) -> NoReturn:
    click.secho(f"error: {message}", fg="red", err=True)
    raise SystemExit(code)


def resolve_config(
    config_path: str | None,
    overrides: tuple[tuple[str, str], ...] | list[tuple[str, str]],
    notices: list[str] | None = None,
) -> PrefstreamConfig:
    try:
        return load_config(config_path, list(overrides), notices=notices)
    except ConfigError as exc:
        fail(str(exc), EXIT_CONFIG)
