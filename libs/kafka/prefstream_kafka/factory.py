"""One place that turns ``kafka:`` config into FastStream brokers and consumer options."""

from __future__ import annotations

import ssl
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.security import BaseSecurity, SASLPlaintext, SASLScram256, SASLScram512
from prefstream_config import KafkaConfig

EMBEDDED_HOST = "127.0.0.1"


def bootstrap_servers(kafka: KafkaConfig) -> str:
    """Configured servers, or the embedded broker's address when none are configured."""
    return kafka.bootstrap_servers or f"{EMBEDDED_HOST}:{kafka.embedded_port}"


def is_embedded(kafka: KafkaConfig) -> bool:
    return kafka.bootstrap_servers is None


def security(kafka: KafkaConfig) -> BaseSecurity | None:
    """SASL/TLS settings passed through to aiokafka; ``None`` for plaintext."""
    use_ssl = kafka.security_protocol in {"SSL", "SASL_SSL"}
    context: ssl.SSLContext | None = None
    if use_ssl:
        context = ssl.create_default_context(cafile=kafka.ssl_cafile)
        if kafka.ssl_certfile:
            context.load_cert_chain(kafka.ssl_certfile, kafka.ssl_keyfile)
    if kafka.security_protocol.startswith("SASL"):
        if not kafka.sasl_username or kafka.sasl_password is None:
            raise ValueError(
                "kafka.security_protocol is SASL_* but kafka.sasl_username/sasl_password are "
                "not set: set both (e.g. PREFSTREAM__KAFKA__SASL_PASSWORD)."
            )
        user, password = kafka.sasl_username, kafka.sasl_password.get_secret_value()
        mechanisms: dict[str | None, type[SASLPlaintext | SASLScram256 | SASLScram512]] = {
            None: SASLPlaintext,
            "PLAIN": SASLPlaintext,
            "SCRAM-SHA-256": SASLScram256,
            "SCRAM-SHA-512": SASLScram512,
        }
        return mechanisms[kafka.sasl_mechanism](
            username=user, password=password, ssl_context=context, use_ssl=use_ssl
        )
    if use_ssl:
        return BaseSecurity(ssl_context=context, use_ssl=True)
    return None


def client_options(kafka: KafkaConfig) -> dict[str, Any]:
    """Connection keyword arguments for plain aiokafka clients (admin, ad-hoc consumers)."""
    sec = security(kafka)
    password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else None
    return {
        "bootstrap_servers": bootstrap_servers(kafka),
        "security_protocol": kafka.security_protocol,
        "sasl_mechanism": kafka.sasl_mechanism or "PLAIN",
        "sasl_plain_username": kafka.sasl_username,
        "sasl_plain_password": password,
        "ssl_context": sec.ssl_context if sec else None,
        "request_timeout_ms": kafka.request_timeout_ms,
    }


def make_broker(kafka: KafkaConfig, *, client_id: str | None = None, **options: Any) -> KafkaBroker:
    """A FastStream broker for ``kafka``. Never idempotent or transactional (Tansu rejects both).

    ``max_batch_size`` is raised from FastStream's 16 KB so ``publish_batch`` of normal
    pair batches does not overflow into an endless redelivery loop.
    """
    params: dict[str, Any] = {
        "client_id": client_id or kafka.client_id,
        "security": security(kafka),
        "max_request_size": max(kafka.max_record_bytes + 4096, 1024 * 1024),
        "max_batch_size": 1024 * 1024,
        "linger_ms": 5,
        "enable_idempotence": False,
        "logger": None,
    }
    params.update(options)
    return KafkaBroker(bootstrap_servers(kafka), **params)


def raw_body(message: Any) -> Any:
    """FastStream decoder that skips JSON decoding: handlers validate the bytes themselves
    (msgspec/pydantic), so bad records reach the dead-letter topic with a reason."""
    return message.body


def consumer_options(kafka: KafkaConfig) -> dict[str, Any]:
    """Subscriber keyword arguments every prefstream consumer shares."""
    return {
        "session_timeout_ms": kafka.session_timeout_ms,
        "heartbeat_interval_ms": min(kafka.heartbeat_interval_ms, kafka.session_timeout_ms // 3),
        "auto_offset_reset": "earliest",
        "max_partition_fetch_bytes": max(kafka.max_record_bytes + 4096, 1024 * 1024),
        "fetch_max_bytes": max(kafka.max_record_bytes * 4, 50 * 1024 * 1024),
    }
