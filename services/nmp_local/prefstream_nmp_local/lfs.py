"""The git-LFS batch API (basic transfer) that ``huggingface_hub`` uses when Xet is off.

``batch`` hands out upload/verify hrefs under ``/v1/hf/_lfs/{oid}``; objects already
stored come back without ``actions``, which the client treats as "already uploaded".
Objects are content-addressed, so the same bytes uploaded to two repos are stored once.
"""

from __future__ import annotations

import json
import re
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from prefstream_nmp_local.context import AppContext
from prefstream_nmp_local.errors import HfError
from prefstream_nmp_local.hf_repos import HfRepos

JsonObj = dict[str, Any]
LFS_MEDIA_TYPE = "application/vnd.git-lfs+json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def routes(ctx: AppContext, repos: HfRepos) -> list[BaseRoute]:
    async def batch(request: Request) -> Response:
        rtype = "dataset" if request.url.path.startswith("/v1/hf/datasets/") else "model"
        repos.get(rtype, f"{request.path_params['ns']}/{request.path_params['name']}")
        try:
            body = json.loads(await request.body())
            operation = body.get("operation", "upload")
            objects = body["objects"]
            assert isinstance(objects, list)
        except (ValueError, KeyError, AttributeError, AssertionError) as exc:
            raise HfError(422, "LFS batch request needs an objects list") from exc
        if operation not in ("upload", "download"):
            raise HfError(422, f"Unsupported LFS operation {operation!r}")
        lfs_base = f"{ctx.base_url(request)}/v1/hf/_lfs"
        out = []
        for obj in objects:
            oid = str(obj.get("oid", "")).lower() if isinstance(obj, dict) else ""
            size = obj.get("size") if isinstance(obj, dict) else None
            if not _SHA256.match(oid) or not isinstance(size, int) or size < 0:
                out.append(
                    {
                        "oid": oid,
                        "size": size if isinstance(size, int) else 0,
                        "error": {"code": 422, "message": "oid must be a sha256 hex and size >= 0"},
                    }
                )
                continue
            item: JsonObj = {"oid": oid, "size": size, "authenticated": True}
            stored = ctx.blobs.has(oid, size)
            if operation == "upload" and not stored:
                item["actions"] = {
                    "upload": {"href": f"{lfs_base}/{oid}", "header": {}},
                    "verify": {"href": f"{lfs_base}/{oid}/verify", "header": {}},
                }
            elif operation == "download":
                if stored:
                    item["actions"] = {"download": {"href": f"{lfs_base}/{oid}", "header": {}}}
                else:
                    item["error"] = {"code": 404, "message": "Object does not exist"}
            out.append(item)
        return JSONResponse(
            {"transfer": "basic", "objects": out, "hash_algo": "sha256"},
            media_type=LFS_MEDIA_TYPE,
        )

    async def upload(request: Request) -> Response:
        oid = request.path_params["oid"].lower()
        if not _SHA256.match(oid):
            raise HfError(400, "oid must be a sha256 hex digest")
        info = await ctx.blobs.put_stream(request.stream())
        if info.sha256 != oid:
            raise HfError(400, f"Uploaded content has sha256 {info.sha256}, expected {oid}")
        return Response(status_code=200)

    async def verify(request: Request) -> Response:
        oid = request.path_params["oid"].lower()
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            body = {}
        size = body.get("size") if isinstance(body, dict) else None
        if not ctx.blobs.has(oid, size if isinstance(size, int) else None):
            raise HfError(404, f"LFS object {oid} not found (or size differs)")
        return JSONResponse({"oid": oid, "size": size}, media_type=LFS_MEDIA_TYPE)

    async def download(request: Request) -> Response:
        oid = request.path_params["oid"].lower()
        if not _SHA256.match(oid) or not ctx.blobs.has(oid):
            raise HfError(404, f"LFS object {oid} not found")
        return FileResponse(ctx.blobs.path(oid), media_type="application/octet-stream")

    suffix = ".git/info/lfs/objects/batch"
    return [
        Route("/v1/hf/datasets/{ns}/{name}" + suffix, batch, methods=["POST"]),
        Route("/v1/hf/{ns}/{name}" + suffix, batch, methods=["POST"]),
        Route("/v1/hf/_lfs/{oid}", upload, methods=["PUT"]),
        Route("/v1/hf/_lfs/{oid}", download, methods=["GET"]),
        Route("/v1/hf/_lfs/{oid}/verify", verify, methods=["POST"]),
    ]
