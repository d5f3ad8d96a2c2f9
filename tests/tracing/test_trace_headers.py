"""W3C trace context in Kafka headers and the links a span keeps (pure helpers)."""

from __future__ import annotations

import itertools

from hypothesis import given
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from prefstream_runtime.trace_headers import (
    context_from,
    evenly,
    kafka_headers,
    links,
    span_context_from,
    traceparent,
    traceparent_header,
    traceparent_of,
)

TRACER = TracerProvider().get_tracer("test")


def test_a_span_round_trips_through_kafka_headers() -> None:
    with TRACER.start_as_current_span("s") as span:
        headers = kafka_headers()
    names = [name for name, _ in headers]
    assert names == ["traceparent"]
    tp = traceparent_of([("ce_id", b"x"), *headers])
    sc = span_context_from(tp)
    assert sc is not None
    assert sc.is_remote
    assert (sc.trace_id, sc.span_id) == (
        span.get_span_context().trace_id,
        span.get_span_context().span_id,
    )
    assert traceparent(trace.set_span_in_context(span)) == tp


def test_no_span_no_headers() -> None:
    assert kafka_headers() == []
    assert traceparent() is None
    assert traceparent_of(None) is None
    assert traceparent_of([("ce_id", b"x")]) is None


def test_missing_or_malformed_traceparent_is_no_context() -> None:
    assert context_from(None) is None
    assert context_from("") is None
    assert context_from("not-a-traceparent") is None
    assert context_from("00-" + "0" * 32 + "-" + "0" * 16 + "-01") is None  # invalid ids


def test_hostile_header_bytes_are_no_context() -> None:
    """A producer's header is untrusted: invalid UTF-8, NUL bytes, a megabyte, a repeated
    header; none raises on the hot path, none becomes a parent."""
    hostile = [
        b"\xff\xfe\x00" * 10,
        b"\x00" * 55,
        b"00-" + b"a" * 1_000_000,
        "00-\u00e9\u00e9".encode(),
    ]
    for value in hostile:
        parent = traceparent_of([("ce_id", b"x"), ("traceparent", value)])
        assert parent is not None
        assert context_from(parent) is None
        assert span_context_from(parent) is None
    assert traceparent_of([("traceparent", b"\xff"), ("traceparent", b"x")]) == "\ufffd"
    assert traceparent_of(None) is None
    assert links([traceparent_of([("traceparent", v)]) for v in hostile]) == []


def test_evenly_keeps_the_first_and_spreads_the_rest() -> None:
    items = list(range(1000))
    picked = evenly(items, 128)
    assert len(picked) == 128
    assert picked[0] == 0
    gaps = {b - a for a, b in itertools.pairwise(picked)}
    assert gaps <= {7, 8}
    assert evenly(items[:5], 128) == items[:5]


def test_links_are_distinct_valid_and_bounded() -> None:
    tps = []
    for _ in range(10):
        with TRACER.start_as_current_span("s"):
            tps.append(traceparent())
    found = links([*tps, tps[0], None, "garbage"], limit=4)
    assert len(found) == 4
    assert [f"{ln.context.span_id:016x}" for ln in found] == [
        tp.split("-")[2] for tp in evenly([t for t in tps if t], 4)
    ]
    assert len(links([*tps, *tps])) == 10


def _propagators_span_context(tp: str) -> object:
    ctx = context_from(tp)
    return None if ctx is None else trace.get_current_span(ctx).get_span_context()


_hex = st.text("0123456789abcdefABCDEF", min_size=0, max_size=34)


def _ids(size: int) -> st.SearchStrategy[str]:
    """Mostly ids of the right length (zero included), sometimes anything hex-like."""
    exact = st.text("0123456789abcdef", min_size=size, max_size=size)
    return st.one_of(exact, st.just("0" * size), _hex)


@given(
    st.one_of(
        st.builds(
            "{}-{}-{}-{}{}".format,
            st.sampled_from(["00", "01", "ff", "0", " 00"]),
            _ids(32),
            _ids(16),
            st.sampled_from(["00", "01", "02", "ff", "1", "0g"]),
            st.sampled_from(["", "-x", " ", "\n"]),
        ),
        st.text(max_size=60),
    )
)
def test_the_fast_path_reads_a_traceparent_as_the_propagator_does(tp: str) -> None:
    assert span_context_from(tp) == _propagators_span_context(tp)


def test_the_fast_path_reads_well_formed_headers_as_the_propagator_does() -> None:
    for tp in (
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03",
        "00-" + "0" * 32 + "-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-" + "0" * 16 + "-01",
        "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
    ):
        assert span_context_from(tp) == _propagators_span_context(tp), tp


def test_traceparent_header_writes_what_it_was_read_from() -> None:
    for tp in (
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
    ):
        sc = span_context_from(tp)
        assert sc is not None
        assert traceparent_header(sc) == ("traceparent", tp.encode())
