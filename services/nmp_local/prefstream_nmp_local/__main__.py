"""``python -m prefstream_nmp_local [--host H] [--port N] [--data-dir DIR]``.

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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = NmpLocalSettings.from_env(
        host=args.host, port=args.port, data_dir=args.data_dir, log_level=args.log_level
    )
    serve(settings, port_file=args.port_file)
    return 0


if __name__ == "__main__":
    sys.exit(main())
