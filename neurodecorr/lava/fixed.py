"""Loihi 2 fixed-point encodings, the scales that fill them, and the error they predict.

Encodings (Lava's bit-accurate models, ``lava/proc/dense/models.py``, ``lava/proc/lif/models.py``,
``lava/utils/weightutils.py``):

- state and graded payloads: signed 24-bit integers, saturated at ``[−2²³, 2²³ − 1]``; stage
  ``l`` holds ``value · 2^F_l`` with its own number of fractional bits ``F_l``;
- synaptic weights: an 8-bit mantissa (even integers in ``[−254, 254]``: Lava drops the lowest
  bit in mixed-sign mode, and −256 does not survive its inhibitory-mode clip) times
  ``2^weight_exp`` with ``weight_exp`` in ``[−8, 7]`` (a flooring shift of the accumulated
  sum, ``lava/proc/dense/models.py``); a larger right shift is split between the ``Dense``
  (−8) and the receiving neuron (the rest, :func:`shift_floor`: two floors by powers of two
  compose exactly into one);
- the synaptic input a neuron receives: a 24-bit accumulator, saturated (:func:`saturate`);
  the exporter checks that no ``Dense`` output can exceed Lava's 32-bit message;
- per-neuron multipliers (the input gain and the decay ``α A_ii``): 12 bits, applied as a
  24 × 12-bit product shifted right with rounding toward zero (:func:`mul_shift`), as Lava's
  bit-accurate LIF applies its decay, ``sign(p)·(|p| >> 12)`` with ``p = v · (4096 − dv)``;
- the leaky-ReLU slope: ``m · 2^−s`` with an 8-bit ``m``.

Filling the ranges
    A power-of-two exponent leaves a weight matrix's largest mantissa anywhere in ``(127, 254]``;
    here every row of a weight matrix is scaled so that its largest entry is exactly ±254. The
    networks are positively homogeneous (ReLU, leaky ReLU, identity; linear lateral dynamics), so
    a positive per-neuron scale ``c_i`` on the synaptic input ``a_i`` is undone exactly by the
    receiving neuron's 12-bit input gain ``g_i ≈ 1/c_i`` (:func:`quantise_gain`), which also
    maps the ``Dense`` output to the stage's ``F_l``. The lateral dynamics use a per-neuron
    Euler step ``p_i = κ / r_i`` (``r_i``: the row's largest off-diagonal ``|A_ij|``, the
    iteration ``x̄ ← x̄ + P(x − A x̄)`` is preconditioned Richardson, same fixed point ``A⁻¹x``),
    so every row of the lateral mantissas also reaches ±254; the drive ``p_i x_i`` is folded
    into the same input gain. ``F_l`` and the ``Dense`` shifts are the largest that keep the
    calibration data's peak (times a headroom) inside 24 bits.

Prediction
    Rounding a value to a grid of step ``Δ`` leaves an error of variance ``Δ²/12``; ``k``
    arithmetic right shifts (floor) leave a mean square of ``(k/12 + k²/4)·LSB²``. Propagating
    these to first order through the network (Widrow & Kollár, *Quantization Noise*, 2008, ch. 4
    and 12) predicts the logit error from the bit widths alone: :func:`predict_error`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurodecorr.errors import NeurodecorrError

STATE_BITS = 24
WEIGHT_BITS = 8
LEAK_BITS = 12
GAIN_BITS = 12
SLOPE_BITS = 8
STATE_MAX = 2 ** (STATE_BITS - 1) - 1
STATE_MIN = -(2 ** (STATE_BITS - 1))
#: largest mixed-sign mantissa after Lava's truncation of the lowest bit
MANT_MAX = 2**WEIGHT_BITS - 2
#: weight exponents a Loihi 2 ``Dense`` takes (Lava's tooling stays at or above −8)
WEIGHT_EXP_RANGE = (-8, 7)
#: bits of the message a Lava ``Dense`` sends (``a_out`` is int32)
DENSE_MESSAGE_BITS = 32
#: headroom over the calibration peak that the 24-bit state and payloads keep
HEADROOM = 4.0


def quantise_rows(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-row full-range mantissas: ``w_ij ≈ mant_ij · σ_i`` with ``max_j |mant_ij| = 254``.

    Returns ``(mant, σ)``; mantissas are even (Lava's mixed-sign grid), so row ``i`` is rounded
    to a grid of step ``2σ_i = 2 max_j |w_ij| / 254``. An all-zero row gets ``σ_i = 1``.
    """
    rowmax = np.max(np.abs(w), axis=1)
    sigma = np.where(rowmax > 0, rowmax / MANT_MAX, 1.0)
    mant = 2 * np.round(w / (2.0 * sigma[:, None]))
    return np.clip(mant, -MANT_MAX, MANT_MAX).astype(np.int64), sigma


