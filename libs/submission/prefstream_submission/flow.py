"""One dataset's way through the NeMo platform, resumable at every step.

    queued → started → repo_created → uploaded → registered → [start model chosen]
           → job_requested → job_created → (poll) → job_finished
           → [deploy_requested → deployed] → done

Each step's effect is recorded in the ledger once it is known to exist. A submission that
is *resumed* (after a crash, or by ``prefstream submit`` run again) looks before every
create: repo files by oid, the dataset by name, the job by its output model, the
deployment config and deployment by name. So at most one of each exists per dataset.

Failures: transient errors are retried by the client's policy; when a step still cannot
get through, the step waits and tries again (looking first). A step that keeps failing
transiently for ``retry_timeout_seconds``, and job status that stays unreadable that long,
fail the dataset with the last error (:class:`PlatformUnavailable`), so no wait is endless.
Anything permanent (a bad row, a 4xx, a name taken by something else) fails the dataset
with an error a user can act on. The flow talks to the platform through the
:class:`Platform` protocol, so it is tested against an in-memory fake.

With ``start_from="latest"`` the job trains the model promoted last (see
:mod:`prefstream_submission.start_model`): the choice is recorded in an event (its
``start_model`` and ``customization_config``, kept in the ledger) before the config for
that model is looked up or created, so a resumed flow keeps the choice it made.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

from prefstream_config import NeMoCustomizerTrainerAdapterConfig, NIMDeploymentConfig
from prefstream_events import DeploymentState, JobStatus
from prefstream_nemo import retry
from prefstream_nemo.datastore import LocalFile
from prefstream_nemo.errors import Missing, NemoError, Permanent, Transient, describe
from prefstream_nemo.models import (
    DATASET_ID_FIELD,
    DeploymentInfo,
    JobInfo,
    JobProgress,
    RemoteFile,
)
from prefstream_nemo.retry import RetryPolicy
from prefstream_runtime.crash import crash_point

from prefstream_submission.dataset_files import InvalidDataset, local_files, safe_name
from prefstream_submission.job_events import Emitter, job_status
from prefstream_submission.model import Step, Submission
from prefstream_submission.start_model import (
    Retraining,
    config_for_model,
    config_name_for,
    split_ref,
    targets_model,
)

JsonObj = dict[str, Any]
T = TypeVar("T")

CRASH_POINTS = frozenset(
    {
        "after_repo_create",
        "after_upload",
        "after_dataset_register",
        "after_job_create",
        "while_polling",
    }
)
"""Where ``PREFSTREAM_CRASH_AT`` may stop the flow (test hook, see docs/submitter.md)."""
RETRAINING_CRASH_POINTS = frozenset({"after_config_create"})
"""Reached only with ``start_from="latest"`` and a promoted model, so kept apart from the
points every submission passes."""
log = logging.getLogger(__name__)

DEPLOY_FAILED = frozenset({"failed", "error"})


class Platform(Protocol):
    """What the flow needs from the NeMo platform (:class:`~prefstream_nemo.client.NemoClient`)."""

    policy: RetryPolicy

    async def ensure_namespaces(self, namespace: str) -> None: ...
    async def create_repo(self, repo_id: str) -> bool: ...
    async def remote_files(self, repo_id: str) -> dict[str, RemoteFile]: ...
    async def commit(self, repo_id: str, files: Sequence[LocalFile], message: str) -> str: ...
    async def get_dataset(self, namespace: str, name: str) -> JsonObj | None: ...
    async def create_dataset(self, body: JsonObj) -> JsonObj: ...
    async def find_job(
        self, namespace: str, output_model: str, dataset_id: str | None = None
    ) -> JobInfo | None: ...
    async def create_job(self, body: JsonObj) -> JobInfo: ...
    async def job_status(self, job_id: str) -> JobProgress: ...
    async def cancel_job(self, job_id: str) -> None: ...
    async def get_deployment_config(self, namespace: str, name: str) -> JsonObj | None: ...
    async def create_deployment_config(self, body: JsonObj) -> JsonObj: ...
    async def get_deployment(self, namespace: str, name: str) -> DeploymentInfo | None: ...
    async def create_deployment(self, body: JsonObj) -> DeploymentInfo: ...


@dataclass(frozen=True)
class FlowSettings:
    """The adapter config's knobs, as the flow uses them."""

    namespace: str
    customization_config: str
    hyperparameters: JsonObj
    create_namespace_if_missing: bool = True
    deploy_on_completion: bool = False
    deployment: NIMDeploymentConfig = field(default_factory=NIMDeploymentConfig)
    poll_interval_seconds: float = 30.0
    deployment_timeout_seconds: float = 1800.0
    job_timeout_seconds: float | None = None
    max_consecutive_status_failures: int = 3
    step_retry_seconds: float = 30.0
    """Wait before trying a step again once the client's retries are used up."""
    retry_timeout_seconds: float = 3600.0
    """How long a step (or reading a job's status) may keep failing transiently."""
    start_from: Literal["base", "latest"] = "base"
    """``retraining.start_from``: latest trains the model promoted last, if any."""
    integrations: list[JsonObj] | None = None
    """The job's ``integrations`` (W&B); sent only when set."""

    @classmethod
    def from_adapter(
        cls,
        cfg: NeMoCustomizerTrainerAdapterConfig,
        *,
        step_retry_seconds: float = 30.0,
        retry_timeout_seconds: float = 3600.0,
        start_from: Literal["base", "latest"] = "base",
    ) -> FlowSettings:
        return cls(
            namespace=cfg.namespace,
            customization_config=cfg.customization_config,
            # Unset SDK options are left out; NAT's keys are never None, so always sent.
            hyperparameters=cfg.hyperparameters.model_dump(mode="json", exclude_none=True),
            create_namespace_if_missing=cfg.create_namespace_if_missing,
            deploy_on_completion=cfg.deploy_on_completion,
            deployment=cfg.deployment_config,
            poll_interval_seconds=cfg.poll_interval_seconds,
            deployment_timeout_seconds=cfg.deployment_timeout_seconds,
            job_timeout_seconds=cfg.job_timeout_seconds,
            max_consecutive_status_failures=cfg.max_consecutive_status_failures,
            step_retry_seconds=max(step_retry_seconds, 0.05),
            retry_timeout_seconds=retry_timeout_seconds,
            start_from=start_from,
            integrations=None
            if cfg.integrations is None
            else [i.model_dump(mode="json", exclude_none=True) for i in cfg.integrations],
        )


