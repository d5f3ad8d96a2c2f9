"""The pure OpenAI protocol layer: parsing, defaults, stop handling, response shapes.

No torch needed; the HTTP-level behaviour is in ``test_serving.py``.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openai.types import Completion
from openai.types.chat import ChatCompletion
from prefstream_nmp_local.serving.protocol import (
    ChatRequest,
    CompletionRequest,
    Generation,
    OpenAIError,
    TokenLogprob,
    chat_response,
    completion_response,
    cut_at_stop,
    parse_request,
    sampling_params,
)


def _completion(**body: object) -> CompletionRequest:
    return parse_request(CompletionRequest, json.dumps({"model": "m", **body}).encode())


def _chat(**body: object) -> ChatRequest:
    messages = [{"role": "user", "content": "hi"}]
    return parse_request(
        ChatRequest, json.dumps({"model": "m", "messages": messages, **body}).encode()
    )


def test_completion_defaults_follow_openai() -> None:
    params = sampling_params(_completion(prompt="x"))
    assert (params.n, params.temperature, params.top_p, params.max_tokens) == (1, 1.0, 1.0, 16)
    assert params.stop == ()
    assert params.seed is None
    assert params.logprobs is None
    nulls = sampling_params(_completion(prompt="x", temperature=None, n=None, max_tokens=None))
    assert (nulls.temperature, nulls.n, nulls.max_tokens) == (1.0, 1, 16)


def test_chat_max_tokens_and_logprobs() -> None:
    assert sampling_params(_chat()).max_tokens is None  # up to the context size
    assert sampling_params(_chat(max_tokens=5)).max_tokens == 5
    assert sampling_params(_chat(max_tokens=5, max_completion_tokens=7)).max_tokens == 7
    assert sampling_params(_chat(logprobs=True)).logprobs == 0
    assert sampling_params(_chat(logprobs=True, top_logprobs=3)).logprobs == 3
    with pytest.raises(OpenAIError) as exc:
        sampling_params(_chat(top_logprobs=3))
    assert exc.value.param == "top_logprobs"


def test_prompts_and_stop_forms() -> None:
    assert _completion(prompt="a").prompts() == ["a"]
    assert _completion(prompt=["a", "b"]).prompts() == ["a", "b"]
    assert sampling_params(_completion(prompt="a", stop="\n")).stop == ("\n",)
    assert sampling_params(_completion(prompt="a", stop=["x", "", "y"])).stop == ("x", "y")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "x", "n": 0}, "n"),
        ({"prompt": "x", "temperature": 3}, "temperature"),
        ({"prompt": "x", "top_p": 0}, "top_p"),
        ({"prompt": "x", "max_tokens": 0}, "max_tokens"),
        ({}, "prompt"),
    ],
)
def test_invalid_parameters_are_400_naming_the_parameter(
    body: dict[str, object], param: str
) -> None:
    with pytest.raises(OpenAIError) as exc:
        _completion(**body)
    assert (exc.value.status, exc.value.param) == (400, param)
    assert exc.value.body()["error"]["type"] == "invalid_request_error"


def test_unsupported_options_and_bad_json() -> None:
    for body, param in (({"stream": True}, "stream"), ({"echo": True}, "echo")):
        with pytest.raises(OpenAIError) as exc:
            sampling_params(_completion(prompt="x", **body))
        assert exc.value.param == param
    with pytest.raises(OpenAIError) as exc:
        sampling_params(_completion(prompt="x", stop=["a", "b", "c", "d", "e"]))
    assert exc.value.param == "stop"
    with pytest.raises(OpenAIError) as exc:
        parse_request(CompletionRequest, b"{not json")
    assert exc.value.status == 400


def test_chat_content_parts_are_joined() -> None:
    req = parse_request(
        ChatRequest,
        json.dumps(
            {
                "model": "m",
                "messages": [
                    {"role": "system", "content": None},
                    {
                        "role": "user",
                        "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}],
                    },
                ],
            }
        ).encode(),
    )
    assert req.template_messages() == [
        {"role": "system", "content": ""},
        {"role": "user", "content": "ab"},
    ]


def test_cut_at_stop_takes_the_earliest_stop() -> None:
    assert cut_at_stop("abc\ndef", ("\n",)) == ("abc", True)
    assert cut_at_stop("abcdef", ("de", "bc")) == ("a", True)
    assert cut_at_stop("abcdef", ("x",)) == ("abcdef", False)
    assert cut_at_stop("abcdef", ()) == ("abcdef", False)


@given(st.text(max_size=30), st.lists(st.text(min_size=1, max_size=3), max_size=4))
def test_cut_text_never_contains_a_stop(text: str, stops: list[str]) -> None:
    cut, hit = cut_at_stop(text, tuple(stops))
    assert text.startswith(cut)
    assert hit == any(s in text for s in stops)
    # No stop sequence ends inside the kept text.
    assert not any(s in cut for s in stops)


def _gen(tokens: int, reason: str = "length", text: str = "ab") -> Generation:
    lp = [TokenLogprob("a", -0.5, [("a", -0.5), ("b", -1.0)])] * tokens
    return Generation(token_ids=[1] * tokens, text=text, finish_reason=reason, logprobs=lp)  # type: ignore[arg-type]


def test_completion_response_parses_with_the_openai_types() -> None:
    body = completion_response(
        id="cmpl-1",
        created=1,
        model="m",
        prompt_tokens=[3, 4],
        generations=[_gen(2), _gen(1, "stop"), _gen(2), _gen(0, "stop", "")],
    )
    parsed = Completion.model_validate(body)
    assert [c.index for c in parsed.choices] == [0, 1, 2, 3]
    assert parsed.usage is not None
    assert (parsed.usage.prompt_tokens, parsed.usage.completion_tokens) == (7, 5)
    assert parsed.usage.total_tokens == 12
    assert parsed.choices[0].logprobs is not None
    assert parsed.choices[0].logprobs.top_logprobs == [{"a": -0.5, "b": -1.0}] * 2


def test_chat_response_parses_with_the_openai_types() -> None:
    body = chat_response(
        id="chatcmpl-1", created=1, model="m", prompt_tokens=5, generations=[_gen(2), _gen(3)]
    )
    parsed = ChatCompletion.model_validate(body)
    assert [c.message.content for c in parsed.choices] == ["ab", "ab"]
    assert parsed.usage is not None
    assert (parsed.usage.prompt_tokens, parsed.usage.completion_tokens) == (5, 5)
    logprobs = parsed.choices[1].logprobs
    assert logprobs is not None
    assert logprobs.content is not None
    assert len(logprobs.content) == 3
    assert logprobs.content[0].bytes == [97]
