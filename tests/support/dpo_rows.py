"""Strict models of the row formats the dataset files must satisfy (test-side, independent
of the library's own code): NeMo Customizer's DPO rows and TRL's two preference formats."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Message(_Strict):
    role: Annotated[str, Field(min_length=1)]
    content: str


class NemoDpoRow(_Strict):
    """NeMo Customizer DPO: a string prompt or a non-empty message list, two responses."""

    prompt: str | Annotated[list[Message], Field(min_length=1)]
    chosen_response: str
    rejected_response: str


class TrlStandardRow(_Strict):
    prompt: str
    chosen: str
    rejected: str


class AssistantMessage(_Strict):
    role: Annotated[str, Field(pattern="^assistant$")]
    content: str


class TrlConversationalRow(_Strict):
    prompt: list[Message]
    chosen: Annotated[list[AssistantMessage], Field(min_length=1, max_length=1)]
    rejected: Annotated[list[AssistantMessage], Field(min_length=1, max_length=1)]


SCHEMAS: dict[str, type[_Strict]] = {
    "nemo": NemoDpoRow,
    "trl_standard": TrlStandardRow,
    "trl_conversational": TrlConversationalRow,
}


def read_rows(path: Path, fmt: str = "nemo") -> list[dict[str, Any]]:
    """Every line of a JSONL file, validated; the file must end with a newline if non-empty."""
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), f"{path} does not end with a newline"
    rows = []
    for number, line in enumerate(data.splitlines(), start=1):
        row = json.loads(line)
        SCHEMAS[fmt].model_validate(row)
        rows.append(row)
        assert line, f"{path}:{number} is empty"
    return rows
