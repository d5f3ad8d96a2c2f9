"""The testing wing: code that only tests, benchmarks and scripts use.

- :mod:`prefstream_testing.apache_kafka`: Apache Kafka 4.x from Maven Central, run locally
  (the durable broker of the tests; ``scripts/apache-kafka.sh`` runs it by hand).
- :mod:`prefstream_testing.kafka`: short group timeouts for tests, a batched keyed
  producer, and a group-less reader of a whole topic.
- :mod:`prefstream_testing.synthetic`: seeded synthetic CandidateEvents.
- :mod:`prefstream_testing.reference_cut`: the whole cut in memory, the reference the
  batcher's SQL path must agree with.
- :mod:`prefstream_testing.strategies`: Hypothesis strategies for PairEvents.

Runtime code (every other ``prefstream_*`` library and service) never imports it; an
import-linter contract says so. Import the submodules; this module imports nothing.
"""
