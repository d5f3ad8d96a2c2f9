"""Real serving: a registered model, deployed with the SDK, answered through the ``openai`` client.

The server runs with a one-hour deployment clock, so a deployment of a model without
weights stays ``pending`` (a deterministic 503), while the weighted model's deployment is
ready as soon as it has loaded (its status follows the load, not the clock).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.importorskip("transformers")

from huggingface_hub import constants
from nemo_microservices import NeMoMicroservices
from openai import APIStatusError, BadRequestError, NotFoundError, OpenAI
from prefstream_demo.policy_model.architecture import save_untrained
from prefstream_nmp_local.model_registration import register_local_model
from prefstream_nmp_local.testing import NmpLocalProcess, running_nmp_local

from .conftest import FAST_CLOCKS, NIM, sdk

pytestmark = pytest.mark.filterwarnings("ignore:Use .content=<...>.:DeprecationWarning")
MODEL = "serve/tiny"
LOAD_TIMEOUT = 180.0
"""Importing torch + transformers in the server takes ~15 s on two busy cores."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NmpLocalProcess]:
    tmp = tmp_path_factory.mktemp("serving")
    clocks = {**FAST_CLOCKS, "deployment_ready_seconds": 3600.0}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(constants, "HF_HUB_OFFLINE", False)  # HfApi talks to 127.0.0.1 only
        mp.setattr(constants, "HF_HUB_DISABLE_XET", True)
        with running_nmp_local(tmp / "nmp", **clocks) as proc:
            model_dir = save_untrained(tmp / "model", seed=0)
            register_local_model(proc.base_url, model_dir, MODEL)
            client = sdk(proc.base_url)
            client.deployment.configs.create(
                name="tiny-cfg", namespace="serve", model=MODEL, nim_deployment=NIM
            )
            client.deployment.model_deployments.create(
                name="tiny", namespace="serve", config="serve/tiny-cfg"
            )
            yield proc


def wait_ready(client: NeMoMicroservices, name: str, namespace: str) -> Any:
    deadline = time.monotonic() + LOAD_TIMEOUT
    seen: list[str] = []
    while time.monotonic() < deadline:
        dep = client.deployment.model_deployments.retrieve(name, namespace=namespace)
        seen.append(dep.status_details.status)
        if dep.status_details.status != "pending":
            return dep, seen
        time.sleep(0.1)
    raise AssertionError(f"deployment {namespace}/{name} not ready in {LOAD_TIMEOUT}s")


@pytest.fixture(scope="module")
def deployment(server: NmpLocalProcess) -> Any:
    dep, _ = wait_ready(sdk(server.base_url), "tiny", "serve")
    return dep


@pytest.fixture(scope="module")
def llm(deployment: Any) -> OpenAI:
    return OpenAI(base_url=deployment.url, api_key="x", max_retries=0)


def test_deployment_becomes_ready(deployment: Any, server: NmpLocalProcess) -> None:
    assert deployment.status_details.status == "ready"
    assert deployment.deployed is True
    assert deployment.url == f"{server.base_url}/nim/serve/tiny/v1"
    assert deployment.models == [MODEL]


def test_chat_with_n_choices(llm: OpenAI) -> None:
    reply = llm.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "x.o|...|..."}], n=3, max_tokens=4
    )
    assert [c.index for c in reply.choices] == [0, 1, 2]
    assert all(c.message.role == "assistant" for c in reply.choices)
    assert reply.usage is not None
    assert reply.usage.prompt_tokens == len("x.o|...|...")  # one token per character
    assert 3 <= reply.usage.completion_tokens <= 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens
    for choice in reply.choices:
        assert choice.finish_reason in ("stop", "length")
        assert len(choice.message.content or "") <= 4


