"""When a job validates and how its validations are reported, for both trainers (pure).

Customizer's ``val_check_interval``: an integer is a number of steps, a float in (0, 1] a
fraction of an epoch; at or beyond one epoch it means once per epoch. Without it, a job
validates at the end of every epoch. Either way it also validates where training stops, so
a job cut short by ``max_steps`` mid-epoch still has a validation loss (as TRL does:
``eval_strategy="epoch"`` evaluates when the epoch loop ends early, ``"steps"`` at the
last step).

Reporting: ``epochs_completed`` counts whole epochs only. ``best_epoch`` is the number of
whole epochs completed when the best validation ran, or null when it ran before the first
epoch ended, so it is never above ``epochs_completed``. A validation at an epoch boundary is
logged as ``Epoch e/E completed``; any other as ``Validation at step s (epoch x)``.
"""

from __future__ import annotations

import math

EPS = 1e-6


def check_interval(value: float) -> float:
    """Raises ``ValueError`` for what neither reading allows (for the request model)."""
    if value <= 0:
        raise ValueError("must be greater than 0")
    if isinstance(value, float) and value > 1.0 and not value.is_integer():
        raise ValueError("a fraction of an epoch is at most 1.0; a number of steps is whole")
    return value


def every_steps(val_check_interval: float | None, steps_per_epoch: int) -> int | None:
    """Steps between validations, or ``None`` for once per epoch."""
    if val_check_interval is None:
        return None
    if isinstance(val_check_interval, float) and val_check_interval <= 1.0:
        steps = max(1, round(val_check_interval * steps_per_epoch))
    else:
        steps = int(val_check_interval)
    return None if steps >= steps_per_epoch else steps


def validation_steps(total_steps: int, steps_per_epoch: int, every: int | None) -> list[int]:
    """The steps after which the job validates, the last step included."""
    interval = every or max(1, steps_per_epoch)
    steps = list(range(interval, total_steps + 1, interval))
    if total_steps > 0 and (not steps or steps[-1] != total_steps):
        steps.append(total_steps)
    return steps


def whole_epochs(epoch: float) -> int:
    return math.floor(epoch + EPS)


def best_epoch(epoch: float) -> int | None:
    """``best_epoch`` for a best validation at (fractional) ``epoch``."""
    return whole_epochs(epoch) or None


def validation_message(step: int, epoch: float, epochs: int) -> str:
    if epoch >= 1 - EPS and abs(epoch - round(epoch)) < EPS:
        return f"Epoch {round(epoch)}/{epochs} completed"
    return f"Validation at step {step} (epoch {epoch:.3g})"


def epochs_text(total_steps: int, steps_per_epoch: int, epochs: int) -> str:
    """``40 steps over 2 epoch(s)``; cut short by ``max_steps``:
    ``10 steps over 0.5 of 2 epoch(s) (max_steps=10)``."""
    if total_steps >= epochs * steps_per_epoch:
        return f"{total_steps} steps over {epochs} epoch(s)"
    share = total_steps / max(1, steps_per_epoch)
    return f"{total_steps} steps over {share:.3g} of {epochs} epoch(s) (max_steps={total_steps})"
