"""The batcher's DuckDB file: every pair it consumed, the cut ledger, and dataset membership.

One writer process owns the file (DuckDB locks it against every other process, readers
included). Pairs are stored once (``INSERT OR IGNORE`` on the 128-bit MD5 of ``pair_id`` in
``pair_keys``) with their offsets in the pairs topic and their row fragments already
JSON-encoded, so a cut is one scan. ``pairs`` itself has no index and is only appended to,
so its physical order is arrival order (``seq``) and a scan returns rows in that order.
The key tables are what grows in memory: DuckDB keeps ART indexes resident, about 50 MB
per million keys each, so budget ~100 MB of ``duckdb_memory_limit`` per million pairs.

A cut is a ledger row holding, per partition, the offset range ``[start, end)`` it
covers plus the parameters that pick its pairs; every query about a cut is derived from
that row, so the same row always yields the same pairs, split and order.

Content dedup (``deduplicate_pairs``) is decided on arrival: ``contents`` remembers every
``content_hash`` seen, and later pairs with a known hash are stored with ``is_dup`` set.
First occurrence therefore means first *consumed*.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa  # type: ignore[import-untyped]
from prefstream_datasets import UNKNOWN_POLICY, SplitRule, SplitSummary, fraction_threshold

SCHEMA = """
CREATE TABLE IF NOT EXISTS pairs (
    seq BIGINT NOT NULL,
    pair_id VARCHAR NOT NULL,
    content_hash VARCHAR NOT NULL,
    is_dup BOOLEAN NOT NULL,
    example_id VARCHAR NOT NULL,
    policy_model VARCHAR,
    src_partition INTEGER NOT NULL,
    src_offset BIGINT NOT NULL,
    received_at DOUBLE NOT NULL,
    chosen_score DOUBLE NOT NULL,
    rejected_score DOUBLE NOT NULL,
    score_diff DOUBLE NOT NULL,
    reward DOUBLE NOT NULL,
    prompt_text VARCHAR NOT NULL,
    prompt_messages VARCHAR NOT NULL,
    chosen VARCHAR NOT NULL,
    rejected VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS pair_keys (k UHUGEINT PRIMARY KEY, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS contents (k UHUGEINT PRIMARY KEY, seq BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    src_partition INTEGER PRIMARY KEY,
    next_offset BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS datasets (
    sequence INTEGER PRIMARY KEY,
    name VARCHAR NOT NULL,
    state VARCHAR NOT NULL,
    spec VARCHAR NOT NULL,
    dataset_id VARCHAR,
    event VARCHAR,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS dataset_pairs (
    sequence INTEGER NOT NULL,
    pair_id VARCHAR NOT NULL,
    side VARCHAR NOT NULL
);
"""

PAIR_COLUMNS = (
    "seq",
    "pair_id",
    "content_hash",
    "is_dup",
    "example_id",
    "policy_model",
    "src_partition",
    "src_offset",
    "received_at",
    "chosen_score",
    "rejected_score",
    "score_diff",
    "reward",
    "prompt_text",
    "prompt_messages",
    "chosen",
    "rejected",
)
CUT_SCAN_BUDGET = 64 * 1024 * 1024
"""Bytes of DuckDB cache a cut may use beyond resident memory (see ``scan_budget``)."""

_UNITS = {
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}


def parse_size(text: str) -> int:
    """Bytes in a DuckDB size such as ``256MB`` (decimal) or ``1GiB`` (binary)."""
    value = text.strip().lower().replace(" ", "")
    number = value.rstrip("abcdefghijklmnopqrstuvwxyz")
    unit = value[len(number) :] or "b"
    if unit not in _UNITS or not number:
        raise ValueError(f"not a size: {text!r} (use e.g. 256MB or 1GiB)")
    return int(float(number) * _UNITS[unit])


FRAGMENT_COLUMNS = ("prompt_text", "prompt_messages", "chosen", "rejected")
SCORE_COLUMNS = ("chosen_score", "rejected_score", "score_diff", "reward")


@dataclass(frozen=True, slots=True)
class PairRow:
    """One pair as the batcher keeps it: identity, provenance, scores, JSON fragments."""

    pair_id: str
    content_hash: str
    example_id: str
    policy_model: str | None
    src_partition: int
    src_offset: int
    received_at: float
    chosen_score: float
    rejected_score: float
    score_diff: float
    reward: float
    prompt_text: str
    prompt_messages: str
    chosen: str
    rejected: str


class DatasetState(StrEnum):
    DECIDED = "decided"
    """Cut decided and recorded; files not yet in place."""
    RESTORED = "restored"
    """Known from an earlier announcement (datasets topic); files may need rebuilding."""
    WRITTEN = "written"
    """Files and manifest in place; ``event`` holds the DatasetReady to publish."""
    ANNOUNCED = "announced"


@dataclass(frozen=True, slots=True)
class CutSpec:
    """Everything that determines a dataset's contents (persisted as JSON)."""

    sequence: int
    name: str
    mode: str
    trigger: str
    created_at: datetime
    starts: dict[int, int]
    ends: dict[int, int]
    dedup: bool
    max_pairs: int | None
    """Sampling cap (cumulative mode); ``None`` keeps every selected pair."""
    seed: int
    validation_fraction: float
    policy_filter: list[str] | None = None
    request_id: str | None = None
    topic: str = ""

    def to_json(self) -> str:
        data = {
            "sequence": self.sequence,
            "name": self.name,
            "mode": self.mode,
            "trigger": self.trigger,
            "created_at": self.created_at.isoformat(),
            "starts": {str(k): v for k, v in sorted(self.starts.items())},
            "ends": {str(k): v for k, v in sorted(self.ends.items())},
            "dedup": self.dedup,
            "max_pairs": self.max_pairs,
            "seed": self.seed,
            "validation_fraction": self.validation_fraction,
            "policy_filter": self.policy_filter,
            "request_id": self.request_id,
            "topic": self.topic,
        }
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> CutSpec:
        d = json.loads(text)
        return cls(
            sequence=d["sequence"],
            name=d["name"],
            mode=d["mode"],
            trigger=d["trigger"],
            created_at=datetime.fromisoformat(d["created_at"]),
            starts={int(k): v for k, v in d["starts"].items()},
            ends={int(k): v for k, v in d["ends"].items()},
            dedup=d["dedup"],
            max_pairs=d["max_pairs"],
            seed=d["seed"],
            validation_fraction=d["validation_fraction"],
            policy_filter=d["policy_filter"],
            request_id=d["request_id"],
            topic=d.get("topic", ""),
        )


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    spec: CutSpec
    state: DatasetState
    dataset_id: str | None = None
    event: str | None = None


@dataclass(frozen=True, slots=True)
class Stored:
    """Per input row of :meth:`BatcherStore.insert_pairs`, in input order."""

    inserted: list[bool]
    first: list[bool]
    """Inserted and the first pair of its content (never true when ``inserted`` is false)."""


@dataclass(frozen=True, slots=True)
class CutCounts:
    considered: int
    duplicates: int
    excluded_policy_models: dict[str, int]
    selected: int
    """Pairs left after dedup and policy filter, before sampling."""


@dataclass(frozen=True, slots=True)
class Selection:
    """A cut's pairs: the spec plus, when sampled, the largest ``(sample_key, pair_id)`` kept."""

    spec: CutSpec
    sample_bound: tuple[int, str] | None = None
    rule: SplitRule | None = None


class BatcherStore:
    """Transactional writes for the ingest path, read queries for cuts.

    Not thread-safe: one caller at a time (the service serializes every use with a lock).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        memory_limit: str = "1GB",
        threads: int | None = None,
    ) -> None:
        self.path = str(path)
        self.memory_limit = memory_limit
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        config: dict[str, Any] = {
            "memory_limit": memory_limit,
            # Keep automatic checkpoints (100s of ms) out of most commits.
            "checkpoint_threshold": "256MB",
        }
        if threads is not None:
            config["threads"] = threads
        self.con = duckdb.connect(self.path, config=config)
        self.con.execute(SCHEMA)
        self._next_seq = self._max_seq() + 1

    def _max_seq(self) -> int:
        row = _first(self.con.execute("SELECT coalesce(max(seq), 0) FROM pairs"))
        return int(row[0])

    @contextlib.contextmanager
    def scan_budget(self, budget: int = CUT_SCAN_BUDGET) -> Iterator[None]:
        """Cap DuckDB's cache while a cut scans: resident memory plus ``budget`` bytes.

        A scan fills the buffer pool with table blocks up to ``memory_limit``; for a
        one-pass cut that cache is useless and only inflates RSS. Indexes stay resident (they
        cannot be evicted), so the cap is what is resident now, not counting cached table
        blocks, plus the budget; never above the configured limit. Nothing else may use the
        database meanwhile (the service holds its store lock).
        """
        row = _first(
            self.con.execute(
                "SELECT coalesce(sum(memory_usage_bytes), 0) FROM duckdb_memory() "
                "WHERE tag <> 'BASE_TABLE'"
            )
        )
        cap = min(parse_size(self.memory_limit), int(row[0]) + budget)
        self.con.execute(f"SET memory_limit = '{cap}B'")
        try:
            yield
        finally:
            self.con.execute(f"SET memory_limit = '{parse_size(self.memory_limit)}B'")

    def close(self) -> None:
        self.con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        next_seq = self._next_seq
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            self._next_seq = next_seq
            raise
        self.con.execute("COMMIT")

    # -- ingest ----------------------------------------------------------------------------

    def insert_pairs(self, rows: Sequence[PairRow]) -> Stored:
        """Append pairs with new ``pair_id``s, in order; flag content duplicates.

        Call inside :meth:`transaction`. Within ``rows`` the first occurrence of a pair id
        or content hash wins, as across batches.
        """
        seen: set[str] = set()
        fresh: list[int] = []
        for i, r in enumerate(rows):
            if r.pair_id not in seen:
                seen.add(r.pair_id)
                fresh.append(i)
        inserted = [False] * len(rows)
        first = [False] * len(rows)
        if not fresh:
            return Stored(inserted, first)
        base = self._next_seq
        self._next_seq += len(fresh)
        seq_of = {i: base + n for n, i in enumerate(fresh)}
        new_seqs = self._claim("pair_keys", [(rows[i].pair_id, seq_of[i]) for i in fresh], base)
        new = [i for i in fresh if seq_of[i] in new_seqs]
        if not new:
            return Stored(inserted, first)
        by_content: dict[str, int] = {}
        for i in new:
            by_content.setdefault(rows[i].content_hash, i)
        claimed = self._claim("contents", [(h, seq_of[i]) for h, i in by_content.items()], base)
        firsts = {i for i in by_content.values() if seq_of[i] in claimed}
        batch = _pair_table(  # noqa: F841 (scanned by SQL)
            [rows[i] for i in new], [seq_of[i] for i in new], [i not in firsts for i in new]
        )
        cols = ", ".join(PAIR_COLUMNS)
        self.con.execute(f"INSERT INTO pairs ({cols}) SELECT {cols} FROM batch")
        for i in new:
            inserted[i] = True
            first[i] = i in firsts
        return Stored(inserted, first)

    def _claim(self, table: str, items: list[tuple[str, int]], base: int) -> set[int]:
        """Insert ``(md5_number(text), seq)`` unless the key exists; returns the seqs that
        went in. Reading them back by ``seq >= base`` (zone maps skip all older row groups)
        is far cheaper than ``RETURNING`` or a lookup, which scan the whole table."""
        keys = pa.table(  # noqa: F841 (scanned by SQL)
            {"v": [t for t, _ in items], "seq": pa.array([q for _, q in items], pa.int64())}
        )
        self.con.execute(f"INSERT OR IGNORE INTO {table} SELECT md5_number(v), seq FROM keys")
        result = self.con.execute(f"SELECT seq FROM {table} WHERE seq >= ?", [base]).fetchall()
        return {int(r[0]) for r in result}

    def save_positions(self, positions: Mapping[int, int]) -> None:
        for partition, offset in positions.items():
            self.con.execute(
                "INSERT INTO positions VALUES (?, ?) ON CONFLICT (src_partition) "
                "DO UPDATE SET next_offset = greatest(positions.next_offset, excluded.next_offset)",
                [partition, offset],
            )

    def positions(self) -> dict[int, int]:
        rows = self.con.execute("SELECT src_partition, next_offset FROM positions").fetchall()
        return {int(p): int(o) for p, o in rows}

    def pending(
        self, starts: Mapping[int, int], *, dedup: bool, policy_filter: Sequence[str] | None
    ) -> tuple[int, float | None]:
        """``(count, oldest received_at)`` of pairs past ``starts`` that a cut would take."""
        lo, lparams = _bound_sql(starts, default=0)
        where, wparams = _select_where(dedup, policy_filter)
        row = _first(
            self.con.execute(
                "SELECT count(*), min(received_at) FROM pairs p "
                f"WHERE p.src_offset >= {lo} AND {where}",
                [*lparams, *wparams],
            )
        )
        return int(row[0]), (float(row[1]) if row[1] is not None else None)

    def counts(self) -> dict[str, int]:
        row = _first(self.con.execute("SELECT count(*), count(*) FILTER (is_dup) FROM pairs"))
        assert row is not None
        return {"pairs": int(row[0]), "duplicates": int(row[1])}

    # -- ledger ----------------------------------------------------------------------------

    def ledger(self, states: Sequence[DatasetState] | None = None) -> list[LedgerEntry]:
        sql = "SELECT spec, state, dataset_id, event FROM datasets"
        params: list[Any] = []
        if states is not None:
            sql += " WHERE list_contains(?, state)"
            params.append([s.value for s in states])
        rows = self.con.execute(sql + " ORDER BY sequence", params).fetchall()
        return [LedgerEntry(CutSpec.from_json(s), DatasetState(st), d, e) for s, st, d, e in rows]

    def entry(self, sequence: int) -> LedgerEntry | None:
        row = _first(
            self.con.execute(
                "SELECT spec, state, dataset_id, event FROM datasets WHERE sequence = ?", [sequence]
            )
        )
        if row is None:
            return None
        return LedgerEntry(CutSpec.from_json(row[0]), DatasetState(row[1]), row[2], row[3])

    def record_cut(self, spec: CutSpec) -> None:
        self.con.execute(
            "INSERT INTO datasets (sequence, name, state, spec) VALUES (?, ?, ?, ?)",
            [spec.sequence, spec.name, DatasetState.DECIDED.value, spec.to_json()],
        )

    def record_restored(self, spec: CutSpec, dataset_id: str, event: str) -> bool:
        """Remember an announced dataset this store does not know; ``False`` if it does."""
        if self.entry(spec.sequence) is not None:
            return False
        self.con.execute(
            "INSERT INTO datasets (sequence, name, state, spec, dataset_id, event) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                spec.sequence,
                spec.name,
                DatasetState.RESTORED.value,
                spec.to_json(),
                dataset_id,
                event,
            ],
        )
        return True

    def mark_written(
        self,
        selection: Selection,
        dataset_id: str,
        event: str,
        state: DatasetState = DatasetState.WRITTEN,
    ) -> None:
        """Record membership and the event to announce, in one transaction."""
        seq = selection.spec.sequence
        with self.transaction():
            self.con.execute("DELETE FROM dataset_pairs WHERE sequence = ?", [seq])
            query, params = _members_query(selection, "p.pair_id")
            self.con.execute(
                "INSERT INTO dataset_pairs SELECT ?, pair_id, "
                f"CASE side WHEN 1 THEN 'validation' ELSE 'training' END FROM ({query})",
                [seq, *params],
            )
            self._set_state(seq, state, dataset_id, event)

    def adopt_announced(self, sequence: int, pair_ids: Mapping[str, Sequence[str]]) -> None:
        """An announced dataset found on disk: take its membership from its manifest."""
        with self.transaction():
            self.con.execute("DELETE FROM dataset_pairs WHERE sequence = ?", [sequence])
            for side, ids in pair_ids.items():
                members = pa.table({"pair_id": list(ids)})  # noqa: F841 (scanned by SQL)
                self.con.execute(
                    "INSERT INTO dataset_pairs SELECT ?, pair_id, ? FROM members", [sequence, side]
                )
            self._set_state(sequence, DatasetState.ANNOUNCED)

    def _set_state(
        self,
        sequence: int,
        state: DatasetState,
        dataset_id: str | None = None,
        event: str | None = None,
    ) -> None:
        self.con.execute(
            "UPDATE datasets SET state = ?, dataset_id = coalesce(?, dataset_id), "
            "event = coalesce(?, event), updated_at = now() WHERE sequence = ?",
            [state.value, dataset_id, event, sequence],
        )

    def mark_announced(self, sequence: int) -> None:
        self._set_state(sequence, DatasetState.ANNOUNCED)

    def dataset_of(self, pair_ids: Sequence[str]) -> dict[str, list[int]]:
        """Which datasets hold each of ``pair_ids`` (for audits and tests)."""
        rows = self.con.execute(
            "SELECT pair_id, list(DISTINCT sequence ORDER BY sequence) FROM dataset_pairs "
            "WHERE pair_id IN ? GROUP BY pair_id",
            [list(pair_ids)],
        ).fetchall()
        return {str(p): [int(s) for s in seqs] for p, seqs in rows}

    # -- cut queries -----------------------------------------------------------------------

    def cut_counts(self, spec: CutSpec) -> CutCounts:
        in_range, params = _range_sql(spec)
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

    def sample_bound(self, spec: CutSpec, keep: int) -> tuple[int, str] | None:
        """The largest ``(sample_key, pair_id)`` among the ``keep`` smallest; see sampling."""
        selection = Selection(spec)
        query, params = _members_query(
            selection,
            "p.pair_id",
            "md5_number_upper(concat(?, ':', p.pair_id)) AS sk",
            extra_params=[str(spec.seed)],
            with_side=False,
        )
        row = _first(
            self.con.execute(
                f"SELECT sk, pair_id FROM ({query}) ORDER BY sk, pair_id LIMIT 1 OFFSET ?",
                [*params, keep - 1],
            )
        )
        return (int(row[0]), str(row[1])) if row is not None else None

    def split_summary(self, selection: Selection) -> SplitSummary:
        thr = fraction_threshold(selection.spec.validation_fraction)
        query, params = _members_query(
            selection,
            "p.pair_id",
            "p.example_id",
            "md5_number_upper(p.example_id) AS eb",
            "md5_number_upper(p.pair_id) AS pb",
            with_side=False,
        )
        row = _first(
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
        query, params = _members_query(selection, "p.pair_id")
        rows = self.con.execute(
            f"SELECT side, count(*) FROM ({query}) GROUP BY side", params
        ).fetchall()
        counts = {"training": 0, "validation": 0}
        for side, n in rows:
            counts["validation" if side == 1 else "training"] += int(n)
        return counts

    def policy_counts(self, selection: Selection) -> dict[str, int]:
        query, params = _members_query(
            selection, f"coalesce(p.policy_model, '{UNKNOWN_POLICY}') AS model", with_side=False
        )
        rows = self.con.execute(
            f"SELECT model, count(*) FROM ({query}) GROUP BY model ORDER BY model", params
        ).fetchall()
        return {str(m): int(n) for m, n in rows}

    def score_stats(self, selection: Selection) -> dict[str, dict[str, float | None]]:
        cols = ", ".join(f"p.{c}" for c in SCORE_COLUMNS)
        query, params = _members_query(selection, cols, with_side=False)
        aggs = ", ".join(f"min({c}), max({c}), avg({c})" for c in SCORE_COLUMNS)
        row = _first(self.con.execute(f"SELECT {aggs} FROM ({query})", params))
        assert row is not None
        return {
            c: {"min": row[3 * i], "max": row[3 * i + 1], "mean": row[3 * i + 2]}
            for i, c in enumerate(SCORE_COLUMNS)
        }

    def stream_rows(
        self, selection: Selection, columns: Sequence[str], batch_rows: int = 8192
    ) -> Iterator[pa.RecordBatch]:
        """The cut's rows in arrival order, as Arrow batches of ``side`` plus ``columns``.

        ``side`` is 0 for training and 1 for validation; a dataset whose split duplicates
        its single pair yields that pair once per side. No sort: a filtered scan of an
        append-only table returns rows in insertion order, and streams in bounded memory.
        """
        cols = ", ".join(f"p.{c}" for c in columns)
        query, params = _members_query(selection, cols)
        yield from self.con.sql(query, params=params).to_arrow_reader(batch_rows)


def _first(result: duckdb.DuckDBPyConnection) -> Any:
    """The first row (or ``None``), consuming the whole result: DuckDB refuses new work on
    a connection with an unfinished result."""
    rows = result.fetchall()
    return rows[0] if rows else None


def md5_key(text: str) -> int:
    """DuckDB's ``md5_number(text)``: the MD5 digest as a little-endian 128-bit integer."""
    return int.from_bytes(hashlib.md5(text.encode()).digest(), "little")


def _pair_table(rows: Sequence[PairRow], seqs: Sequence[int], is_dup: Sequence[bool]) -> pa.Table:
    cols: dict[str, list[Any]] = {
        c: [getattr(r, c) for r in rows] for c in PAIR_COLUMNS if c not in {"seq", "is_dup"}
    }
    cols["seq"] = list(seqs)
    cols["is_dup"] = list(is_dup)
    schema = pa.schema(
        [
            ("seq", pa.int64()),
            ("pair_id", pa.string()),
            ("content_hash", pa.string()),
            ("is_dup", pa.bool_()),
            ("example_id", pa.string()),
            ("policy_model", pa.string()),
            ("src_partition", pa.int32()),
            ("src_offset", pa.int64()),
            ("received_at", pa.float64()),
            *((c, pa.float64()) for c in SCORE_COLUMNS),
            *((c, pa.string()) for c in FRAGMENT_COLUMNS),
        ]
    )
    return pa.table(cols, schema=schema)


def _bound_sql(bounds: Mapping[int, int], *, default: int) -> tuple[str, list[Any]]:
    """``CASE p.src_partition WHEN .. THEN .. ELSE default END``: a per-partition offset."""
    if not bounds:
        return str(default), []
    whens = " ".join("WHEN ? THEN ?" for _ in bounds)
    params: list[Any] = []
    for part in sorted(bounds):
        params.extend([part, bounds[part]])
    return f"(CASE p.src_partition {whens} ELSE {default} END)", params


def _range_sql(spec: CutSpec) -> tuple[str, list[Any]]:
    """The cut's offset ranges as a filter (a filter, unlike a join, keeps scan order)."""
    if not spec.ends:
        return "false", []
    lo, lparams = _bound_sql(spec.starts, default=0)
    hi, hparams = _bound_sql(spec.ends, default=-1)
    return f"p.src_offset >= {lo} AND p.src_offset < {hi}", [*lparams, *hparams]


def _select_where(dedup: bool, policy_filter: Sequence[str] | None) -> tuple[str, list[Any]]:
    parts = ["NOT p.is_dup"] if dedup else []
    params: list[Any] = []
    if policy_filter is not None:
        parts.append("coalesce(list_contains(?, p.policy_model), false)")
        params.append(list(policy_filter))
    return (" AND ".join(parts) or "true"), params


def _side_sql(rule: SplitRule | None) -> tuple[str, list[Any]]:
    """SQL for :meth:`SplitRule.side_of` (1 = validation), mirrored exactly."""
    if rule is None:
        return "0", []
    if rule.level == "duplicate":
        return "s.side", []
    key = "p.example_id" if rule.level == "example" else "p.pair_id"
    sql = (
        f"CASE WHEN (md5_number_upper({key}) < ?::HUGEINT OR coalesce({key} = ?, false)) "
        f"AND (?::VARCHAR IS NULL OR {key} <> ?) THEN 1 ELSE 0 END"
    )
    return sql, [rule.threshold, rule.to_validation, rule.to_training, rule.to_training]


def _members_query(
    selection: Selection,
    *columns: str,
    extra_params: Sequence[Any] = (),
    with_side: bool = True,
) -> tuple[str, list[Any]]:
    """``SELECT [side,] columns`` of the cut's pairs (range, dedup, policy, sample applied),
    in arrival order."""
    spec = selection.spec
    in_range, rparams = _range_sql(spec)
    where, wparams = _select_where(spec.dedup, spec.policy_filter)
    select = list(columns)
    side_params: list[Any] = []
    joins = ""
    if with_side:
        side, side_params = _side_sql(selection.rule)
        select.insert(0, f"{side} AS side")
        if selection.rule is not None and selection.rule.level == "duplicate":
            joins = " CROSS JOIN (VALUES (0), (1)) s(side)"
    params: list[Any] = [*side_params, *extra_params, *rparams, *wparams]
    sql = f"SELECT {', '.join(select)} FROM pairs p{joins} WHERE {in_range} AND {where}"
    if selection.sample_bound is not None:
        sk, pid = selection.sample_bound
        key = "md5_number_upper(concat(?, ':', p.pair_id))"
        sql += f" AND ({key} < ?::HUGEINT OR ({key} = ?::HUGEINT AND p.pair_id <= ?))"
        seed = str(spec.seed)
        params.extend([seed, sk, seed, sk, pid])
    return sql, params
