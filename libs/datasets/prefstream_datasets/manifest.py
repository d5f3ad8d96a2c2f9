"""``manifest.json``: what a dataset is, where it came from, and how it was cut.

The header is ordinary JSON; the pair ids (possibly millions) are streamed after it as the
last key, so writing never holds them all in memory. The dataset id is derived from the
name and the files' digests, so the same cut always gets the same id and a re-announcement
after a crash is the same event.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from prefstream_datasets.writer import FileDigest, HashingWriter

MANIFEST = "manifest.json"
FORMAT: Literal["prefstream.dataset/v1"] = "prefstream.dataset/v1"

_PLAIN_ID = re.compile(r'[^"\\\x00-\x1f\x7f-\U0010ffff]*')


class ManifestFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    rows: NonNegativeInt
    bytes: NonNegativeInt


class SourceRange(BaseModel):
    """Offsets ``[start, end)`` of one partition of the pairs topic that this cut covered."""

    model_config = ConfigDict(extra="forbid")

    partition: NonNegativeInt
    start: NonNegativeInt
    end: NonNegativeInt


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic: str
    partitions: list[SourceRange]


class ScoreStats(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: float | None
    max: float | None
    mean: float | None


class Counts(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pairs: NonNegativeInt
    """Distinct pairs in the dataset (a single pair written to both files counts once)."""
    training: NonNegativeInt
    validation: NonNegativeInt
    considered: NonNegativeInt
    """Pairs in the cut's offset range before dedup, policy filter and sampling."""
    duplicates: NonNegativeInt
    excluded_by_policy: NonNegativeInt
    not_sampled: NonNegativeInt


class Manifest(BaseModel):
    """The manifest without its pair ids (see :func:`read_pair_ids`)."""

    model_config = ConfigDict(extra="ignore")

    format: Literal["prefstream.dataset/v1"] = FORMAT
    dataset_id: str
    name: str
    sequence: NonNegativeInt
    created_at: datetime
    mode: Literal["incremental", "cumulative"]
    trigger: str
    request_id: str | None = None
    counts: Counts
    files: dict[str, ManifestFile]
    export: dict[str, Any]
    split: dict[str, Any]
    sampling: dict[str, Any]
    dedup: dict[str, Any]
    policy_models: dict[str, NonNegativeInt]
    policy_filter: list[str] | None = None
    excluded_policy_models: dict[str, NonNegativeInt] = Field(default_factory=dict)
    scores: dict[str, ScoreStats]
    source: Source


def file_key(fmt: str, side: str) -> str:
    """Key of a file in ``Manifest.files``: ``nemo.training``, ``trl_standard.validation``..."""
    return f"{fmt}.{side}"


def dataset_id_for(name: str, files: Mapping[str, FileDigest]) -> str:
    """Content address of a dataset: its name and every file's digest."""
    h = hashlib.sha256(f"{FORMAT}\n{name}\n".encode())
    for key in sorted(files):
        d = files[key]
        h.update(f"{key} {d.path} {d.sha256} {d.rows} {d.bytes}\n".encode())
    return h.hexdigest()[:32]


def _json_ids(ids: Sequence[str]) -> str:
    """``"a", "b"`` for plain ids with one join; JSON escapes only when an id needs them."""
    if _PLAIN_ID.fullmatch("".join(ids)):
        return '"' + '", "'.join(ids) + '"'
    return ", ".join(json.dumps(i) for i in ids)


def write_manifest(
    root: Path,
    manifest: Manifest,
    pair_ids: Mapping[str, Iterable[Sequence[str]]],
) -> FileDigest:
    """Write ``root/manifest.json``; ``pair_ids`` maps each side to chunks of ids in file order."""
    header = manifest.model_dump(mode="json")
    text = json.dumps(header, indent=2)
    assert text.endswith("\n}")
    with HashingWriter(root, MANIFEST) as out:
        out.write(text[:-2].encode())
        out.write(b',\n  "pair_ids": {')
        for i, (side, chunks) in enumerate(pair_ids.items()):
            out.write(f"{',' if i else ''}\n    {json.dumps(side)}: [".encode())
            first = True
            for chunk in chunks:
                if not chunk:
                    continue
                out.write(((", " if not first else "") + _json_ids(chunk)).encode())
                first = False
            out.write(b"]")
        out.write(b"\n  }\n}\n")
    return out.close()


def read_manifest(directory: Path) -> Manifest:
    with open(directory / MANIFEST, "rb") as f:
        return Manifest.model_validate_json(f.read())


def read_pair_ids(directory: Path) -> dict[str, list[str]]:
    with open(directory / MANIFEST, "rb") as f:
        data = json.load(f)
    ids: dict[str, list[str]] = data["pair_ids"]
    return ids
