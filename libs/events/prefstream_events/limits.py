"""Size limits shared by the models and the byte-level decoders."""

MAX_ID_CHARS = 512
"""Ids are keys and file names; anything longer is a bug upstream, not data."""

MAX_TEXT_CHARS = 1_000_000
"""A prompt or response above a million characters is rejected by the model itself."""

DEFAULT_MAX_RECORD_BYTES = 1_048_576
"""Default cap on one Kafka record; configurable per service (``kafka.max_record_bytes``)."""

MAX_INDEX = 2**63 - 1
"""Indices are stored as 64-bit integers (DuckDB BIGINT); anything larger is not an index."""

BROKER_DEFAULT_MESSAGE_MAX_BYTES = 1_048_588
"""Apache Kafka's default ``message.max.bytes`` (and a topic's ``max.message.bytes``)."""

DEADLETTER_MAX_BYTES = BROKER_DEFAULT_MESSAGE_MAX_BYTES - 64 * 1024
"""Most bytes of an encoded dead letter's value, so that it fits a broker and topic with
default limits whatever the record was: 64 KiB are left for the key, headers and batch
framing. The producers of every service allow larger requests (aiokafka's default
``max_request_size`` is 1 MiB), so this is the tighter of the two bounds."""

DEADLETTER_MAX_KEY_BYTES = 1024
"""A dead letter keeps at most this much of its record's key (it is also its Kafka key)."""


def max_pair_bytes(max_record_bytes: int) -> int:
    """Most bytes of one pair record (or of a dead letter of one): a pair holds one prompt
    and two responses, each from a candidate record of at most ``max_record_bytes``, so
    three records plus 64 KiB of framing bound it; never below 4 MiB. The pairs topic is
    created with this ``max.message.bytes`` and producers allow requests this large, so a
    valid pair is never refused by the broker (a refused pair would rewind its batch for
    ever)."""
    return max(3 * max_record_bytes + 64 * 1024, 4 * 1024 * 1024)
