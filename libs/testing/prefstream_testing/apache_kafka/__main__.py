"""``python -m prefstream_testing.apache_kafka fetch|start|info``.

``fetch`` fills the jar cache (for CI warm-up), ``start`` runs a broker in the foreground
until Ctrl-C, ``info`` prints the resolved paths. Exit codes: 0 ok, 1 broker died,
2 a missing tool or a failed fetch/start (the message says what to do).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from prefstream_kafka.local_brokers.errors import LocalBrokerError

from prefstream_testing.apache_kafka.fetch import (
    cached_jars,
    default_kafka_version,
    fetch_kafka,
    kafka_cache_root,
)
from prefstream_testing.apache_kafka.launcher import ApacheKafka, find_java

DATA_ENV = "PREFSTREAM_KAFKA_DATA"


def _default_data_dir() -> Path:
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override).expanduser()
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "prefstream" / "apache-kafka"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="apache-kafka",
        description="Local single-node Apache Kafka (KRaft) for prefstream development.",
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--version",
        dest="kafka_version",
        default=None,
        help=f"Kafka version (default: $PREFSTREAM_KAFKA_VERSION or {default_kafka_version()})",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "fetch", parents=[common], help="download the jars into the cache (no-op when cached)"
    )
    sub.add_parser("info", parents=[common], help="print cache, data dir and tool paths")
    start = sub.add_parser(
        "start", parents=[common], help="run a broker in the foreground until Ctrl-C"
    )
    start.add_argument(
        "--dir",
        type=Path,
        default=None,
        help=f"data directory (default: ${DATA_ENV} or ~/.local/share/prefstream/apache-kafka)",
    )
    start.add_argument("--port", type=int, default=None, help="client port (default: free)")
    start.add_argument("--controller-port", type=int, default=None)
    start.add_argument(
        "--fresh", action="store_true", help="delete the data directory first (new cluster)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    version: str = args.kafka_version or default_kafka_version()
    try:
        if args.command == "fetch":
            started = time.monotonic()
            cached = cached_jars(version) is not None
            jars = fetch_kafka(version)
            how = "cached" if cached else f"fetched in {time.monotonic() - started:.1f}s"
            print(f"Apache Kafka {version} jars ({how}): {jars}")
            return 0
        if args.command == "info":
            print(f"version:   {version}")
            cached = cached_jars(version) is not None
            print(f"cache:     {kafka_cache_root() / version} (cached: {cached})")
            print(f"data dir:  {_default_data_dir()}")
            print(f"mvn:       {shutil.which('mvn')}")
            print(f"java:      {find_java()}")
            return 0
        data_dir: Path = args.dir or _default_data_dir()
        if args.fresh and data_dir.exists():
            shutil.rmtree(data_dir)
        broker = ApacheKafka(
            data_dir,
            port=args.port,
            controller_port=args.controller_port,
            version=args.kafka_version,
        )
        return broker.run_forever()
    except LocalBrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
