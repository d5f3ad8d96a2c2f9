"""Read a registered dataset's files from our own Data Store and validate them as DPO rows.

``files_url = hf://datasets/{namespace}/{name}`` (optionally ``@revision``) is resolved in
the local HF repos; files are ``training/*.jsonl`` and ``validation/*.jsonl``. Without a
validation folder, 10 % of the training rows are held out, as Customizer does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from prefstream_nmp_local.dpo_rows import DatasetStats, DpoRow, RowError, dataset_stats, parse_jsonl
from prefstream_nmp_local.errors import HfError
from prefstream_nmp_local.hf_repos import MAIN, HfRepos

_HF_URL = re.compile(r"^hf://datasets/(?P<ns>[^/@]+)/(?P<name>[^/@]+?)/?(?:@(?P<rev>[^/]+))?/?$")


@dataclass(frozen=True)
class DatasetCheck:
    stats: DatasetStats | None
    errors: list[RowError]


def check_dataset(repos: HfRepos, files_url: str) -> DatasetCheck:
    m = _HF_URL.match(files_url)
    if m is None:
        return _fail(
            files_url,
            "unsupported files_url; nmp-local reads hf://datasets/{namespace}/{name} "
            "from its own Data Store",
        )
    try:
        repo = repos.get("dataset", f"{m['ns']}/{m['name']}")
        commit = repos.resolve(repo, m["rev"] or MAIN)
    except HfError as exc:
        return _fail(files_url, exc.message)
    tree: dict[str, dict[str, object]] = commit["tree"]
    train_paths = sorted(p for p in tree if p.startswith("training/") and p.endswith(".jsonl"))
    val_paths = sorted(p for p in tree if p.startswith("validation/") and p.endswith(".jsonl"))
    if not train_paths:
        return _fail("training/", f"no .jsonl training files in {files_url}")
    errors: list[RowError] = []
    train: list[DpoRow] = []
    val: list[DpoRow] = []
    for paths, rows in ((train_paths, train), (val_paths, val)):
        for path in paths:
            parsed, errs = parse_jsonl(path, repos.read(commit, path))
            rows.extend(parsed)
            errors.extend(errs)
    if errors:
        return DatasetCheck(None, errors)
    if not val:
        keep = math.ceil(len(train) * 0.9)
        train, val = train[:keep], train[keep:]
    file_ids = [f"{p}:{tree[p]['git_oid']}" for p in train_paths + val_paths]
    return DatasetCheck(dataset_stats(train, val, file_ids), [])


def _fail(path: str, message: str) -> DatasetCheck:
    return DatasetCheck(None, [RowError(path, None, message)])
