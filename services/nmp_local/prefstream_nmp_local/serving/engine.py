"""A loaded causal LM and its batched sampler (torch; imported only when a model loads).

All prompts of a request (times ``n``) go through one left-padded batch: one prefill
forward pass, then one pass per generated token with the KV cache. A hand-written loop
rather than ``generate()`` because it gives a per-request ``torch.Generator`` (same seed,
same request → same output, whatever other threads do with torch's global RNG), exact
logprobs of the raw distribution, and stop sequences checked as text.
"""

from __future__ import annotations

import inspect
import secrets
import threading
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from prefstream_nmp_local.cpu_threads import modest_threads
from prefstream_nmp_local.serving.protocol import (
    FinishReason,
    Generation,
    OpenAIError,
    SamplingParams,
    TokenLogprob,
    cut_at_stop,
)

DEFAULT_CONTEXT = 2048
MAX_ROWS = 16_384
"""Prompts x n in one request; the demo's evaluator sends ~500 x 1."""


class Engine:
    """One model on one device. Every method holds the model's lock: one batch at a time, and
    the Rust tokenizer is not safe to share between threads ("Already borrowed")."""

    def __init__(self, directory: Path) -> None:
        if torch.get_num_threads() > modest_threads():
            torch.set_num_threads(modest_threads())
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        dtype: Any = "auto" if self.device.type == "cuda" else torch.float32
        self.tokenizer: Any = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        model: Any = AutoModelForCausalLM.from_pretrained(
            directory, dtype=dtype, local_files_only=True
        )
        self.model: Any = model.to(self.device).eval()
        self._lock = threading.RLock()
        # transformers renamed ``past_key_values`` to ``cache`` (5.x, per model); use either.
        forward = inspect.signature(self.model.forward).parameters
        self._cache_arg = "cache" if "cache" in forward else "past_key_values"
        # Only the last position's logits are needed: for a 128k vocabulary and a 500-prompt
        # batch the full prefill logits would take gigabytes.
        self._last_only: dict[str, int] = (
            {"logits_to_keep": 1} if "logits_to_keep" in forward else {}
        )
        cfg = self.model.config
        self.context_size = int(
            getattr(cfg, "max_position_embeddings", None)
            or getattr(cfg, "n_positions", None)
            or DEFAULT_CONTEXT
        )
        eos: set[int] = set()
        for source in (
            getattr(self.model.generation_config, "eos_token_id", None),
            self.tokenizer.eos_token_id,
        ):
            if isinstance(source, int):
                eos.add(source)
            elif isinstance(source, list):
                eos.update(int(i) for i in source)
        self.eos_ids = eos
        pad = self.tokenizer.pad_token_id
        self.pad_id = int(pad if pad is not None else (min(eos) if eos else 0))
        self.fallback_id = int(self.tokenizer.bos_token_id or self.pad_id)

    # prompts ---------------------------------------------------------------------------
    def encode_prompts(self, texts: list[str]) -> list[list[int]]:
        """One tokenizer call for the whole batch (500 board prompts: ~10 ms on two busy cores)."""
        with self._lock:
            batch: list[list[int]] = self.tokenizer(texts)["input_ids"]
        return [ids or [self.fallback_id] for ids in batch]

    def encode_chat(self, messages: list[dict[str, str]]) -> list[int]:
        if not getattr(self.tokenizer, "chat_template", None):
            raise OpenAIError(400, "this model has no chat template; use /v1/completions")
        with self._lock:
            text = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
            ids: list[int] = self.tokenizer(text, add_special_tokens=False)["input_ids"]
        return ids or [self.fallback_id]

    # generation ------------------------------------------------------------------------
    def generate(self, prompts: list[list[int]], params: SamplingParams) -> list[Generation]:
        """``params.n`` generations per prompt, prompt-major."""
        if len(prompts) * params.n > MAX_ROWS:
            raise OpenAIError(
                400, f"at most {MAX_ROWS} sequences (prompts x n) per request", param="n"
            )
        longest = max(len(p) for p in prompts)
        room = self.context_size - longest
        if room < 1:
            raise OpenAIError(
                400,
                f"This model's maximum context length is {self.context_size} tokens; "
                f"a prompt has {longest}.",
                code="context_length_exceeded",
            )
        budget = min(params.max_tokens or room, room)
        rows = [p for p in prompts for _ in range(params.n)]
        with self._lock, torch.inference_mode():
            return self._generate(rows, params, budget, longest)

    def _generate(
        self, rows: list[list[int]], params: SamplingParams, budget: int, width: int
    ) -> list[Generation]:
        batch = len(rows)
        ids = torch.full((batch, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((batch, width), dtype=torch.long)
        for i, row in enumerate(rows):  # left padding: every row ends at the last column
            ids[i, width - len(row) :] = torch.tensor(row)
            mask[i, width - len(row) :] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        generator = torch.Generator(device=self.device)
        generator.manual_seed(params.seed if params.seed is not None else secrets.randbits(63))

        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            use_cache=True,
            **self._last_only,
        )
        tokens: list[list[int]] = [[] for _ in rows]
        logprobs: list[list[tuple[int, float, list[tuple[int, float]]]]] = [[] for _ in rows]
        reasons: list[FinishReason | None] = [None] * batch
        for step in range(budget):
            logits = out.logits[:, -1, :].float()
            chosen = _sample(logits, params.temperature, params.top_p, generator)
            if params.logprobs is not None:
                self._record_logprobs(logits, chosen, params.logprobs, reasons, logprobs)
            for i, token in enumerate(chosen.tolist()):
                if reasons[i] is not None:
                    continue
                tokens[i].append(token)
                if token in self.eos_ids or (params.stop and self._hit_stop(tokens[i], params)):
                    reasons[i] = "stop"
            if all(r is not None for r in reasons) or step == budget - 1:
                break
            mask = torch.cat([mask, mask.new_ones((batch, 1))], dim=1)
            positions = positions[:, -1:] + 1
            out = self.model(
                input_ids=chosen[:, None],
                attention_mask=mask,
                position_ids=positions,
                **{self._cache_arg: out.get("cache", out.get("past_key_values"))},
                use_cache=True,
            )
        return [
            self._finish(tokens[i], reasons[i] or "length", logprobs[i], params)
            for i in range(batch)
        ]

    def _hit_stop(self, token_ids: list[int], params: SamplingParams) -> bool:
        return cut_at_stop(self._decode(token_ids), params.stop)[1]

    def _decode(self, token_ids: list[int]) -> str:
        text: str = self.tokenizer.decode(token_ids, skip_special_tokens=True)
        return text

    def _token(self, token_id: int) -> str:
        text: str = self.tokenizer.decode([token_id], skip_special_tokens=False)
        return text

    def _record_logprobs(
        self,
        logits: torch.Tensor,
        chosen: torch.Tensor,
        k: int,
        reasons: list[FinishReason | None],
        into: list[list[tuple[int, float, list[tuple[int, float]]]]],
    ) -> None:
        logp = torch.log_softmax(logits, dim=-1)
        picked = logp.gather(-1, chosen[:, None]).squeeze(-1).tolist()
        top_v, top_i = logp.topk(k, dim=-1) if k > 0 else (logp[:, :0], chosen[:, None][:, :0])
        for i, (value, tv, ti) in enumerate(
            zip(picked, top_v.tolist(), top_i.tolist(), strict=True)
        ):
            if reasons[i] is None:
                into[i].append((int(chosen[i]), float(value), list(zip(ti, tv, strict=True))))

    def _finish(
        self,
        token_ids: list[int],
        reason: FinishReason,
        logprobs: list[tuple[int, float, list[tuple[int, float]]]],
        params: SamplingParams,
    ) -> Generation:
        text, _ = cut_at_stop(self._decode(token_ids), params.stop)
        lp = None
        if params.logprobs is not None:
            lp = [
                TokenLogprob(self._token(t), v, [(self._token(s), sv) for s, sv in top])
                for t, v, top in logprobs
            ]
        return Generation(token_ids=token_ids, text=text, finish_reason=reason, logprobs=lp)


def _sample(
    logits: torch.Tensor, temperature: float, top_p: float, generator: torch.Generator
) -> torch.Tensor:
    if temperature == 0:
        return logits.argmax(dim=-1)
    probs = torch.softmax(logits / temperature, dim=-1)
    if top_p < 1:
        # Keep the smallest set of most likely tokens whose mass reaches top_p.
        sorted_p, order = probs.sort(dim=-1, descending=True)
        sorted_p[(sorted_p.cumsum(dim=-1) - sorted_p) > top_p] = 0
        probs = torch.zeros_like(probs).scatter_(-1, order, sorted_p)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
