"""Pairing keeps each candidate's trace only when tracing: a pair's span is a child of its
chosen candidate and links both candidates; its record carries the span's traceparent."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prefstream_pairing import PairingOptions
from prefstream_pairing_service.handler import _traced_pairs
from prefstream_pairing_service.processor import Processor
from prefstream_runtime.trace_headers import span_context_from, traceparent, traceparent_of
from prefstream_stores.pairing import PairingStore
from prefstream_testing.kafka import Record

T0 = 1_700_000_000_000


@dataclass
class TracedRecord(Record):
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def candidate(idx: int, score: float, tp: str | None) -> TracedRecord:
    doc = {
        "example_id": "ex",
        "turn_id": "t",
        "turn_index": 0,
        "candidate_index": idx,
        "input": "prompt",
        "output": f"out-{idx}",
        "score": score,
        "num_candidates": 2,
    }
    headers = [("traceparent", tp.encode())] if tp else []
    return TracedRecord("c", 0, idx, T0, b"ex", json.dumps(doc).encode(), headers)


def processor(path: Path, *, traced: bool) -> Processor:
    return Processor(
        PairingOptions(),
        PairingStore(path),
        inactivity_gap_s=1000.0,
        max_age_s=10_000.0,
        late_policy="pair",
        max_record_bytes=1 << 20,
        traced=traced,
    )


def provider() -> tuple[TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    p = TracerProvider()
    p.add_span_processor(SimpleSpanProcessor(exporter))
    return p, exporter


def candidate_traces() -> tuple[str, str]:
    p, _ = provider()
    tracer = p.get_tracer("agent")
    out = []
    for name in ("rejected", "chosen"):
        with tracer.start_as_current_span(name):
            tp = traceparent()
            assert tp is not None
            out.append(tp)
    return out[0], out[1]


def test_traced_processor_keeps_both_candidates_traces(tmp_path: Path) -> None:
    low, high = candidate_traces()
    fx = processor(tmp_path / "p.duckdb", traced=True).process(
        [candidate(0, 0.1, low), candidate(1, 0.9, high)], T0, 0.0
    )
    assert len(fx.pairs) == 1
    assert fx.pair_traces == [(high, low)]


def test_untraced_processor_ignores_headers(tmp_path: Path) -> None:
    low, high = candidate_traces()
    fx = processor(tmp_path / "p.duckdb", traced=False).process(
        [candidate(0, 0.1, low), candidate(1, 0.9, high)], T0, 0.0
    )
    assert len(fx.pairs) == 1
    assert fx.pair_traces == []


def test_pair_span_is_a_child_of_chosen_and_links_both(tmp_path: Path) -> None:
    low, high = candidate_traces()
    fx = processor(tmp_path / "p.duckdb", traced=True).process(
        [candidate(0, 0.1, low), candidate(1, 0.9, high)], T0, 0.0
    )
    p, exporter = provider()
    [(key, _, headers)] = _traced_pairs(p.get_tracer("pairing"), fx, [("ce_type", b"x")])
    assert key == b"ex"
    [span] = exporter.get_finished_spans()
    chosen, rejected = span_context_from(high), span_context_from(low)
    assert chosen is not None
    assert rejected is not None
    assert span.parent is not None
    assert span.parent.span_id == chosen.span_id
    assert span.context.trace_id == chosen.trace_id
    assert {(ln.context.trace_id, ln.context.span_id) for ln in span.links} == {
        (chosen.trace_id, chosen.span_id),
        (rejected.trace_id, rejected.span_id),
    }
    assert span.attributes is not None
    assert span.attributes["prefstream.pair_id"] == fx.pairs[0].pair_id
    sent = span_context_from(traceparent_of(headers))
    assert sent is not None
    assert sent.span_id == span.context.span_id
    assert ("ce_id", fx.pairs[0].pair_id.encode()) in headers


def test_pair_without_candidate_traces_starts_its_own(tmp_path: Path) -> None:
    fx = processor(tmp_path / "p.duckdb", traced=True).process(
        [candidate(0, 0.1, None), candidate(1, 0.9, None)], T0, 0.0
    )
    p, exporter = provider()
    [(_, _, headers)] = _traced_pairs(p.get_tracer("pairing"), fx, [])
    [span] = exporter.get_finished_spans()
    assert span.parent is None
    assert not span.links
    assert traceparent_of(headers) is not None


def unsampled(tp: str) -> str:
    """The same context with the sampled flag off (an agent that sampled it out)."""
    return tp[:-2] + "00"


@pytest.mark.parametrize(
    ("chosen_sampled", "rejected_trace"),
    [(False, "sampled"), (False, "unsampled"), (False, None), (None, "unsampled")],
    ids=["chosen-out-rejected-in", "both-out", "rejected-untraced", "chosen-untraced"],
)
def test_a_pair_under_an_unsampled_parent_is_not_recorded_and_keeps_its_context(
    tmp_path: Path, chosen_sampled: bool | None, rejected_trace: str | None
) -> None:
    """Sampling follows the parent (the chosen candidate, else the rejected one): under a
    parent that is not sampled no span is made, and the pair carries that parent's
    context, flag off, so everything after it stays out of the sample too."""
    low, high = candidate_traces()
    chosen_tp = None if chosen_sampled is None else unsampled(high)
    rejected_tp = {"sampled": low, "unsampled": unsampled(low), None: None}[rejected_trace]
    fx = processor(tmp_path / "p.duckdb", traced=True).process(
        [candidate(0, 0.1, rejected_tp), candidate(1, 0.9, chosen_tp)], T0, 0.0
    )
    p, exporter = provider()
    [(key, _, headers)] = _traced_pairs(p.get_tracer("pairing"), fx, [("ce_type", b"x")])
    assert exporter.get_finished_spans() == ()
    parent = span_context_from(chosen_tp or rejected_tp)
    assert parent is not None
    sent = span_context_from(traceparent_of(headers))
    assert sent is not None
    assert (sent.trace_id, sent.span_id, sent.trace_flags.sampled) == (
        parent.trace_id,
        parent.span_id,
        False,
    )
    assert headers[:2] == [("ce_type", b"x"), ("ce_id", fx.pairs[0].pair_id.encode())]
    assert key == b"ex"
