"""SDK and Hub-client calls beyond the DPO flow: customization targets, ``get_paths_info``,
``list_datasets``/``list_models`` — each through the official client, against nmp-local.

The "model" registered here is a hand-written directory (config, a 32-parameter
safetensors file, a tokenizer config): ``register_local_model`` only uploads and registers,
so nothing needs transformers.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import httpx
import pytest
from huggingface_hub import HfApi, RepoFile, RepoFolder, constants
from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError
from nemo_microservices import APIStatusError, NeMoMicroservices, NotFoundError
from prefstream_nmp_local.model_registration import RegisteredModel, register_local_model
from prefstream_nmp_local.testing import NmpLocalProcess

from .conftest import dpo_rows, hf, jsonl, sdk, write

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=<...>.:DeprecationWarning")
PRELOADED_1B = "meta/llama-3.2-1b-instruct"


@pytest.fixture(autouse=True)
def _local_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    """``HF_HUB_OFFLINE=1`` would block HfApi even towards 127.0.0.1."""
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


def _safetensors(shape: tuple[int, int]) -> bytes:
    size = shape[0] * shape[1] * 4
    header = {"w": {"dtype": "F32", "shape": list(shape), "data_offsets": [0, size]}}
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + b"\0" * size


@pytest.fixture(scope="module")
def registered(nmp: NmpLocalProcess, tmp_path_factory: pytest.TempPathFactory) -> RegisteredModel:
    directory = tmp_path_factory.mktemp("tiny-model")
    (directory / "config.json").write_text(json.dumps({"model_type": "gpt2", "n_positions": 32}))
    (directory / "tokenizer_config.json").write_text("{}")
    (directory / "model.safetensors").write_bytes(_safetensors((4, 8)))
    return register_local_model(nmp.base_url, directory, "sdkcalls/tiny")


def _git_blob_oid(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


# customization targets ---------------------------------------------------------------


def test_targets_cover_every_config_base_model(nmp: NmpLocalProcess) -> None:
    client: NeMoMicroservices = sdk(nmp.base_url)
    configs = list(client.customization.configs.list(page_size=100))
    wanted = {
        c.target.base_model
        for c in configs
        if c.target is not None and not isinstance(c.target, str)
    }
    targets = list(client.customization.targets.list(page_size=100))
    assert {t.base_model for t in targets} == wanted
    keys = [f"{t.namespace}/{t.name}" for t in targets]
    assert len(keys) == len(set(keys))  # the A100 and L40 configs share one target

    one_b = [t for t in targets if t.base_model == PRELOADED_1B]
    assert len(one_b) == 1
    assert one_b[0].name == "llama-3.2-1b-instruct@2.0"
    assert (one_b[0].num_parameters, one_b[0].precision) == (1_235_814_400, "bf16-mixed")
    assert (one_b[0].status, one_b[0].enabled) == ("ready", True)
    assert one_b[0].id is not None
    assert one_b[0].id.startswith("cust-target-")

    # the auto-pager walks small pages to the same set, without repeats
    paged = [f"{t.namespace}/{t.name}" for t in client.customization.targets.list(page_size=2)]
    assert sorted(paged) == sorted(keys)


def test_target_list_filters_and_retrieve(nmp: NmpLocalProcess) -> None:
    client: NeMoMicroservices = sdk(nmp.base_url)
    page = client.customization.targets.list(filter={"base_model": "meta/llama-3.1-8b-instruct"})
    assert [t.base_model for t in page.data] == ["meta/llama-3.1-8b-instruct"]
    assert page.pagination is not None
    assert page.pagination.total_results == 1
    nvidia = client.customization.targets.list(filter={"namespace": "nvidia"}, page_size=100)
    assert [t.base_model for t in nvidia.data] == ["nvidia/nemotron-nano-llama-3.1-8b"]
    disabled = client.customization.targets.list(filter={"enabled": False})
    assert disabled.data == []

    target = client.customization.targets.retrieve("llama-3.2-1b-instruct@2.0", namespace="meta")
    assert target.base_model == PRELOADED_1B
    assert target.model_uri == "ngc://nvidia/nemo/llama-3_2-1b-instruct:2.0"
    with pytest.raises(NotFoundError):
        client.customization.targets.retrieve("no-such-model", namespace="meta")


def test_registered_model_is_a_target(nmp: NmpLocalProcess, registered: RegisteredModel) -> None:
    client: NeMoMicroservices = sdk(nmp.base_url)
    found = client.customization.targets.list(filter={"base_model": registered.name}).data
    assert len(found) == 1
    target = client.customization.targets.retrieve("tiny", namespace="sdkcalls")
    assert target == found[0]
    assert target.base_model == "sdkcalls/tiny"
    assert target.model_uri == "hf://models/sdkcalls/tiny"
    assert (target.num_parameters, target.precision, target.model_type) == (32, "fp32", "hf")


def test_target_writes_are_refused(nmp: NmpLocalProcess) -> None:
    """Targets live inside configs here; changing one on its own is a clear 405."""
    client: NeMoMicroservices = sdk(nmp.base_url)
    with pytest.raises(APIStatusError) as created:
        client.customization.targets.create(
            name="mine", namespace="sdkcalls", num_parameters=1, precision="bf16"
        )
    assert created.value.status_code == 405
    assert "customization config" in str(created.value.body)
    with pytest.raises(APIStatusError) as updated:
        client.customization.targets.update(
            "llama-3.2-1b-instruct@2.0", namespace="meta", enabled=False
        )
    assert updated.value.status_code == 405
    with pytest.raises(APIStatusError) as deleted:
        client.customization.targets.delete("llama-3.2-1b-instruct@2.0", namespace="meta")
    assert deleted.value.status_code == 405
    still = client.customization.targets.retrieve("llama-3.2-1b-instruct@2.0", namespace="meta")
    assert still.enabled is True


# paths-info --------------------------------------------------------------------------


def test_paths_info_reports_sizes_oids_and_lfs(nmp: NmpLocalProcess, tmp_path: Path) -> None:
    api = hf(nmp.base_url)
    repo = "sdkcalls/paths"
    api.create_repo(repo, repo_type="dataset")
    training = jsonl(dpo_rows(5, "paths"))
    binary = bytes(range(256)) * 8  # has NUL bytes: goes through LFS
    write(tmp_path, "training/training_file.jsonl", training)
    write(tmp_path, "blobs/data.bin", binary)
    first = api.upload_folder(repo_id=repo, repo_type="dataset", folder_path=tmp_path)
    (tmp_path / "training/training_file.jsonl").write_bytes(training + b"\n")
    api.upload_folder(repo_id=repo, repo_type="dataset", folder_path=tmp_path)

    asked = ["training/training_file.jsonl", "blobs/data.bin", "training", "missing.txt"]
    entries = api.get_paths_info(repo, asked, repo_type="dataset")
    assert [e.path for e in entries] == asked[:3]  # missing paths are left out
    text, lfs, folder = entries
    assert isinstance(text, RepoFile)
    assert isinstance(lfs, RepoFile)
    assert (text.size, text.blob_id, text.lfs) == (
        len(training) + 1,
        _git_blob_oid(training + b"\n"),
        None,
    )
    assert lfs.size == len(binary)
    assert lfs.lfs is not None
    assert (lfs.lfs.sha256, lfs.lfs.size) == (hashlib.sha256(binary).hexdigest(), len(binary))
    pointer = (
        "version https://git-lfs.github.com/spec/v1\n"
        f"oid sha256:{hashlib.sha256(binary).hexdigest()}\nsize {len(binary)}\n"
    ).encode()
    assert (lfs.lfs.pointer_size, lfs.blob_id) == (len(pointer), _git_blob_oid(pointer))
    assert isinstance(folder, RepoFolder)
    tree = {e.path: e for e in api.list_repo_tree(repo, repo_type="dataset")}
    assert isinstance(tree["training"], RepoFolder)
    assert folder.tree_id == tree["training"].tree_id
    assert text.last_commit is None  # only with expand

    # at the first commit the file is the older, shorter one
    (old,) = api.get_paths_info(repo, asked[0], repo_type="dataset", revision=first.oid)
    assert isinstance(old, RepoFile)
    assert (old.path, old.size) == (asked[0], len(training))


def test_paths_info_expand_gives_last_commits(nmp: NmpLocalProcess, tmp_path: Path) -> None:
    api = hf(nmp.base_url)
    repo = "sdkcalls/expand"
    api.create_repo(repo, repo_type="dataset")
    first = api.upload_file(
        path_or_fileobj=b"a", path_in_repo="dir/a.txt", repo_id=repo, repo_type="dataset"
    )
    second = api.upload_file(
        path_or_fileobj=b"b", path_in_repo="dir/b.txt", repo_id=repo, repo_type="dataset"
    )
    entries = api.get_paths_info(
        repo, ["dir/a.txt", "dir/b.txt", "dir"], repo_type="dataset", expand=True
    )
    commits = [e.last_commit.oid if e.last_commit else None for e in entries]
    assert commits == [first.oid, second.oid, second.oid]  # a folder: its newest change


def test_paths_info_errors_name_the_missing_thing(nmp: NmpLocalProcess) -> None:
    api = hf(nmp.base_url)
    with pytest.raises(RepositoryNotFoundError):
        api.get_paths_info("sdkcalls/nope", ["x"], repo_type="dataset")
    api.create_repo("sdkcalls/revs", repo_type="dataset", exist_ok=True)
    with pytest.raises(RevisionNotFoundError):
        api.get_paths_info("sdkcalls/revs", ["x"], repo_type="dataset", revision="abcdef1234")


# list_datasets / list_models ---------------------------------------------------------


def test_list_datasets_by_author(nmp: NmpLocalProcess, registered: RegisteredModel) -> None:
    api = hf(nmp.base_url)
    for repo_id in ("listns/alpha", "listns/beta", "otherns/alpha"):
        api.create_repo(repo_id, repo_type="dataset", exist_ok=True)
    api.upload_file(
        path_or_fileobj=b"x" * 10, path_in_repo="f.txt", repo_id="listns/beta", repo_type="dataset"
    )

    listed = list(api.list_datasets(author="listns"))
    assert [d.id for d in listed] == ["listns/alpha", "listns/beta"]
    for info in listed:
        one = api.dataset_info(info.id)
        assert (info.author, info.sha, info.private) == ("listns", one.sha, False)
        assert info.last_modified == one.last_modified
        assert info.siblings is None  # only with full=True, as on the Hub

    assert [d.id for d in api.list_datasets(author="listns", search="BET")] == ["listns/beta"]
    newest_first = [d.id for d in api.list_datasets(author="listns", sort="last_modified")]
    assert newest_first == ["listns/beta", "listns/alpha"]
    assert len(list(api.list_datasets(author="listns", limit=1))) == 1
    with_files = list(api.list_datasets(author="listns", search="beta", full=True))
    assert [s.rfilename for s in with_files[0].siblings or []] == ["f.txt"]
    assert list(api.list_datasets(author="nobody")) == []
    assert list(api.list_datasets(author="listns", filter="language:en")) == []

    models = list(api.list_models(author="sdkcalls"))
    assert [m.id for m in models] == [registered.name]
    assert models[0].sha == registered.commit
    assert "listns/alpha" not in {m.id for m in api.list_models()}


def test_repo_lists_page_with_link_headers(nmp: NmpLocalProcess) -> None:
    """The Hub pages lists with ``Link: <…>; rel="next"``, which HfApi follows."""
    api = hf(nmp.base_url)
    for name in ("p1", "p2", "p3"):
        api.create_repo(f"pagens/{name}", repo_type="dataset", exist_ok=True)
    url = f"{nmp.base_url}/v1/hf/api/datasets"
    seen: list[str] = []
    next_url: Any = f"{url}?author=pagens&limit=2"
    while next_url:
        resp = httpx.get(next_url)
        resp.raise_for_status()
        seen.extend(item["id"] for item in resp.json())
        next_url = resp.links.get("next", {}).get("url")
    assert seen == ["pagens/p1", "pagens/p2", "pagens/p3"]


# tokens ------------------------------------------------------------------------------


def test_empty_token_fails_in_the_client_and_false_works(nmp: NmpLocalProcess) -> None:
    """Why prefstream passes ``token=False`` when no token is configured (see the docs)."""
    endpoint = f"{nmp.base_url}/v1/hf"
    with pytest.raises(Exception, match="Illegal header value b'Bearer '"):
        list(HfApi(endpoint=endpoint, token="").list_datasets(author="listns"))
    assert list(HfApi(endpoint=endpoint, token=False).list_datasets(author="nobody")) == []
