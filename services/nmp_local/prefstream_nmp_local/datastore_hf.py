"""The HuggingFace Hub API subset ``huggingface_hub.HfApi`` uses, under ``/v1/hf``.

Repo create (409 still carries ``url``: ``create_repo(exist_ok=True)`` reads it), repo
info and repo lists (``hf_repo_info``), preupload (decides regular vs LFS and returns stored
oids so unchanged files are skipped), NDJSON commits, tree listing and paths-info
(``hf_entries``), commit listing and ``resolve`` with the headers ``hf_hub_download`` insists
on (``X-Repo-Commit``, ``ETag``, ``X-Linked-*``).
"""

from __future__ import annotations

import base64
import binascii
import json
import mimetypes
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from prefstream_nmp_local import hf_entries, hf_repo_info
from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.errors import HfError, hf_error_response
from prefstream_nmp_local.hf_entries import EntryRenderer, list_tree
from prefstream_nmp_local.hf_repo_info import repo_info_json
from prefstream_nmp_local.hf_repos import MAIN, CommitOp, HfRepos, decode_content
from prefstream_nmp_local.timefmt import iso

JsonObj = dict[str, Any]
PREFIX = "/v1/hf"
_KINDS = {"datasets": "dataset", "models": "model"}


def repo_url(base: str, repo_type: str, repo_id: str) -> str:
    """``{E}/datasets/ns/name`` for datasets, ``{E}/ns/name`` for models (as on the Hub)."""
    kind = "datasets/" if repo_type == "dataset" else ""
    return f"{base}{PREFIX}/{kind}{repo_id}"


def validate_repo_path(path: object) -> str:
    """Reject paths that could escape the repo or are not plain relative paths."""
    if not isinstance(path, str) or not path:
        raise HfError(400, "path must be a non-empty string")
    parts = path.split("/")
    if path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise HfError(400, f"Invalid path in repo: {path!r}")
    return path


