"""A thread that does a writer's system calls, in order, while the caller encodes the next
chunk: ``write`` and ``pwrite`` release the GIL, encoding does not."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class WriteThread(Generic[T]):
    """``put`` items (never ``None``); the thread calls ``write`` on each, in order, then
    ``done`` (written or not). Items after a failed ``write`` are not written; the error is
    raised to the caller by its next ``put`` and by ``close``. At most ``depth`` items
    wait, which bounds the memory held by chunks not yet written."""

    def __init__(
        self,
        write: Callable[[T], object],
        *,
        depth: int,
        name: str,
        done: Callable[[T], None] | None = None,
    ) -> None:
        self._write = write
        self._done = done
        self._q: queue.Queue[T | None] = queue.Queue(maxsize=depth)  # None: the end
        self.error: BaseException | None = None
        """The first error ``write`` raised."""
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        if self.error is not None:
            raise self.error
        self._q.put(item)

    def close(self) -> None:
        """Wait until every item is handled; raise the first error. Idempotent."""
        if self._thread.is_alive():
            self._q.put(None)
            self._thread.join()
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while (item := self._q.get()) is not None:
            if self.error is None:
                try:
                    self._write(item)
                except BaseException as exc:  # raised to the caller by put() or close()
                    self.error = exc
            if self._done is not None:
                self._done(item)
