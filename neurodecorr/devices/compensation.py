"""Drift compensation measured through the noisy read path.

At programming (time t_ref) the chip reads the one-hot probe vectors e_1 … e_n (aihwkit
``GlobalDriftCompensation.get_readout_tensor``: ``eye(in_size)``) through the full analogue
path and keeps the probe outputs Y_ref (n × out): column j of the read matrix per probe.
One-hot probes keep every probe output inside the ADC range (±1 probes saturate it on wide
arrays: 28 % of outputs clip at n = 256). At a later time t it reads the probes again and
rescales the outputs digitally (aihwkit ``inference/compensation/drift.py``, whose maintainers
insist the readout use the noisy path), with r_i = mean_k |Y_ki|:

- ``global``: y ← y · Σ_i r_i(t_ref) / Σ_i r_i(t)
- ``column``: y_i ← y_i · r_i(t_ref) / r_i(t), per output column (factor 1 for a column whose
  readout is zero).

A write does not re-measure the baseline (that would fold the drift so far into it and undo the
compensation of the whole array): the chip knows the change it asked for, ΔW = lr d xᵀ, and
adds it to the expected probe outputs, Y_ref ← Y_ref + ΔWᵀ.
"""

from __future__ import annotations

import numpy as np


def probes(n_in: int) -> np.ndarray:
    """The one-hot probe inputs (n_in × n_in identity)."""
    return np.eye(n_in)


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
