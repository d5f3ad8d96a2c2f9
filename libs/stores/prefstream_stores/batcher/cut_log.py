"""The cut log: one row per cut (table ``datasets``), and dataset membership.

A cut's row holds its :class:`~prefstream_datasets.CutSpec`: per partition, the offset
range ``[start, end)`` it covers plus the parameters that pick its pairs. Every query about
a cut is derived from that row, so the same row always yields the same pairs, split and
order. States: ``decided`` → ``written`` → ``announced``, plus ``restored`` (known only from
an earlier announcement); see docs/batcher.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa  # type: ignore[import-untyped]
from prefstream_datasets import CutSpec, DatasetState, Selection

from prefstream_stores.batcher.connection import Connection, first_row
from prefstream_stores.batcher.selection_sql import members_query


@dataclass(frozen=True, slots=True)
class CutRecord:
    """One row of the cut log."""

    spec: CutSpec
    state: DatasetState
    dataset_id: str | None = None
    event: str | None = None


class CutLog(Connection):
    """Writes and reads of the cut log and of dataset membership."""

    def cut_records(self, states: Sequence[DatasetState] | None = None) -> list[CutRecord]:
        sql = "SELECT spec, state, dataset_id, event FROM datasets"
        params: list[Any] = []
        if states is not None:
            sql += " WHERE list_contains(?, state)"
            params.append([s.value for s in states])
        rows = self.con.execute(sql + " ORDER BY sequence", params).fetchall()
        return [
            CutRecord(spec=CutSpec.from_json(s), state=DatasetState(st), dataset_id=d, event=e)
            for s, st, d, e in rows
        ]

    def cut_record(self, sequence: int) -> CutRecord | None:
        row = first_row(
            self.con.execute(
                "SELECT spec, state, dataset_id, event FROM datasets WHERE sequence = ?", [sequence]
            )
        )
        if row is None:
            return None
        spec, state, dataset_id, event = row
        return CutRecord(
            spec=CutSpec.from_json(spec),
            state=DatasetState(state),
            dataset_id=dataset_id,
            event=event,
        )

    def record_cut(self, spec: CutSpec) -> None:
        self.con.execute(
            "INSERT INTO datasets (sequence, name, state, spec) VALUES (?, ?, ?, ?)",
            [spec.sequence, spec.name, DatasetState.DECIDED.value, spec.to_json()],
        )

    def record_restored(self, spec: CutSpec, dataset_id: str, event: str) -> bool:
        """Remember an announced dataset this store does not know; ``False`` if it does."""
        if self.cut_record(spec.sequence) is not None:
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
            query, params = members_query(selection, "p.pair_id")
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
