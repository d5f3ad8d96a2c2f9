"""``register_local_model`` / ``add-model`` against a running nmp-local, over HTTP only.

``HF_HUB_OFFLINE=1`` would stop ``HfApi`` from reaching even this local server, so it is
switched off for these tests only (every request goes to 127.0.0.1).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

pytest.importorskip("transformers")

from huggingface_hub import constants
from nemo_microservices import NeMoMicroservices
from prefstream_demo.policy_model.architecture import save_untrained
from prefstream_nmp_local.__main__ import main
from prefstream_nmp_local.model_registration import (
    RegistrationError,
    inspect_model_dir,
    register_local_model,
)
from prefstream_nmp_local.testing import NmpLocalProcess

from .conftest import hf, sdk

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=<...>.:DeprecationWarning")
TINY_PARAMETERS = 110_464
"""The demo's untrained GPT-2 (width 64, 2 layers, tied embeddings)."""


@pytest.fixture(autouse=True)
def _local_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_untrained(tmp_path_factory.mktemp("tiny") / "model", seed=0)


def test_register_twice_is_idempotent(nmp: NmpLocalProcess, tiny_model: Path) -> None:
    first = register_local_model(nmp.base_url, tiny_model, "reg/tiny")
    second = register_local_model(nmp.base_url, tiny_model, "reg/tiny")
    assert second == first
    assert first.files_url == "hf://models/reg/tiny"
    assert (first.context_size, first.num_parameters) == (64, TINY_PARAMETERS)

    client: NeMoMicroservices = sdk(nmp.base_url)
    model = client.models.retrieve("tiny", namespace="reg")
    assert model.artifact is not None
    assert model.artifact.files_url == "hf://models/reg/tiny"
    assert model.spec is not None
    assert (model.spec.context_size, model.spec.is_chat) == (64, True)
    assert model.spec.num_parameters == TINY_PARAMETERS

    config = client.customization.configs.retrieve("tiny@local", namespace="reg")
    assert first.customization_config == "reg/tiny@local"
    assert config.target is not None
    assert not isinstance(config.target, str)
    assert config.target.base_model == "reg/tiny"
    assert config.max_seq_length == 64
    options = [(o.training_type, o.finetuning_type) for o in config.training_options or []]
    assert options == [("dpo", "all_weights")]

    files = set(hf(nmp.base_url).list_repo_files("reg/tiny"))
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= files
    commits = hf(nmp.base_url).list_repo_commits("reg/tiny")
    assert len(commits) == 2  # the initial commit and one upload: the second run was a no-op
    namespaces = httpx.get(f"{nmp.base_url}/v1/datastore/namespaces/reg")
    assert namespaces.status_code == 200


def test_missing_files_are_named(tmp_path: Path, tiny_model: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model, broken)
    (broken / "config.json").unlink()
    with pytest.raises(RegistrationError, match=r"missing config\.json$"):
        inspect_model_dir(broken)
    for f in ("model.safetensors", "tokenizer.json", "tokenizer_config.json"):
        (broken / f).unlink()
    with pytest.raises(RegistrationError) as exc:
        register_local_model("http://127.0.0.1:9", broken, "reg/broken")  # fails before HTTP
    message = str(exc.value)
    assert "config.json" in message
    assert "weights" in message
    assert "tokenizer" in message
    with pytest.raises(RegistrationError, match="not a directory"):
        inspect_model_dir(tmp_path / "nowhere")


def test_bad_name_is_refused(tiny_model: Path) -> None:
    for name in ("tiny", "a/b/c", "/tiny"):
        with pytest.raises(RegistrationError, match="NAMESPACE/NAME"):
            register_local_model("http://127.0.0.1:9", tiny_model, name)


def test_existing_model_elsewhere_is_a_conflict(nmp: NmpLocalProcess, tiny_model: Path) -> None:
    sdk(nmp.base_url).models.create(
        name="taken",
        namespace="reg",
        artifact={"files_url": "hf://models/other/place", "status": "upload_completed"},
    )
    with pytest.raises(RegistrationError, match="already exists with files_url"):
        register_local_model(nmp.base_url, tiny_model, "reg/taken")


def test_add_model_command(
    nmp: NmpLocalProcess, tiny_model: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["add-model", str(tiny_model), "--name", "cli/tiny", "--url", nmp.base_url]) == 0
    assert "registered cli/tiny" in capsys.readouterr().out
    assert sdk(nmp.base_url).models.retrieve("tiny", namespace="cli").name == "tiny"
    missing = tiny_model.parent / "missing"
    assert main(["add-model", str(missing), "--name", "cli/x", "--url", nmp.base_url]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert (
        main(["add-model", str(tiny_model), "--name", "cli/x", "--url", "http://127.0.0.1:9"]) == 2
    )
    assert "cannot talk to http://127.0.0.1:9" in capsys.readouterr().err
