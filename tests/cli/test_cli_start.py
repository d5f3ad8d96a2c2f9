"""The CLI starts at once: a command imports only what it runs. Checked by the modules a
fresh interpreter holds afterwards, not by a timed test (docs/performance.md has the
times)."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import click
import prefstream_cli.commands
import pytest
from prefstream_cli.lazy_group import load
from prefstream_cli.main import COMMANDS, DATASET_COMMANDS, PAIRS_COMMANDS, cli
from prefstream_testing.synthetic import synthetic_lines

HEAVY = ("duckdb", "faststream", "aiokafka", "huggingface_hub", "torch", "opentelemetry")
"""The stacks issue #13 names, and tracing's SDK: none belongs to showing help."""


def modules_after(args: list[str]) -> set[str]:
    code = (
        "import json, sys\n"
        "from prefstream_cli.main import cli\n"
        f"cli({args!r}, standalone_mode=False)\n"
        "print('\\n' + json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize(
    "args",
    [["--help"], ["config", "show"], ["pairs", "build", "--help"], ["pairs", "build", "TINY"]],
)
def test_help_and_light_commands_do_not_import_the_heavy_stacks(
    args: list[str], tmp_path: Path
) -> None:
    if "TINY" in args:
        tiny = tmp_path / "candidates.jsonl"
        tiny.write_bytes(b"".join(list(synthetic_lines(3, 4, seed=1))[:10]))
        args = [*args[:-1], str(tiny), "-o", str(tmp_path / "pairs.jsonl"), "--no-progress"]
    loaded = modules_after(args)
    assert not [m for m in loaded if m.split(".")[0] in HEAVY], args


def test_help_imports_no_command() -> None:
    loaded = modules_after(["--help"])
    assert not [m for m in loaded if m.startswith("prefstream_cli.commands.")]
    assert "pydantic" not in loaded


def test_every_command_is_listed_and_loads() -> None:
    listed = {load(entry) for entry in (*COMMANDS, *PAIRS_COMMANDS, *DATASET_COMMANDS)}
    reachable = set(listed)
    for command in listed:
        if isinstance(command, click.Group):
            reachable |= set(command.commands.values())
    defined = set()
    for info in pkgutil.iter_modules(prefstream_cli.commands.__path__):
        module = importlib.import_module(f"prefstream_cli.commands.{info.name}")
        defined |= {v for v in vars(module).values() if isinstance(v, click.Command)}
    assert defined <= reachable, sorted(c.name or "?" for c in defined - reachable)
    for entry in COMMANDS:
        found = cli.get_command(click.Context(cli), entry.name)
        assert found is not None
        assert found.name == entry.name
        assert found.get_short_help_str() == entry.short_help
