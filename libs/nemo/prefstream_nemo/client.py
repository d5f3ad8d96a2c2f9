"""One object for the NeMo platform APIs, built from NAT's trainer-adapter config.

Credentials: ``api_token`` (a gateway bearer token) goes to ``entity_host`` only, i.e. the
Entity Store, Customizer and Deployment Management; ``hf_token`` goes to ``datastore_host``
only (HF API and the Data Store namespace endpoint); ``wandb_api_key`` goes only with job
creation, as the ``wandb-api-key`` header. An empty token sends no header.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
from prefstream_config import NeMoCustomizerTrainerAdapterConfig

from prefstream_nemo.customization_configs import CustomizationConfigs
from prefstream_nemo.customizer import Customizer
from prefstream_nemo.datastore import DataStore, LocalFile, install_hf_timeout
from prefstream_nemo.deployments import Deployments
from prefstream_nemo.entity_store import EntityStore
from prefstream_nemo.http import make_client
from prefstream_nemo.models import (
    DATASET_ID_FIELD,
    DeploymentInfo,
    JobInfo,
    JobProgress,
    RemoteFile,
)
from prefstream_nemo.retry import RetryPolicy

JsonObj = dict[str, Any]


class NemoClient:
    """Async facade; implements the ``Platform`` protocol the submission flow uses."""

    def __init__(
        self,
        *,
        entity_host: str,
        datastore_host: str,
        hf_token: str = "",
        api_token: str | None = None,
        wandb_api_key: str | None = None,
        timeout: float = 60.0,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.policy = policy or RetryPolicy()
        self._entity_http = make_client(timeout=timeout, token=api_token, transport=transport)
        self._datastore_http = make_client(timeout=timeout, token=hf_token, transport=transport)
        install_hf_timeout(timeout)
        self.entity_store = EntityStore(self._entity_http, entity_host, self.policy)
        self.customizer = Customizer(
            self._entity_http, entity_host, self.policy, wandb_api_key=wandb_api_key
        )
        self.customization_configs = CustomizationConfigs(
            self._entity_http, entity_host, self.policy
        )
        self.deployments = Deployments(self._entity_http, entity_host, self.policy)
        self.datastore = DataStore(
            datastore_host, hf_token=hf_token, client=self._datastore_http, policy=self.policy
        )
        self._namespaces: set[str] = set()

    @classmethod
    def from_config(
        cls,
        cfg: NeMoCustomizerTrainerAdapterConfig,
        *,
        policy: RetryPolicy | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> NemoClient:
        return cls(
            entity_host=cfg.entity_host,
            datastore_host=cfg.datastore_host,
            hf_token=cfg.hf_token.get_secret_value(),
            api_token=cfg.api_token.get_secret_value() if cfg.api_token else None,
            wandb_api_key=cfg.wandb_api_key.get_secret_value() if cfg.wandb_api_key else None,
            timeout=cfg.request_timeout_seconds,
            policy=policy,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._entity_http.aclose()
        await self._datastore_http.aclose()

    # -- the Platform protocol ------------------------------------------------------------

    async def ensure_namespaces(self, namespace: str) -> None:
        """Entity Store and Data Store namespaces; remembered once both exist."""
        if namespace in self._namespaces:
            return
        await self.entity_store.ensure_namespace(namespace)
        await self.datastore.ensure_namespace(namespace)
        self._namespaces.add(namespace)

    async def create_repo(self, repo_id: str) -> bool:
        return await self.datastore.create_repo(repo_id)

    async def remote_files(self, repo_id: str) -> dict[str, RemoteFile]:
        return await self.datastore.remote_files(repo_id)

    async def commit(self, repo_id: str, files: Sequence[LocalFile], message: str) -> str:
        return await self.datastore.commit(repo_id, files, message)

    async def get_dataset(self, namespace: str, name: str) -> JsonObj | None:
        return await self.entity_store.get_dataset(namespace, name)

    async def create_dataset(self, body: JsonObj) -> JsonObj:
        return await self.entity_store.create_dataset(body)

    async def find_job(
        self, namespace: str, output_model: str, dataset_id: str | None = None
    ) -> JobInfo | None:
        custom = (DATASET_ID_FIELD, dataset_id) if dataset_id else None
        return await self.customizer.find_job(namespace, output_model, custom)

    async def create_job(self, body: JsonObj) -> JobInfo:
        return await self.customizer.create_job(body)

    async def job_status(self, job_id: str) -> JobProgress:
        return await self.customizer.status(job_id)

    async def cancel_job(self, job_id: str) -> None:
        await self.customizer.cancel(job_id)

    async def get_deployment_config(self, namespace: str, name: str) -> JsonObj | None:
        return await self.deployments.get_config(namespace, name)

    async def create_deployment_config(self, body: JsonObj) -> JsonObj:
        return await self.deployments.create_config(body)

    async def get_deployment(self, namespace: str, name: str) -> DeploymentInfo | None:
        return await self.deployments.get_deployment(namespace, name)

    async def create_deployment(self, body: JsonObj) -> DeploymentInfo:
        return await self.deployments.create_deployment(body)
