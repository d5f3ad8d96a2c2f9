"""The SQL mirror of a cut's selection: offset ranges, dedup and policy filter, the seeded
sample bound, and the training/validation side of each pair.

Each fragment reproduces exactly what the pure rules in ``prefstream_datasets`` decide
(:meth:`~prefstream_datasets.SplitRule.side_of`, ``sample_key``), so a cut selected in
DuckDB is the cut the reference pipeline would make. Filters, never joins: a filtered scan
of the append-only ``pairs`` table keeps arrival order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from prefstream_datasets import CutSpec, Selection, SplitRule


def bound_sql(bounds: Mapping[int, int], *, default: int) -> tuple[str, list[Any]]:
    """``CASE p.src_partition WHEN .. THEN .. ELSE default END``: a per-partition offset."""
    if not bounds:
        return str(default), []
    whens = " ".join("WHEN ? THEN ?" for _ in bounds)
    params: list[Any] = []
    for part in sorted(bounds):
        params.extend([part, bounds[part]])
    return f"(CASE p.src_partition {whens} ELSE {default} END)", params


def range_sql(spec: CutSpec) -> tuple[str, list[Any]]:
    """The cut's offset ranges as a filter (a filter, unlike a join, keeps scan order)."""
    if not spec.ends:
        return "false", []
    lo, lparams = bound_sql(spec.starts, default=0)
    hi, hparams = bound_sql(spec.ends, default=-1)
    return f"p.src_offset >= {lo} AND p.src_offset < {hi}", [*lparams, *hparams]


def select_where(dedup: bool, policy_filter: Sequence[str] | None) -> tuple[str, list[Any]]:
    parts = ["NOT p.is_dup"] if dedup else []
    params: list[Any] = []
    if policy_filter is not None:
        parts.append("coalesce(list_contains(?, p.policy_model), false)")
        params.append(list(policy_filter))
    return (" AND ".join(parts) or "true"), params


def side_sql(rule: SplitRule | None) -> tuple[str, list[Any]]:
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


def members_query(
    selection: Selection,
    *columns: str,
    extra_params: Sequence[Any] = (),
    with_side: bool = True,
) -> tuple[str, list[Any]]:
    """``SELECT [side,] columns`` of the cut's pairs (range, dedup, policy, sample applied),
    in arrival order."""
    spec = selection.spec
    in_range, rparams = range_sql(spec)
    where, wparams = select_where(spec.dedup, spec.policy_filter)
    select = list(columns)
    side_params: list[Any] = []
    joins = ""
    if with_side:
        side, side_params = side_sql(selection.rule)
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