def routes(ctx: AppContext, repos: HfRepos) -> list[BaseRoute]:
    def kind_of(request: Request) -> str:
        kind = _KINDS.get(request.path_params["kind"])
        if kind is None:
            raise HfError(404, f"Unknown repo type {request.path_params['kind']!r}")
        return kind

    def repo_id(request: Request) -> str:
        return f"{request.path_params['ns']}/{request.path_params['name']}"

    async def create_repo(request: Request) -> Response:
        body = await _json_object(request)
        name, org = body.get("name"), body.get("organization")
        repo_type = body.get("type") or "model"
        if not isinstance(name, str) or not name or "/" in name:
            raise HfError(400, "name is required")
        if not isinstance(org, str) or not org:
            raise HfError(400, "organization (namespace) is required")
        if repo_type not in ("dataset", "model"):
            raise HfError(400, f"nmp-local does not host {repo_type!r} repos")
        rid = f"{org}/{name}"
        url = repo_url(ctx.base_url(request), repo_type, rid)
        private = bool(body.get("private")) or body.get("visibility") == "private"
        if not repos.create(repo_type, rid, private, ctx.now()):
            return hf_error_response(
                409, f"You already created this {repo_type} repo", extra={"url": url}
            )
        return JSONResponse({"url": url, "name": rid, "id": rid})

    async def delete_repo(request: Request) -> Response:
        body = await _json_object(request)
        rid = f"{body.get('organization')}/{body.get('name')}"
        repos.delete(body.get("type") or "model", rid)
        return JSONResponse({})

    async def repo_info(request: Request) -> Response:
        repo = repos.get(kind_of(request), repo_id(request))
        commit = repos.resolve(repo, request.path_params.get("rev", MAIN))
        return JSONResponse(repo_info_json(repo, commit, siblings=True))

    async def list_repos(request: Request) -> Response:
        page = hf_repo_info.list_repos(repos, kind_of(request), request.query_params)
        headers = {}
        if page.next_query is not None:
            url = f"{ctx.base_url(request)}{request.url.path}?{page.next_query}"
            headers["Link"] = f'<{url}>; rel="next"'
        return JSONResponse(page.items, headers=headers)

    async def preupload(request: Request) -> Response:
        repo = repos.get(kind_of(request), repo_id(request))
        commit = repos.resolve(repo, request.path_params["rev"])
        body = await _json_object(request)
        files = body.get("files")
        if not isinstance(files, list):
            raise HfError(400, "files must be a list")
        out = []
        for f in files:
            if not isinstance(f, dict):
                raise HfError(400, "each file must be an object")
            path = validate_repo_path(f.get("path"))
            size = f.get("size")
            if not isinstance(size, int) or size < 0:
                raise HfError(400, f"{path}: size must be a non-negative integer")
            try:
                sample = base64.b64decode(str(f.get("sample", "")), validate=True)
            except binascii.Error as exc:
                raise HfError(400, f"{path}: sample is not valid base64") from exc
            lfs = size > ctx.settings.lfs_threshold_bytes or b"\0" in sample
            existing = commit["tree"].get(path)
            oid = None
            if existing is not None:
                oid = existing["sha256"] if existing["lfs"] else existing["git_oid"]
            out.append(
                {
                    "path": path,
                    "uploadMode": "lfs" if lfs else "regular",
                    "shouldIgnore": False,
                    "oid": oid,
                }
            )
        return JSONResponse({"files": out, "commitOid": commit["oid"]})

    async def commit(request: Request) -> Response:
        rtype = kind_of(request)
        repo = repos.get(rtype, repo_id(request))
        if request.query_params.get("create_pr") in ("1", "true", "True"):
            raise HfError(400, "nmp-local does not support pull requests")
        header, ops = _parse_ndjson_commit(await request.body())
        result = repos.commit(
            repo,
            request.path_params["rev"],
            ops,
            str(header.get("summary") or ""),
            str(header.get("description") or ""),
            header.get("parentCommit"),
            ctx.now(),
        )
        url = repo_url(ctx.base_url(request), rtype, repo["id"])
        return JSONResponse(
            {
                "success": True,
                "commitOid": result["oid"],
                "commitUrl": f"{url}/commit/{result['oid']}",
                "commitMessage": result["title"],
                "pullRequestUrl": None,
            }
        )

    async def tree(request: Request) -> Response:
        repo = repos.get(kind_of(request), repo_id(request))
        commit = repos.resolve(repo, request.path_params["rev"])
        path = str(request.path_params.get("path", "")).strip("/")
        recursive = request.query_params.get("recursive", "").lower() in ("1", "true")
        expand = request.query_params.get("expand", "").lower() in ("1", "true")
        render = EntryRenderer(repos, repo, commit, expand)
        return JSONResponse(list_tree(render, path, recursive))

    async def paths_info(request: Request) -> Response:
        repo = repos.get(kind_of(request), repo_id(request))
        commit = repos.resolve(repo, request.path_params["rev"])
        paths, expand = await _paths_info_body(request)
        render = EntryRenderer(repos, repo, commit, expand)
        return JSONResponse(hf_entries.paths_info(render, paths))

    async def commits(request: Request) -> Response:
        repo = repos.get(kind_of(request), repo_id(request))
        start = repos.resolve(repo, request.path_params["rev"])
        history = repos.history(repo)
        oids = [c["oid"] for c in history]
        history = history[oids.index(start["oid"]) :] if start["oid"] in oids else [start]
        return JSONResponse([_commit_json(c) for c in history])

    async def refs(request: Request) -> Response:
        repo = repos.get(kind_of(request), repo_id(request))
        main = {"name": MAIN, "ref": f"refs/heads/{MAIN}", "targetCommit": repo["head"]}
        return JSONResponse({"branches": [main], "converts": [], "tags": []})

    async def no_xet(request: Request) -> Response:
        raise HfError(404, "nmp-local has no Xet storage; set HF_HUB_DISABLE_XET=1 to use git-LFS")

    async def resolve(request: Request) -> Response:
        rtype = "dataset" if request.url.path.startswith(f"{PREFIX}/datasets/") else "model"
        repo = repos.get(rtype, repo_id(request))
        commit_obj = repos.resolve(repo, request.path_params["rev"])
        entry = repos.entry(commit_obj, request.path_params["path"])
        headers = {
            "X-Repo-Commit": commit_obj["oid"],
            "ETag": f'"{entry["git_oid"]}"',
            "Accept-Ranges": "bytes",
        }
        if entry["lfs"]:
            headers["X-Linked-Etag"] = f'"{entry["sha256"]}"'
            headers["X-Linked-Size"] = str(entry["size"])
        media = mimetypes.guess_type(request.path_params["path"])[0] or "application/octet-stream"
        return FileResponse(repos.blobs.path(entry["sha256"]), headers=headers, media_type=media)

    repo_base = PREFIX + "/api/{kind}/{ns}/{name}"
    return [
        Route(PREFIX + "/api/repos/create", create_repo, methods=["POST"]),
        Route(PREFIX + "/api/repos/delete", delete_repo, methods=["DELETE"]),
        Route(PREFIX + "/api/{kind}", list_repos, methods=["GET"]),
        Route(repo_base, repo_info, methods=["GET"]),
        Route(repo_base + "/revision/{rev}", repo_info, methods=["GET"]),
        Route(repo_base + "/preupload/{rev}", preupload, methods=["POST"]),
        Route(repo_base + "/commit/{rev}", commit, methods=["POST"]),
        Route(repo_base + "/tree/{rev}", tree, methods=["GET"]),
        Route(repo_base + "/tree/{rev}/{path:path}", tree, methods=["GET"]),
        Route(repo_base + "/paths-info/{rev}", paths_info, methods=["POST"]),
        Route(repo_base + "/commits/{rev}", commits, methods=["GET"]),
        Route(repo_base + "/refs", refs, methods=["GET"]),
        Route(repo_base + "/xet-write-token/{rev}", no_xet, methods=["GET"]),
        Route(repo_base + "/xet-read-token/{rev}", no_xet, methods=["GET"]),
        Route(PREFIX + "/datasets/{ns}/{name}/resolve/{rev}/{path:path}", resolve),
        Route(PREFIX + "/{ns}/{name}/resolve/{rev}/{path:path}", resolve),
    ]


