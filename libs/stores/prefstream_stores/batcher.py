"""The batcher's DuckDB file: every pair it consumed, the cut ledger, and dataset membership.

One writer process owns the file (DuckDB locks it against every other process, readers
included). Pairs are stored once (``INSERT OR IGNORE`` on ``pair_id``) with their offsets
in the pairs topic and their row fragments already JSON-encoded, so a cut is one ordered
scan. A cut is a ledger row holding, per partition, the offset range ``[start, end)`` it
covers plus the parameters that pick its pairs; every query about a cut is derived from
that row, so the same row always yields the same pairs, split and order.

Content dedup (``deduplicate_pairs``) is decided on arrival: ``contents`` remembers the
first pair of every ``content_hash``, and later pairs with the same hash are stored with
``is_dup`` set. First occurrence therefore means first *consumed*.
"""

from __future__ import annotations

import contextlib
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
    pair_id VARCHAR PRIMARY KEY,
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
CREATE TABLE IF NOT EXISTS contents (content_hash VARCHAR PRIMARY KEY);
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

    Not thread-safe: use one instance per thread (:meth:`cursor` gives another one over the
    same database, for the dataset writer running beside ingestion).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        memory_limit: str = "256MB",
        threads: int | None = None,
        _con: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        self.path = str(path)
        if _con is not None:
            self.con = _con
            return
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

    def cursor(self) -> BatcherStore:
        return BatcherStore(self.path, _con=self.con.cursor())

    def close(self) -> None:
        self.con.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        self.con.execute("BEGIN TRANSACTION")
        try:
            yield
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- ingest ----------------------------------------------------------------------------

    def insert_pairs(self, rows: Sequence[PairRow]) -> Stored:
        """Store new pairs (ignoring known ``pair_id``s) and flag content duplicates.

        Call inside :meth:`transaction`. Within ``rows`` the first occurrence of a pair id
        or content hash wins, as across batches.
        """
        seen_ids: set[str] = set()
        fresh: list[int] = []
        for i, r in enumerate(rows):
            if r.pair_id not in seen_ids:
                seen_ids.add(r.pair_id)
                fresh.append(i)
        inserted = [False] * len(rows)
        first = [False] * len(rows)
        if not fresh:
            return Stored(inserted, first)
        candidates: dict[str, int] = {}
        for i in fresh:
            candidates.setdefault(rows[i].content_hash, i)
        hashes = pa.table({"content_hash": list(candidates)})  # noqa: F841 (scanned by SQL)
        new_hashes = {
            r[0]
            for r in self.con.execute(
                "INSERT OR IGNORE INTO contents SELECT content_hash FROM hashes "
                "RETURNING content_hash"
            ).fetchall()
        }
        # Every stored pair's hash is in ``contents``, so a hash new to it can only belong
        # to a pair that is new as well: its first row here is the first occurrence.
        is_first = {candidates[h] for h in new_hashes}
        batch = _pair_table([rows[i] for i in fresh], [i not in is_first for i in fresh])  # noqa: F841
        cols = ", ".join(PAIR_COLUMNS)
        new_ids = {
            r[0]
            for r in self.con.execute(
                f"INSERT OR IGNORE INTO pairs ({cols}) SELECT {cols} FROM batch RETURNING pair_id"
            ).fetchall()
        }
        for i in fresh:
            if rows[i].pair_id in new_ids:
                inserted[i] = True
                first[i] = i in is_first
        return Stored(inserted, first)

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
        ranges, params = _ranges_sql(starts, open_end=True)
        where, wparams = _select_where(dedup, policy_filter)
        row = self.con.execute(
            f"WITH ranges(part, lo, hi) AS ({ranges}) "
            "SELECT count(*), min(received_at) FROM pairs p "
            "LEFT JOIN ranges r ON p.src_partition = r.part "
            f"WHERE p.src_offset >= coalesce(r.lo, 0) AND {where}",
            [*params, *wparams],
        ).fetchone()
        assert row is not None
        return int(row[0]), (float(row[1]) if row[1] is not None else None)

    def counts(self) -> dict[str, int]:
        row = self.con.execute("SELECT count(*), count(*) FILTER (is_dup) FROM pairs").fetchone()
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
        row = self.con.execute(
            "SELECT spec, state, dataset_id, event FROM datasets WHERE sequence = ?", [sequence]
        ).fetchone()
        if row is None:
            return None
        return LedgerEntry(CutSpec.from_json(row[0]), DatasetState(row[1]), row[2], row[3])

    def max_sequence(self) -> int:
        row = self.con.execute("SELECT coalesce(max(sequence), 0) FROM datasets").fetchone()
        assert row is not None
        return int(row[0])

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

    def mark_written(self, selection: Selection, dataset_id: str, event: str) -> None:
        """Record membership and the event to announce, in one transaction."""
        seq = selection.spec.sequence
        with self.transaction():
            self.con.execute("DELETE FROM dataset_pairs WHERE sequence = ?", [seq])
            query, params = _members_query(selection, "p.pair_id")
            self.con.execute(
                f"INSERT INTO dataset_pairs SELECT ?, pair_id, "
                "CASE side WHEN 1 THEN 'validation' ELSE 'training' END "
                f"FROM ({query})",
                [seq, *params],
            )
            self.con.execute(
                "UPDATE datasets SET state = ?, dataset_id = ?, event = ?, updated_at = now() "
                "WHERE sequence = ?",
                [DatasetState.WRITTEN.value, dataset_id, event, seq],
            )

    def mark_announced(self, sequence: int) -> None:
        self.con.execute(
            "UPDATE datasets SET state = ?, updated_at = now() WHERE sequence = ?",
            [DatasetState.ANNOUNCED.value, sequence],
        )

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
        ranges, params = _ranges_sql(spec.ends, starts=spec.starts)
        policy = "list_contains(?, p.policy_model)" if spec.policy_filter is not None else "true"
        pparams: list[Any] = [spec.policy_filter] if spec.policy_filter is not None else []
        dup = "p.is_dup" if spec.dedup else "false"
        rows = self.con.execute(
            f"WITH ranges(part, lo, hi) AS ({ranges}) "
            f"SELECT coalesce(p.policy_model, ?), {dup} AS dup, "
            f"coalesce({policy}, false) AS allowed, count(*) "
            "FROM pairs p JOIN ranges r ON p.src_partition = r.part "
            "AND p.src_offset >= r.lo AND p.src_offset < r.hi GROUP BY ALL",
            [UNKNOWN_POLICY, *params, *pparams],
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
        row = self.con.execute(
            f"SELECT sk, pair_id FROM ({query}) ORDER BY sk, pair_id LIMIT 1 OFFSET ?",
            [*params, keep - 1],
        ).fetchone()
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
        row = self.con.execute(
            f"SELECT count(*), count(*) FILTER (eb < ?::HUGEINT), "
            "min(example_id) = max(example_id), "
            "arg_min(example_id, (eb, example_id)), arg_max(example_id, (eb, example_id)), "
            "count(*) FILTER (pb < ?::HUGEINT), "
            f"arg_min(pair_id, (pb, pair_id)), arg_max(pair_id, (pb, pair_id)) FROM ({query})",
            [thr, thr, *params],
        ).fetchone()
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
        row = self.con.execute(f"SELECT {aggs} FROM ({query})", params).fetchone()
        assert row is not None
        return {
            c: {"min": row[3 * i], "max": row[3 * i + 1], "mean": row[3 * i + 2]}
            for i, c in enumerate(SCORE_COLUMNS)
        }

    def stream_rows(
        self, selection: Selection, columns: Sequence[str], batch_rows: int = 20_000
    ) -> Iterator[pa.RecordBatch]:
        """The cut's rows in file order: training then validation, each by (partition, offset).

        Batches carry ``side`` (0 training, 1 validation) plus ``columns``; a dataset whose
        split duplicates its single pair yields that pair once per side.
        """
        cols = ", ".join(f"p.{c}" for c in columns)
        query, params = _members_query(selection, cols, "p.src_partition", "p.src_offset")
        names = ", ".join(columns)
        rel = self.con.sql(
            f"SELECT side, {names} FROM ({query}) ORDER BY side, src_partition, src_offset",
            params=params,
        )
        yield from rel.to_arrow_reader(batch_rows)

    def pair_ids(
        self, selection: Selection, side: int, batch_rows: int = 50_000
    ) -> Iterator[pa.RecordBatch]:
        """Pair ids of one side (0 training, 1 validation) in file order."""
        query, params = _members_query(selection, "p.pair_id", "p.src_partition", "p.src_offset")
        rel = self.con.sql(
            f"SELECT pair_id FROM ({query}) WHERE side = ? ORDER BY src_partition, src_offset",
            params=[*params, side],
        )
        yield from rel.to_arrow_reader(batch_rows)

    def exists_pair(self, pair_id: str) -> bool:
        row = self.con.execute("SELECT 1 FROM pairs WHERE pair_id = ?", [pair_id]).fetchone()
        return row is not None


def _pair_table(rows: Sequence[PairRow], is_dup: Sequence[bool]) -> pa.Table:
    cols: dict[str, list[Any]] = {
        c: [getattr(r, c) for r in rows] for c in PAIR_COLUMNS if c != "is_dup"
    }
    cols["is_dup"] = list(is_dup)
    schema = pa.schema(
        [
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


def _ranges_sql(
    ends: Mapping[int, int], *, starts: Mapping[int, int] | None = None, open_end: bool = False
) -> tuple[str, list[Any]]:
    """A ``VALUES`` list of ``(part, lo, hi)``; ``open_end`` reads ``ends`` as starts."""
    if not ends:
        return "SELECT NULL::INTEGER, NULL::BIGINT, NULL::BIGINT WHERE false", []
    values = []
    params: list[Any] = []
    for part in sorted(ends):
        if open_end:
            lo, hi = ends[part], None
        else:
            lo, hi = (starts or {}).get(part, 0), ends[part]
        values.append("(?::INTEGER, ?::BIGINT, ?::BIGINT)")
        params.extend([part, lo, hi])
    return "VALUES " + ", ".join(values), params


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
    """``SELECT [side,] columns`` of the cut's pairs (dedup, policy, range, sample applied)."""
    spec = selection.spec
    ranges, rparams = _ranges_sql(spec.ends, starts=spec.starts)
    where, wparams = _select_where(spec.dedup, spec.policy_filter)
    params: list[Any] = [*extra_params]
    select = list(columns)
    side_params: list[Any] = []
    joins = ""
    if with_side:
        side, side_params = _side_sql(selection.rule)
        select.insert(0, f"{side} AS side")
        if selection.rule is not None and selection.rule.level == "duplicate":
            joins = " CROSS JOIN (VALUES (0), (1)) s(side)"
    params = [*rparams, *side_params, *params, *wparams]
    sql = (
        f"WITH ranges(part, lo, hi) AS ({ranges}) SELECT {', '.join(select)} FROM pairs p "
        "JOIN ranges r ON p.src_partition = r.part AND p.src_offset >= r.lo "
        f"AND p.src_offset < r.hi{joins} WHERE {where}"
    )
    if selection.sample_bound is not None:
        sk, pid = selection.sample_bound
        sql += (
            " AND (md5_number_upper(concat(?, ':', p.pair_id)) < ?::HUGEINT OR "
            "(md5_number_upper(concat(?, ':', p.pair_id)) = ?::HUGEINT AND p.pair_id <= ?))"
        )
        seed = str(spec.seed)
        params.extend([seed, sk, seed, sk, pid])
    return sql, params
