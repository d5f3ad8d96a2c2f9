"""An in-memory NeMo platform for flow tests, with scripted faults.

Faults are queued per operation name: an exception is raised instead of the call, and
``LOSE`` performs the call and then raises a transient error, as when the response to a
create is lost on the way back (the case that makes blind create retries duplicate jobs).
"""

from __future__ import annotations

import asyncio
import itertools
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from prefstream_events import JobMetricsEvent, JobStatusEvent
from prefstream_nemo.datastore import LocalFile
from prefstream_nemo.errors import Exists, Missing, Transient
from prefstream_nemo.models import DeploymentInfo, JobInfo, JobProgress, RemoteFile
from prefstream_nemo.retry import RetryPolicy

JsonObj = dict[str, Any]
LOSE = "lose"

DEFAULT_SCRIPT: list[JsonObj] = [
    {"status": "created"},
    {"status": "pending", "percentage_done": 0.0},
    {
        "status": "running",
        "percentage_done": 50.0,
        "epochs_completed": 1,
        "steps_completed": 2,
        "train_loss": 0.6,
        "val_loss": 0.7,
    },
    {
        "status": "completed",
        "percentage_done": 100.0,
        "epochs_completed": 2,
        "steps_completed": 4,
        "train_loss": 0.4,
        "val_loss": 0.5,
    },
]


