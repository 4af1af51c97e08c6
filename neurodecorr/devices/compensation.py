"""Drift compensation measured through the noisy read path.

At programming (time t_ref) the chip reads K probe vectors through the full analogue path and
keeps the probe outputs Y_ref (K × out). Probe k holds random signs on one group of
m = ⌊R⌋ consecutive inputs (R the ADC range in normalised units) and zeros elsewhere, so an
output sums at most m weights of magnitude at most about 1 and can never clip: random ±1
probes on all n inputs saturated the ADC on wide arrays (28 % of the outputs at n = 256), and
aihwkit's one-hot probes (``GlobalDriftCompensation.get_readout_tensor``: ``eye(in_size)``,
m = 1) read each entry alone, where an 8-bit ADC over ±10 rounds the small ones away; m ≤ R
is the widest group that cannot clip. Without an ADC, m = n. At a later time t the chip reads
the probes again and rescales the outputs digitally (aihwkit
``inference/compensation/drift.py``, whose maintainers insist the readout use the noisy path),
with r_i = mean_k |Y_ki|:

- ``global``: y ← y · Σ_i r_i(t_ref) / Σ_i r_i(t)
- ``column``: y_i ← y_i · r_i(t_ref) / r_i(t), per output column (factor 1 for a column whose
  readout is zero).

A write does not re-measure the baseline (that would fold the drift so far into it and undo the
compensation of the whole array): the chip knows the change it asked for, ΔW = lr d xᵀ, and
adds it to the expected probe outputs, Y_ref ← Y_ref + ΔWᵀ.
"""

from __future__ import annotations

import numpy as np


def probes(n_in: int, group: int, rng: np.random.Generator) -> np.ndarray:
    """Probe inputs (⌈n_in/group⌉ × n_in): random signs on one group of ``group`` consecutive
    inputs per probe."""
    group = max(1, min(group, n_in))
    k = -(-n_in // group)
    p = np.zeros((k, n_in))
    cols = np.arange(n_in)
    p[cols // group, cols] = rng.choice(np.array([-1.0, 1.0]), size=n_in)
    return p


def group_size(adc_range_norm: float | None, n_in: int) -> int:
    """m = ⌊R⌋ inputs per probe with an ADC of range R (normalised), all of them without."""
    return n_in if adc_range_norm is None else max(1, int(adc_range_norm))


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
