"""One DPO run with TRL's ``DPOTrainer``; imported only inside the worker process.

Measured on 2 CPU cores: importing torch + transformers + trl takes ~14 s (hidden by the
pre-started spare worker), a DPO epoch over 1,000 one-move pairs on the 110k-parameter demo
model ~2 s.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset  # type: ignore[import-untyped]
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
from trl.trainer.dpo_config import DPOConfig
from trl.trainer.dpo_trainer import DPOTrainer

from prefstream_nmp_local.cpu_threads import modest_threads
from prefstream_nmp_local.training.dataset_rows import JsonObj, read_rows
from prefstream_nmp_local.training.events import EventWriter
from prefstream_nmp_local.training.progress import DPO_METRICS
from prefstream_nmp_local.training.request import TrainRequest

FINAL_EVAL_ROWS = 256
"""Training pairs re-scored after training (reward accuracy on the data it learned from)."""


def to_pairs(rows: list[JsonObj], tokenizer: Any) -> Dataset:
    """Message prompts become text through the chat template; string prompts stay as they are."""
    prompts: list[str] = []
    for row in rows:
        prompt = row["prompt"]
        if isinstance(prompt, list):
            prompt = tokenizer.apply_chat_template(
                prompt, tokenize=False, add_generation_prompt=True
            )
        prompts.append(str(prompt))
    return Dataset.from_dict(
        {
            "prompt": prompts,
            "chosen": [str(r["chosen_response"]) for r in rows],
            "rejected": [str(r["rejected_response"]) for r in rows],
        }
    )


def resolve_device(device: str) -> str:
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


class ProgressCallback(TrainerCallback):
    def __init__(self, events: EventWriter, started: JsonObj) -> None:
        self.events = events
        self.started = started

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        total = int(state.max_steps)
        epochs = math.ceil(float(args.num_train_epochs))
        self.events.emit("started", total_steps=total, epochs=epochs, **self.started)

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        self.events.emit("step", step=int(state.global_step), epoch=float(state.epoch or 0.0))

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        logs = logs or {}
        step, epoch = int(state.global_step), float(state.epoch or 0.0)
        if "loss" in logs:
            values = {"train_loss": logs["loss"], **{m: logs[m] for m in DPO_METRICS if m in logs}}
            self.events.emit("log", step=step, epoch=epoch, values=values)
        if "eval_loss" in logs:
            values = {"val_loss": logs["eval_loss"]}
            values.update({m: logs[f"eval_{m}"] for m in DPO_METRICS if f"eval_{m}" in logs})
            self.events.emit("eval", step=step, epoch=epoch, values=values)

    def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        step = int(state.global_step)
        self.events.emit("checkpoint", step=step, path=f"{args.output_dir}/checkpoint-{step}")


def train(request: TrainRequest, events: EventWriter, pid: int) -> None:
    device = resolve_device(request.device)
    if device == "cpu" and torch.get_num_threads() > modest_threads():
        torch.set_num_threads(modest_threads())
    tokenizer = AutoTokenizer.from_pretrained(request.model_dir)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(request.model_dir)
    train_rows, val_rows = read_rows(request.dataset_dir)
    train_ds, val_ds = to_pairs(train_rows, tokenizer), to_pairs(val_rows, tokenizer)
    cuda = device == "cuda"
    config = dict(request.config)
    eval_strategy = config.pop("eval_strategy", "epoch")  # "steps": val_check_interval
    if not len(val_ds):
        eval_strategy = "no"
        config.pop("eval_steps", None)
    args = DPOConfig(
        output_dir=str(request.checkpoints_dir),
        eval_strategy=eval_strategy,
        save_strategy="steps",
        save_total_limit=2,
        report_to="none",
        disable_tqdm=True,
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        gradient_checkpointing=cuda,
        dataloader_num_workers=0,
        **config,
    )
    batch = int(args.per_device_train_batch_size)
    started = {
        "pid": pid,
        "device": device,
        "steps_per_epoch": max(1, math.ceil(len(train_ds) / batch)),
        "n_train": len(train_ds),
        "n_val": len(val_ds),
        "resumed_from": _checkpoint_step(request.resume_from),
    }
    trainer = DPOTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds if len(val_ds) else None,
        processing_class=tokenizer,
        callbacks=[ProgressCallback(events, started)],
    )
    kept: Any = trainer.train_dataset
    if len(train_ds) and not len(kept):
        raise ValueError(
            f"all {len(train_ds)} training pairs are longer than max_seq_length="
            f"{args.max_length} tokens (TRL dropped every one): raise max_seq_length in the "
            "customization config or send shorter prompts"
        )
    resume = str(request.resume_from) if request.resume_from else None
    trainer.train(resume_from_checkpoint=resume)
    final = trainer.evaluate(
        eval_dataset=train_ds.select(range(min(len(train_ds), FINAL_EVAL_ROWS))),
        metric_key_prefix="train_pairs",
    )
    request.output_dir.mkdir(parents=True, exist_ok=True)
    trainer.save_model(str(request.output_dir))
    tokenizer.save_pretrained(str(request.output_dir))
    # TRL reports its DPO metrics as ``eval_*`` whatever the prefix asked for.
    pairs = {k.removeprefix("train_pairs_").removeprefix("eval_"): v for k, v in final.items()}
    events.emit(
        "completed",
        step=int(trainer.state.global_step),
        output_dir=str(request.output_dir),
        train_pairs=pairs,
    )


def _checkpoint_step(path: Path | None) -> int | None:
    if path is None:
        return None
    step = path.name.removeprefix("checkpoint-")
    return int(step) if step.isdigit() else None
