"""A dataset directory on disk: its two JSONL files, their hashes, and row validation.

Rows are checked before anything is created remotely, with the rules NeMo Customizer
applies to DPO data, so a bad row fails in a second naming its file and line instead of
after a queue wait on the platform. The hashes let a restarted submitter recognise its own
files in the Data Store (git blob sha1 for regular files, sha256 for LFS).

Besides the two NeMo files, what the manifest lists goes up too: the dataset card
(``README.md``), whose configs make the repo load with ``datasets.load_dataset`` and show
the right splits on the Hub viewer, and the other export formats it declares. The manifest
itself (every pair id) stays local.
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
from pydantic import BaseModel, ConfigDict, Field, ValidationError

TRAINING_PATH = "training/training_file.jsonl"
VALIDATION_PATH = "validation/validation_file.jsonl"
MANIFEST = "manifest.json"
CHUNK = 1024 * 1024
_NAME_BAD = re.compile(r"[^A-Za-z0-9_.\-]+")


class InvalidDataset(ValueError):
    """The dataset cannot be submitted as it is; the message names the file and line."""


class _Listed(BaseModel):
    path: str
    sha256: str


class _Listing(BaseModel):
    """The part of the batcher's ``manifest.json`` that says which files a dataset has."""

    model_config = ConfigDict(extra="ignore")

    files: dict[str, _Listed] = Field(default_factory=dict)


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
    """Check the dataset's files against the event (present, unchanged, valid rows), then
    add the other files its manifest lists (card, other formats), checked against it."""
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
        file = _unchanged(
            repo_path, local, meta.sha256, differs="changed after the dataset was cut"
        )
        count_valid_rows(local, repo_path)
        out.append(file)
    return out + _listed_files(directory, dataset, {f.path_in_repo for f in out})


def _listed_files(directory: Path, dataset: DatasetReady, taken: set[str]) -> list[LocalFile]:
    """The manifest's files not in ``taken``, in path order; none without a manifest (a
    hand-made directory, or one cut before manifests listed a card)."""
    manifest = _resolve(directory, dataset.manifest_path) if dataset.manifest_path else None
    if manifest is None or not manifest.is_file():
        return []
    if file_hashes(manifest)[1] != dataset.manifest_sha256:
        raise InvalidDataset(
            f"{MANIFEST}: {manifest} changed after the dataset was cut; datasets are "
            "immutable, cut a new one instead"
        )
    try:
        listing = _Listing.model_validate_json(manifest.read_bytes())
    except ValidationError as exc:
        raise InvalidDataset(f"{manifest} does not list its files readably: {exc}") from None
    out = []
    for entry in sorted(listing.files.values(), key=lambda e: e.path):
        if entry.path in taken:
            continue
        local = _inside(directory, entry.path)
        out.append(
            _unchanged(
                entry.path,
                local,
                entry.sha256,
                named=f" (listed in {MANIFEST})",
                differs=f"does not match {MANIFEST}",
            )
        )
        taken.add(entry.path)
    return out


def _unchanged(
    repo_path: str, local: Path, expected: str, *, named: str = "", differs: str
) -> LocalFile:
    """``local``, to upload as ``repo_path``, once it is there and still has the ``expected``
    sha256; the errors say where it was ``named`` and how it ``differs``."""
    if not local.is_file():
        raise InvalidDataset(f"{repo_path}: file {local}{named} is missing")
    size, sha256, git_oid = file_hashes(local)
    if sha256 != expected:
        raise InvalidDataset(
            f"{repo_path}: {local} {differs} (sha256 {sha256}, expected {expected}); "
            "datasets are immutable, cut a new one instead"
        )
    return LocalFile(repo_path, local, size, sha256, git_oid)


def _inside(directory: Path, path: str) -> Path:
    """``directory / path`` for a relative path that stays inside it; a manifest never
    names anything else."""
    local = (directory / path).resolve()
    if Path(path).is_absolute() or not local.is_relative_to(directory.resolve()):
        raise InvalidDataset(f"{MANIFEST} lists {path!r}, which is not inside {directory}")
    return local


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
