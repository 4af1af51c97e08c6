"""Periphery of one analogue matrix-vector multiply: DAC, IR drop, output noise, ADC.

Pipeline of one read (aihwkit ``parameters/io.py``, ``tiles/analog_mvm.py``), in normalised
units (weights w/s in [−1, 1]):

1. DAC: α = max_j |x_j| per sample (noise management ``abs_max``) or 1; x̂ = Q_dac(x/α).
2. ŷ = ŵ x̂ + per-read noise (output-referred) − IR drop + output noise.
3. ADC: y = Q_adc(ŷ) · α · s.

Q(v) = clip(δ · rint(v/δ), −R, R) with δ = R/(2^(bits−1) − 1): a symmetric mid-tread grid that
holds zero exactly; inside [−R, R] the error is at most δ/2 (half an LSB).
"""

from __future__ import annotations

import numpy as np

from neurodecorr.devices.config import IRDropConfig


def lsb(bits: int, range_norm: float) -> float:
    """Quantisation step δ = R/(2^(bits−1) − 1); a 1-bit converter has levels {−R, 0, R}."""
    return range_norm / max(2 ** (bits - 1) - 1, 1)


def quantise(v: np.ndarray, bits: int, range_norm: float) -> np.ndarray:
    """Clip to ±range and round to the converter's grid (same dtype as ``v``)."""
    step = v.dtype.type(lsb(bits, range_norm))
    r = v.dtype.type(range_norm)
    return np.clip(np.rint(v / step) * step, -r, r)


def ir_drop(x_norm: np.ndarray, w_norm: np.ndarray, w_abs: np.ndarray, y_norm: np.ndarray,
            cfg: IRDropConfig) -> np.ndarray:
    """aihwkit's fast analytic IR-drop correction, subtracted from the ideal output.

    a_i = scale · (n/g_ratio) · Σ_j |w_ij| |x_j|,  c_i = a_i (a_i (0.05 a_i − 0.2) + 0.5),
    Δy_i = c_i Σ_j w_ij x_j (1 − (1 − j/n)²),  j = 1..n the input's distance along the wire.
    Costs two extra GEMMs (|W| and the position-weighted W), so it is off unless asked for.
    """
    n = x_norm.shape[-1]
    a = cfg.scale * (n / cfg.g_ratio) * (np.abs(x_norm) @ w_abs.T)
    c = a * (a * (0.05 * a - 0.2) + 0.5)
    pos = np.arange(1, n + 1, dtype=x_norm.dtype) / n
    profile = 1.0 - (1.0 - pos) ** 2
    return y_norm - c * ((x_norm * profile) @ w_norm.T)
