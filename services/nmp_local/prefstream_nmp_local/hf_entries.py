"""File and folder entries as the Hub's ``tree`` and ``paths-info`` endpoints return them.

``huggingface_hub`` builds ``RepoFile`` from ``{type: "file", path, size, oid, lfs: {oid,
size, pointerSize}, lastCommit}`` and ``RepoFolder`` from ``{type: "directory", path, oid,
lastCommit}``; ``lastCommit`` only comes with ``expand``. A folder's oid is derived from
the blobs beneath it, so it changes exactly when its content does (as a git tree id would).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from prefstream_nmp_local.errors import HfError
from prefstream_nmp_local.hf_repos import HfRepos
from prefstream_nmp_local.timefmt import iso

JsonObj = dict[str, Any]


class EntryRenderer:
    """Renders entries of one commit; remembers the commits ``lastCommit`` looks up."""

    def __init__(self, repos: HfRepos, repo: JsonObj, commit: JsonObj, expand: bool) -> None:
        self.repos = repos
        self.repo = repo
        self.files: dict[str, JsonObj] = commit["tree"]
        self.expand = expand
        self._commits: dict[str, JsonObj] = {}

    def file(self, path: str, entry: JsonObj) -> JsonObj:
        item: JsonObj = {
            "type": "file",
            "oid": entry["git_oid"],
            "size": entry["size"],
            "path": path,
        }
        if entry["lfs"]:
            item["lfs"] = {
                "oid": entry["sha256"],
                "size": entry["size"],
                "pointerSize": entry["pointer_size"],
            }
        last = self._last_commit([entry])
        if last is not None:
            item["lastCommit"] = last
        return item

    def folder(self, path: str) -> JsonObj:
        under = [e for p, e in self.files.items() if p.startswith(path + "/")]
        oids = "".join(sorted(e["git_oid"] for e in under))
        digest = hashlib.sha1(oids.encode(), usedforsecurity=False).hexdigest()
        item: JsonObj = {"type": "directory", "oid": digest, "size": 0, "path": path}
        last = self._last_commit(under)
        if last is not None:
            item["lastCommit"] = last
        return item

    def _last_commit(self, entries: Iterable[JsonObj]) -> JsonObj | None:
        """The newest commit that changed any of ``entries`` (``None`` without ``expand``)."""
        if not self.expand:
            return None
        commits = [self._commit(e["last_commit"]) for e in entries if e.get("last_commit")]
        if not commits:
            return None
        last = max(commits, key=lambda c: float(c["created_at"]))
        return {"id": last["oid"], "title": last["title"], "date": iso(last["created_at"])}

    def _commit(self, oid: str) -> JsonObj:
        if oid not in self._commits:
            self._commits[oid] = self.repos.resolve(self.repo, oid)
        return self._commits[oid]


def list_tree(render: EntryRenderer, path: str, recursive: bool) -> list[JsonObj]:
    """``GET …/tree/{rev}[/{path}]``: the entries under ``path`` (all depths if recursive)."""
    prefix = path + "/" if path else ""
    under = {p: e for p, e in render.files.items() if p.startswith(prefix)}
    if path and not under:
        raise HfError(404, f"Entry not found: {path}", "EntryNotFound")
    dirs: set[str] = set()
    out: list[JsonObj] = []
    for p, entry in under.items():
        rest = p[len(prefix) :].split("/")
        depths = range(1, len(rest)) if recursive else range(1, min(len(rest), 2))
        dirs.update(prefix + "/".join(rest[:depth]) for depth in depths)
        if len(rest) == 1 or recursive:
            out.append(render.file(p, entry))
    out.extend(render.folder(d) for d in dirs)
    out.sort(key=lambda e: str(e["path"]))
    return out


def paths_info(render: EntryRenderer, paths: list[str]) -> list[JsonObj]:
    """``POST …/paths-info/{rev}``: one entry per existing path (already validated), in the
    order asked; paths that do not exist are left out, as on the Hub."""
    out: list[JsonObj] = []
    seen: set[str] = set()
    for path in paths:
        if path in seen:
            continue
        seen.add(path)
        entry = render.files.get(path)
        if entry is not None:
            out.append(render.file(path, entry))
        elif any(p.startswith(path + "/") for p in render.files):
            out.append(render.folder(path))
    return out
