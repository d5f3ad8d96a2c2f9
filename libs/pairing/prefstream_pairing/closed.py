"""A bounded memory of recently closed windows, in front of the store's full record."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass(slots=True)
class ClosedWindow:
    """What lateness and replay decisions need: which indices and pairs a window holds."""

    candidate_indices: set[int]
    pair_ids: set[str] = field(default_factory=set)


class ClosedCache:
    """LRU keyed by ``window_key``; a miss means "ask the store", never "not closed"."""

    def __init__(self, capacity: int = 20_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[int, ClosedWindow] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, key: int) -> bool:
        return key in self._items

    def get(self, key: int) -> ClosedWindow | None:
        item = self._items.get(key)
        if item is not None:
            self._items.move_to_end(key)
        return item

    def put(self, key: int, item: ClosedWindow) -> None:
        self._items[key] = item
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def clear(self) -> None:
        self._items.clear()
