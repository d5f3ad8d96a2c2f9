"""Help text that matches the command it is shown for."""

from __future__ import annotations

from click.testing import CliRunner
from prefstream_cli.main import cli


def help_text(*command: str) -> str:
    """The help with its line wrapping undone."""
    return " ".join(CliRunner().invoke(cli, [*command, "--help"]).output.split())


def test_pairs_build_help_does_not_show_o_as_the_override_example() -> None:
    text = help_text("pairs", "build")
    assert "-o kafka.partitions" not in text
    assert "--set kafka.partitions 8" in text


def test_publish_help_shows_the_short_override() -> None:
    text = help_text("publish")
    assert "-o kafka.partitions 8" in text
