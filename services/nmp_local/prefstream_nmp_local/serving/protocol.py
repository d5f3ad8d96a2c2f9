"""The OpenAI completions API, as pure data: request parsing, stop handling, response shapes.

Nothing here touches torch or the network, so every rule the ``openai`` client depends on
(choice order, usage sums, error shape) is tested directly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

JsonObj = dict[str, Any]
FinishReason = Literal["stop", "length"]
R = TypeVar("R", bound=BaseModel)
MAX_STOPS = 4
"""OpenAI accepts up to four stop sequences."""


class OpenAIError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {message, type, param, code}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> JsonObj:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def model_not_found(model: str) -> OpenAIError:
    return OpenAIError(
        404,
        f"The model `{model}` does not exist or is not deployed here.",
        param="model",
        code="model_not_found",
    )


class _Common(BaseModel):
    """Fields both endpoints share. ``None`` means "the default", as OpenAI treats ``null``."""

    model_config = ConfigDict(extra="allow")

    model: str
    n: int | None = Field(None, ge=1, le=128)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool | None = None


class CompletionRequest(_Common):
    prompt: str | list[str]
    logprobs: int | None = Field(None, ge=0, le=20)
    echo: bool | None = None

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)


class TextPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        return "".join(part.text for part in self.content)


class ChatRequest(_Common):
    messages: list[ChatMessage] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)

    def template_messages(self) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.text()} for m in self.messages]


@dataclass(frozen=True, kw_only=True)
class SamplingParams:
    n: int = 1
    temperature: float = 1.0
    """0 = greedy."""
    top_p: float = 1.0
    max_tokens: int | None = None
    """None = up to the model's context size."""
    stop: tuple[str, ...] = ()
    seed: int | None = None
    logprobs: int | None = None
    """None = no logprobs; k >= 0 = the sampled token's logprob and the k most likely."""


def sampling_params(req: CompletionRequest | ChatRequest) -> SamplingParams:
    """The request's sampling parameters with OpenAI's defaults filled in."""
    if req.stream:
        raise OpenAIError(400, "stream=true is not supported by nmp-local", param="stream")
    stops = [req.stop] if isinstance(req.stop, str) else list(req.stop or [])
    if len(stops) > MAX_STOPS:
        raise OpenAIError(400, f"at most {MAX_STOPS} stop sequences are allowed", param="stop")
    if isinstance(req, CompletionRequest):
        if req.echo:
            raise OpenAIError(400, "echo=true is not supported by nmp-local", param="echo")
        max_tokens: int | None = req.max_tokens or 16  # the completions API's default
        logprobs = req.logprobs
    else:
        max_tokens = req.max_completion_tokens or req.max_tokens
        logprobs = (req.top_logprobs or 0) if req.logprobs else None
        if req.top_logprobs is not None and not req.logprobs:
            raise OpenAIError(400, "top_logprobs requires logprobs=true", param="top_logprobs")
    return SamplingParams(
        n=req.n or 1,
        temperature=1.0 if req.temperature is None else req.temperature,
        top_p=1.0 if req.top_p is None else req.top_p,
        max_tokens=max_tokens,
        stop=tuple(s for s in stops if s),
        seed=req.seed,
        logprobs=logprobs,
    )


def parse_request(model: type[R], raw: bytes) -> R:
    """Validate a JSON body or raise OpenAI's 400 naming the offending parameter."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise OpenAIError(400, f"We could not parse the JSON body of your request: {exc}") from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        param = ".".join(str(p) for p in first["loc"]) or None
        raise OpenAIError(400, f"{param}: {first['msg']}", param=param) from exc


def cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """``text`` up to the earliest stop sequence (excluded), and whether one was found."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return (text[: min(hits)], True) if hits else (text, False)


@dataclass(frozen=True)
class TokenLogprob:
    token: str
    logprob: float
    top: list[tuple[str, float]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class Generation:
    """One choice: the generated tokens (EOS included, it counts as a completion token)."""

    token_ids: list[int]
    text: str
    finish_reason: FinishReason
    logprobs: list[TokenLogprob] | None = None


def usage(prompt_tokens: list[int], generations: list[Generation]) -> JsonObj:
    """Each prompt counts once whatever ``n`` is; every choice's tokens count."""
    prompt = sum(prompt_tokens)
    completion = sum(len(g.token_ids) for g in generations)
    total = prompt + completion
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total}


def completion_response(
    *, id: str, created: int, model: str, prompt_tokens: list[int], generations: list[Generation]
) -> JsonObj:
    """``generations`` are prompt-major (prompt i's n choices at i*n … i*n+n-1), as OpenAI."""
    return {
        "id": id,
        "object": "text_completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": i,
                "text": g.text,
                "logprobs": None if g.logprobs is None else _completion_logprobs(g.logprobs),
                "finish_reason": g.finish_reason,
            }
            for i, g in enumerate(generations)
        ],
        "usage": usage(prompt_tokens, generations),
    }


def chat_response(
    *, id: str, created: int, model: str, prompt_tokens: int, generations: list[Generation]
) -> JsonObj:
    return {
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": i,
                "message": {"role": "assistant", "content": g.text, "refusal": None},
                "logprobs": None if g.logprobs is None else _chat_logprobs(g.logprobs),
                "finish_reason": g.finish_reason,
            }
            for i, g in enumerate(generations)
        ],
        "usage": usage([prompt_tokens], generations),
    }


def model_card(model_id: str, created: int, owned_by: str) -> JsonObj:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def model_list(cards: list[JsonObj]) -> JsonObj:
    return {"object": "list", "data": cards}


def _completion_logprobs(items: list[TokenLogprob]) -> JsonObj:
    offsets, at = [], 0
    for item in items:
        offsets.append(at)
        at += len(item.token)
    return {
        "tokens": [t.token for t in items],
        "token_logprobs": [t.logprob for t in items],
        "top_logprobs": [dict(t.top) for t in items],
        "text_offset": offsets,
    }


def _chat_logprobs(items: list[TokenLogprob]) -> JsonObj:
    def entry(token: str, logprob: float) -> JsonObj:
        return {"token": token, "logprob": logprob, "bytes": list(token.encode())}

    return {
        "content": [
            {**entry(t.token, t.logprob), "top_logprobs": [entry(s, lp) for s, lp in t.top]}
            for t in items
        ],
        "refusal": None,
    }
