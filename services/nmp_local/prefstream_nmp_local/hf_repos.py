"""Git-like repositories for the Data Store: repos, commits with full tree snapshots, refs.

Only the ``main`` branch exists; a revision is ``main`` or a commit id (or a ≥7-char
prefix). Every commit stores the whole tree, which is small for dataset repos and makes
any revision resolvable without replaying history.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from prefstream_nmp_local.blobs import BlobStore, git_blob_oid, lfs_pointer
from prefstream_nmp_local.errors import HfError
from prefstream_nmp_local.persistence import Store

JsonObj = dict[str, Any]
REPO_TYPES = ("dataset", "model")
MAIN = "main"


def repo_key(repo_type: str, repo_id: str) -> str:
    return f"{repo_type}/{repo_id}"


@dataclass(frozen=True)
class CommitOp:
    kind: str  # "file" | "lfsFile" | "deletedFile" | "deletedFolder"
    path: str
    content: bytes | None = None
    sha256: str | None = None
    size: int | None = None


class HfRepos:
    """Repository operations over the record store and blob store."""

    def __init__(self, store: Store, blobs: BlobStore) -> None:
        self.store = store
        self.blobs = blobs

    # repos -------------------------------------------------------------------------
    def create(self, repo_type: str, repo_id: str, private: bool, now: float) -> bool:
        """Create with an empty initial commit (so ``main`` resolves); False if it exists."""
        key = repo_key(repo_type, repo_id)
        if self.store.get("hf_repo", key) is not None:
            return False
        root = self._new_commit(key, None, {}, "initial commit", "", now)
        repo = {
            "type": repo_type,
            "id": repo_id,
            "private": private,
            "created_at": now,
            "updated_at": now,
            "head": root["oid"],
        }
        return self.store.insert("hf_repo", key, repo)

    def get(self, repo_type: str, repo_id: str) -> JsonObj:
        repo = self.store.get("hf_repo", repo_key(repo_type, repo_id))
        if repo is None:
            raise HfError(404, f"Repository {repo_id} not found", "RepoNotFound")
        return repo

    def list_repos(self, repo_type: str) -> list[JsonObj]:
        """Every repo of one type, oldest first."""
        return self.store.list("hf_repo", repo_key(repo_type, ""))

    def delete(self, repo_type: str, repo_id: str) -> None:
        key = repo_key(repo_type, repo_id)
        self.get(repo_type, repo_id)
        for commit in self.store.list("hf_commit", key + "@"):
            self.store.delete("hf_commit", f"{key}@{commit['oid']}")
        self.store.delete("hf_repo", key)

    # revisions ---------------------------------------------------------------------
    def resolve(self, repo: JsonObj, revision: str) -> JsonObj:
        """The commit a revision names, or 404 ``RevisionNotFound``."""
        key = repo_key(repo["type"], repo["id"])
        rev = revision.removeprefix("refs/heads/")
        oid: str | None = None
        if rev == MAIN:
            oid = repo["head"]
        elif 7 <= len(rev) <= 40 and all(c in "0123456789abcdef" for c in rev):
            matches = [c["oid"] for c in self.history(repo) if c["oid"].startswith(rev)]
            oid = matches[0] if len(matches) == 1 else None
        commit = None if oid is None else self.store.get("hf_commit", f"{key}@{oid}")
        if commit is None:
            raise HfError(404, f"Invalid rev id: {revision}", "RevisionNotFound")
        return commit

    def history(self, repo: JsonObj) -> list[JsonObj]:
        """Commits reachable from ``main``, newest first."""
        key = repo_key(repo["type"], repo["id"])
        out: list[JsonObj] = []
        oid: str | None = repo["head"]
        while oid is not None:
            commit = self.store.get("hf_commit", f"{key}@{oid}")
            if commit is None:
                break
            out.append(commit)
            oid = commit["parent"]
        return out

    # commits -----------------------------------------------------------------------
    def commit(
        self,
        repo: JsonObj,
        revision: str,
        ops: list[CommitOp],
        summary: str,
        description: str,
        parent_commit: str | None,
        now: float,
    ) -> JsonObj:
        """Apply ``ops`` on top of ``revision`` (must be the branch head) and advance it."""
        if revision.removeprefix("refs/heads/") != MAIN:
            self.resolve(repo, revision)
            raise HfError(400, "nmp-local only accepts commits to the 'main' branch")
        head = self.resolve(repo, MAIN)
        if parent_commit is not None and parent_commit != head["oid"]:
            raise HfError(
                412, f"A commit has happened since. Parent {parent_commit} is not {head['oid']}"
            )
        key = repo_key(repo["type"], repo["id"])
        tree: dict[str, JsonObj] = dict(head["tree"])
        changed: list[str] = []
        for op in ops:
            if op.kind == "file":
                assert op.content is not None
                info = self.blobs.put_bytes(op.content)
                tree[op.path] = {
                    "size": info.size,
                    "sha256": info.sha256,
                    "git_oid": git_blob_oid(op.content),
                    "lfs": False,
                }
                changed.append(op.path)
            elif op.kind == "lfsFile":
                assert op.sha256 is not None
                assert op.size is not None
                if not self.blobs.has(op.sha256, op.size):
                    raise HfError(
                        422,
                        f"LFS object {op.sha256} ({op.size} bytes) for {op.path} was not uploaded",
                    )
                pointer = lfs_pointer(op.sha256, op.size)
                tree[op.path] = {
                    "size": op.size,
                    "sha256": op.sha256,
                    "git_oid": git_blob_oid(pointer),
                    "lfs": True,
                    "pointer_size": len(pointer),
                }
                changed.append(op.path)
            elif op.kind == "deletedFile":
                if tree.pop(op.path, None) is None:
                    raise HfError(404, f"File {op.path} does not exist", "EntryNotFound")
            elif op.kind == "deletedFolder":
                prefix = op.path.rstrip("/") + "/"
                for p in [p for p in tree if p.startswith(prefix)]:
                    del tree[p]
            else:
                raise HfError(400, f"Unknown commit operation {op.kind!r}")
        commit = self._new_commit(key, head["oid"], tree, summary, description, now, changed)
        repo = {**repo, "head": commit["oid"], "updated_at": now}
        self.store.put("hf_repo", key, repo)
        return commit

    def _new_commit(
        self,
        key: str,
        parent: str | None,
        tree: dict[str, JsonObj],
        summary: str,
        description: str,
        now: float,
        changed: list[str] | None = None,
    ) -> JsonObj:
        seed = json.dumps([key, parent, tree, summary, description, now], sort_keys=True)
        oid = hashlib.sha1(seed.encode(), usedforsecurity=False).hexdigest()
        for path in changed or []:
            tree[path] = {**tree[path], "last_commit": oid}
        commit = {
            "oid": oid,
            "parent": parent,
            "title": summary,
            "message": description,
            "created_at": now,
            "tree": tree,
        }
        self.store.put("hf_commit", f"{key}@{oid}", commit)
        return commit

    # files -------------------------------------------------------------------------
    def entry(self, commit: JsonObj, path: str) -> JsonObj:
        entry = commit["tree"].get(path)
        if entry is None:
            raise HfError(404, f"Entry not found: {path}", "EntryNotFound")
        assert isinstance(entry, dict)
        return entry

    def read(self, commit: JsonObj, path: str) -> bytes:
        return self.blobs.read(self.entry(commit, path)["sha256"])


def decode_content(value: JsonObj) -> bytes:
    """The ``content`` of a ``file`` commit line (base64, or utf-8 text if so declared)."""
    content = value.get("content")
    if not isinstance(content, str):
        raise HfError(400, f"file {value.get('path')!r}: content must be a string")
    if value.get("encoding", "utf-8") == "base64":
        try:
            return base64.b64decode(content, validate=True)
        except ValueError as exc:
            raise HfError(400, f"file {value.get('path')!r}: invalid base64") from exc
    return content.encode()
