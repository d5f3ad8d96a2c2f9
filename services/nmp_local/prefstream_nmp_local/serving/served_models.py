"""Which deployments serve real weights, and their load state (pending → ready | failed).

A deployment whose model's ``artifact.files_url`` names a Data Store model repo holding a
``config.json`` and weights is served for real: its model loads in a background thread (one per
load) while the deployment reports ``pending``. Load state lives in memory only, so after
a restart the first look at a deployment starts its load again.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from prefstream_nmp_local.hf_repos import HfRepos
from prefstream_nmp_local.persistence import Store
from prefstream_nmp_local.training.model_files import Snapshot, base_model_weights, materialize

if TYPE_CHECKING:
    from prefstream_nmp_local.serving.engine import Engine

log = logging.getLogger("prefstream_nmp_local.serving")
LoadStatus = Literal["pending", "ready", "failed"]
INSTALL_HINT = (
    "serving a model with weights needs torch and transformers: "
    "install prefstream-nmp-local[training]"
)


@dataclass(frozen=True)
class Weights:
    """What a deployment serves: the Entity Store model and the repo commit (pinned when the
    deployment is created, so a restart serves the same weights)."""

    model: str
    repo_id: str
    commit: str

    def to_json(self) -> dict[str, str]:
        return {"model": self.model, "repo_id": self.repo_id, "commit": self.commit}

    @classmethod
    def from_json(cls, data: Any) -> Weights | None:
        if not isinstance(data, dict):
            return None
        return cls(str(data["model"]), str(data["repo_id"]), str(data["commit"]))


def find_weights(store: Store, repos: HfRepos, models: list[str]) -> Weights | None:
    """The first of ``models`` whose Entity Store artifact is a loadable Data Store repo."""
    for ref in models:
        snap = base_model_weights(store, repos, ref)
        if snap is not None:
            return Weights(ref, snap.repo_id, snap.commit)
    return None


@dataclass
class LoadState:
    weights: Weights
    status: LoadStatus = "pending"
    error: str | None = None
    since: float = field(default_factory=time.time)
    engine: Engine | None = None

    @property
    def description(self) -> str:
        if self.status == "failed":
            return f"Model {self.weights.model} failed to load: {self.error}"
        if self.status == "ready":
            return f"Serving {self.weights.model}"
        return f"Loading {self.weights.model}"


class ServedModels:
    """Load state per deployment key (``ns/name``); thread-safe."""

    def __init__(self, repos: HfRepos, snapshot_root: Path) -> None:
        """``snapshot_root``: the materialised-repo cache (shared with the trainer)."""
        self._repos = repos
        self._root = snapshot_root
        self._lock = threading.Lock()
        self._states: dict[str, LoadState] = {}

    def ensure(self, key: str, weights: Weights) -> LoadState:
        """The deployment's state, starting its load if nothing is loaded or loading."""
        with self._lock:
            state = self._states.get(key)
            if state is not None and state.weights == weights:
                return state
            state = LoadState(weights)
            self._states[key] = state
        threading.Thread(target=self._load, args=(state,), name=f"load {key}", daemon=True).start()
        return state

    def get(self, key: str) -> LoadState | None:
        with self._lock:
            return self._states.get(key)

    def drop(self, key: str) -> None:
        """Forget a deleted deployment (its model is freed once in-flight requests end)."""
        with self._lock:
            self._states.pop(key, None)

    def _load(self, state: LoadState) -> None:
        snap = Snapshot("model", state.weights.repo_id, state.weights.commit)
        started = time.monotonic()
        try:
            directory = materialize(self._repos, snap, self._root)
            try:
                from prefstream_nmp_local.serving.engine import Engine
            except ImportError as exc:
                raise RuntimeError(f"{INSTALL_HINT} ({exc})") from exc
            engine = Engine(directory)
        except Exception as exc:
            log.exception("loading %s failed", state.weights.model)
            state.error, state.status = f"{type(exc).__name__}: {exc}", "failed"
        else:
            state.engine, state.status = engine, "ready"
            log.info("loaded %s in %.1fs", state.weights.model, time.monotonic() - started)
        state.since = time.time()
