"""WriteThread: items written in order on the thread, the first error raised to the caller
(at its next put and at close), nothing written after it, every item handed back."""

from __future__ import annotations

import threading

import pytest
from prefstream_pairing.write_thread import WriteThread


def test_items_are_written_in_order_and_handed_back() -> None:
    written: list[int] = []
    done: list[int] = []
    writes = WriteThread(written.append, depth=2, name="t", done=done.append)
    for i in range(100):
        writes.put(i)
    writes.close()
    assert written == list(range(100))
    assert done == list(range(100))
    writes.close()  # idempotent


def test_the_first_error_reaches_the_caller_and_stops_the_writes() -> None:
    writing_3, fail_3 = threading.Event(), threading.Event()
    written: list[int] = []
    done: list[int] = []

    def write(item: int) -> None:
        if item == 3:
            writing_3.set()
            assert fail_3.wait(10)
            raise OSError(28, "No space left on device")
        written.append(item)

    writes = WriteThread(write, depth=1, name="t", done=done.append)
    for i in range(4):
        writes.put(i)
    assert writing_3.wait(10)
    writes.put(4)  # queued behind the write that is about to fail
    fail_3.set()
    with pytest.raises(OSError, match="No space left"):
        writes.close()
    assert written == [0, 1, 2]  # nothing after the failure
    assert done == [0, 1, 2, 3, 4]  # every item handed back, written or not
    with pytest.raises(OSError, match="No space left"):
        writes.put(5)
    with pytest.raises(OSError, match="No space left"):
        writes.close()
