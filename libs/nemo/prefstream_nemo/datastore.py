"""Data Store: its namespace endpoint (httpx) and dataset repos through ``huggingface_hub``.

Three pitfalls of the HF client are handled here (see docs/nmp-local.md, "The platform contract"):

- ``token=""`` sends ``Authorization: Bearer `` (rejected by h11) and ``token=None`` falls
  back to a huggingface.co token saved on the machine (``HF_TOKEN``, ``~/.cache/...``); an
  empty ``hf_token`` is therefore passed as ``token=False``: no header at all. That is not
  enough: ``create_commit`` calls the LFS batch and verify endpoints with ``token=None``
  ("already passed in headers"), which re-adds the saved token. ``HF_HUB_DISABLE_IMPLICIT_TOKEN``
  is therefore set too, so only a token passed explicitly is ever sent.
- With ``hf_xet`` installed, LFS uploads go to Xet unconditionally, which a Data Store does
  not speak. ``HF_HUB_DISABLE_XET`` is set before ``huggingface_hub`` is imported (and its
  constant forced, for when something imported it earlier), so large files go through
  plain git-LFS.
- ``HfApi`` is synchronous; every call runs in a worker thread, off the event loop.
- ``create_commit`` first posts a ``README.md`` (a dataset card) to ``/api/validate-yaml``,
  an endpoint of huggingface.co that a Data Store need not have (nmp-local answers 405); a
  missing validator skips the check instead of failing the upload (:class:`_HubApi`).

``create_repo`` is called with ``exist_ok=False`` and the 409 handled here, because with
``exist_ok=True`` the client reads ``url`` from the 409 body, which not every server sends.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

os.environ["HF_HUB_DISABLE_XET"] = "1"
os.environ["HF_HUB_DISABLE_IMPLICIT_TOKEN"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no tqdm bars in service logs

import httpx
from huggingface_hub import CommitOperationAdd, HfApi, constants
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.hf_api import RepoFile
from huggingface_hub.utils import _http as hf_http
from huggingface_hub.utils.tqdm import disable_progress_bars

from prefstream_nemo import retry
from prefstream_nemo.errors import (
    Exists,
    Missing,
    NemoError,
    Permanent,
    Transient,
    for_status,
)
from prefstream_nemo.http import request
from prefstream_nemo.models import RemoteFile
from prefstream_nemo.retry import RetryPolicy

constants.HF_HUB_DISABLE_XET = True
constants.HF_HUB_DISABLE_IMPLICIT_TOKEN = True
disable_progress_bars()

T = TypeVar("T")
REVISION = "main"
REPO_TYPE = "dataset"
_NO_VALIDATOR = frozenset({404, 405, 501})
"""Answers of a server without ``/api/validate-yaml``."""


@dataclass(frozen=True)
class LocalFile:
    """A file to upload: where it goes in the repo and the hashes the server reports back."""

    path_in_repo: str
    local_path: Path
    size: int
    sha256: str
    git_oid: str
    """git blob sha1: the ``oid`` a repo tree reports for a regular (non-LFS) file."""

    def matches(self, remote: RemoteFile) -> bool:
        if remote.lfs_sha256 is not None:
            return remote.lfs_sha256 == self.sha256
        return remote.oid == self.git_oid


def hf_token_argument(token: str) -> str | bool:
    """What ``HfApi(token=...)`` must get: the token, or ``False`` (never ``""``/``None``)."""
    return token if token else False


def install_hf_timeout(seconds: float) -> None:
    """HF's shared session has no timeout; give it one so a stalled Data Store cannot hang
    a worker thread forever. Process-wide, as the session is."""
    lib: Any = getattr(hf_http, "httpx2", None) or getattr(hf_http, "httpx", None)
    base = hf_http.default_client_factory

    def factory() -> Any:
        client = base()
        if lib is not None:
            client.timeout = lib.Timeout(seconds, connect=min(seconds, 10.0))
        return client

    hf_http.set_client_factory(factory)


def map_hf_error(exc: BaseException, what: str) -> NemoError | None:
    """HF client exceptions → our cases; ``None`` for exceptions that are not I/O."""
    if isinstance(exc, HfHubHTTPError):
        response = exc.response
        detail = exc.server_message or str(exc).splitlines()[0]
        status = response.status_code if response is not None else 0
        headers = dict(response.headers) if response is not None else {}
        return for_status(status, detail, what, headers=headers)
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"TransportError", "TimeoutException", "ConnectionError", "TimeoutError"}:
        return Transient(f"{what}: {type(exc).__name__}: {exc}")
    return None


class _HubApi(HfApi):
    """``HfApi`` whose README.md check tolerates a server without the validator; a server
    that has one still rejects a bad card before anything is uploaded."""

    def _validate_yaml(
        self, content: str, *, repo_type: str | None = None, token: bool | str | None = None
    ) -> None:
        try:
            super()._validate_yaml(content, repo_type=repo_type, token=token)
        except json.JSONDecodeError:
            return  # not a JSON answer: no validator there
        except HfHubHTTPError as exc:
            if exc.response is None or exc.response.status_code not in _NO_VALIDATOR:
                raise


class DataStore:
    def __init__(
        self,
        host: str,
        *,
        hf_token: str,
        client: httpx.AsyncClient,
        policy: RetryPolicy,
    ) -> None:
        self._host = host
        self._client = client
        self._policy = policy
        self.endpoint = f"{host}/v1/hf"
        self._api = _HubApi(
            endpoint=self.endpoint, token=hf_token_argument(hf_token), library_name="prefstream"
        )

    async def ensure_namespace(self, namespace: str) -> bool:
        """``POST /v1/datastore/namespaces`` (form-encoded); 409/422 mean it exists."""
        what = f"create Data Store namespace {namespace}"

        async def attempt() -> bool:
            try:
                await request(
                    self._client,
                    "POST",
                    f"{self._host}/v1/datastore/namespaces",
                    what,
                    data={"namespace": namespace},
                    create=True,
                )
            except Exists:
                return False
            return True

        return await retry.call(self._policy, what, attempt)

    async def create_repo(self, repo_id: str) -> bool:
        """Create the dataset repo; ``True`` if created now, ``False`` if it was there."""
        what = f"create dataset repo {repo_id}"

        def call() -> bool:
            try:
                self._api.create_repo(repo_id, repo_type=REPO_TYPE, exist_ok=False)
            except HfHubHTTPError as exc:
                if exc.response is not None and exc.response.status_code == 409:
                    return False
                raise
            return True

        return await retry.call(self._policy, what, lambda: self._run(call, what))

    async def remote_files(self, repo_id: str) -> dict[str, RemoteFile]:
        """Files on ``main``, by path; empty when the repo or the revision does not exist."""
        what = f"list files of {repo_id}"

        def call() -> dict[str, RemoteFile]:
            entries = self._api.list_repo_tree(
                repo_id, repo_type=REPO_TYPE, revision=REVISION, recursive=True
            )
            out: dict[str, RemoteFile] = {}
            for entry in entries:
                if isinstance(entry, RepoFile):
                    lfs = entry.lfs.sha256 if entry.lfs is not None else None
                    out[entry.path] = RemoteFile(entry.path, entry.blob_id, entry.size, lfs)
            return out

        async def attempt() -> dict[str, RemoteFile]:
            try:
                return await self._run(call, what)
            except Missing:
                return {}

        return await retry.call(self._policy, what, attempt)

    async def commit(self, repo_id: str, files: Sequence[LocalFile], message: str) -> str:
        """One commit with every file (one attempt); returns the commit oid."""
        what = f"upload {len(files)} files to {repo_id}"

        def call() -> str:
            operations = [
                CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=str(f.local_path))
                for f in files
            ]
            info = self._api.create_commit(
                repo_id,
                operations=list(operations),
                commit_message=message,
                repo_type=REPO_TYPE,
                revision=REVISION,
            )
            return str(info.oid)

        return await self._run(call, what)

    async def _run(self, fn: Callable[[], T], what: str) -> T:
        try:
            return await asyncio.to_thread(fn)
        except Exception as exc:
            mapped = map_hf_error(exc, what)
            if mapped is not None:
                raise mapped from None
            if isinstance(exc, ValueError | KeyError | TypeError):
                raise Permanent(
                    f"{what}: the Data Store answered something huggingface_hub cannot read "
                    f"({type(exc).__name__}: {exc}); check datastore_host points at a NeMo "
                    "Data Store"
                ) from exc
            raise
