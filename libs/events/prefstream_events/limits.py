"""Size limits shared by the models and the byte-level decoders."""

MAX_ID_CHARS = 512
"""Ids are keys and file names; anything longer is a bug upstream, not data."""

MAX_TEXT_CHARS = 1_000_000
"""A prompt or response above a million characters is rejected by the model itself."""

DEFAULT_MAX_RECORD_BYTES = 1_048_576
"""Default cap on one Kafka record; configurable per service (``kafka.max_record_bytes``)."""

MAX_INDEX = 2**63 - 1
"""Indices are stored as 64-bit integers (DuckDB BIGINT); anything larger is not an index."""
