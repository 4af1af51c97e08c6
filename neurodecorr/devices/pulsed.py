"""Pulsed updates for on-chip learning, and rank-1 writes by stochastic pulse trains.

Per pulse of direction d = ±1 on device ij (aihwkit pulsed devices,
``simulator/configs/devices.py``), in normalised weight units:

    Δw = d · δ_d,ij · f_d(w) · (1 + σ_c2c ξ),   w ← clip(w + Δw, b_min,ij, b_max,ij)

(``c2c_additive``: Δw = d · δ_d,ij · (f_d(w) + σ_c2c ξ), aihwkit's ``mult_noise = False``;
``exp_step`` is multiplicative only, optionally with aihwkit's ``dw_min_std_add`` and
``dw_min_std_slope`` terms, see :meth:`PulsedDevices.pulse`)

with device-to-device parameters fixed from the seed (aihwkit ``rpu_pulsed_device.cpp``):
δ_up = |dw_min (γ_ij + min(β, 0) + r_ij)|, δ_down = |dw_min (γ_ij − max(β, 0) − r_ij)|,
γ_ij the gain (normal 1 + σ_d2d ξ, log-normal or gamma), r_ij = σ_β ξ, β = ``up_down``;
b_max,ij = |w_max (1 + σ_b ξ)|, b_min,ij = −|w_min (1 + σ_b ξ')|.

State dependence f_d(w):

- ``constant_step``: f = 1.
- ``linear_step``: f_up = 1 − γ_up w/b_max, f_down = 1 − γ_down w/b_min (ECRAM, Tang 2018).
- ``soft_bounds``: linear step with γ = 1: the step vanishes at the bound it approaches.
- ``exp_step``: z = 2 a w/(b_max − b_min) + b, f_up = max(1 − A_up e^(γ_up z), 0),
  f_down = max(1 − A_down e^(−γ_down z), 0) (aihwkit ``ExpStepDevice``, fit to ReRAM by
  Gong 2018).
- ``piecewise_step``: f interpolated between measured nodes (aihwkit ``PiecewiseStepDevice``).
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


def d2d_gain(cfg: PulsedConfig, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Device-to-device step gain γ_ij with mean about 1 and spread σ = ``d2d_dw_min_rel``.

    ``normal``: 1 + σ ξ (aihwkit default); ``lognormal``: exp(σ ξ) (aihwkit
    ``dw_min_dtod_log_normal``, ``rpu_pulsed_device.cpp``), never negative, median 1;
    ``gamma``: Gamma(k = 1/σ², θ = σ²), mean 1 and standard deviation σ, never negative.
    """
    sigma = cfg.d2d_dw_min_rel
    if cfg.d2d_distribution == "lognormal":
        return np.exp(sigma * rng.standard_normal(shape))
    if cfg.d2d_distribution == "gamma" and sigma > 0:
        return rng.gamma(1.0 / sigma**2, sigma**2, size=shape)
    return 1.0 + sigma * rng.standard_normal(shape)


