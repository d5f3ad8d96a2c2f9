"""A deterministic, data-dependent DPO loss curve for simulated training.

With ``m`` the dataset's margin signal (mean word-set distinctness of chosen vs
rejected, in [0, 1]), ``n`` the training rows, ``S`` the total steps, ``E`` the epochs:

* ``L0 = ln 2``                         (DPO loss when policy = reference)
* ``floor = ln 2 * (0.1 + 0.6*(1 - m))`` (clearer preferences can be fit further)
* ``k = 1 + 5*m``                        (and are fit faster)
* ``train(s) = floor + (L0 - floor)*exp(-k*s/S) * (1 + j(s))``, ``j`` a +/-2 % jitter drawn
  from sha256(fingerprint, s), so the same data always gives the same curve
* ``val(e) = train(s_e) + gap*(1 + 0.5*(e - 1))``, ``gap = 0.02 + 0.25/sqrt(n)``, ``e`` the
  (possibly fractional) epoch of the validation step ``s_e``: the
  generalisation gap shrinks with more data and widens with more epochs, so small
  datasets trained long get a best epoch before the last.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

from prefstream_nmp_local.dpo_rows import DatasetStats

LN2 = math.log(2.0)


@dataclass(frozen=True)
class LossCurve:
    stats: DatasetStats
    total_steps: int
    steps_per_epoch: int

    @property
    def floor(self) -> float:
        return LN2 * (0.1 + 0.6 * (1.0 - self.stats.margin))

    @property
    def rate(self) -> float:
        return 1.0 + 5.0 * self.stats.margin

    def train_loss(self, step: int) -> float:
        frac = min(max(step, 0), self.total_steps) / max(1, self.total_steps)
        clean = self.floor + (LN2 - self.floor) * math.exp(-self.rate * frac)
        return round(clean * (1.0 + self._jitter(step)), 6)

    def val_loss(self, epoch: int) -> float:
        """Validation at the end of whole epoch ``epoch``."""
        return self.val_loss_at(epoch * self.steps_per_epoch)

    def val_loss_at(self, step: int) -> float:
        """Validation after ``step``; its epoch ``step / steps_per_epoch`` may be fractional
        (``max_steps`` mid-epoch, or ``val_check_interval``)."""
        step = min(max(step, 0), self.total_steps)
        epoch = step / max(1, self.steps_per_epoch)
        gap = (0.02 + 0.25 / math.sqrt(max(1, self.stats.n_train))) * (1.0 + 0.5 * (epoch - 1))
        return round(self.train_loss(step) / (1.0 + self._jitter(step)) + gap, 6)

    def _jitter(self, step: int) -> float:
        digest = hashlib.sha256(f"{self.stats.fingerprint}:{step}".encode()).digest()
        return (int.from_bytes(digest[:4], "big") / 2**32 - 0.5) * 0.04
