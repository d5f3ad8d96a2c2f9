"""Training/validation split by a hash of ``example_id``.

A pair goes to validation when ``bucket64(example_id) < fraction * 2**64``. The side depends
only on the example, so one prompt never sits on both sides, and it is the same in every
cut (an example in validation today is in validation tomorrow). NAT instead cuts the list
positionally at 80 %, which puts the tail examples in validation and duplicates a lone item.

Fallbacks, for datasets where hashing leaves a side empty (``validation_fraction > 0``):

- several examples, none hashed into validation: the example with the lowest bucket (the
  one closest to the line) moves to validation; all hashed into validation: the one with
  the highest bucket moves to training. Both sides stay example-disjoint.
- a single example: no example-level split can give two sides, so its pairs are split the
  same way by ``bucket64(pair_id)``, with the same one-item fix-up. This is the one case
  where a prompt appears on both sides, and no pair does.
- a single pair: it goes to both files, as NAT does, so Customizer gets a validation set.

``validation_fraction == 0`` disables validation: everything goes to training.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, TypeVar

from prefstream_datasets.hashing import bucket64, fraction_threshold


class Side(StrEnum):
    TRAINING = "training"
    VALIDATION = "validation"


SplitLevel = Literal["example", "pair", "duplicate"]


@dataclass(frozen=True, slots=True)
class SplitSummary:
    """What the rule needs to know about a dataset; one SQL aggregate computes it."""

    rows: int
    validation_rows: int
    """Rows whose example bucket is below the threshold."""
    single_example: bool
    lowest_example: str | None
    """Example with the smallest ``(bucket, example_id)``."""
    highest_example: str | None
    pair_validation_rows: int
    """Rows whose pair bucket is below the threshold."""
    lowest_pair: str | None
    highest_pair: str | None


@dataclass(frozen=True, slots=True)
class SplitRule:
    """How every pair of one dataset is assigned; recorded in the manifest."""

    level: SplitLevel
    fraction: float
    threshold: int
    to_validation: str | None = None
    to_training: str | None = None
    fallback: str | None = None

    def side_of(self, example_id: str, pair_id: str) -> tuple[Side, ...]:
        if self.level == "duplicate":
            return (Side.TRAINING, Side.VALIDATION)
        key = example_id if self.level == "example" else pair_id
        validation = (bucket64(key) < self.threshold or key == self.to_validation) and (
            key != self.to_training
        )
        return (Side.VALIDATION,) if validation else (Side.TRAINING,)

    def describe(self) -> dict[str, object]:
        return {
            "method": f"md5_upper64_le({'example_id' if self.level != 'pair' else 'pair_id'})"
            " < validation_fraction * 2**64",
            "level": self.level,
            "validation_fraction": self.fraction,
            "threshold": self.threshold,
            "to_validation": self.to_validation,
            "to_training": self.to_training,
            "fallback": self.fallback,
        }


def choose_rule(summary: SplitSummary, fraction: float) -> SplitRule:
    """The rule for a dataset: hash by example, with the fallbacks in the module docstring."""
    threshold = fraction_threshold(fraction)
    if summary.rows == 0 or fraction == 0.0:
        return SplitRule("example", fraction, threshold)
    if not summary.single_example:
        if summary.validation_rows == 0:
            return SplitRule(
                "example",
                fraction,
                threshold,
                to_validation=summary.lowest_example,
                fallback="no example hashed into validation: moved the lowest-bucket example",
            )
        if summary.validation_rows == summary.rows:
            return SplitRule(
                "example",
                fraction,
                threshold,
                to_training=summary.highest_example,
                fallback="every example hashed into validation: moved the highest-bucket one",
            )
        return SplitRule("example", fraction, threshold)
    if summary.rows == 1:
        return SplitRule(
            "duplicate",
            fraction,
            threshold,
            fallback="a single pair: written to both files, as NAT does",
        )
    note = "a single example: its pairs are split by pair_id"
    if summary.pair_validation_rows == 0:
        return SplitRule(
            "pair", fraction, threshold, to_validation=summary.lowest_pair, fallback=note
        )
    if summary.pair_validation_rows == summary.rows:
        return SplitRule(
            "pair", fraction, threshold, to_training=summary.highest_pair, fallback=note
        )
    return SplitRule("pair", fraction, threshold, fallback=note)


def summarize(items: Iterable[tuple[str, str]], fraction: float) -> SplitSummary:
    """Summary of ``(example_id, pair_id)`` items, in O(1) memory."""
    threshold = fraction_threshold(fraction)
    rows = val = pair_val = 0
    examples: set[str] = set()
    low_ex: tuple[int, str] | None = None
    high_ex: tuple[int, str] | None = None
    low_pair: tuple[int, str] | None = None
    high_pair: tuple[int, str] | None = None
    for example_id, pair_id in items:
        rows += 1
        if len(examples) < 2:
            examples.add(example_id)
        eb, pb = (bucket64(example_id), example_id), (bucket64(pair_id), pair_id)
        val += eb[0] < threshold
        pair_val += pb[0] < threshold
        low_ex = eb if low_ex is None or eb < low_ex else low_ex
        high_ex = eb if high_ex is None or eb > high_ex else high_ex
        low_pair = pb if low_pair is None or pb < low_pair else low_pair
        high_pair = pb if high_pair is None or pb > high_pair else high_pair
    return SplitSummary(
        rows=rows,
        validation_rows=val,
        single_example=len(examples) == 1,
        lowest_example=low_ex[1] if low_ex else None,
        highest_example=high_ex[1] if high_ex else None,
        pair_validation_rows=pair_val,
        lowest_pair=low_pair[1] if low_pair else None,
        highest_pair=high_pair[1] if high_pair else None,
    )


T = TypeVar("T")


def split(
    items: Sequence[T],
    fraction: float,
    example_id: Callable[[T], str],
    pair_id: Callable[[T], str],
) -> tuple[SplitRule, list[T], list[T]]:
    """Split in memory: ``(rule, training, validation)``, each side in input order."""
    rule = choose_rule(summarize(((example_id(i), pair_id(i)) for i in items), fraction), fraction)
    training: list[T] = []
    validation: list[T] = []
    for item in items:
        for side in rule.side_of(example_id(item), pair_id(item)):
            (training if side is Side.TRAINING else validation).append(item)
    return rule, training, validation
