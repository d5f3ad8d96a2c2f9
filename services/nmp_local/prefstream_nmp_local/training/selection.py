"""Which trainer runs a job: the real one (TRL) or the simulated clock.

The ``trainer`` setting says what the operator wants; ``auto`` means TRL when torch and trl
are importable. Per job, TRL also needs weights for the base model in the Data Store; under
``auto`` a weightless base model (the preloaded Llama configs) runs simulated, under an
explicit ``trl`` it is refused at creation (422), so nobody mistakes a simulation for training.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
from typing import Literal

log = logging.getLogger("prefstream_nmp_local.training")

Mode = Literal["simulated", "trl"]
INSTALL_HINT = "pip install 'prefstream-nmp-local[training]'"
ADD_MODEL_HINT = "prefstream nmp-local add-model DIR --name NS/NAME"


@functools.cache
def stack_missing() -> tuple[str, ...]:
    """The training packages that cannot be imported (checked without importing them)."""
    return tuple(m for m in ("torch", "trl") if importlib.util.find_spec(m) is None)


def resolve_mode(setting: str) -> Mode:
    if setting == "simulated":
        return "simulated"
    return "trl" if setting == "trl" or not stack_missing() else "simulated"


def startup_message(setting: str) -> str:
    """The one line nmp-local logs at start about its trainer."""
    missing = stack_missing()
    if setting == "simulated":
        return "trainer: simulated (NMP_LOCAL_TRAINER=simulated); jobs follow the job clock"
    if missing:
        return (
            f"trainer: simulated, because {' and '.join(missing)} cannot be imported; "
            f"for real DPO training run: {INSTALL_HINT}"
        )
    return (
        f"trainer: trl ({setting}); jobs on base models with weights in the Data Store train "
        f"for real (add one with: {ADD_MODEL_HINT})"
        + ("; others run simulated" if setting == "auto" else "")
    )


def configure_logging() -> None:
    """nmp-local's own INFO lines go to stderr (uvicorn configures only its loggers)."""
    if not log.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     nmp-local %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