@dataclass
class FlowHooks:
    """Observers: progress lines, metrics. All optional."""

    progress: Callable[[Submission, str], None] = lambda sub, text: None
    job_created: Callable[[Submission, float], None] = lambda sub, latency: None
    poll_error: Callable[[Submission, BaseException], None] = lambda sub, exc: None
    job_finished: Callable[[Submission], None] = lambda sub: None


class DeadlineExceeded(Exception):
    """``job_timeout_seconds`` passed before the job finished."""


class PlatformUnavailable(Exception):
    """The platform kept failing transiently for ``retry_timeout_seconds``."""

    def __init__(self, what: str, limit: float, exc: BaseException) -> None:
        super().__init__(
            f"{what}: gave up, the NeMo platform kept failing and another try would end "
            f"past retry_timeout_seconds={limit:g}s; "
            f"last error: {describe(exc)}. Check that the platform is up and that entity_host "
            "and datastore_host point at it, or allow longer (submitter.retry_timeout_seconds, "
            "prefstream submit --timeout)"
        )


def output_model_for(namespace: str, dataset_name: str) -> str:
    """Deterministic per dataset, so a restarted submitter can find its job by it."""
    return f"{namespace}/{dataset_name}-dpo"


def files_url_for(namespace: str, dataset_name: str) -> str:
    return f"hf://datasets/{namespace}/{dataset_name}"


