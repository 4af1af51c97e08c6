"""Loihi 2 fixed-point encodings and the quantisation error they predict.

Encodings (Lava's bit-accurate models, ``lava/proc/dense/models.py``, ``lava/proc/lif/models.py``,
``lava/utils/weightutils.py``):

- state and graded payloads: signed 24-bit integers, value ``= int · 2^−F`` with one global
  number of fractional bits ``F``, saturated at ``[−2²³, 2²³ − 1]``;
- synaptic weights: an 8-bit mixed-sign mantissa (even integers in ``[−256, 254]``: Lava drops the
  lowest bit in mixed-sign mode) times a shared ``2^exp``;
- per-neuron decay (the diagonal of ``αA``): 12 bits, applied as ``(d · v) >> 12``;
- the Euler step ``α = 2^−k``: a right shift of the drive;
- the leaky-ReLU slope: ``m · 2^−s`` with an 8-bit ``m``.

Rounding a value to a grid of step ``Δ`` leaves an error of variance ``Δ²/12``; an arithmetic
right shift (floor) leaves one of mean ``−Δ/2`` and mean square ``Δ²/3``. Propagating these to
first order through the network (Widrow & Kollár, *Quantization Noise*, 2008, ch. 4 and 12)
predicts the logit error from the bit widths alone: :func:`predict_error`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

STATE_BITS = 24
WEIGHT_BITS = 8
LEAK_BITS = 12
SLOPE_BITS = 8
STATE_MAX = 2 ** (STATE_BITS - 1) - 1
#: largest mixed-sign mantissa after Lava's truncation of the lowest bit
MANT_MAX = 2**WEIGHT_BITS - 2


def quantise_weights(w: np.ndarray) -> tuple[np.ndarray, int]:
    """8-bit mixed-sign mantissa and shared exponent with ``w ≈ mant · 2^exp``.

    The exponent is the smallest one for which the largest weight fits; mantissas are rounded
    to even integers so that Lava's truncation (``(w >> 1) << 1``) leaves them unchanged.
    """
    wmax = float(np.max(np.abs(w)))
    if wmax == 0.0:
        return np.zeros(w.shape, dtype=np.int64), 0
    exp = math.ceil(math.log2(wmax / MANT_MAX))
    mant = 2 * np.round(w / 2.0 ** (exp + 1))
    return np.clip(mant, -(2**WEIGHT_BITS), MANT_MAX).astype(np.int64), exp


def quantise_leak(alpha_diag: np.ndarray) -> np.ndarray:
    """12-bit decay ``d = round(4096 · α A_ii)`` in ``[0, 4095]``."""
    return np.clip(np.round(alpha_diag * 2**LEAK_BITS), 0, 2**LEAK_BITS - 1).astype(np.int64)


def quantise_slope(slope: float) -> tuple[int, int]:
    """``slope ≈ m · 2^−s`` with ``0 < m < 2⁸``; returns ``(m, s)``."""
    if slope <= 0.0:
        return 0, 0
    s = math.floor(math.log2((2**SLOPE_BITS - 1) / slope))
    return int(round(slope * 2.0**s)), s


def to_fixed(x: np.ndarray, frac_bits: int) -> np.ndarray:
    """``round(x · 2^F)`` saturated to 24 bits."""
    return np.clip(np.round(np.asarray(x) * 2.0**frac_bits), -STATE_MAX - 1,
                   STATE_MAX).astype(np.int64)


def choose_frac_bits(peak: float, headroom: float = 4.0) -> int:
    """Most fractional bits ``F`` such that ``headroom · peak`` still fits in 24 bits."""
    return int(STATE_BITS - 1 - math.ceil(math.log2(max(peak * headroom, 1e-300))))


@dataclass(frozen=True)
class FixedLateral:
    """The integer parameters of one lateral layer and the matrix they actually realise."""

    alpha_shift: int
    leak: np.ndarray
    lateral: np.ndarray
    lateral_exp: int
    realised: np.ndarray

    @property
    def alpha(self) -> float:
        return 2.0**-self.alpha_shift


def quantise_lateral(A: np.ndarray, alpha: float) -> FixedLateral:
    """Split ``αA`` into a 12-bit leak (diagonal) and 8-bit lateral weights (off-diagonal).

    ``alpha`` must be a power of two. ``realised`` is ``Â``, the matrix whose fixed point
    ``Â⁻¹x`` the integer dynamics settle to.
    """
    k = -int(round(math.log2(alpha)))
    leak = quantise_leak(alpha * np.diag(A))
    off = alpha * (A - np.diag(np.diag(A)))
    lateral, exp = quantise_weights(off)
    realised = (np.diag(leak / 2.0**LEAK_BITS) + lateral * 2.0**exp) / alpha
    return FixedLateral(alpha_shift=k, leak=leak, lateral=lateral, lateral_exp=exp,
                        realised=realised)


def _mantissa_var(exp: int) -> float:
    """Variance of rounding to the grid of even mantissas: step ``2^(exp+1)``."""
    return (2.0 ** (exp + 1)) ** 2 / 12.0


def predict_error(stages: list[dict], X: np.ndarray, frac_bits: int) -> np.ndarray:
    """First-order predicted RMS logit error per sample from the bit widths.

    Parameters
    ----------
    stages : list of dict
        Per network layer: ``A`` (float lateral or None), ``fixed_lateral`` (FixedLateral or
        None), ``W``, ``W_exp``, ``b``, ``activation``, ``negative_slope``.
    X : ndarray, shape (N, n_in)
    frac_bits : int

    Returns
    -------
    ndarray, shape (N,)
        ``sqrt(tr Σ_out / n_out)`` where ``Σ`` is propagated as ``Σ_x̄ = A⁻¹(Σ_h + D_A)A⁻ᵀ``,
        ``Σ_z = W Σ_x̄ Wᵀ + D_W + σ²_b I``, ``Σ_h' = J Σ_z J`` (``J = diag f'(z)``), with
        ``D_A = diag_i(Σ_j var(δA_ij) x̄_j²)`` and ``D_W = diag_i(var(δW) ‖x̄‖²)``.
    """
    lsb2 = 2.0 ** (-2 * frac_bits)
    out = np.empty(X.shape[0])
    for s, x in enumerate(np.asarray(X, dtype=np.float64)):
        h = x
        cov = np.eye(h.size) * lsb2 / 12.0
        for st in stages:
            if st["A"] is not None:
                A, fl = st["A"], st["fixed_lateral"]
                Ainv = np.linalg.inv(A)
                xbar = Ainv @ h
                var_off = _mantissa_var(fl.lateral_exp) / fl.alpha**2
                var_diag = (2.0**-LEAK_BITS / fl.alpha) ** 2 / 12.0
                d_a = var_off * (np.sum(xbar**2) - xbar**2) + var_diag * xbar**2
                # three floored shifts per sub-step, each mean square LSB²/3, enter as α·A x̄
                d_floor = lsb2 / fl.alpha**2
                cov = Ainv @ (cov + np.diag(d_a + d_floor)) @ Ainv.T
            else:
                xbar = h
            W = st["W"]
            z = W @ xbar + st["b"]
            cov = W @ cov @ W.T + np.eye(z.size) * (
                _mantissa_var(st["W_exp"]) * np.sum(xbar**2) + lsb2 / 12.0 + lsb2 / 3.0)
            act = st["activation"]
            if act == "identity":
                deriv = np.ones_like(z)
            elif act == "relu":
                deriv = (z > 0).astype(float)
            else:
                deriv = np.where(z > 0, 1.0, st["negative_slope"])
            cov = deriv[:, None] * cov * deriv[None, :]
            h = z if act == "identity" else np.where(z > 0, z, deriv * z)
        out[s] = math.sqrt(float(np.trace(cov)) / cov.shape[0])
    return out
