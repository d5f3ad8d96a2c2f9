"""Commit a trained model folder to a Data Store model repo, stored as an HfApi upload would be.

Large or binary files (over ``lfs_threshold_bytes``, or with a NUL byte in the first 512
bytes, the preupload rule) become LFS files, so ``hf_hub_download`` and ``snapshot_download``
see the same pointers and ``X-Linked-*`` headers they see for uploaded weights.
"""

from __future__ import annotations

from pathlib import Path

from prefstream_nmp_local.blobs import BlobStore
from prefstream_nmp_local.hf_repos import CommitOp

SKIP = frozenset({"training_args.bin"})
"""Trainer internals (a pickle); not part of the model."""


def commit_ops(folder: Path, lfs_threshold_bytes: int, blobs: BlobStore) -> list[CommitOp]:
    """One op per file under ``folder``; LFS contents go into the blob store first."""
    ops: list[CommitOp] = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel in SKIP:
            continue
        data = path.read_bytes()
        if len(data) > lfs_threshold_bytes or b"\0" in data[:512]:
            info = blobs.put_bytes(data)
            ops.append(CommitOp("lfsFile", rel, sha256=info.sha256, size=info.size))
        else:
            ops.append(CommitOp("file", rel, content=data))
    return ops