class SubmissionFlow:
    """Runs one submission to its end; create one per dataset run."""

    def __init__(
        self,
        sub: Submission,
        *,
        platform: Platform,
        emitter: Emitter,
        settings: FlowSettings,
        resumed: bool,
        hooks: FlowHooks | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        retraining: Retraining | None = None,
    ) -> None:
        self.sub = sub
        self.platform = platform
        self.emitter = emitter
        self.ledger = emitter.ledger
        self.settings = settings
        self.resumed = resumed
        self.hooks = hooks or FlowHooks()
        self._sleep = sleep
        self._clock = clock
        self.retraining = retraining
        self._ns = settings.namespace
        self._name = sub.dataset.name
        self._repo_id = f"{self._ns}/{self._name}"

    # -- driver ---------------------------------------------------------------------------

    async def run(self) -> Submission:
        sub = self.sub
        if sub.closed:
            return sub
        await self.emitter.republish_pending(sub)
        try:
            await self._run_steps()
        except (NemoError, InvalidDataset, DeadlineExceeded, PlatformUnavailable) as exc:
            await self._fail(exc)
        return sub

    async def _run_steps(self) -> None:
        sub = self.sub
        if sub.step is Step.QUEUED:
            sub.started_at = self._clock()
            sub.step = Step.STARTED
            await self.emitter.emit(sub, "started", status=JobStatus.SUBMITTING, error=None)
        files: list[LocalFile] = []
        if sub.step.rank < Step.UPLOADED.rank:
            files = local_files(sub.dataset)
        if sub.step.rank < Step.JOB_CREATED.rank and self.settings.create_namespace_if_missing:
            await self._step("ensure namespaces", self._namespaces)
        if sub.step.rank < Step.REPO_CREATED.rank:
            await self._step("create dataset repo", self._create_repo)
        if sub.step.rank < Step.UPLOADED.rank:
            await self._step("upload files", lambda: self._upload(files))
        if sub.step.rank < Step.REGISTERED.rank:
            await self._step("register dataset", self._register)
        if sub.step.rank < Step.JOB_CREATED.rank:
            await self._step("create job", self._create_job)
        if sub.step.rank < Step.JOB_FINISHED.rank:
            await self._poll()
        if (
            sub.status is JobStatus.COMPLETED
            and self.settings.deploy_on_completion
            and sub.step.rank < Step.DEPLOYED.rank
        ):
            await self._deploy()
        self._close()

    async def _step(self, what: str, fn: Callable[[], Awaitable[None]]) -> None:
        """Run a step until it gets through; an outage outlasting the client's retries
        makes it wait and try again (creates look first), until the job deadline or until
        it has failed for ``retry_timeout_seconds``."""
        limit = self.settings.retry_timeout_seconds
        started = self._clock()
        while True:
            self._check_deadline(what)
            try:
                await fn()
                return
            except Transient as exc:
                self.resumed = True
                wait = self.settings.step_retry_seconds * random.uniform(0.5, 1.0)
                failing = self._clock() - started
                if failing + wait > limit:
                    raise PlatformUnavailable(what, limit, exc) from exc
                self._progress(
                    f"{what}: NeMo platform unavailable ({describe(exc)}); trying again in "
                    f"{wait:.1f}s, giving up after {limit:g}s"
                )
                await self._sleep(wait)

    def _check_deadline(self, what: str) -> None:
        """``job_timeout_seconds`` bounds submission and training, not the deployment
        (``deployment_timeout_seconds`` does)."""
        limit = self.settings.job_timeout_seconds
        started = self.sub.started_at
        if self.sub.step.rank >= Step.JOB_FINISHED.rank:
            return
        if limit is not None and started is not None and self._clock() - started > limit:
            raise DeadlineExceeded(
                f"{what}: not done within job_timeout_seconds={limit:g}s of the submission "
                "starting; raise trainer_adapters.<name>.job_timeout_seconds if jobs need longer"
            )

    def _record(self, step: Step, detail: str) -> None:
        self.sub.step = step
        self.ledger.save(self.sub, detail)
        self._progress(detail)

    def _progress(self, text: str) -> None:
        log.info(text, extra={"dataset_id": self.sub.dataset_id, "step": self.sub.step.value})
        self.hooks.progress(self.sub, text)

    def _close(self) -> None:
        self.sub.step = Step.DONE
        self.sub.closed = True
        self.ledger.save(self.sub, f"done: {self.sub.status.value}")

    async def _fail(self, exc: BaseException) -> None:
        sub = self.sub
        text = describe(exc) if isinstance(exc, NemoError) else str(exc)
        if sub.status is JobStatus.COMPLETED:
            deployment = (sub.last_event.deployment if sub.last_event else None) or (
                DeploymentState(name=sub.deployment_name or "", namespace=self._ns, status="")
            )
            failed = deployment.model_copy(update={"status": "failed", "description": text})
            await self.emitter.emit(sub, "deployment failed", deployment=failed, error=text)
        else:
            if sub.job_id is not None and isinstance(exc, DeadlineExceeded):
                await self._cancel_quietly(sub.job_id)
            await self.emitter.emit(sub, "failed", status=JobStatus.FAILED, error=text)
        self._progress(f"failed: {text}")
        self._close()

    async def _cancel_quietly(self, job_id: str) -> None:
        try:
            await self.platform.cancel_job(job_id)
        except NemoError as exc:
            log.warning("could not cancel job %s: %s", job_id, describe(exc))

    # -- steps ----------------------------------------------------------------------------

    async def _namespaces(self) -> None:
        await self.platform.ensure_namespaces(self._ns)

    async def _create_repo(self) -> None:
        created = await self.platform.create_repo(self._repo_id)
        crash_point("after_repo_create")
        verb = "created" if created else "found existing"
        self._record(Step.REPO_CREATED, f"{verb} dataset repo {self._repo_id}")

    async def _upload(self, files: list[LocalFile]) -> None:
        policy = self.platform.policy

        async def uploaded() -> str | None:
            remote = await self.platform.remote_files(self._repo_id)
            return "existing" if self._all_present(files, remote) else None

        async def commit() -> str:
            message = f"prefstream dataset {self.sub.dataset_id}"
            return await self.platform.commit(self._repo_id, files, message)

        # Always look first: the repo may hold these files (an upload lost in a crash) or
        # someone else's (a reused name), and a commit must never overwrite those.
        oid, created = await retry.create_once(
            policy, f"upload to {self._repo_id}", commit, uploaded, look_first=True
        )
        crash_point("after_upload")
        self.sub.commit_oid = None if oid == "existing" else oid
        rows = f"{self.sub.dataset.training.rows}+{self.sub.dataset.validation.rows} rows"
        verb = "uploaded" if created else "found already uploaded"
        self._record(Step.UPLOADED, f"{verb} {len(files)} files ({rows}) to {self._repo_id}")

    def _all_present(self, files: list[LocalFile], remote: dict[str, RemoteFile]) -> bool:
        """``True`` if every file is there unchanged; raise if one is there but different."""
        for f in files:
            there = remote.get(f.path_in_repo)
            if there is not None and not f.matches(there):
                raise Permanent(
                    f"dataset repo {self._repo_id} already holds a different {f.path_in_repo}; "
                    "datasets are never overwritten. Use another dataset_name or namespace "
                    "(the name must be unique), or delete that repo."
                )
        return all(f.path_in_repo in remote for f in files)

    async def _register(self) -> None:
        files_url = files_url_for(self._ns, self._name)

        async def lookup() -> JsonObj | None:
            found = await self.platform.get_dataset(self._ns, self._name)
            if found is not None and found.get("files_url") not in (None, files_url):
                raise Permanent(
                    f"dataset {self._ns}/{self._name} is already registered with files_url "
                    f"{found.get('files_url')}, not {files_url}; use another dataset_name"
                )
            return found

        async def create() -> JsonObj:
            return await self.platform.create_dataset(
                {
                    "name": self._name,
                    "namespace": self._ns,
                    "files_url": files_url,
                    "description": f"prefstream DPO dataset {self.sub.dataset_id}",
                    "custom_fields": {DATASET_ID_FIELD: self.sub.dataset_id},
                }
            )

        entity, created = await retry.create_once(
            self.platform.policy,
            f"register dataset {self._repo_id}",
            create,
            lookup,
            look_first=self.resumed,
        )
        crash_point("after_dataset_register")
        entity_id = entity.get("id")
        self.sub.dataset_entity_id = entity_id if isinstance(entity_id, str) else None
        verb = "registered" if created else "found registered"
        self._record(Step.REGISTERED, f"{verb} dataset {self._repo_id} ({files_url})")

    def _job_body(self, output_model: str, config: str) -> JsonObj:
        body: JsonObj = {
            "name": self._name,
            "namespace": self._ns,
            "description": f"prefstream DPO job for dataset {self.sub.dataset_id}",
            "config": config,
            "dataset": {"name": self._name, "namespace": self._ns},
            "hyperparameters": self.settings.hyperparameters,
            "output_model": output_model,
            "custom_fields": {DATASET_ID_FIELD: self.sub.dataset_id},
        }
        if self.settings.integrations is not None:
            body["integrations"] = self.settings.integrations
        return body

    async def _find_own_job(self, output_model: str) -> JobInfo | None:
        job = await self.platform.find_job(self._ns, output_model, self.sub.dataset_id)
        if job is None:
            return None
        owner = job.custom_fields.get(DATASET_ID_FIELD)
        other_dataset = job.dataset_name not in (None, self._name)
        if (owner is not None and owner != self.sub.dataset_id) or other_dataset:
            raise Permanent(
                f"output model {output_model} is already written by job {job.id} for another "
                f"dataset ({owner or job.dataset_name}); use another dataset_name or namespace"
            )
        return job

    async def _create_job(self) -> None:
        sub = self.sub
        config = await self._job_config()
        output_model = sub.output_model or output_model_for(self._ns, self._name)
        look_first = self.resumed or sub.step is Step.JOB_REQUESTED
        if sub.step is not Step.JOB_REQUESTED:
            sub.output_model = output_model
            self._record(Step.JOB_REQUESTED, f"creating job for output model {output_model}")
        job, created = await retry.create_once(
            self.platform.policy,
            f"create job for {output_model}",
            lambda: self.platform.create_job(self._job_body(output_model, config)),
            lambda: self._find_own_job(output_model),
            look_first=look_first,
        )
        crash_point("after_job_create")
        sub.job_id = job.id
        sub.output_model = job.output_model or output_model
        sub.job_created_at = self._clock()
        verb = "created" if created else "found existing"
        self._record(Step.JOB_CREATED, f"{verb} job {job.id} (output model {sub.output_model})")
        if created:
            self.hooks.job_created(sub, max(0.0, sub.job_created_at - sub.received_at))
        await self._apply(
            job.progress or JobProgress(status=job.status),
            customization_config=config,
            hyperparameters=self.settings.hyperparameters,
        )

    # -- the model a job starts from ------------------------------------------------------

    async def _job_config(self) -> str:
        """The customization config the job uses; with ``start_from="latest"``, one that
        targets the model promoted last (chosen once, recorded, then looked up/created)."""
        configured = self.settings.customization_config
        if self.settings.start_from != "latest":
            return configured
        retraining = self.retraining
        if retraining is None:
            raise Permanent(
                "retraining.start_from is latest, but this submitter was started without a "
                "source of promoted models; use start_from: base"
            )
        sub, last = self.sub, self.sub.last_event
        if last is not None and last.customization_config is not None:
            config, model = last.customization_config, last.start_model
        else:
            model = await retraining.promoted.latest_promoted()
            config = configured if model is None else f"{self._ns}/{config_name_for(model)}"
            await self.emitter.emit(
                sub,
                f"starting from {model or 'the base model of ' + configured} ({config})",
                customization_config=config,
                start_model=model,
            )
        if model is not None:
            await self._step(
                "create customization config",
                lambda: self._ensure_customization_config(retraining, config, model),
            )
        return config

    async def _ensure_customization_config(
        self, retraining: Retraining, config: str, model: str
    ) -> None:
        configs = retraining.configs
        namespace, name = split_ref(config)
        source_ref = self.settings.customization_config
        source_ns, source_name = split_ref(source_ref)

        async def lookup() -> JsonObj | None:
            found = await configs.get_customization_config(namespace, name)
            if found is not None and targets_model(found) not in (None, model):
                raise Permanent(
                    f"customization config {config} exists for model {targets_model(found)}, "
                    f"not {model}; delete it or use another namespace"
                )
            return found

        async def create() -> JsonObj:
            source = await configs.get_customization_config(source_ns, source_name)
            if source is None:
                raise Permanent(
                    f"customization config {source_ref} (customization_config) not found; "
                    f"a config for {model} copies its training options"
                )
            body = config_for_model(
                source, source_ref=source_ref, model=model, namespace=namespace, name=name
            )
            return await configs.create_customization_config(body)

        # Always look first: a config for this model serves every job that starts from it.
        _, created = await retry.create_once(
            self.platform.policy,
            f"create customization config {config}",
            create,
            lookup,
            look_first=True,
        )
        crash_point("after_config_create")
        verb = "created" if created else "found"
        self._progress(f"{verb} customization config {config} (starts from {model})")

    # -- polling --------------------------------------------------------------------------

    async def _apply(self, progress: JobProgress, **lineage: Any) -> JobStatus:
        status = job_status(progress.status)
        await self.emitter.emit_metrics(self.sub, progress.series)
        await self.emitter.emit(
            self.sub,
            **lineage,
            job_id=self.sub.job_id,
            output_model=self.sub.output_model,
            status=status,
            percentage_done=progress.percentage_done,
            epochs_completed=progress.epochs_completed,
            steps_completed=progress.steps_completed,
            train_loss=progress.train_loss,
            val_loss=progress.val_loss,
            message=progress.message,
            error=progress.error if status is JobStatus.FAILED else None,
        )
        return status

    async def _poll(self) -> None:
        sub = self.sub
        job_id = sub.job_id
        if job_id is None:
            raise Permanent("internal: polling a submission without a job id")
        failures = 0
        failing_since: float | None = None
        first = True
        while True:
            self._check_deadline(f"job {job_id}")
            tried_at = self._clock()
            try:
                progress = await self.platform.job_status(job_id)
            except NemoError as exc:
                failures += 1
                failing_since = tried_at if failing_since is None else failing_since
                self.hooks.poll_error(sub, exc)
                await self._status_unreadable(job_id, exc, failures)
                backoff = self._failure_backoff(failures)
                limit = self.settings.retry_timeout_seconds
                if self._clock() - failing_since + backoff > limit:
                    raise PlatformUnavailable(f"read status of job {job_id}", limit, exc) from exc
                await self._sleep(backoff)
                continue
            failures = 0
            failing_since = None
            status = await self._apply(progress)
            if first:
                crash_point("while_polling")
                first = False
            if status.terminal:
                self._record(Step.JOB_FINISHED, f"job {job_id} {status.value}")
                self.hooks.job_finished(sub)
                return
            await self._sleep(self.settings.poll_interval_seconds)

    async def _status_unreadable(self, job_id: str, exc: NemoError, failures: int) -> None:
        limit = self.settings.max_consecutive_status_failures
        if failures < limit:
            return
        if isinstance(exc, Missing):
            raise Permanent(f"job {job_id} no longer exists in Customizer ({describe(exc)})")
        await self.emitter.emit(
            self.sub,
            "status unreadable",
            status=JobStatus.UNKNOWN,
            error=f"cannot read the job status ({failures} tries in a row): {describe(exc)}",
        )

    def _failure_backoff(self, failures: int) -> float:
        """NAT's ``interval * 1.5^k``, capped at the step retry wait, with jitter."""
        base = self.settings.poll_interval_seconds * (1.5 ** min(failures, 10))
        cap = max(self.settings.step_retry_seconds, self.settings.poll_interval_seconds)
        return min(base, cap) * random.uniform(0.8, 1.0)

    # -- deployment -----------------------------------------------------------------------

    def _deployment_name(self) -> str:
        return self.settings.deployment.deployment_name or safe_name(f"{self._name}-deploy")

    async def _deploy(self) -> None:
        sub = self.sub
        name = sub.deployment_name or self._deployment_name()
        config_name = safe_name(f"{name}-config")
        model = sub.output_model or output_model_for(self._ns, self._name)
        look_first = self.resumed or sub.step is Step.DEPLOY_REQUESTED
        if sub.step is not Step.DEPLOY_REQUESTED:
            sub.deployment_name = name
            self._record(Step.DEPLOY_REQUESTED, f"deploying {model} as {self._ns}/{name}")
        await self._emit_deployment(
            DeploymentState(name=name, namespace=self._ns, status="requested")
        )
        await self._step(
            "create deployment config", lambda: self._ensure_config(config_name, model, look_first)
        )
        await self._step(
            "create deployment", lambda: self._ensure_deployment(name, config_name, look_first)
        )
        await self._wait_ready(name)
        self._record(Step.DEPLOYED, f"deployment {self._ns}/{name} ready")

    async def _ensure_config(self, config_name: str, model: str, look_first: bool) -> None:
        dep = self.settings.deployment

        async def lookup() -> JsonObj | None:
            found = await self.platform.get_deployment_config(self._ns, config_name)
            if found is not None and found.get("model") not in (None, model):
                raise Permanent(
                    f"deployment config {self._ns}/{config_name} exists for model "
                    f"{found.get('model')}, not {model}; set deployment_config.deployment_name "
                    "to a free name or delete that config"
                )
            return found

        async def create() -> JsonObj:
            return await self.platform.create_deployment_config(
                {
                    "name": config_name,
                    "namespace": self._ns,
                    "description": dep.description,
                    "model": model,
                    "nim_deployment": {
                        "image_name": dep.image_name,
                        "image_tag": dep.image_tag,
                        "gpu": dep.gpu,
                    },
                }
            )

        await retry.create_once(
            self.platform.policy,
            f"create deployment config {config_name}",
            create,
            lookup,
            look_first=look_first,
        )

    async def _ensure_deployment(self, name: str, config_name: str, look_first: bool) -> None:
        config_ref = f"{self._ns}/{config_name}"

        async def lookup() -> DeploymentInfo | None:
            found = await self.platform.get_deployment(self._ns, name)
            if found is not None and found.config_name not in (None, config_name):
                raise Permanent(
                    f"deployment {self._ns}/{name} exists with config "
                    f"{found.config_namespace}/{found.config_name}, not {config_ref}; set "
                    "deployment_config.deployment_name to a free name or delete it"
                )
            return found

        async def create() -> DeploymentInfo:
            return await self.platform.create_deployment(
                {
                    "name": name,
                    "namespace": self._ns,
                    "description": self.settings.deployment.description,
                    "config": config_ref,
                }
            )

        await retry.create_once(
            self.platform.policy, f"create deployment {name}", create, lookup, look_first=look_first
        )

    async def _wait_ready(self, name: str) -> None:
        limit = self.settings.deployment_timeout_seconds
        deadline = self._clock() + limit
        while True:
            try:
                info = await self.platform.get_deployment(self._ns, name)
            except Transient as exc:
                self.hooks.poll_error(self.sub, exc)
                info = None
            if info is not None:
                state = DeploymentState(
                    name=info.name,
                    namespace=info.namespace,
                    status=info.status,
                    url=info.url,
                    description=info.description,
                )
                await self._emit_deployment(state)
                if info.status == "ready":
                    return
                if info.status in DEPLOY_FAILED:
                    raise Permanent(
                        f"deployment {self._ns}/{name} failed: {info.description or info.status}"
                    )
            if self._clock() >= deadline:
                raise Permanent(
                    f"deployment {self._ns}/{name} not ready within deployment_timeout_seconds="
                    f"{limit:g}s; raise it or check the deployment's logs"
                )
            await self._sleep(self.settings.poll_interval_seconds)

    async def _emit_deployment(self, state: DeploymentState) -> None:
        await self.emitter.emit(self.sub, f"deployment {state.status}", deployment=state)
