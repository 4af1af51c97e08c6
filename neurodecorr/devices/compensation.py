"""Drift compensation measured through the noisy read path.

After each programming or write event at time t_ref the chip reads K fixed probe vectors
(random ±1, fixed from the seed) through the full analogue path, and keeps the readout
r_i(t_ref) = mean_k |y_ik|. At a later time t it reads the same probes again and rescales the
outputs digitally (aihwkit ``inference/compensation/drift.py``, whose maintainers insist the
readout use the noisy path):

- ``global``: y ← y · Σ_i r_i(t_ref) / Σ_i r_i(t)
- ``column``: y_i ← y_i · r_i(t_ref) / r_i(t), per output column (factor 1 for a column whose
  readout is zero).
"""

from __future__ import annotations

import numpy as np

N_PROBES = 32


def probes(n_in: int, rng: np.random.Generator, n_probes: int = N_PROBES) -> np.ndarray:
    return rng.choice(np.array([-1.0, 1.0]), size=(n_probes, n_in))


def readout(y: np.ndarray) -> np.ndarray:
    """r_i = mean_k |y_ik| over the probe reads."""
    return np.mean(np.abs(y), axis=0)


def factor(mode: str, ref: np.ndarray, now: np.ndarray) -> np.ndarray | float:
    """The digital rescaling that maps today's readout back to the reference."""
    if mode == "global":
        total = float(np.sum(now))
        return float(np.sum(ref)) / total if total > 0 else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(now > 0, ref / now, 1.0)
