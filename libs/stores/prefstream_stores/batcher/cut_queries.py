"""The queries a cut runs over the stored pairs: what is pending, the counts that decide a
cut, the sampling bound, the split summary, per-dataset statistics, and the rows to write.

Each query applies the cut's selection in SQL (:mod:`.selection_sql`), the mirror of the
pure rules in ``prefstream_datasets``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
from prefstream_datasets import (
    UNKNOWN_POLICY,
    CutSpec,
    Selection,
    SplitSummary,
    fraction_threshold,
)

from prefstream_stores.batcher.connection import Connection, first_row
from prefstream_stores.batcher.schema import SCORE_COLUMNS
from prefstream_stores.batcher.selection_sql import (
    bound_sql,
    members_query,
    range_sql,
    select_where,
)


@dataclass(frozen=True, slots=True)
class CutCounts:
    considered: int
    duplicates: int
    excluded_policy_models: dict[str, int]
    selected: int
    """Pairs left after dedup and policy filter, before sampling."""


class CutQueries(Connection):
    """Read queries for cuts, all derived from a :class:`CutSpec` or :class:`Selection`."""

    def pending(
        self, starts: Mapping[int, int], *, dedup: bool, policy_filter: Sequence[str] | None
    ) -> tuple[int, float | None]:
        """``(count, oldest received_at)`` of pairs past ``starts`` that a cut would take."""
        lo, lparams = bound_sql(starts, default=0)
        where, wparams = select_where(dedup, policy_filter)
        row = first_row(
            self.con.execute(
                "SELECT count(*), min(received_at) FROM pairs p "
                f"WHERE p.src_offset >= {lo} AND {where}",
                [*lparams, *wparams],
            )
        )
        return int(row[0]), (float(row[1]) if row[1] is not None else None)

    def cut_counts(self, spec: CutSpec) -> CutCounts:
        in_range, params = range_sql(spec)
        policy = "list_contains(?, p.policy_model)" if spec.policy_filter is not None else "true"
        pparams: list[Any] = [spec.policy_filter] if spec.policy_filter is not None else []
        dup = "p.is_dup" if spec.dedup else "false"
        rows = self.con.execute(
            f"SELECT coalesce(p.policy_model, ?), {dup} AS dup, "
            f"coalesce({policy}, false) AS allowed, count(*) "
            f"FROM pairs p WHERE {in_range} GROUP BY ALL",
            [UNKNOWN_POLICY, *pparams, *params],
        ).fetchall()
        considered = duplicates = selected = 0
        excluded: dict[str, int] = {}
        for model, is_dup, allowed, n in rows:
            considered += n
            if is_dup:
                duplicates += n
            elif allowed:
                selected += n
            else:
                excluded[str(model)] = excluded.get(str(model), 0) + n
        return CutCounts(considered, duplicates, dict(sorted(excluded.items())), selected)

    def trace_links(self, spec: CutSpec, limit: int) -> list[str]:
        """The ``traceparent`` of at most ``limit`` pairs of the cut's offset ranges, spread
        evenly over them in arrival order (for the links of the dataset's span)."""
        in_range, params = range_sql(spec)
        rows = self.con.execute(
            "SELECT traceparent FROM (SELECT traceparent, "
            "row_number() OVER (ORDER BY seq) - 1 AS i, count(*) OVER () AS n "
            f"FROM pairs p WHERE {in_range} AND traceparent IS NOT NULL) "
            # Row k of the sample is i = k * n // limit, as prefstream_runtime's evenly().
            "WHERE (i * ? + n - 1) // n < ? AND (i * ? + n - 1) // n * n // ? = i ORDER BY i",
            [*params, limit, limit, limit, limit],
        ).fetchall()
        return [str(r[0]) for r in rows]

    def sample_bound(self, spec: CutSpec, keep: int) -> tuple[int, str] | None:
        """The largest ``(sample_key, pair_id)`` among the ``keep`` smallest; see sampling."""
        selection = Selection(spec)
        query, params = members_query(
            selection,
            "p.pair_id",
            "md5_number_upper(concat(?, ':', p.pair_id)) AS sk",
            extra_params=[str(spec.seed)],
            with_side=False,
        )
        row = first_row(
            self.con.execute(
                f"SELECT sk, pair_id FROM ({query}) ORDER BY sk, pair_id LIMIT 1 OFFSET ?",
                [*params, keep - 1],
            )
        )
        return (int(row[0]), str(row[1])) if row is not None else None

    def split_summary(self, selection: Selection) -> SplitSummary:
        thr = fraction_threshold(selection.spec.validation_fraction)
        query, params = members_query(
            selection,
            "p.pair_id",
            "p.example_id",
            "md5_number_upper(p.example_id) AS eb",
            "md5_number_upper(p.pair_id) AS pb",
            with_side=False,
        )
        row = first_row(
            self.con.execute(
                f"SELECT count(*), count(*) FILTER (eb < ?::HUGEINT), "
                "min(example_id) = max(example_id), "
                "arg_min(example_id, (eb, example_id)), arg_max(example_id, (eb, example_id)), "
                "count(*) FILTER (pb < ?::HUGEINT), "
                f"arg_min(pair_id, (pb, pair_id)), arg_max(pair_id, (pb, pair_id)) FROM ({query})",
                [thr, thr, *params],
            )
        )
        assert row is not None
        return SplitSummary(
            rows=int(row[0]),
            validation_rows=int(row[1]),
            single_example=bool(row[2]),
            lowest_example=row[3],
            highest_example=row[4],
            pair_validation_rows=int(row[5]),
            lowest_pair=row[6],
            highest_pair=row[7],
        )

    def side_counts(self, selection: Selection) -> dict[str, int]:
        query, params = members_query(selection, "p.pair_id")
        rows = self.con.execute(
            f"SELECT side, count(*) FROM ({query}) GROUP BY side", params
        ).fetchall()
        counts = {"training": 0, "validation": 0}
        for side, n in rows:
            counts["validation" if side == 1 else "training"] += int(n)
        return counts

    def policy_counts(self, selection: Selection) -> dict[str, int]:
        query, params = members_query(
            selection, f"coalesce(p.policy_model, '{UNKNOWN_POLICY}') AS model", with_side=False
        )
        rows = self.con.execute(
            f"SELECT model, count(*) FROM ({query}) GROUP BY model ORDER BY model", params
        ).fetchall()
        return {str(m): int(n) for m, n in rows}

    def score_stats(self, selection: Selection) -> dict[str, dict[str, float | None]]:
        cols = ", ".join(f"p.{c}" for c in SCORE_COLUMNS)
        query, params = members_query(selection, cols, with_side=False)
        aggs = ", ".join(f"min({c}), max({c}), avg({c})" for c in SCORE_COLUMNS)
        row = first_row(self.con.execute(f"SELECT {aggs} FROM ({query})", params))
        assert row is not None
        return {
            c: {"min": row[3 * i], "max": row[3 * i + 1], "mean": row[3 * i + 2]}
            for i, c in enumerate(SCORE_COLUMNS)
        }

    @contextlib.contextmanager
    def stream_rows(
        self, selection: Selection, columns: Sequence[str], batch_rows: int = 8192
    ) -> Iterator[Iterator[pa.RecordBatch]]:
        """The cut's rows in arrival order, as Arrow batches of ``side`` plus ``columns``.

        ``side`` is 0 for training and 1 for validation; a dataset whose split duplicates
        its single pair yields that pair once per side. No sort: a filtered scan of an
        append-only table returns rows in insertion order, and streams in bounded memory.

        A context manager, so the reader is closed however the caller leaves: an open
        result makes DuckDB refuse every later query on the connection, and a caller that
        failed mid-scan (disk full) would otherwise keep it open for as long as anything
        holds its traceback.
        """
        cols = ", ".join(f"p.{c}" for c in columns)
        query, params = members_query(selection, cols)
        reader = self.con.sql(query, params=params).to_arrow_reader(batch_rows)
        try:
            yield iter(reader)
        finally:
            reader.close()