def quantise_gain(g: np.ndarray) -> tuple[np.ndarray, int]:
    """12-bit unsigned per-neuron multiplier: ``g ≈ G · 2^−s`` with ``max G ≤ 4095``."""
    gmax = float(np.max(g))
    s = math.floor(math.log2((2**GAIN_BITS - 1) / gmax))
    if s < 0:
        raise NeurodecorrError(f"input gain {gmax:.6g} does not fit a 12-bit multiplier")
    return np.round(np.asarray(g) * 2.0**s).astype(np.int64), s


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


def choose_frac_bits(peak: float, headroom: float = HEADROOM) -> int:
    """Most fractional bits ``F`` such that ``headroom · peak`` still fits in 24 bits."""
    return int(STATE_BITS - 1 - math.ceil(math.log2(max(peak * headroom, 1e-300))))


def floor_mean_square(k: int) -> float:
    """Mean square, in LSB², of the summed error of ``k`` independent flooring shifts."""
    return k / 12.0 + k * k / 4.0


def lateral_rows(A: np.ndarray) -> np.ndarray:
    """``r_i``: the largest off-diagonal ``|A_ij|`` of row ``i``, at least ``A_ii / 4``.

    The floor keeps each neuron's Euler step ``p_i = κ/r_i`` within 4× the Jacobi step
    ``1/A_ii``, so a nearly uncoupled neuron cannot force a tiny ``κ`` on the whole layer.
    """
    off = np.abs(A - np.diag(np.diag(A)))
    return np.maximum(off.max(axis=1), np.diag(A) / 4.0)


@dataclass(frozen=True)
class FixedLateral:
    """The integer lateral dynamics ``v ← v + drive − (leak·v >> 12) − (Q v)·2^e``.

    ``step`` is the per-neuron Euler step ``p``; ``realised`` is ``Â``, the matrix whose fixed
    point ``Â⁻¹x`` the integer dynamics settle to (``P Â = diag(leak)/4096 + Q·2^e``).
    """

    step: np.ndarray
    leak: np.ndarray
    lateral: np.ndarray
    lateral_exp: int
    realised: np.ndarray


def quantise_lateral(A: np.ndarray, kappa: float, rows: np.ndarray | None = None
                     ) -> FixedLateral:
    """Quantise ``P A`` with ``p_i = κ / r_i`` (``rows``, default :func:`lateral_rows`).

    With ``κ = 254 · 2^e`` every row's largest off-diagonal mantissa is ±254; the diagonal
    ``p_i A_ii`` becomes a 12-bit leak.
    """
    step = kappa / (lateral_rows(A) if rows is None else rows)
    exp = math.floor(math.log2(kappa / MANT_MAX))
    PA = step[:, None] * A
    if np.max(np.diag(PA)) >= 1.0:
        raise NeurodecorrError(f"lateral step κ = {kappa:.6g} makes a leak p_i·A_ii >= 1")
    leak = quantise_leak(np.diag(PA))
    off = PA - np.diag(np.diag(PA))
    lateral = np.clip(2 * np.round(off / 2.0 ** (exp + 1)), -MANT_MAX,
                      MANT_MAX).astype(np.int64)
    realised = (np.diag(leak / 2.0**LEAK_BITS) + lateral * 2.0**exp) / step[:, None]
    return FixedLateral(step=step, leak=leak, lateral=lateral, lateral_exp=exp,
                        realised=realised)


# --- integer operations of the fixed-point models (shared by Lava's models and the emulation) ---

def saturate(v: np.ndarray) -> np.ndarray:
    """Clip to the 24-bit signed range of Loihi's state, accumulators and graded payloads."""
    return np.clip(v, STATE_MIN, STATE_MAX)


def shift_floor(v: np.ndarray, exp: int) -> np.ndarray:
    """``v · 2^exp``: a left shift, or an arithmetic (flooring) right shift, as Lava's ``Dense``."""
    v = np.asarray(v, dtype=np.int64)
    return np.left_shift(v, exp) if exp >= 0 else np.right_shift(v, -exp)


def mul_shift(v: np.ndarray, m: np.ndarray, s: int) -> np.ndarray:
    """``(m · v) >> s`` rounded toward zero, saturated to 24 bits.

    ``v`` is a 24-bit value and ``m`` a 12-bit multiplier, so the product needs 36 bits
    (exact in int64); rounding toward zero is Lava's bit-accurate LIF decay,
    ``np.sign(p) * np.right_shift(np.abs(p), 12)`` (``lava/proc/lif/models.py``).
    """
    p = np.asarray(v, dtype=np.int64) * np.asarray(m, dtype=np.int64)
    return saturate(np.sign(p) * np.right_shift(np.abs(p), s))


