"""How many CPU threads torch may use in nmp-local's trainer and its serving engines."""

from __future__ import annotations

import os


def modest_threads() -> int:
    """Half the cores, at most 4: generation and training must leave the event loop room.

    Measured on 2 cores with the 110k-parameter demo model: one torch thread trains and
    generates faster than two (the second thread only adds synchronisation), and it keeps
    the server's event loop answering while a job trains.
    """
    return max(1, min(4, (os.cpu_count() or 2) // 2))