def test_batched_completions_are_prompt_major_and_match_single_prompts(llm: OpenAI) -> None:
    prompts = ["abc", "x", "hello world"]
    batch = llm.completions.create(model=MODEL, prompt=prompts, n=2, max_tokens=5, temperature=0)
    assert [c.index for c in batch.choices] == list(range(6))
    texts = [c.text for c in batch.choices]
    for i, prompt in enumerate(prompts):
        alone = llm.completions.create(model=MODEL, prompt=prompt, max_tokens=5, temperature=0)
        # Greedy: both samples of a prompt agree, and left padding changes nothing.
        assert texts[2 * i] == texts[2 * i + 1] == alone.choices[0].text
    assert batch.usage is not None
    assert batch.usage.prompt_tokens == sum(len(p) for p in prompts)


def test_max_tokens_finishes_with_length(llm: OpenAI) -> None:
    reply = llm.completions.create(model=MODEL, prompt="abc", max_tokens=3, temperature=0)
    assert reply.choices[0].finish_reason == "length"
    assert reply.usage is not None
    assert reply.usage.completion_tokens == 3


def test_stop_cuts_the_text(llm: OpenAI) -> None:
    full = llm.completions.create(model=MODEL, prompt="abc", max_tokens=8, temperature=0)
    text = full.choices[0].text
    assert len(text) >= 4
    stop = text[2]
    stopped = llm.completions.create(
        model=MODEL, prompt="abc", max_tokens=8, temperature=0, stop=[stop, "\x7f"]
    )
    choice = stopped.choices[0]
    assert choice.text == text[: text.index(stop)]
    assert choice.finish_reason == "stop"
    assert stopped.usage is not None
    assert stopped.usage.completion_tokens == text.index(stop) + 1  # generation ended there


def test_seed_reproduces_samples(llm: OpenAI) -> None:
    def sample(seed: int) -> list[str]:
        reply = llm.completions.create(
            model=MODEL, prompt=["a", "b"], n=4, max_tokens=6, temperature=1.0, seed=seed
        )
        return [c.text for c in reply.choices]

    first = sample(7)
    assert sample(7) == first
    assert sample(8) != first
    assert len(set(first[:4])) > 1  # n samples of one prompt differ


def test_logprobs(llm: OpenAI) -> None:
    reply = llm.completions.create(
        model=MODEL, prompt="ab", max_tokens=3, temperature=0, logprobs=2
    )
    logprobs = reply.choices[0].logprobs
    assert logprobs is not None
    assert logprobs.token_logprobs is not None
    assert logprobs.top_logprobs is not None
    assert len(logprobs.token_logprobs) == 3
    for value, top in zip(logprobs.token_logprobs, logprobs.top_logprobs, strict=True):
        assert value is not None
        assert value <= 0
        assert len(top) == 2
        assert max(top.values()) == pytest.approx(value)  # greedy picks the most likely
    chat = llm.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "ab"}],
        max_tokens=2,
        temperature=0,  # sampled, the first token is <eos> with p = e^-4.47, 1 in 87 (CI drew it)
        logprobs=True,
        top_logprobs=1,
    )
    content = chat.choices[0].logprobs
    assert content is not None
    assert content.content is not None
    assert len(content.content) == 2


def test_models_list(llm: OpenAI, server: NmpLocalProcess) -> None:
    assert [m.id for m in llm.models.list()] == [MODEL]
    proxy = OpenAI(base_url=f"{server.base_url}/nim/v1", api_key="x", max_retries=0)
    assert MODEL in [m.id for m in proxy.models.list()]
    # The root's /v1/models stays the Entity Store's list.
    names = [m.name for m in sdk(server.base_url).models.list(page_size=100).data]
    assert "tiny" in names


def test_root_proxy_routes_by_model(server: NmpLocalProcess, llm: OpenAI) -> None:
    proxy = OpenAI(base_url=f"{server.base_url}/v1", api_key="x", max_retries=0)
    direct = llm.completions.create(model=MODEL, prompt="q", max_tokens=4, temperature=0)
    for model in (MODEL, "tiny", "serve/tiny"):
        reply = proxy.completions.create(model=model, prompt="q", max_tokens=4, temperature=0)
        assert reply.choices[0].text == direct.choices[0].text
    chat = proxy.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "q"}], max_tokens=2
    )
    assert len(chat.choices) == 1


