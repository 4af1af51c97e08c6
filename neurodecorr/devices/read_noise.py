"""Read noise: fresh per-read noise and the accumulated 1/f noise of each device.

Per read (``[read] model``), each device reads G + σ(G) ξ with fresh ξ at every read:

- ``constant``: σ = σ_r (CrossSim's read noise; aihwkit ``WeightNoiseType.ADDITIVE_CONSTANT``).
- ``state_dependent``: σ = σ_r sqrt(G/G_max), the device-level form of aihwkit's
  ``WeightNoiseType.PCM_READ`` (``rpu_forward_backward_pass.cpp``, ``applyOutputWeightNoise``:
  y_i += w_noise sqrt(Σ_j |w_ij| x_j²) ξ), whose variance grows with the current a device
  carries. Rasch et al. 2023 (aihwkit ``StandardHWATrainingPreset``) use w_noise = 0.0175.

Both are applied output-referred (the sum of independent Gaussians over a row is one Gaussian):
Var(y_i) = Σ_j σ²(G_ij) x̂_j² / ΔG'² for the scheme's ΔG' (:class:`PerReadNoise`).

Accumulated 1/f noise (``[read] flicker_model``, Nandakumar 2019 ICECS), standard deviation
A(g) sqrt(v), v = ln((t + t_r)/(2 t_r)):

- ``power``: A = g Q_s, Q_s = min(c (g_prog/G_max)^(−e), Q_max), g/G_max floored at 1e-3
  (aihwkit ``PCMLikeNoiseModel``);
- ``piecewise``: A = g Q_s, Q_s = clip(a ln g + b, Q_min, Q_max) below a break, a polynomial
  above (aihwkit ``HermesNoiseModel``, fitted on the HERMES chip, Le Gallo 2023);
- ``log10``: A = K log10(g/µS) µS (aihwkit ``ReRamCMONoiseModel``, Falcone et al. 2025).
"""

from __future__ import annotations

import math

import numpy as np

from neurodecorr.devices.config import MappingConfig, ReadConfig


def flicker_variance(clock_s: np.ndarray, t_read_s: float) -> np.ndarray:
    """v = max(ln((t + t_r)/(2 t_r)), 0) at the model's clock t."""
    return np.maximum(np.log((clock_s + t_read_s) / (2.0 * t_read_s)), 0.0)


class Flicker:
    """Amplitude A(g) of the accumulated 1/f noise, via a per-device coefficient ``q``."""

    def __init__(self, read: ReadConfig, mapping: MappingConfig):
        self.read, self.mapping = read, mapping
        self.enabled = read.has_flicker
        #: whether A = |g| q (``power``, ``piecewise``), not q log10(g) (``log10``)
        self.relative = read.flicker_model != "log10"

    def q(self, g_prog_uS: np.ndarray) -> np.ndarray:
        """Q_s for the relative forms, K for ``log10`` (zeros when the noise is off)."""
        r = self.read
        g = np.asarray(g_prog_uS, dtype=float)
        if not self.enabled:
            return np.zeros(g.shape)
        if r.flicker_model == "log10":
            return np.full(g.shape, r.flicker_k_uS)
        g_norm = np.divide(np.abs(g), self.mapping.g_max_uS, out=np.empty(g.shape))
        if r.flicker_model == "power":
            # in place: the same operations without a temporary each
            np.maximum(g_norm, 1e-3, out=g_norm)
            np.power(g_norm, r.flicker_q_exponent, out=g_norm)
            np.divide(r.flicker_q_coeff, g_norm, out=g_norm)
            return np.minimum(g_norm, r.flicker_q.hi, out=g_norm)
        return r.flicker_q(g_norm)

    def amplitude(self, g_uS: np.ndarray, q: np.ndarray) -> np.ndarray:
        """A(g): g q for the relative forms, q log10(g) for ``log10`` (g floored at 1 µS)."""
        if self.read.flicker_model == "log10":
            return q * np.log10(np.maximum(g_uS, 1.0))
        return np.abs(g_uS) * q


class PerReadNoise:
    """Output-referred standard deviation of the fresh per-read device noise.

    Differential pair: w = (G⁺ − G⁻)/ΔG, so Var(y_i) = Σ_j (σ²(G⁺_ij) + σ²(G⁻_ij)) x̂_j²/ΔG².
    Reference column: w = 2 (G − G_ref,i)/ΔG, so
    Var(y_i) = (2/ΔG)² (Σ_j σ²(G_ij) x̂_j² + σ²(G_ref,i) (Σ_j x̂_j)²).
    For ``constant`` this is c² (Σ x̂² [+ (Σ x̂)²]) with one coefficient c (:attr:`coefficient`);
    for ``state_dependent`` σ² = σ_r² G/G_max and the row sums need one extra GEMM of
    x̂² with the matrix :meth:`variance_matrix`.
    """

    def __init__(self, read: ReadConfig, mapping: MappingConfig):
        self.read, self.mapping = read, mapping
        sr = read.noise_uS / mapping.g_range_uS
        self.state_dependent = read.model == "state_dependent" and read.noise_uS > 0
        if read.model == "constant":
            self.coefficient = math.sqrt(2.0) * sr if mapping.scheme == "differential" else 2 * sr
        else:
            self.coefficient = 0.0

    def variance_matrix(self, a_uS: np.ndarray, b_uS: np.ndarray) -> tuple[np.ndarray,
                                                                           np.ndarray | None]:
        """Per-device variances in normalised output units: ``(V, v_ref)`` with
        Var(y_i) = Σ_j V_ij x̂_j² + v_ref,i (Σ_j x̂_j)² (``v_ref`` None for the pair)."""
        m = self.mapping
        per_uS = self.read.noise_uS**2 / m.g_max_uS
        if m.scheme == "differential":
            return per_uS * (np.abs(a_uS) + np.abs(b_uS)) / m.g_range_uS**2, None
        scale = (2.0 / m.g_range_uS) ** 2 * per_uS
        return scale * np.abs(a_uS), scale * np.abs(b_uS[:, 0])

    def variance_matrix_t(self, a_uS: np.ndarray, b_uS: np.ndarray) -> tuple[np.ndarray,
                                                                             np.ndarray | None]:
        """:meth:`variance_matrix` with ``V`` transposed (C-contiguous ``Vᵀ``, in × out): the
        layout of the read's GEMM ``x̂² Vᵀ``, in one pass for the pair."""
        m = self.mapping
        if m.scheme == "differential":
            from neurodecorr.devices.kernels import pair_variance_t

            out = np.empty(a_uS.shape[::-1])
            pair_variance_t(a_uS, b_uS, self.read.noise_uS**2 / m.g_max_uS, m.g_range_uS**2,
                            out)
            return out, None
        v, v_ref = self.variance_matrix(a_uS, b_uS)
        return np.ascontiguousarray(v.T), v_ref