async def _json_object(request: Request) -> JsonObj:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise HfError(400, f"Invalid JSON body: {exc}") from exc
    if not isinstance(body, dict):
        raise HfError(400, "Body must be a JSON object")
    return body


async def _paths_info_body(request: Request) -> tuple[list[str], bool]:
    """``paths`` (repeated) and ``expand``: form-encoded as HfApi sends them, or JSON."""
    raw = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await _json_object(request)
        paths, expand = body.get("paths"), body.get("expand")
    else:
        form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
        paths, expand = form.get("paths", []), (form.get("expand") or [""])[-1]
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise HfError(400, "paths must be a list of strings")
    wanted = [validate_repo_path(p.strip("/")) for p in paths if p.strip("/")]
    return wanted, expand is True or str(expand).lower() in ("1", "true")


def _parse_ndjson_commit(raw: bytes) -> tuple[JsonObj, list[CommitOp]]:
    header: JsonObj | None = None
    ops: list[CommitOp] = []
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            key, value = item["key"], item["value"]
        except (ValueError, KeyError, TypeError) as exc:
            raise HfError(
                400, f"commit payload line {n}: not a {{key, value}} JSON object"
            ) from exc
        if not isinstance(value, dict):
            raise HfError(400, f"commit payload line {n}: value must be an object")
        if key == "header":
            header = value
            continue
        raw_path = value.get("path")
        if key == "deletedFolder" and isinstance(raw_path, str):
            raw_path = raw_path.rstrip("/")
        path = validate_repo_path(raw_path)
        if key == "file":
            ops.append(CommitOp("file", path, content=decode_content(value)))
        elif key == "lfsFile":
            oid, size = value.get("oid"), value.get("size")
            if value.get("algo", "sha256") != "sha256" or not isinstance(oid, str):
                raise HfError(400, f"{path}: lfsFile needs a sha256 oid")
            if not isinstance(size, int):
                raise HfError(400, f"{path}: lfsFile needs an integer size")
            ops.append(CommitOp("lfsFile", path, sha256=oid.lower(), size=size))
        elif key in ("deletedFile", "deletedFolder"):
            ops.append(CommitOp(key, path))
        else:
            raise HfError(400, f"commit payload line {n}: unsupported operation {key!r}")
    if header is None:
        raise HfError(400, "commit payload has no header line")
    return header, ops


def _commit_json(c: JsonObj) -> JsonObj:
    return {
        "id": c["oid"],
        "title": c["title"],
        "message": c["message"],
        "authors": [{"user": "nmp-local"}],
        "date": iso(c["created_at"]),
    }