def test_unknown_model_is_openai_404(server: NmpLocalProcess, llm: OpenAI) -> None:
    with pytest.raises(NotFoundError) as exc:
        llm.completions.create(model="nobody/here", prompt="x")
    assert exc.value.code == "model_not_found"
    proxy = OpenAI(base_url=f"{server.base_url}/v1", api_key="x", max_retries=0)
    with pytest.raises(NotFoundError):
        proxy.chat.completions.create(
            model="nobody/here", messages=[{"role": "user", "content": "x"}]
        )
    raw = httpx.post(f"{server.base_url}/v1/completions", json={"model": "nobody", "prompt": "x"})
    assert raw.status_code == 404
    assert set(raw.json()["error"]) == {"message", "type", "param", "code"}
    assert raw.json()["error"]["param"] == "model"


def test_bad_requests_are_400(llm: OpenAI) -> None:
    with pytest.raises(BadRequestError) as exc:
        llm.completions.create(model=MODEL, prompt="x", n=0)
    assert exc.value.param == "n"
    with pytest.raises(BadRequestError):
        llm.completions.create(model=MODEL, prompt="x", stream=False, extra_body={"stream": True})
    with pytest.raises(BadRequestError) as exc:
        llm.completions.create(model=MODEL, prompt="x" * 80, max_tokens=1)
    assert exc.value.code == "context_length_exceeded"


def test_simulated_deployment_is_503_until_ready(server: NmpLocalProcess) -> None:
    client = sdk(server.base_url)
    dep = client.deployment.model_deployments.create(
        name="sim",
        namespace="serve",
        config={"model": "meta/llama-3.2-1b-instruct", "nim_deployment": NIM},
    )
    assert dep.status_details.status == "pending"
    llm = OpenAI(base_url=dep.url, api_key="x", max_retries=0)
    with pytest.raises(APIStatusError) as exc:
        llm.chat.completions.create(
            model="meta/llama-3.2-1b-instruct", messages=[{"role": "user", "content": "x"}]
        )
    assert exc.value.status_code == 503
    assert exc.value.code == "model_not_ready"


def test_restart_reloads_the_model(server: NmpLocalProcess) -> None:
    server.kill()
    server.start()
    client = sdk(server.base_url)
    dep, seen = wait_ready(client, "tiny", "serve")
    assert dep.status_details.status == "ready"
    assert seen[0] == "pending"  # nothing is loaded until the restarted server looks
    llm = OpenAI(base_url=dep.url, api_key="x", max_retries=0)
    assert len(llm.completions.create(model=MODEL, prompt="a", max_tokens=2).choices) == 1


def test_without_torch_a_weighted_deployment_fails_saying_what_to_install(tmp_path: Path) -> None:
    blocker = tmp_path / "no-torch"
    (blocker / "torch").mkdir(parents=True)
    (blocker / "torch" / "__init__.py").write_text("raise ImportError('No module named torch')\n")
    env = {"PYTHONPATH": str(blocker)}
    with running_nmp_local(tmp_path / "nmp", extra_env=env, **FAST_CLOCKS) as bare:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(constants, "HF_HUB_OFFLINE", False)
            mp.setattr(constants, "HF_HUB_DISABLE_XET", True)
            register_local_model(bare.base_url, save_untrained(tmp_path / "m", seed=0), MODEL)
        client = sdk(bare.base_url)
        client.deployment.model_deployments.create(
            name="tiny", namespace="serve", config={"model": MODEL, "nim_deployment": NIM}
        )
        dep, _ = wait_ready(client, "tiny", "serve")
        assert dep.status_details.status == "failed"
        assert "install prefstream-nmp-local[training]" in (dep.status_details.description or "")
        llm = OpenAI(base_url=dep.url, api_key="x", max_retries=0)
        with pytest.raises(APIStatusError) as exc:
            llm.completions.create(model=MODEL, prompt="x")
        assert exc.value.status_code == 503
        assert exc.value.code == "model_load_failed"
