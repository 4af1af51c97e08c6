"""Pulsed updates for on-chip learning, and rank-1 writes by stochastic pulse trains.

Per pulse of direction d = ±1 on device ij (aihwkit pulsed devices,
``simulator/configs/devices.py``), in normalised weight units:

    Δw = d · δ_d,ij · f_d(w) · (1 + σ_c2c ξ),   w ← clip(w + Δw, b_min,ij, b_max,ij)

(``c2c_additive``: Δw = d · δ_d,ij · (f_d(w) + σ_c2c ξ), aihwkit's ``mult_noise = False``)

with device-to-device parameters fixed from the seed: dw_min_ij = dw_min (1 + σ_d2d ξ),
β_ij = up_down + σ_β ξ, δ_up = dw_min_ij (1 + β_ij), δ_down = dw_min_ij (1 − β_ij),
b_max,ij = clip(w_max (1 + σ_b ξ), 0, 1), b_min,ij = clip(w_min (1 + σ_b ξ'), −1, 0).

State dependence f_d(w):

- ``constant_step``: f = 1.
- ``linear_step``: f_up = 1 − γ_up w/b_max, f_down = 1 − γ_down w/b_min (ECRAM, Tang 2018).
- ``soft_bounds``: linear step with γ = 1: the step vanishes at the bound it approaches.
- ``exp_step``: z = 2 a w/(b_max − b_min) + b, f_up = max(1 − A_up e^(γ_up z), 0),
  f_down = max(1 − A_down e^(−γ_down z), 0) (aihwkit ``ExpStepDevice``, fit to ReRAM by
  Gong 2018).
- ``pow_step``: f_up = (2 (b_max − w)/(b_max − b_min))^γ_up,
  f_down = (2 (w − b_min)/(b_max − b_min))^γ_down, both 1 at the centre (Fusi & Abbott 2007).

Write noise: the array holds the apparent weight w + σ_wn dw_min ξ (fresh ξ at each write)
while pulses act on the hidden w.

Rank-1 write (aihwkit ``parameters/training.py``, ``AnalogMatrix.ger``): in each of BL slots,
output row i fires with probability p_i = B|d_i| and input column j with q_j = A|x_j|; a
coincidence sends one pulse of sign sign(d_i x_j) to device ij. The expected number of pulses
is BL p_i q_j, so with A B = lr/(dw_min BL) the expected change is lr d_i x_j for the constant
step model. BL = min(⌈K⌉, BL_max) with K = lr max|x| max|d|/dw_min, and A, B are balanced
(A max|x| = B max|d| = sqrt(K/BL)) so that no probability exceeds 1 unless K > BL_max.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurodecorr.devices.config import PulsedConfig


class PulsedDevices:
    """Per-device pulsed-update parameters for an array of shape ``shape``."""

    def __init__(self, cfg: PulsedConfig, shape: tuple[int, int], rng: np.random.Generator):
        self.cfg = cfg
        self.shape = shape
        dw = cfg.dw_min_norm * (1.0 + cfg.d2d_dw_min_rel * rng.standard_normal(shape))
        self.dw = np.maximum(dw, 0.0)
        beta = cfg.up_down + cfg.d2d_up_down * rng.standard_normal(shape)
        self.dw_up = self.dw * np.maximum(1.0 + beta, 0.0)
        self.dw_down = self.dw * np.maximum(1.0 - beta, 0.0)
        self.b_max = np.clip(cfg.w_max_norm * (1 + cfg.d2d_bounds_rel * rng.standard_normal(shape)),
                             0.0, 1.0)
        self.b_min = np.clip(cfg.w_min_norm * (1 + cfg.d2d_bounds_rel * rng.standard_normal(shape)),
                             -1.0, 0.0)

    def step_factor(self, w: np.ndarray, up: np.ndarray, idx) -> np.ndarray:
        """f_d(w) for the devices ``idx`` (any numpy index) given the directions ``up``."""
        cfg = self.cfg
        b_max, b_min = self.b_max[idx], self.b_min[idx]
        if cfg.model == "constant_step":
            return np.ones_like(w)
        if cfg.model in ("linear_step", "soft_bounds"):
            g_up, g_down = (1.0, 1.0) if cfg.model == "soft_bounds" else (cfg.gamma_up,
                                                                          cfg.gamma_down)
            with np.errstate(divide="ignore", invalid="ignore"):
                f_up = 1.0 - g_up * np.where(b_max > 0, w / b_max, 0.0)
                f_down = 1.0 - g_down * np.where(b_min < 0, w / b_min, 0.0)
            return np.maximum(np.where(up, f_up, f_down), 0.0)
        span = np.maximum(b_max - b_min, 1e-12)
        if cfg.model == "exp_step":
            z = 2.0 * cfg.exp_a * w / span + cfg.exp_b
            f_up = 1.0 - cfg.exp_a_up * np.exp(cfg.exp_gamma_up * z)
            f_down = 1.0 - cfg.exp_a_down * np.exp(-cfg.exp_gamma_down * z)
            return np.maximum(np.where(up, f_up, f_down), 0.0)
        f_up = np.maximum(2.0 * (b_max - w) / span, 0.0) ** cfg.gamma_up
        f_down = np.maximum(2.0 * (w - b_min) / span, 0.0) ** cfg.gamma_down
        return np.where(up, f_up, f_down)

    def pulse(self, w: np.ndarray, up: np.ndarray, rng: np.random.Generator,
              idx=Ellipsis) -> np.ndarray:
        """Apply one pulse to each device ``idx`` (current weights ``w``); returns new weights."""
        w = np.clip(w, self.b_min[idx], self.b_max[idx])
        step = np.where(up, self.dw_up[idx], -self.dw_down[idx])
        f = self.step_factor(w, up, idx)
        if self.cfg.c2c_rel > 0:
            xi = self.cfg.c2c_rel * rng.standard_normal(f.shape)
            f = f + xi if self.cfg.c2c_additive else f * (1.0 + xi)
        delta = step * f
        return np.clip(w + delta, self.b_min[idx], self.b_max[idx])


@dataclass(frozen=True)
class PulseTrain:
    """Bit streams of one rank-1 write: ``rows`` (BL, out) and ``cols`` (BL, in), boolean,
    and the sign of the pulse each coincidence sends."""

    rows: np.ndarray
    cols: np.ndarray
    sign_rows: np.ndarray
    sign_cols: np.ndarray

    @property
    def length(self) -> int:
        return self.rows.shape[0]


def pulse_train(x: np.ndarray, d: np.ndarray, lr_norm: float, cfg: PulsedConfig,
                rng: np.random.Generator) -> PulseTrain:
    """Draw the stochastic bit streams whose coincidences give E[Δw] = lr_norm · d xᵀ."""
    x = np.asarray(x, dtype=float)
    d = np.asarray(d, dtype=float)
    mx, md = float(np.max(np.abs(x), initial=0.0)), float(np.max(np.abs(d), initial=0.0))
    if mx == 0 or md == 0 or lr_norm == 0:
        bl = 0
        p_rows = np.zeros(d.shape)
        p_cols = np.zeros(x.shape)
    else:
        k = abs(lr_norm) * mx * md / cfg.dw_min_norm
        bl = int(min(max(math.ceil(k), 1), cfg.bl_max))
        amp = math.sqrt(k / bl)
        p_rows = np.minimum(amp * np.abs(d) / md, 1.0)
        p_cols = np.minimum(amp * np.abs(x) / mx, 1.0)
    rows = rng.random((bl, d.size)) < p_rows
    cols = rng.random((bl, x.size)) < p_cols
    sign = 1.0 if lr_norm >= 0 else -1.0
    return PulseTrain(rows, cols, sign * np.sign(d), np.sign(x))


def apply_train(w: np.ndarray, train: PulseTrain, devices: PulsedDevices,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Send the pulse train through the devices, slot by slot (each slot's coincidences are
    the block rows × cols). Returns the new hidden weights, the mask of devices that received
    at least one pulse, and the number of device pulses."""
    w = w.copy()
    touched = np.zeros(w.shape, dtype=bool)
    pulses = 0
    for b in range(train.length):
        r = np.flatnonzero(train.rows[b])
        c = np.flatnonzero(train.cols[b])
        if r.size == 0 or c.size == 0:
            continue
        idx = np.ix_(r, c)
        up = (train.sign_rows[r][:, None] * train.sign_cols[c][None, :]) > 0
        w[idx] = devices.pulse(w[idx], up, rng, idx)
        touched[idx] = True
        pulses += r.size * c.size
    return w, touched, pulses
