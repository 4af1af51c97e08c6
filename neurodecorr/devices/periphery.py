"""Periphery of one analogue matrix-vector multiply: DAC, IR drop, output stage, ADC.

Pipeline of one read (aihwkit ``parameters/io.py``, ``rpu_forward_backward_pass.cpp``), in
normalised units (weights w/s in [−1, 1]):

1. DAC: α per sample from noise management (abs-max, max, constant or none); x̂ = Q_dac(x/α),
   plus input noise.
2. ŷ = ŵ x̂ + per-read noise (output-referred) − IR drop.
3. Output stage: S-shaped non-linearity, read asymmetry, output noise.
4. ADC: y = Q_adc(ŷ) · α · s.

Q(v) = clip(δ · rint(v/δ), −R, R) with δ = R/(2^(bits−1) − 1): a symmetric mid-tread grid that
holds zero exactly; inside [−R, R] the error is at most δ/2 (half an LSB).
"""

from __future__ import annotations

import numpy as np

from neurodecorr.devices.config import ADCConfig, IRDropConfig, OutputConfig


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
    """The output with the wires' voltage drop, by aihwkit's fast analytic model
    (``rpu_forward_backward_pass.cpp``, ``applyIrDrop``):

    a_i = (n/g_ratio) Σ_j |w_ij| |x_j|,  c_i = a_i (a_i (0.05 a_i − 0.2) + 0.5),
    Δy_i = scale · c_i Σ_j w_ij x_j (1 − (1 − j/n)²),  j = 0..n−1 the input's position,
    so ``scale`` multiplies the drop, not the current inside the cubic. Costs two extra GEMMs
    (|W| and the position-weighted W), so it is off unless asked for. The ``nodal`` model
    (:mod:`neurodecorr.devices.ir_drop`) replaces the matrix a read multiplies by instead.
    """
    n = x_norm.shape[-1]
    a = (n / cfg.g_ratio) * (np.abs(x_norm) @ w_abs.T)
    c = a * (a * (0.05 * a - 0.2) + 0.5)
    pos = np.arange(n, dtype=x_norm.dtype) / n
    profile = 1.0 - (1.0 - pos) ** 2
    return y_norm - cfg.scale * c * ((x_norm * profile) @ w_norm.T)


def output_curvature(out: OutputConfig, adc: ADCConfig | None, n_out: int,
                     rng: np.random.Generator) -> np.ndarray | None:
    """c_i = (nonlinearity / R)(1 + σ ξ_i) per output, fixed per array (aihwkit
    ``out_nonlinearity``, ``out_nonlinearity_std``; R the ADC range, 1 without an ADC)."""
    if out.nonlinearity <= 0:
        return None
    bound = adc.range_norm if adc is not None else 1.0
    spread = 1.0 + out.nonlinearity_d2d_rel * rng.standard_normal(n_out)
    return np.abs(out.nonlinearity / bound * spread)


def apply_output_nonidealities(y: np.ndarray, curvature: np.ndarray | None,
                               asymmetry: float) -> np.ndarray:
    """y ← y/(1 + |c_i y|), then y ← (1 − a) y for y < 0 (aihwkit ``finalizeOutput``)."""
    if curvature is not None:
        y = y / (1.0 + np.abs(curvature * y))
    if asymmetry != 0:
        y = np.where(y < 0, (1.0 - asymmetry) * y, y)
    return y