def decay(v: np.ndarray, d: np.ndarray) -> np.ndarray:
    """12-bit decay ``v · (4096 − d) / 4096`` rounded toward zero, as Lava's LIF decays ``v``."""
    return mul_shift(v, 2**LEAK_BITS - np.asarray(d, dtype=np.int64), LEAK_BITS)


def activate_int(z: np.ndarray, activation: str, slope_mant: int, slope_shift: int
                 ) -> np.ndarray:
    """Integer activation; the leaky slope is ``slope_mant · 2^−slope_shift`` (toward zero)."""
    if activation == "identity":
        return z
    if activation == "relu":
        return np.maximum(z, 0)
    return np.where(z > 0, z, mul_shift(z, slope_mant, slope_shift))


def dense_bound(weight: np.ndarray, exp: int) -> float:
    """Largest ``|Dense output|`` for 24-bit payloads: ``max_i Σ_j |w_ij| · 2^23 · 2^exp``."""
    return float(np.max(np.sum(np.abs(weight), axis=1))) * 2.0 ** (STATE_BITS - 1 + exp)


def _deriv(z: np.ndarray, activation: str, slope: float) -> np.ndarray:
    if activation == "identity":
        return np.ones_like(z)
    if activation == "relu":
        return (z > 0).astype(float)
    return np.where(z > 0, 1.0, slope)


def predict_error(stages: list[dict], X: np.ndarray) -> np.ndarray:
    """First-order predicted RMS logit error per sample from the bit widths.

    Parameters
    ----------
    stages : list of dict
        One per network layer (from :func:`neurodecorr.lava.export.prediction_stages`), in true
        units: ``lsb_in`` (input encoding step), ``gain_rel_in`` and ``lsb_z_in`` (the first
        stage's relative gain step and its state step over ``p``; first stage only), ``A`` and
        ``fixed_lateral`` (or None), ``lsb_xbar`` and ``floors_xbar`` (state step and flooring
        shifts per lateral sub-step),
        ``W``, ``W_step`` (per-row rounding step of the weights), ``lsb_a`` (per-row step of
        the ``Dense`` output shift), ``gain_rel_step`` (per-row step of the receiving gain
        relative to the gain), ``lsb_z`` (state step of the receiving stage, divided by the
        drive scale ``p`` where the stage drives lateral dynamics), ``b``, ``activation``,
        ``negative_slope``.
    X : ndarray, shape (N, n_in)

    Returns
    -------
    ndarray, shape (N,)
        ``sqrt(tr Σ_out / n_out)``: the covariance is propagated as
        ``Σ_x̄ = Â⁻¹(Σ_x + D_A + D_floor)Â⁻ᵀ`` (``D_A = diag_i Σ_j var(δA_ij) x̄_j²``),
        ``Σ_z = W Σ_x̄ Wᵀ + diag(var(δW_i)‖x̄‖² + Δ_a²/3 + var(δg_i) z_i² + Δ_z²(1/3 + 1/12))``
        and ``Σ_h = J Σ_z J`` with ``J = diag f'(z)``.
    """
    out = np.empty(X.shape[0])
    for s, x in enumerate(np.asarray(X, dtype=np.float64)):
        h = x
        first = stages[0]
        # input: encoding, then the first stage's gain (relative rounding) and its floor
        cov = np.diag(first["lsb_in"] ** 2 / 12.0 + first["gain_rel_in"] ** 2 / 12.0 * x**2
                      + first["lsb_z_in"] ** 2 * floor_mean_square(1))
        for st in stages:
            if st["A"] is not None:
                A, fl = st["A"], st["fixed_lateral"]
                Ainv = np.linalg.inv(A)
                xbar = Ainv @ h
                var_off = (2.0 ** (fl.lateral_exp + 1) / fl.step) ** 2 / 12.0
                var_diag = (2.0**-LEAK_BITS / fl.step) ** 2 / 12.0
                d_a = var_off * (np.sum(xbar**2) - xbar**2) + var_diag * xbar**2
                d_floor = floor_mean_square(st["floors_xbar"]) * (st["lsb_xbar"] / fl.step) ** 2
                cov = Ainv @ (cov + np.diag(d_a + d_floor)) @ Ainv.T
            else:
                xbar = h
            W = st["W"]
            z = W @ xbar + st["b"]
            cov = W @ cov @ W.T + np.diag(
                st["W_step"] ** 2 / 12.0 * np.sum(xbar**2) + st["lsb_a"] ** 2 / 3.0
                + st["gain_rel_step"] ** 2 / 12.0 * z**2
                + st["lsb_z"] ** 2 * (floor_mean_square(1) + 1.0 / 12.0))
            deriv = _deriv(z, st["activation"], st["negative_slope"])
            cov = deriv[:, None] * cov * deriv[None, :]
            h = z * deriv if st["activation"] != "identity" else z
        out[s] = math.sqrt(float(np.trace(cov)) / cov.shape[0])
    return out
