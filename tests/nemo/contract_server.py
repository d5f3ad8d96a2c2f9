"""A minimal NeMo platform written only from the contract in docs/nmp-local.md, with the quirks
real servers are allowed to have and nmp-local does not:

- an existing Entity Store namespace answers 422 (not 409);
- a repo-create 409 carries no ``url`` (``create_repo(exist_ok=True)`` would ``KeyError``);
- missing things are a bare 404 (no ``X-Error-Code``);
- job lists ignore every filter; a job's status has no ``percentage_done`` until running;
- every file above ``lfs_threshold`` bytes must go through git-LFS, and the Xet token
  endpoint is 404, as on a Data Store.

It records every request (method, path, headers) so tests can check what was sent.
Runs under uvicorn in a thread: ``huggingface_hub`` needs a real socket.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from prefstream_kafka.local_brokers import free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

JsonObj = dict[str, Any]
STATUS_WALK: list[JsonObj] = [
    {"status": "created"},
    {"status": "pending", "percentage_done": None},
    {"status": "running", "percentage_done": 50.0, "epochs_completed": 0, "steps_completed": 1},
    {
        "status": "completed",
        "percentage_done": 100.0,
        "epochs_completed": 1,
        "steps_completed": 2,
        "train_loss": 0.31,
        "val_loss": 0.42,
    },
]


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class ContractState:
    lfs_threshold: int = 256
    namespaces: set[str] = field(default_factory=set)
    ds_namespaces: set[str] = field(default_factory=set)
    repos: dict[str, dict[str, JsonObj]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)
    commits: list[str] = field(default_factory=list)
    datasets: dict[str, JsonObj] = field(default_factory=dict)
    jobs: dict[str, JsonObj] = field(default_factory=dict)
    polls: dict[str, int] = field(default_factory=dict)
    configs: dict[str, JsonObj] = field(default_factory=dict)
    deployments: dict[str, JsonObj] = field(default_factory=dict)
    requests: list[Seen] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def seen(self, prefix: str) -> list[Seen]:
        return [r for r in self.requests if r.path.startswith(prefix)]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def _git_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def build(state: ContractState, base: str) -> ASGIApp:
    hf = f"{base}/v1/hf"

    def missing() -> Response:
        return JSONResponse({"detail": "Not Found"}, status_code=404)

    async def namespaces(request: Request) -> Response:
        ns = (await request.json())["id"]
        if ns in state.namespaces:
            return JSONResponse({"detail": f"namespace {ns} already exists"}, status_code=422)
        state.namespaces.add(ns)
        return JSONResponse({"id": ns, "created_at": _now(), "updated_at": _now()}, 201)

    async def ds_namespaces(request: Request) -> Response:
        ns = str((await request.form())["namespace"])
        if ns in state.ds_namespaces:
            return JSONResponse({"detail": "exists"}, status_code=409)
        state.ds_namespaces.add(ns)
        return JSONResponse({"namespace": ns}, status_code=201)

    async def create_repo(request: Request) -> Response:
        body = await request.json()
        repo = f"{body['organization']}/{body['name']}"
        if repo in state.repos:
            return JSONResponse({"error": "You already created this dataset repo"}, 409)
        state.repos[repo] = {}
        return JSONResponse({"url": f"datasets/{repo}"})

    def repo_of(request: Request) -> str:
        return f"{request.path_params['ns']}/{request.path_params['name']}"

    async def tree(request: Request) -> Response:
        repo = state.repos.get(repo_of(request))
        if repo is None or not repo:
            return missing()
        entries = []
        for path, meta in sorted(repo.items()):
            entry: JsonObj = {
                "type": "file",
                "path": path,
                "size": meta["size"],
                "oid": meta["oid"],
            }
            if meta.get("sha256"):
                entry["lfs"] = {"oid": meta["sha256"], "size": meta["size"], "pointerSize": 130}
            entries.append(entry)
        return JSONResponse(entries)

    async def preupload(request: Request) -> Response:
        repo = state.repos.get(repo_of(request))
        if repo is None:
            return missing()
        files = []
        for f in (await request.json())["files"]:
            stored = repo.get(f["path"])
            mode = "lfs" if f["size"] > state.lfs_threshold else "regular"
            files.append(
                {
                    "path": f["path"],
                    "uploadMode": mode,
                    "shouldIgnore": False,
                    "oid": stored["oid"] if stored else None,
                }
            )
        return JSONResponse({"files": files})

    async def lfs_batch(request: Request) -> Response:
        body = await request.json()
        objects = []
        for obj in body["objects"]:
            if obj["oid"] in state.blobs:
                objects.append({"oid": obj["oid"], "size": obj["size"]})
                continue
            href = f"{base}/lfs-store/{obj['oid']}"
            objects.append(
                {
                    "oid": obj["oid"],
                    "size": obj["size"],
                    "actions": {
                        "upload": {"href": href, "header": {}},
                        "verify": {"href": f"{href}/verify", "header": {}},
                    },
                }
            )
        return JSONResponse({"transfer": "basic", "objects": objects})

    async def lfs_put(request: Request) -> Response:
        data = await request.body()
        oid = request.path_params["oid"]
        if hashlib.sha256(data).hexdigest() != oid:
            return JSONResponse({"error": "sha256 mismatch"}, status_code=400)
        state.blobs[oid] = data
        return Response(status_code=200)

    async def lfs_verify(request: Request) -> Response:
        ok = request.path_params["oid"] in state.blobs
        return JSONResponse({"ok": ok}, status_code=200 if ok else 404)

    async def commit(request: Request) -> Response:
        repo_id = repo_of(request)
        repo = state.repos.get(repo_id)
        if repo is None:
            return missing()
        for line in (await request.body()).splitlines():
            item = json.loads(line)
            value = item["value"]
            if item["key"] == "file":
                data = base64.b64decode(value["content"])
                repo[value["path"]] = {"oid": _git_oid(data), "size": len(data)}
            elif item["key"] == "lfsFile":
                data = state.blobs[value["oid"]]
                pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{value['oid']}"
                repo[value["path"]] = {
                    "oid": _git_oid(pointer.encode()),
                    "size": len(data),
                    "sha256": value["oid"],
                }
        oid = hashlib.sha1(f"{repo_id}{len(state.commits)}".encode()).hexdigest()
        state.commits.append(oid)
        return JSONResponse(
            {"commitUrl": f"{hf}/datasets/{repo_id}/commit/{oid}", "commitOid": oid}
        )

    async def revision(request: Request) -> Response:
        repo_id = repo_of(request)
        if repo_id not in state.repos:
            return missing()
        sha = state.commits[-1] if state.commits else "0" * 40
        siblings = [{"rfilename": p} for p in state.repos[repo_id]]
        return JSONResponse(
            {"id": repo_id, "sha": sha, "siblings": siblings, "lastModified": _now()}
        )

    async def datasets(request: Request) -> Response:
        body = await request.json()
        key = f"{body['namespace']}/{body['name']}"
        if key in state.datasets:
            return JSONResponse({"detail": f"Dataset {key} already exists"}, status_code=409)
        state.datasets[key] = {**body, "id": f"dataset-{next(state.ids)}"}
        return JSONResponse(state.datasets[key])

    async def get_dataset(request: Request) -> Response:
        found = state.datasets.get(repo_of(request))
        return JSONResponse(found) if found else missing()

    async def create_job(request: Request) -> Response:
        body = await request.json()
        job_id = f"cust-{next(state.ids)}"
        state.jobs[job_id] = {
            **body,
            "id": job_id,
            "status": "created",
            "created_at": _now(),
            "updated_at": _now(),
        }
        return JSONResponse(state.jobs[job_id])

    async def list_jobs(request: Request) -> Response:
        page = int(request.query_params.get("page", "1"))
        size = int(request.query_params.get("page_size", "10"))
        items = list(reversed(state.jobs.values()))  # filters ignored, newest first
        total_pages = max(1, -(-len(items) // size))
        data = items[(page - 1) * size : page * size]
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "pagination": {
                    "page": page,
                    "page_size": size,
                    "current_page_size": len(data),
                    "total_pages": total_pages,
                    "total_results": len(items),
                },
            }
        )

    async def job_status(request: Request) -> Response:
        job_id = request.path_params["id"]
        if job_id not in state.jobs:
            return missing()
        n = state.polls.get(job_id, 0)
        state.polls[job_id] = n + 1
        body = {**STATUS_WALK[min(n, len(STATUS_WALK) - 1)]}
        state.jobs[job_id]["status"] = body["status"]
        return JSONResponse({**body, "created_at": _now(), "updated_at": _now()})

    async def create_config(request: Request) -> Response:
        body = await request.json()
        state.configs[f"{body['namespace']}/{body['name']}"] = body
        return JSONResponse(body)

    async def get_config(request: Request) -> Response:
        found = state.configs.get(repo_of(request))
        return JSONResponse(found) if found else missing()

    async def create_deployment(request: Request) -> Response:
        body = await request.json()
        key = f"{body['namespace']}/{body['name']}"
        state.deployments[key] = {**body, "reads": 0}
        return JSONResponse(_deployment(key))

    def _deployment(key: str) -> JsonObj:
        dep = state.deployments[key]
        status = "ready" if dep["reads"] >= 2 else "pending"
        dep["reads"] += 1
        return {
            "name": dep["name"],
            "namespace": dep["namespace"],
            "config": dep["config"],
            "url": f"{base}/nim/{key}",
            "deployed": status == "ready",
            "status_details": {"status": status, "description": f"NIM {status}"},
        }

    async def get_deployment(request: Request) -> Response:
        key = repo_of(request)
        return JSONResponse(_deployment(key)) if key in state.deployments else missing()

    async def xet_token(request: Request) -> Response:
        return missing()

    ds = "/v1/hf/api/datasets/{ns}/{name}"
    app = Starlette(
        routes=[
            Route("/v1/namespaces", namespaces, methods=["POST"]),
            Route("/v1/datastore/namespaces", ds_namespaces, methods=["POST"]),
            Route("/v1/hf/api/repos/create", create_repo, methods=["POST"]),
            Route(ds + "/tree/{rev}", tree, methods=["GET"]),
            Route(ds + "/preupload/{rev}", preupload, methods=["POST"]),
            Route(ds + "/commit/{rev}", commit, methods=["POST"]),
            Route(ds + "/revision/{rev}", revision, methods=["GET"]),
            Route(ds + "/xet-write-token/{rev}", xet_token, methods=["GET"]),
            Route(
                "/v1/hf/datasets/{ns}/{name}.git/info/lfs/objects/batch",
                lfs_batch,
                methods=["POST"],
            ),
            Route("/lfs-store/{oid}", lfs_put, methods=["PUT"]),
            Route("/lfs-store/{oid}/verify", lfs_verify, methods=["POST"]),
            Route("/v1/datasets", datasets, methods=["POST"]),
            Route("/v1/datasets/{ns}/{name}", get_dataset, methods=["GET"]),
            Route("/v1/customization/jobs", create_job, methods=["POST"]),
            Route("/v1/customization/jobs", list_jobs, methods=["GET"]),
            Route("/v1/customization/jobs/{id}/status", job_status, methods=["GET"]),
            Route("/v1/deployment/configs", create_config, methods=["POST"]),
            Route("/v1/deployment/configs/{ns}/{name}", get_config, methods=["GET"]),
            Route("/v1/deployment/model-deployments", create_deployment, methods=["POST"]),
            Route("/v1/deployment/model-deployments/{ns}/{name}", get_deployment, methods=["GET"]),
        ]
    )

    async def recording(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            state.requests.append(Seen(scope["method"], scope["path"], headers))
        await app(scope, receive, send)

    return recording


@contextmanager
def contract_server(state: ContractState | None = None) -> Iterator[tuple[str, ContractState]]:
    """``(base_url, state)`` of a running server, stopped on exit."""
    state = state or ContractState()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = uvicorn.Config(
        build(state, base), host="127.0.0.1", port=port, log_level="warning", lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("contract server did not start")
        time.sleep(0.01)
    try:
        yield base, state
    finally:
        server.should_exit = True
        thread.join(10)
