"""The shared state every route module gets: settings, storage, fault state, clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request

from prefstream_nmp_local.blobs import BlobStore
from prefstream_nmp_local.faults import FaultState
from prefstream_nmp_local.persistence import Store
from prefstream_nmp_local.settings import NmpLocalSettings

Scope = dict[str, Any]


@dataclass
class AppContext:
    settings: NmpLocalSettings
    store: Store
    blobs: BlobStore
    faults: FaultState
    now: Callable[[], float] = time.time
    dropper: Callable[[Scope], bool] | None = field(default=None)
    """Set by ``serve()``: aborts the TCP connection of a request (fault injection)."""

    def base_url(self, request: Request) -> str:
        """Where clients reach us; used to build absolute URLs in responses."""
        if self.settings.public_url:
            return self.settings.public_url.rstrip("/")
        return str(request.base_url).rstrip("/")