class FakePlatform:
    def __init__(self, script: list[JsonObj] | None = None) -> None:
        self.policy = RetryPolicy(attempts=4, max_seconds=0.0, initial_seconds=0.0)
        self.script = script or DEFAULT_SCRIPT
        self.namespaces: set[str] = set()
        self.repos: dict[str, dict[str, RemoteFile]] = {}
        self.commits: list[tuple[str, list[str]]] = []
        self.datasets: dict[str, JsonObj] = {}
        self.jobs: dict[str, JsonObj] = {}
        self.job_bodies: list[JsonObj] = []
        self.polls: dict[str, int] = defaultdict(int)
        self.cancelled: list[str] = []
        self.deploy_configs: dict[str, JsonObj] = {}
        self.deployments: dict[str, JsonObj] = {}
        self.deployment_script: list[str] = ["pending", "ready"]
        self.deployment_reads: dict[str, int] = defaultdict(int)
        self.faults: dict[str, list[Any]] = defaultdict(list)
        self.calls: list[str] = []
        self._ids = itertools.count(1)

    def fail(self, op: str, *outcomes: Any) -> None:
        self.faults[op].extend(outcomes)

    async def _enter(self, op: str) -> Any:
        self.calls.append(op)
        await asyncio.sleep(0)
        queue = self.faults.get(op)
        if queue:
            outcome = queue.pop(0)
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        return None

    @staticmethod
    def _lost(op: str, outcome: Any) -> None:
        if outcome == LOSE:
            raise Transient(f"{op}: response lost")

    async def ensure_namespaces(self, namespace: str) -> None:
        await self._enter("ensure_namespaces")
        self.namespaces.add(namespace)

    async def create_repo(self, repo_id: str) -> bool:
        await self._enter("create_repo")
        if repo_id in self.repos:
            return False
        self.repos[repo_id] = {}
        return True

    async def remote_files(self, repo_id: str) -> dict[str, RemoteFile]:
        await self._enter("remote_files")
        return dict(self.repos.get(repo_id, {}))

    async def commit(self, repo_id: str, files: Sequence[LocalFile], message: str) -> str:
        outcome = await self._enter("commit")
        if repo_id not in self.repos:
            raise Missing(f"repo {repo_id} not found")
        for f in files:
            self.repos[repo_id][f.path_in_repo] = RemoteFile(f.path_in_repo, f.git_oid, f.size)
        self.commits.append((repo_id, [f.path_in_repo for f in files]))
        self._lost("commit", outcome)
        return f"commit{len(self.commits)}"

    async def get_dataset(self, namespace: str, name: str) -> JsonObj | None:
        await self._enter("get_dataset")
        return self.datasets.get(f"{namespace}/{name}")

    async def create_dataset(self, body: JsonObj) -> JsonObj:
        outcome = await self._enter("create_dataset")
        key = f"{body['namespace']}/{body['name']}"
        if key in self.datasets:
            raise Exists(f"dataset {key} exists", status=409)
        self.datasets[key] = {**body, "id": f"dataset-{next(self._ids)}"}
        self._lost("create_dataset", outcome)
        return self.datasets[key]

    def _info(self, job: JsonObj) -> JobInfo:
        return JobInfo.parse(job)

    async def find_job(
        self, namespace: str, output_model: str, dataset_id: str | None = None
    ) -> JobInfo | None:
        await self._enter("find_job")
        for job in reversed(list(self.jobs.values())):
            owner = (job.get("custom_fields") or {}).get("prefstream_dataset_id")
            mine = job["output_model"] == output_model or (dataset_id and owner == dataset_id)
            if mine and job["namespace"] == namespace:
                return self._info(job)
        return None

    async def create_job(self, body: JsonObj) -> JobInfo:
        outcome = await self._enter("create_job")
        job_id = f"cust-{next(self._ids)}"
        self.job_bodies.append(body)
        self.jobs[job_id] = {**body, "id": job_id, "status": "created"}
        self._lost("create_job", outcome)
        return self._info(self.jobs[job_id])

    async def job_status(self, job_id: str) -> JobProgress:
        await self._enter("job_status")
        if job_id not in self.jobs:
            raise Missing(f"job {job_id} not found")
        step = min(self.polls[job_id], len(self.script) - 1)
        self.polls[job_id] += 1
        body = self.script[step]
        self.jobs[job_id]["status"] = body["status"]
        return JobProgress.parse(body)

    async def cancel_job(self, job_id: str) -> None:
        await self._enter("cancel_job")
        self.cancelled.append(job_id)

    async def get_deployment_config(self, namespace: str, name: str) -> JsonObj | None:
        await self._enter("get_deployment_config")
        return self.deploy_configs.get(f"{namespace}/{name}")

    async def create_deployment_config(self, body: JsonObj) -> JsonObj:
        outcome = await self._enter("create_deployment_config")
        key = f"{body['namespace']}/{body['name']}"
        if key in self.deploy_configs:
            raise Exists(f"config {key} exists", status=409)
        self.deploy_configs[key] = body
        self._lost("create_deployment_config", outcome)
        return body

    async def get_deployment(self, namespace: str, name: str) -> DeploymentInfo | None:
        await self._enter("get_deployment")
        key = f"{namespace}/{name}"
        body = self.deployments.get(key)
        if body is None:
            return None
        reads = self.deployment_reads[key]
        self.deployment_reads[key] += 1
        status = self.deployment_script[min(reads, len(self.deployment_script) - 1)]
        shown = {**body, "status_details": {"status": status, "description": f"nim {status}"}}
        return DeploymentInfo.parse(shown, name=name, namespace=namespace)

    async def create_deployment(self, body: JsonObj) -> DeploymentInfo:
        outcome = await self._enter("create_deployment")
        key = f"{body['namespace']}/{body['name']}"
        if key in self.deployments:
            raise Exists(f"deployment {key} exists", status=409)
        self.deployments[key] = {**body, "url": f"http://nim/{key}"}
        self._lost("create_deployment", outcome)
        return DeploymentInfo.parse(
            {**body, "status_details": {"status": "created"}},
            name=body["name"],
            namespace=body["namespace"],
        )


class ListSink:
    """Collects published events; can be told to fail (a broker outage)."""

    def __init__(self) -> None:
        self.events: list[JobStatusEvent] = []
        self.metrics: list[JobMetricsEvent] = []
        self.fail_next: BaseException | None = None

    async def publish(self, event: JobStatusEvent) -> None:
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc
        self.events.append(event)

    async def publish_metrics(self, event: JobMetricsEvent) -> None:
        self.metrics.append(event)


async def no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def write_dataset(directory: Path, rows: int = 10, *, bad_line: int | None = None) -> Path:
    """A hand-made dataset directory: 80 % training, 20 % validation."""
    import json

    (directory / "training").mkdir(parents=True)
    (directory / "validation").mkdir()
    lines = [
        json.dumps(
            {"prompt": f"question {i}?", "chosen_response": f"good {i}", "rejected_response": "bad"}
        )
        for i in range(rows)
    ]
    if bad_line is not None:
        lines[bad_line - 1] = json.dumps({"prompt": "q", "chosen_response": "only"})
    cut = max(1, int(rows * 0.8))
    (directory / "training" / "training_file.jsonl").write_text("\n".join(lines[:cut]) + "\n")
    (directory / "validation" / "validation_file.jsonl").write_text("\n".join(lines[cut:]) + "\n")
    return directory
