"""A dataset card goes up with the dataset, whether or not the Data Store validates YAML.

``huggingface_hub`` posts a ``README.md`` to ``/api/validate-yaml`` before committing; a
Data Store need not have that endpoint (the contract server has not, nmp-local answers 405).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
from prefstream_nemo import NemoClient
from prefstream_nemo.datastore import _HubApi
from prefstream_nemo.retry import RetryPolicy
from prefstream_submission.dataset_files import local_files

from tests.support.batcher_cut import cut_dataset, question_pairs

from .contract_server import ContractState, contract_server

FAST = RetryPolicy(attempts=3, max_seconds=0.01, initial_seconds=0.001)


@pytest.fixture
def server() -> Iterator[tuple[str, ContractState]]:
    with contract_server() as running:
        yield running


async def test_a_cut_with_its_card_commits_without_a_yaml_validator(
    server: tuple[str, ContractState], tmp_path: Path
) -> None:
    base, state = server
    event = cut_dataset(
        tmp_path, question_pairs(16, examples=4), formats=("trl_conversational",), name="card-1"
    )
    files = local_files(event)
    client = NemoClient(entity_host=base, datastore_host=base, hf_token="", policy=FAST)
    await client.ensure_namespaces("ns")
    await client.create_repo("ns/card-1")
    await client.commit("ns/card-1", files, "dataset")
    await client.aclose()

    assert set(state.repos["ns/card-1"]) == {f.path_in_repo for f in files}
    assert "README.md" in state.repos["ns/card-1"]
    assert state.seen("/v1/hf/api/validate-yaml")  # asked, found nothing, went on


def _http_error(status: int) -> HfHubHTTPError:
    response = httpx2.Response(status, request=httpx2.Request("POST", "http://ds.test/x"))
    return HfHubHTTPError(f"HTTP {status}", response=response)


@pytest.mark.parametrize("status", [404, 405, 501])
def test_a_missing_validator_is_skipped(monkeypatch: pytest.MonkeyPatch, status: int) -> None:
    def absent(*args: object, **kwargs: object) -> None:
        raise _http_error(status)

    monkeypatch.setattr(HfApi, "_validate_yaml", absent)
    _HubApi(endpoint="http://ds.test", token=False)._validate_yaml("---\n---\n")


def test_a_validator_that_rejects_the_card_still_stops_the_commit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def rejects(*args: object, **kwargs: object) -> None:
        raise _http_error(400)

    monkeypatch.setattr(HfApi, "_validate_yaml", rejects)
    with pytest.raises(HfHubHTTPError):
        _HubApi(endpoint="http://ds.test", token=False)._validate_yaml("---\nbad\n---\n")
