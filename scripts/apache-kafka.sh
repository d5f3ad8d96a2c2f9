#!/usr/bin/env bash
# Local single-node Apache Kafka 4.x (KRaft) for prefstream: jars from Maven Central,
# Java 17 from PATH (or JAVA_HOME). Thin wrapper over the Python launcher of the tests
# (prefstream_testing.apache_kafka).
#
#   scripts/apache-kafka.sh fetch                  # fill the jar cache (CI warm-up)
#   scripts/apache-kafka.sh start [--dir D] [--port P] [--fresh]   # foreground, Ctrl-C stops
#   scripts/apache-kafka.sh info                   # print cache/data/tool paths
#
# Env: PREFSTREAM_KAFKA_VERSION (default in fetch.py), PREFSTREAM_KAFKA_CACHE (jar cache
# root, default ~/.cache/prefstream/kafka), PREFSTREAM_KAFKA_DATA (default data dir),
# PYTHON (interpreter; default: the repo's .venv).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-$root/.venv/bin/python}"
if [[ ! -x "$python" ]]; then
  echo "apache-kafka.sh: $python not found: create the venv first (uv sync) or set PYTHON" >&2
  exit 2
fi
exec "$python" -m prefstream_testing.apache_kafka "$@"
