"""Vectorized line assembly: a template applied to whole Arrow columns of fragments.

This is what makes a million-row cut cheap: Arrow concatenates the fragments in C++ and the
result's data buffer *is* the bytes of the lines, written and hashed without a Python loop.
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa  # type: ignore[import-untyped]
import pyarrow.compute as pc  # type: ignore[import-untyped]

from prefstream_datasets.rows import (
    EMPTY_MESSAGES,
    EMPTY_TEXT,
    Fragment,
    Template,
    stored_source,
)


def _column(fragment: Fragment, columns: Mapping[Fragment, pa.Array]) -> pa.Array:
    column = columns[stored_source(fragment)]
    if column.null_count:
        raise ValueError(f"fragment {fragment.value} has {column.null_count} nulls")
    column = column.cast(pa.large_string())
    if fragment is Fragment.PROMPT_HISTORY:
        empty = pc.equal(column, pa.scalar(EMPTY_MESSAGES, pa.large_string()))
        column = pc.if_else(empty, pa.scalar(EMPTY_TEXT, pa.large_string()), column)
    return column


def render_lines(tpl: Template, columns: Mapping[Fragment, pa.Array]) -> pa.LargeStringArray:
    """One line per row; ``columns`` holds the stored fragments ``tpl`` uses, without nulls."""
    parts: list[pa.Array | pa.Scalar] = []
    for part in tpl:
        if isinstance(part, Fragment):
            parts.append(_column(part, columns))
        else:
            parts.append(pa.scalar(part, pa.large_string()))
    if not any(isinstance(p, pa.Array) for p in parts):
        raise ValueError("a template needs at least one fragment")
    lines = pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string()))
    assert isinstance(lines, pa.LargeStringArray)
    return lines


def contiguous_bytes(lines: pa.LargeStringArray) -> memoryview:
    """The UTF-8 bytes of all values back to back (no copy)."""
    if len(lines) == 0:
        return memoryview(b"")
    if lines.null_count:
        raise ValueError("lines must not contain nulls")
    _, offsets_buf, data_buf = lines.buffers()
    assert offsets_buf is not None
    assert data_buf is not None
    offsets = memoryview(offsets_buf).cast("q")
    start = int(offsets[lines.offset])
    end = int(offsets[lines.offset + len(lines)])
    return memoryview(data_buf)[start:end]
