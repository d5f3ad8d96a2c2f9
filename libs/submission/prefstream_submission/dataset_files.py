"""A dataset directory on disk: its two JSONL files, their hashes, and row validation.

Rows are checked before anything is created remotely, with the rules NeMo Customizer
applies to DPO data, so a bad row fails in a second naming its file and line instead of
after a queue wait on the platform. The hashes let a restarted submitter recognise its own
files in the Data Store (git blob sha1 for regular files, sha256 for LFS).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prefstream_events import DatasetFile, DatasetReady
from prefstream_nemo.datastore import LocalFile

TRAINING_PATH = "training/training_file.jsonl"
VALIDATION_PATH = "validation/validation_file.jsonl"
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.\-]+")


class InvalidDataset(ValueError):
    """The dataset cannot be submitted as it is; the message names the file and line."""


def file_hashes(path: Path) -> tuple[int, str, str]:
    """``(size, sha256, git blob sha1)`` in one read."""
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    git = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            sha256.update(chunk)
            git.update(chunk)
    return size, sha256.hexdigest(), git.hexdigest()


def _kind(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def row_problem(row: Any) -> str | None:
    """The first problem with one decoded row, or ``None`` for a valid DPO row."""
    if not isinstance(row, dict):
        return f"expected a JSON object, got {_kind(row)}"
    if "prompt" not in row:
        return "prompt: field required"
    prompt = row["prompt"]
    if isinstance(prompt, list):
        if not prompt:
            return "prompt: message list is empty"
        for i, message in enumerate(prompt):
            if not isinstance(message, dict):
                return f"prompt[{i}]: expected a message object, got {_kind(message)}"
            for key in ("role", "content"):
                if not isinstance(message.get(key), str):
                    got = "missing" if key not in message else _kind(message[key])
                    return f"prompt[{i}].{key}: expected a string, got {got}"
    elif not isinstance(prompt, str):
        return f"prompt: expected a string or a list of messages, got {_kind(prompt)}"
    for key in ("chosen_response", "rejected_response"):
        if key not in row:
            return f"{key}: field required"
        if not isinstance(row[key], str):
            return f"{key}: expected a string, got {_kind(row[key])}"
    return None


def _lines(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        yield from enumerate(fh, start=1)


def count_valid_rows(path: Path, repo_path: str) -> int:
    """Validate every line; raise :class:`InvalidDataset` at the first bad one."""
    rows = 0
    for number, raw in _lines(path):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except ValueError as exc:
            raise InvalidDataset(f"{repo_path} line {number}: invalid JSON: {exc}") from None
        problem = row_problem(row)
        if problem is not None:
            raise InvalidDataset(f"{repo_path} line {number}: {problem}")
        rows += 1
    if rows == 0:
        raise InvalidDataset(f"{repo_path}: contains no rows; NeMo Customizer needs at least one")
    return rows


def _resolve(directory: Path, path: str) -> Path:
    candidate = Path(path)
    return candidate if candidate.is_absolute() else directory / candidate


def local_files(dataset: DatasetReady) -> list[LocalFile]:
    """Check the dataset's files against the event (present, unchanged, valid rows)."""
    directory = Path(dataset.directory)
    if not directory.is_dir():
        raise InvalidDataset(
            f"dataset directory {directory} does not exist here: the submitter must see the "
            "batcher's datasets_dir at the same path (mount it)"
        )
    out = []
    for repo_path, meta in (
        (TRAINING_PATH, dataset.training),
        (VALIDATION_PATH, dataset.validation),
    ):
        local = _resolve(directory, meta.path)
        if not local.is_file():
            raise InvalidDataset(f"{repo_path}: file {local} is missing")
        size, sha256, git_oid = file_hashes(local)
        if sha256 != meta.sha256:
            raise InvalidDataset(
                f"{repo_path}: {local} changed after the dataset was cut (sha256 {sha256}, "
                f"expected {meta.sha256}); datasets are immutable, cut a new one instead"
            )
        count_valid_rows(local, repo_path)
        out.append(LocalFile(repo_path, local, size, sha256, git_oid))
    return out


def safe_name(text: str) -> str:
    """A Data Store / Entity Store name: letters, digits, ``_.-``, no leading or trailing
    punctuation, at most 96 characters (the HF repo-name limit)."""
    name = _NAME_BAD.sub("-", text)
    name = re.sub(r"([-.])[-.]+", r"\1", name).strip("-._")[:96].strip("-._")
    if not name:
        raise InvalidDataset(f"cannot make a dataset name out of {text!r}; set dataset_name")
    return name


def _describe(directory: Path, repo_path: str) -> DatasetFile:
    path = directory / repo_path
    if not path.is_file():
        raise InvalidDataset(
            f"{directory} has no {repo_path}: a dataset directory holds "
            f"{TRAINING_PATH} and {VALIDATION_PATH} (and optionally {MANIFEST})"
        )
    rows = count_valid_rows(path, repo_path)
    size, sha256, _ = file_hashes(path)
    return DatasetFile(path=repo_path, sha256=sha256, rows=rows, bytes=size)


def _manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidDataset(f"{path} is not readable JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidDataset(f"{path} must hold a JSON object")
    return data


def dataset_from_directory(directory: Path, *, name: str | None = None) -> DatasetReady:
    """Describe a dataset directory the way the batcher's DatasetReady would.

    With a ``manifest.json`` (as the batcher writes), its id, name and sequence are used.
    A directory made by hand needs only the two JSONL files; it is named ``name`` (the
    configured ``dataset_name``) or after the directory, and its id is derived from the
    file contents, so submitting the same files again finds the job made the first time.
    """
    directory = directory.resolve()
    training = _describe(directory, TRAINING_PATH)
    validation = _describe(directory, VALIDATION_PATH)
    manifest_path = directory / MANIFEST
    manifest = _manifest(manifest_path) if manifest_path.is_file() else {}
    content_id = hashlib.sha256(f"{training.sha256}:{validation.sha256}".encode()).hexdigest()
    dataset_name = safe_name(str(manifest.get("name") or name or directory.name))
    sequence = manifest.get("sequence")
    mode = manifest.get("mode")
    return DatasetReady(
        dataset_id=str(manifest.get("dataset_id") or f"{dataset_name}-{content_id[:16]}"),
        name=dataset_name,
        sequence=sequence if isinstance(sequence, int) and sequence >= 0 else 0,
        directory=str(directory),
        training=training,
        validation=validation,
        manifest_path=str(manifest_path) if manifest else "",
        manifest_sha256=(
            file_hashes(manifest_path)[1] if manifest else hashlib.sha256(b"").hexdigest()
        ),
        num_pairs=training.rows + validation.rows,
        mode=mode if mode in ("incremental", "cumulative") else "incremental",
    )
