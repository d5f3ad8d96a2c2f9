"""Seeded sampling to ``max_pairs``: bottom-k by a per-pair hash.

NAT samples with the global, unseeded ``random``, so a rerun picks other pairs. Here the
sample is the ``k`` pairs with the smallest ``sample_key(seed, pair_id)``: a uniform sample
without replacement that depends only on the set of pairs and the seed, not on their order,
and that is computable in SQL (``md5_number_upper(seed || ':' || pair_id)``). A growing
cumulative dataset keeps most of its previous sample, which keeps successive training runs
comparable.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from typing import Protocol, TypeVar

from prefstream_datasets.hashing import bucket64


class HasPairId(Protocol):
    @property
    def pair_id(self) -> str: ...


P = TypeVar("P", bound=HasPairId)


def sample_key(seed: int, pair_id: str) -> int:
    return bucket64(f"{seed}:{pair_id}")


def sample(pairs: Iterable[P], max_pairs: int | None, seed: int) -> list[P]:
    """The ``max_pairs`` pairs with the smallest ``(sample_key, pair_id)``, in input order.

    All pairs when ``max_pairs`` is ``None`` or not exceeded. Memory is O(max_pairs).
    """
    if max_pairs is None:
        return list(pairs)
    if max_pairs < 1:
        raise ValueError("max_pairs must be >= 1")
    chosen = heapq.nsmallest(
        max_pairs,
        enumerate(pairs),
        key=lambda item: (sample_key(seed, item[1].pair_id), item[1].pair_id),
    )
    return [pair for _, pair in sorted(chosen, key=lambda item: item[0])]
