"""A fixed-size Bloom filter over 64-bit window keys: "certainly never closed" for free.

Every brand-new window would otherwise cost a store lookup. A negative answer is exact;
a positive one means "ask the store". Memory is fixed (16 MiB by default), so it does not
grow with the stream; past ~10 million windows false positives rise and lookups come back,
which costs time, never correctness.
"""

from __future__ import annotations

from collections.abc import Iterable

_MASK32 = 0xFFFFFFFF


class WindowBloom:
    def __init__(self, bits: int = 1 << 27, hashes: int = 4) -> None:
        if bits & (bits - 1):
            raise ValueError("bits must be a power of two")
        self._bits = bytearray(bits >> 3)
        self._mask = bits - 1
        self._k = hashes
        self.count = 0

    # Positions are computed inline, without a list or a generator: a lookup of a key never
    # added went from 1.6 to 0.5 us and one of a key added from 2.0 to 1.3 us (an add
    # stays ~1.7 us: four random writes into 16 MiB). The key is already a sha256 prefix:
    # its halves are independent hashes.

    def add(self, key: int) -> None:
        bits = self._bits
        m = self._mask
        h1 = key & _MASK32
        h2 = ((key >> 32) & _MASK32) | 1
        for i in range(self._k):
            pos = (h1 + i * h2) & m
            bits[pos >> 3] |= 1 << (pos & 7)
        self.count += 1

    def update(self, keys: Iterable[int]) -> None:
        for key in keys:
            self.add(key)

    def __contains__(self, key: int) -> bool:
        bits = self._bits
        m = self._mask
        h1 = key & _MASK32
        h2 = ((key >> 32) & _MASK32) | 1
        for i in range(self._k):
            pos = (h1 + i * h2) & m
            if not bits[pos >> 3] & (1 << (pos & 7)):
                return False
        return True
