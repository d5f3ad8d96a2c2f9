"""At job creation: decide the trainer for this job and refuse what TRL cannot honour (422)."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

from prefstream_nmp_local.errors import ApiError
from prefstream_nmp_local.hf_repos import HfRepos
from prefstream_nmp_local.persistence import Store
from prefstream_nmp_local.settings import NmpLocalSettings
from prefstream_nmp_local.training.hyperparameters import dpo_config_kwargs, unsupported
from prefstream_nmp_local.training.model_files import (
    Snapshot,
    base_model_weights,
    resolve_files_url,
)
from prefstream_nmp_local.training.selection import (
    ADD_MODEL_HINT,
    INSTALL_HINT,
    resolve_mode,
    stack_missing,
)

log = logging.getLogger("prefstream_nmp_local.training")
JsonObj = dict[str, Any]
_told_weightless: set[str] = set()


@dataclass(frozen=True)
class TrlSetup:
    model: Snapshot
    dataset: Snapshot
    config: JsonObj
    """``DPOConfig`` keyword arguments."""

    def snapshots(self) -> tuple[JsonObj, JsonObj]:
        return asdict(self.model), asdict(self.dataset)


def plan_trl(
    settings: NmpLocalSettings,
    store: Store,
    repos: HfRepos,
    *,
    base_model: str,
    hyper: JsonObj,
    dataset_files_url: str,
    max_seq_length: int,
    steps_per_epoch: int,
) -> TrlSetup | None:
    """The TRL run for this job, or None when it runs simulated; raises 422 when refused."""
    if resolve_mode(settings.trainer) != "trl":
        return None
    missing = stack_missing()
    if missing:  # only reachable with an explicit trainer=trl
        raise ApiError(
            422,
            f"NMP_LOCAL_TRAINER=trl but {' and '.join(missing)} cannot be imported; "
            f"install the training extra: {INSTALL_HINT}",
        )
    weights = base_model_weights(store, repos, base_model)
    if weights is None:
        if settings.trainer == "trl":
            raise ApiError(
                422,
                f"Base model {base_model} has no weights in the nmp-local Data Store, so the "
                f"trl trainer cannot train it. Add them with: {ADD_MODEL_HINT} "
                f"(e.g. --name {base_model}), or start nmp-local with NMP_LOCAL_TRAINER=auto "
                "or simulated to simulate this job",
            )
        if base_model not in _told_weightless:
            _told_weightless.add(base_model)
            log.info(
                "base model %s has no weights in the Data Store: its jobs run simulated "
                "(add weights with: %s)",
                base_model,
                ADD_MODEL_HINT,
            )
        return None
    problems = unsupported(hyper)
    if problems:
        raise ApiError(422, "; ".join(str(p) for p in problems))
    dataset = resolve_files_url(repos, dataset_files_url)
    if dataset is None or dataset.repo_type != "dataset":
        return None  # the dataset check reports it; the job fails before training
    config = dpo_config_kwargs(
        hyper,
        max_seq_length=max_seq_length,
        checkpoint_every=settings.checkpoint_every_steps,
        steps_per_epoch=steps_per_epoch,
    )
    return TrlSetup(weights, dataset, config)