class PulsedDevices:
    """Per-device pulsed-update parameters for an array of shape ``shape``.

    Step sizes follow aihwkit's ``PulsedRPUDevice::populate`` (``rpu_pulsed_device.cpp``) with
    ``enforce_consistency``: δ_up = |dw_min (γ + min(β, 0) + r)|, δ_down = |dw_min (γ − max(β, 0)
    − r)|, and bounds w_max (1 + σ_b ξ), w_min (1 + σ_b ξ′) made positive and negative by their
    absolute values, not clipped to the nominal range (a device's own G_max may exceed the
    nominal one).
    """

    def __init__(self, cfg: PulsedConfig, shape: tuple[int, int], rng: np.random.Generator):
        self.cfg = cfg
        self.shape = shape
        gain = d2d_gain(cfg, shape, rng)
        r = cfg.d2d_up_down * rng.standard_normal(shape)
        beta = cfg.up_down
        self.dw_up = np.abs(cfg.dw_min_norm * (gain + min(beta, 0.0) + r))
        self.dw_down = np.abs(cfg.dw_min_norm * (gain - max(beta, 0.0) - r))
        b_max = cfg.w_max_norm * (1 + cfg.d2d_bounds_rel * rng.standard_normal(shape))
        b_min = cfg.w_min_norm * (1 + cfg.d2d_bounds_rel * rng.standard_normal(shape))
        self.b_max = np.abs(np.maximum(b_max, b_min))
        self.b_min = -np.abs(np.minimum(b_max, b_min))
        self.response = RESPONSES[cfg.model](cfg)

    def step_factor(self, w: np.ndarray, up: np.ndarray, idx) -> np.ndarray:
        """f_d(w) for the devices ``idx`` (any numpy index) given the directions ``up``."""
        return self.response.factor(w, up, self.b_min[idx], self.b_max[idx])

    def pulse(self, w: np.ndarray, up: np.ndarray, rng: np.random.Generator,
              idx=Ellipsis) -> np.ndarray:
        """Apply one pulse to each device ``idx`` (current weights ``w``); returns new weights.

        Cycle-to-cycle noise (σ = ``c2c_rel``): multiplicative, Δw = s f (1 + σ ξ);
        ``c2c_additive``, Δw = s f + s σ ξ (aihwkit ``mult_noise = False``); and for
        ``exp_step`` with ``c2c_add_norm`` or ``c2c_slope``, aihwkit's "complex noise"
        (``rpu_expstep_device.cpp``): Δw = s f + σ (|s f| + add + slope |w|) ξ.
        """
        cfg = self.cfg
        w = np.clip(w, self.b_min[idx], self.b_max[idx])
        step = np.where(up, self.dw_up[idx], -self.dw_down[idx])
        delta = step * self.step_factor(w, up, idx)
        if cfg.c2c_rel > 0:
            xi = cfg.c2c_rel * rng.standard_normal(delta.shape)
            if cfg.c2c_add_norm > 0 or cfg.c2c_slope > 0:
                delta = delta + (np.abs(delta) + cfg.c2c_add_norm + cfg.c2c_slope * np.abs(w)) * xi
            elif cfg.c2c_additive:
                delta = delta + np.abs(step) * xi
            else:
                delta = delta * (1.0 + xi)
        return np.clip(w + delta, self.b_min[idx], self.b_max[idx])


class ConstantStep:
    """f = 1 (Gokmen & Vlasov 2016; aihwkit ``ConstantStepDevice``)."""

    def __init__(self, cfg: PulsedConfig):
        self.cfg = cfg

    def factor(self, w: np.ndarray, up: np.ndarray, b_min: np.ndarray,
               b_max: np.ndarray) -> np.ndarray:
        return np.ones_like(w)


class LinearStep(ConstantStep):
    """f_up = 1 − γ_up w/b_max, f_down = 1 − γ_down w/b_min, floored at 0 (ECRAM, Tang 2018;
    capacitor, Li 2018; aihwkit ``LinearStepDevice``)."""

    def gammas(self) -> tuple[float, float]:
        return self.cfg.gamma_up, self.cfg.gamma_down

    def factor(self, w, up, b_min, b_max):
        g_up, g_down = self.gammas()
        with np.errstate(divide="ignore", invalid="ignore"):
            f_up = 1.0 - g_up * np.where(b_max > 0, w / b_max, 0.0)
            f_down = 1.0 - g_down * np.where(b_min < 0, w / b_min, 0.0)
        return np.maximum(np.where(up, f_up, f_down), 0.0)


class SoftBounds(LinearStep):
    """The linear step with γ = 1: the step vanishes at the bound it approaches (aihwkit
    ``SoftBoundsDevice``)."""

    def gammas(self) -> tuple[float, float]:
        return 1.0, 1.0


class ExpStep(ConstantStep):
    """z = 2 a w/(b_max − b_min) + b, f_up = max(1 − A_up e^(γ_up z), 0),
    f_down = max(1 − A_down e^(−γ_down z), 0) (ReRAM, Gong 2018; aihwkit ``ExpStepDevice``,
    ``rpu_expstep_device.cpp``)."""

    def factor(self, w, up, b_min, b_max):
        c = self.cfg
        z = 2.0 * c.exp_a * w / np.maximum(b_max - b_min, 1e-12) + c.exp_b
        f_up = 1.0 - c.exp_a_up * np.exp(c.exp_gamma_up * z)
        f_down = 1.0 - c.exp_a_down * np.exp(-c.exp_gamma_down * z)
        return np.maximum(np.where(up, f_up, f_down), 0.0)


class PowStep(ConstantStep):
    """f_up = (2 (b_max − w)/(b_max − b_min))^γ_up, f_down = (2 (w − b_min)/(b_max − b_min))^γ_down,
    both 1 at the centre (Fusi & Abbott 2007; aihwkit ``PowStepDevice``)."""

    def factor(self, w, up, b_min, b_max):
        span = np.maximum(b_max - b_min, 1e-12)
        f_up = np.maximum(2.0 * (b_max - w) / span, 0.0) ** self.cfg.gamma_up
        f_down = np.maximum(2.0 * (w - b_min) / span, 0.0) ** self.cfg.gamma_down
        return np.where(up, f_up, f_down)


