"""Checked-in JSON Schemas match the models, and CloudEvents headers round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from prefstream_events import ce_headers, parse_ce_headers
from prefstream_events.cloudevents import as_kafka_headers
from prefstream_events.schemas import schema_documents

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


@pytest.mark.parametrize("name", sorted(schema_documents()))
def test_checked_in_schema_matches_model(name: str) -> None:
    path = SCHEMAS / name
    assert path.exists(), f"{path} missing: run `make schemas`"
    assert path.read_text() == schema_documents()[name], (
        f"{path} is stale: the model changed. Run `make schemas` and commit the result."
    )


def test_no_stray_schema_files() -> None:
    assert {p.name for p in SCHEMAS.glob("*.json")} == set(schema_documents())


def test_ce_headers_round_trip_through_kafka_bytes() -> None:
    headers = ce_headers("CandidateEvent", "prefstream/test", subject="ex-1")
    attrs = parse_ce_headers(as_kafka_headers(headers))
    assert attrs.type == "dev.prefstream.candidate.v1"
    assert attrs.source == "prefstream/test"
    assert attrs.specversion == "1.0"
    assert attrs.subject == "ex-1"
    assert attrs.time.endswith("Z")
    assert len({ce_headers("PairEvent", "s")["ce_id"] for _ in range(100)}) == 100


def test_missing_required_header_is_named() -> None:
    headers = ce_headers("PairEvent", "s")
    del headers["ce_source"]
    with pytest.raises(KeyError, match="ce_source"):
        parse_ce_headers(headers)
