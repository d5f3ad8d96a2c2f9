"""NAT's ``deduplicate_pairs``: drop pairs whose content was already seen; first one wins.

NAT keys on ``(str(prompt), chosen, rejected)``; prefstream keys on ``content_hash``, which
the pairing service computes from the same three values (without NAT's repr of message
lists, so a string prompt and an equal one-message list stay distinct only when their
JSON differs).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TypeVar


class HasContentHash(Protocol):
    @property
    def content_hash(self) -> str: ...


P = TypeVar("P", bound=HasContentHash)
T = TypeVar("T")


def unique_by(items: Iterable[T], key: Callable[[T], str]) -> Iterator[T]:
    """Items whose ``key`` was not seen before, in input order."""
    seen: set[str] = set()
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            yield item


def deduplicate(pairs: Iterable[P]) -> Iterator[P]:
    """Pairs with a ``content_hash`` not seen earlier in ``pairs``; the first occurrence wins."""
    return unique_by(pairs, lambda p: p.content_hash)
