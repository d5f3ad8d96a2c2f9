"""``python -m prefstream_nmp_local [--host H] [--port N] [--data-dir DIR]``, and
``python -m prefstream_nmp_local add-model DIR --name NS/NAME [--url URL]``.

``main(argv)`` is also what ``prefstream nmp-local`` calls. Flags win over ``NMP_LOCAL_*``
env vars, which win over defaults.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from prefstream_nmp_local.server import serve
from prefstream_nmp_local.settings import NmpLocalSettings


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nmp-local", description="A local stand-in for the NeMo platform APIs."
    )
    p.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8000; 0 = any free port)")
    p.add_argument("--data-dir", type=Path, help="state directory (default data/nmp-local)")
    p.add_argument("--log-level", help="uvicorn log level (default warning)")
    p.add_argument("--port-file", type=Path, help="write the bound port here once serving")
    return p


def build_add_model_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nmp-local add-model",
        description="Upload a local model directory to a running nmp-local and register it "
        "(Entity Store model + DPO customization config NS/NAME@local).",
    )
    p.add_argument("directory", type=Path, help="model directory (config, weights, tokenizer)")
    p.add_argument("--name", required=True, help="NAMESPACE/NAME of the model")
    p.add_argument(
        "--url", help="nmp-local base URL (default http://NMP_LOCAL_HOST:NMP_LOCAL_PORT)"
    )
    return p


def add_model(argv: Sequence[str]) -> int:
    args = build_add_model_parser().parse_args(argv)
    from prefstream_nmp_local.model_registration import RegistrationError, register_local_model

    settings = NmpLocalSettings.from_env()
    url = args.url or f"http://{settings.host}:{settings.port}"
    try:
        model = register_local_model(url, args.directory, args.name)
    except RegistrationError as exc:
        print(f"add-model: {exc}", file=sys.stderr)
        return 2
    print(
        f"registered {model.name}: {model.files_url}@{model.commit[:12]}, "
        f"{model.num_parameters} parameters, context {model.context_size}, "
        f"customization config {model.customization_config}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["add-model"]:
        return add_model(argv[1:])
    args = build_parser().parse_args(argv)
    settings = NmpLocalSettings.from_env(
        host=args.host, port=args.port, data_dir=args.data_dir, log_level=args.log_level
    )
    serve(settings, port_file=args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
