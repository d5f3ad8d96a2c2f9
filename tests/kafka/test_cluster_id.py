"""The local Apache Kafka's cluster id is never read as an option by ``kafka-storage``."""

from __future__ import annotations

import uuid

import pytest
from prefstream_testing.apache_kafka import launcher


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    dash_first = uuid.UUID(bytes=b"\xfb" + b"\x00" * 15)  # base64 "-w…"
    draws = iter([dash_first, uuid.UUID(int=1)])
    monkeypatch.setattr(uuid, "uuid4", lambda: next(draws))  # the module launcher calls
    cluster_id = launcher.new_cluster_id()
    assert cluster_id == "AAAAAAAAAAAAAAAAAAAAAQ"
    assert not cluster_id.startswith("-")