class PiecewiseStep(ConstantStep):
    """Step scale interpolated linearly between measured nodes equally spaced over each
    device's [b_min, b_max] (aihwkit ``PiecewiseStepDevice``, ``rpu_piecewisestep_device.cpp``);
    one node is a constant scale."""

    def factor(self, w, up, b_min, b_max):
        nodes_up = np.asarray(self.cfg.piecewise_up)
        nodes_down = np.asarray(self.cfg.piecewise_down)
        n = nodes_up.size - 1
        if n == 0:
            return np.where(up, nodes_up[0], nodes_down[0]) * np.ones_like(w)
        pos = np.clip((w - b_min) / np.maximum(b_max - b_min, 1e-12) * n, 0.0, n)
        k = np.minimum(np.floor(pos).astype(int), n - 1)
        t = pos - k
        f_up = (1 - t) * nodes_up[k] + t * nodes_up[k + 1]
        f_down = (1 - t) * nodes_down[k] + t * nodes_down[k + 1]
        return np.where(up, f_up, f_down)


#: ``[pulsed] model`` -> the state dependence of its step
RESPONSES = {"constant_step": ConstantStep, "linear_step": LinearStep,
             "soft_bounds": SoftBounds, "exp_step": ExpStep, "pow_step": PowStep,
             "piecewise_step": PiecewiseStep}


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


def coincidences(train: PulseTrain):
    """The blocks of one pulse train, slot by slot: ``(idx, up)`` with ``idx`` the devices
    (rows × cols) that receive a pulse in the slot and ``up`` its direction on each."""
    for b in range(train.length):
        r = np.flatnonzero(train.rows[b])
        c = np.flatnonzero(train.cols[b])
        if r.size and c.size:
            yield np.ix_(r, c), (train.sign_rows[r][:, None] * train.sign_cols[c][None, :]) > 0


def apply_train(w: np.ndarray, train: PulseTrain, devices: PulsedDevices,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
    """Send the pulse train through the devices, slot by slot. Returns the new hidden weights,
    the mask of devices that received at least one pulse, and the number of device pulses."""
    w = w.copy()
    touched = np.zeros(w.shape, dtype=bool)
    pulses = 0
    for idx, up in coincidences(train):
        w[idx] = devices.pulse(w[idx], up, rng, idx)
        touched[idx] = True
        pulses += up.size
    return w, touched, pulses


class OneSidedPair:
    """The two devices of a one-sided unit cell (aihwkit ``OneSidedUnitCell``): each only ever
    potentiated, in [0, b_max] of its own, with its own device-to-device parameters. The
    weight is h⁺ − h⁻; up pulses move h⁺, down pulses h⁻ (``rpu_onesided_device.cpp``)."""

    def __init__(self, cfg: PulsedConfig, shape: tuple[int, int], rng: np.random.Generator):
        self.plus = PulsedDevices(cfg, shape, rng)
        self.minus = PulsedDevices(cfg, shape, rng)
        for dev in (self.plus, self.minus):
            dev.b_min = np.zeros(shape)

    def apply_train(self, h_plus: np.ndarray, h_minus: np.ndarray, train: PulseTrain,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Send the train through the pair; returns h⁺, h⁻, the touched mask, the pulse count."""
        h_plus, h_minus = h_plus.copy(), h_minus.copy()
        touched = np.zeros(h_plus.shape, dtype=bool)
        pulses = 0
        for idx, up in coincidences(train):
            grow = np.ones(up.shape, dtype=bool)
            if up.any():
                h_plus[idx] = np.where(up, self.plus.pulse(h_plus[idx], grow, rng, idx),
                                       h_plus[idx])
            if not up.all():
                h_minus[idx] = np.where(up, h_minus[idx],
                                        self.minus.pulse(h_minus[idx], grow, rng, idx))
            touched[idx] = True
            pulses += up.size
        return h_plus, h_minus, touched, pulses


def refresh_mask(h_plus: np.ndarray, h_minus: np.ndarray, w_max: float, upper: float,
                 lower: float) -> np.ndarray:
    """aihwkit's ``refreshCriterion``: the larger device above ``upper`` and the smaller above
    ``lower`` of the range w_max."""
    big, small = np.maximum(h_plus, h_minus), np.minimum(h_plus, h_minus)
    return (big / w_max > upper) & (small / w_max > lower)
