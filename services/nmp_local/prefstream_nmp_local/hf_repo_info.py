"""Repo info as the Hub returns it: one repo (``GET /api/{kind}s/{id}``) and repo lists
(``GET /api/{kind}s?author=&search=&sort=&limit=``, what ``list_datasets``/``list_models``
call).

Lists are paged the Hub's way, with a ``Link: <next>; rel="next"`` header that
``huggingface_hub`` follows; our cursor is a plain offset. ``filter`` matches tags, and
nmp-local repos have none, so any ``filter`` gives an empty list.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from prefstream_nmp_local.errors import HfError
from prefstream_nmp_local.hf_repos import MAIN, HfRepos
from prefstream_nmp_local.pagination import int_param
from prefstream_nmp_local.timefmt import iso

JsonObj = dict[str, Any]
MAX_LIMIT = 1000
SORTS = ("lastModified", "createdAt", "downloads", "likes", "trendingScore", "id")
"""Descending, as the Hub sorts (``id`` ascending); counters are all 0 here."""


def repo_info_json(repo: JsonObj, commit: JsonObj, *, siblings: bool) -> JsonObj:
    """``DatasetInfo``/``ModelInfo`` fields; ``siblings`` (the files) only when asked."""
    info: JsonObj = {
        "_id": hashlib.sha1(repo["id"].encode(), usedforsecurity=False).hexdigest()[:24],
        "id": repo["id"],
        "author": repo["id"].split("/")[0],
        "sha": commit["oid"],
        "private": repo["private"],
        "gated": False,
        "disabled": False,
        "downloads": 0,
        "likes": 0,
        "tags": [],
        "createdAt": iso(repo["created_at"]),
        "lastModified": iso(commit["created_at"]),
        "usedStorage": sum(e["size"] for e in commit["tree"].values()),
    }
    if siblings:
        info["siblings"] = [_sibling(path, e) for path, e in sorted(commit["tree"].items())]
    return info


def _sibling(path: str, entry: JsonObj) -> JsonObj:
    sib: JsonObj = {"rfilename": path, "size": entry["size"], "blobId": entry["git_oid"]}
    if entry["lfs"]:
        sib["lfs"] = {
            "size": entry["size"],
            "sha256": entry["sha256"],
            "pointerSize": entry["pointer_size"],
        }
    return sib


@dataclass(frozen=True)
class RepoPage:
    items: list[JsonObj]
    next_query: str | None
    """The query string of the next page, ``None`` on the last one."""


def list_repos(repos: HfRepos, repo_type: str, params: QueryParams) -> RepoPage:
    """Filter, sort and page the repos of one type as the Hub's list endpoints do."""
    author = params.get("author")
    searches = [s.lower() for s in params.getlist("search") if s]
    gated = params.get("gated")
    sort = params.get("sort") or "id"
    if sort not in SORTS:
        raise HfError(400, f"Invalid sort {sort!r}: expected one of {', '.join(SORTS)}")
    limit = _int(params, "limit", MAX_LIMIT, 1, MAX_LIMIT)
    offset = _int(params, "cursor", 0, 0, None)
    full = params.get("full", "").lower() in ("1", "true") or "siblings" in params.getlist("expand")

    matched: list[tuple[JsonObj, JsonObj]] = []
    for repo in repos.list_repos(repo_type):
        rid = repo["id"].lower()
        if author and repo["id"].split("/")[0] != author:
            continue
        if not all(s in rid for s in searches) or params.getlist("filter"):
            continue
        if gated is not None and gated.lower() == "true":
            continue  # nothing is gated here
        matched.append((repo, repos.resolve(repo, MAIN)))
    matched.sort(key=lambda rc: str(rc[0]["id"]))
    if sort == "lastModified":
        matched.sort(key=lambda rc: float(rc[1]["created_at"]), reverse=True)
    elif sort == "createdAt":
        matched.sort(key=lambda rc: float(rc[0]["created_at"]), reverse=True)

    page = matched[offset : offset + limit]
    next_query = None
    if offset + limit < len(matched):
        rest = [(k, v) for k, v in params.multi_items() if k != "cursor"]
        next_query = urlencode([*rest, ("cursor", str(offset + limit))])
    return RepoPage([repo_info_json(r, c, siblings=full) for r, c in page], next_query)


def _int(params: QueryParams, name: str, default: int, lo: int, hi: int | None) -> int:
    parsed = int_param(
        params, name, lambda raw: HfError(400, f"{name} must be an integer, got {raw!r}")
    )
    if parsed is None:
        return default
    value = parsed[0]
    if value < lo:
        raise HfError(400, f"{name} must be at least {lo}, got {value}")
    return value if hi is None else min(value, hi)
