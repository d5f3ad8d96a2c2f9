"""Validation of NeMo Customizer DPO rows, and the dataset statistics the loss curve uses.

A row is a JSON object with ``prompt`` (a string, or a non-empty list of
``{"role", "content"}`` messages), ``chosen_response`` and ``rejected_response`` (strings).
Extra keys are allowed. Errors name the file, the 1-based line and the field, e.g.
``validation/validation_file.jsonl line 3: chosen_response: field required``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

MAX_ERRORS_PER_FILE = 20
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class RowError:
    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.path} line {self.line}" if self.line is not None else self.path
        return f"{where}: {self.message}"


@dataclass(frozen=True)
class DpoRow:
    prompt: str | list[dict[str, str]]
    chosen_response: str
    rejected_response: str


def _type_name(value: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "null" if value is None else type(value).__name__
    )


def check_row(obj: Any) -> str | None:
    """The first problem with one decoded row, or None if it is a valid DPO row."""
    if not isinstance(obj, dict):
        return f"expected a JSON object, got {_type_name(obj)}"
    if "prompt" not in obj:
        return "prompt: field required"
    prompt = obj["prompt"]
    if isinstance(prompt, list):
        if not prompt:
            return "prompt: message list is empty"
        for i, msg in enumerate(prompt):
            if not isinstance(msg, dict):
                return f"prompt[{i}]: expected a message object, got {_type_name(msg)}"
            for key in ("role", "content"):
                if key not in msg:
                    return f"prompt[{i}].{key}: field required"
                if not isinstance(msg[key], str):
                    return f"prompt[{i}].{key}: expected a string, got {_type_name(msg[key])}"
    elif not isinstance(prompt, str):
        return f"prompt: expected a string or a list of messages, got {_type_name(prompt)}"
    for key in ("chosen_response", "rejected_response"):
        if key not in obj:
            return f"{key}: field required"
        if not isinstance(obj[key], str):
            return f"{key}: expected a string, got {_type_name(obj[key])}"
    return None


def parse_jsonl(path: str, data: bytes) -> tuple[list[DpoRow], list[RowError]]:
    """Parse and validate a JSONL file; blank lines are skipped, errors are capped."""
    rows: list[DpoRow] = []
    errors: list[RowError] = []
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return [], [RowError(path, None, f"not valid UTF-8 (byte {exc.start})")]
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            problem: str | None = f"invalid JSON: {exc}"
        else:
            problem = check_row(obj)
        if problem is not None:
            errors.append(RowError(path, n, problem))
            if len(errors) >= MAX_ERRORS_PER_FILE:
                break
            continue
        rows.append(DpoRow(obj["prompt"], obj["chosen_response"], obj["rejected_response"]))
    if not rows and not errors:
        errors.append(RowError(path, None, "file contains no rows"))
    return rows, errors


def distinctness(chosen: str, rejected: str) -> float:
    """1 - Jaccard similarity of the word sets: 0 for identical answers, 1 for disjoint."""
    a = set(_WORD.findall(chosen.lower()))
    b = set(_WORD.findall(rejected.lower()))
    if not a and not b:
        return 0.0
    return 1.0 - len(a & b) / len(a | b)


@dataclass(frozen=True)
class DatasetStats:
    """What the simulated training needs to know about a dataset."""

    n_train: int
    n_val: int
    margin: float
    """Mean ``distinctness`` of the training pairs: the data's preference-margin signal."""
    fingerprint: str

    def to_json(self) -> dict[str, Any]:
        return {
            "n_train": self.n_train,
            "n_val": self.n_val,
            "margin": self.margin,
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DatasetStats:
        return cls(
            int(data["n_train"]),
            int(data["n_val"]),
            float(data["margin"]),
            str(data["fingerprint"]),
        )


def dataset_stats(train: list[DpoRow], val: list[DpoRow], file_ids: list[str]) -> DatasetStats:
    margin = sum(distinctness(r.chosen_response, r.rejected_response) for r in train) / max(
        1, len(train)
    )
    fingerprint = hashlib.sha256("\n".join(sorted(file_ids)).encode()).hexdigest()
    return DatasetStats(len(train), len(val), round(margin, 6), fingerprint)
