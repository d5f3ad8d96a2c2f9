"""``retraining.start_from: latest`` wiring: the promoted model from the evaluations topic,
and Customizer's customization configs over HTTP.

The configs client belongs beside ``prefstream_nemo.customizer`` (it is two calls of the
same API); it lives here until that library takes it, built from the same pieces
(``make_client``, ``request``, ``retry``), so it maps errors and retries as the rest do.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from prefstream_config import KafkaConfig, NeMoCustomizerTrainerAdapterConfig
from prefstream_kafka.evaluations import latest_promoted_model
from prefstream_nemo import retry
from prefstream_nemo.errors import Missing
from prefstream_nemo.http import make_client, request
from prefstream_nemo.retry import RetryPolicy
from prefstream_submission.start_model import Retraining

JsonObj = dict[str, Any]


def _seg(value: str) -> str:
    return quote(value, safe="@+")


class CustomizationConfigsClient:
    """``{entity_host}/v1/customization/configs``: get by name, create once."""

    def __init__(self, cfg: NeMoCustomizerTrainerAdapterConfig, policy: RetryPolicy) -> None:
        token = cfg.api_token.get_secret_value() if cfg.api_token else None
        self._client = make_client(timeout=cfg.request_timeout_seconds, token=token)
        self._base = f"{cfg.entity_host}/v1/customization/configs"
        self._policy = policy

    async def get_customization_config(self, namespace: str, name: str) -> JsonObj | None:
        what = f"get customization config {namespace}/{name}"
        url = f"{self._base}/{_seg(namespace)}/{_seg(name)}"

        async def attempt() -> JsonObj | None:
            try:
                body = await request(self._client, "GET", url, what)
            except Missing:
                return None
            return body if isinstance(body, dict) else None

        return await retry.call(self._policy, what, attempt)

    async def create_customization_config(self, body: JsonObj) -> JsonObj:
        """One attempt; raises ``Exists`` when the name is taken (see ``retry.create_once``)."""
        what = f"create customization config {body.get('namespace')}/{body.get('name')}"
        result = await request(self._client, "POST", self._base, what, json=body, create=True)
        return result if isinstance(result, dict) else {}

    async def aclose(self) -> None:
        await self._client.aclose()


class EvaluationsTopic:
    """The model promoted last, read from the evaluations topic when a job is about to be
    created (a small compacted topic: no background consumer to keep in step)."""

    def __init__(self, kafka: KafkaConfig) -> None:
        self._kafka = kafka

    async def latest_promoted(self) -> str | None:
        event = await latest_promoted_model(self._kafka)
        return None if event is None else event.model


def retraining(
    kafka: KafkaConfig, cfg: NeMoCustomizerTrainerAdapterConfig, policy: RetryPolicy
) -> tuple[Retraining, CustomizationConfigsClient]:
    """The seams the flow needs, and the client to close with the service."""
    configs = CustomizationConfigsClient(cfg, policy)
    return Retraining(configs=configs, promoted=EvaluationsTopic(kafka)), configs
