"""Repo snapshots on local disk: which base models have weights, and a per-commit file cache.

A worker needs directories ``from_pretrained`` can read. A snapshot of ``hf://models/NS/NAME``
(or a dataset repo) at one commit is written once under ``DATA_DIR/training/cache/`` and
reused: commits are immutable, so the commit id names the content. Files are hard links to
the content-addressed blobs where the file system allows (no copy of multi-GB weights).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from prefstream_nmp_local.errors import HfError
from prefstream_nmp_local.hf_repos import MAIN, HfRepos
from prefstream_nmp_local.persistence import Store

MODEL_KIND = "model"
"""Entity Store record kind of models (``entity_store.MODELS.kind``)."""
WEIGHT_SUFFIXES = (".safetensors", ".bin")
_FILES_URL = re.compile(
    r"^hf://(?P<kind>models|datasets)/(?P<ns>[^/@]+)/(?P<name>[^/@]+?)/?(?:@(?P<rev>[^/]+))?/?$"
)


@dataclass(frozen=True)
class Snapshot:
    repo_type: str
    repo_id: str
    commit: str

    @property
    def files_url(self) -> str:
        return f"hf://{self.repo_type}s/{self.repo_id}"


def resolve_files_url(repos: HfRepos, files_url: str) -> Snapshot | None:
    """The commit ``hf://{models|datasets}/NS/NAME[@REV]`` names today; None if it does not."""
    m = _FILES_URL.match(files_url)
    if m is None:
        return None
    repo_type = m["kind"].removesuffix("s")
    try:
        repo = repos.get(repo_type, f"{m['ns']}/{m['name']}")
        commit = repos.resolve(repo, m["rev"] or MAIN)
    except HfError:
        return None
    return Snapshot(repo_type, f"{m['ns']}/{m['name']}", str(commit["oid"]))


def base_model_weights(store: Store, repos: HfRepos, base_model: str) -> Snapshot | None:
    """The weights of Entity Store model ``base_model`` ("NS/NAME"), if its repo holds any.

    Weights = ``config.json`` plus a ``*.safetensors``/``*.bin`` file in the commit that the
    model's ``artifact.files_url`` names.
    """
    entity = store.get(MODEL_KIND, base_model)
    artifact = (entity or {}).get("artifact") or {}
    files_url = artifact.get("files_url") if isinstance(artifact, dict) else None
    if not isinstance(files_url, str):
        return None
    snap = resolve_files_url(repos, files_url)
    if snap is None or snap.repo_type != "model":
        return None
    tree = _tree(repos, snap)
    has_weights = any(p.endswith(WEIGHT_SUFFIXES) for p in tree)
    return snap if "config.json" in tree and has_weights else None


def materialize(repos: HfRepos, snap: Snapshot, cache_root: Path) -> Path:
    """The snapshot as a directory (built once per commit; concurrent builders are safe)."""
    target = cache_root / f"{snap.repo_type}s--{snap.repo_id.replace('/', '--')}" / snap.commit
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".partial-"))
    try:
        for path, entry in _tree(repos, snap).items():
            dest = tmp / path
            dest.parent.mkdir(parents=True, exist_ok=True)
            _link_or_copy(repos.blobs.path(str(entry["sha256"])), dest)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.is_dir():
                raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
    return target


def _tree(repos: HfRepos, snap: Snapshot) -> dict[str, dict[str, object]]:
    commit = repos.resolve(repos.get(snap.repo_type, snap.repo_id), snap.commit)
    tree: dict[str, dict[str, object]] = commit["tree"]
    return tree


def _link_or_copy(src: Path, dest: Path) -> None:
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)
