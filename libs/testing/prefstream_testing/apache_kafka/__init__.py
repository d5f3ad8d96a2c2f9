"""Apache Kafka 4.x from Maven Central, run locally in KRaft mode (the durable broker of
the tests; nothing at runtime uses it: ``prefstream broker`` runs Tansu).

``python -m prefstream_testing.apache_kafka fetch|start`` is the command line used
by ``scripts/apache-kafka.sh``.
"""

from prefstream_testing.apache_kafka.fetch import (
    CACHE_ENV,
    DEFAULT_KAFKA_VERSION,
    VERSION_ENV,
    cached_jars,
    default_kafka_version,
    fetch_kafka,
    kafka_cache_root,
)
from prefstream_testing.apache_kafka.launcher import (
    DEFAULT_JVM_OPTS,
    ApacheKafka,
    find_java,
    new_cluster_id,
    server_properties,
)

__all__ = [
    "CACHE_ENV",
    "DEFAULT_JVM_OPTS",
    "DEFAULT_KAFKA_VERSION",
    "VERSION_ENV",
    "ApacheKafka",
    "cached_jars",
    "default_kafka_version",
    "fetch_kafka",
    "find_java",
    "kafka_cache_root",
    "new_cluster_id",
    "server_properties",
]
