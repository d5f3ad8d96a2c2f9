"""Generators for checked-in contracts: ``python -m prefstream_cli.tools KIND PATH``.

Both the Makefile and the staleness tests call these, so a test failure and its fix
(`make schemas` / `make asyncapi`) always agree.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

from faststream.specification import AsyncAPI
from prefstream_config import PrefstreamConfig
from prefstream_events.schemas import schema_documents

from prefstream_cli.commands.service import SERVICES
from prefstream_cli.config_reference import render_reference


def asyncapi_documents(config: PrefstreamConfig | None = None) -> dict[str, str]:
    """File name -> AsyncAPI 3.0 JSON, generated from each service's real FastStream app."""
    config = config or PrefstreamConfig()
    docs = {}
    for name, module_name in SERVICES.items():
        app = importlib.import_module(module_name).build_app(config)
        spec = AsyncAPI(
            *app.brokers,
            title=f"prefstream {name}",
            version="1",
            schema_version="3.0.0",
        ).to_specification()
        text = json.dumps(json.loads(spec.to_json()), indent=2, sort_keys=True) + "\n"
        docs[f"{name}.json"] = text
    return docs


def main(argv: list[str]) -> None:
    if len(argv) != 2 or argv[0] not in {"schemas", "asyncapi", "config-reference"}:
        raise SystemExit("usage: python -m prefstream_cli.tools schemas|asyncapi DIR")
    if argv[0] == "config-reference":
        Path(argv[1]).write_text(render_reference())
        print(argv[1])
        return
    target = Path(argv[1])
    target.mkdir(parents=True, exist_ok=True)
    documents = schema_documents() if argv[0] == "schemas" else asyncapi_documents()
    for name, text in documents.items():
        (target / name).write_text(text)
        print(target / name)


if __name__ == "__main__":
    main(sys.argv[1:])
