"""Fitted curves of device statistics as functions of the normalised conductance g = G/G_max.

Two shapes cover the published fits:

- :func:`polynomial`: Σ_k c_k g^k (programming noise, Nandakumar 2019 ICECS; aihwkit
  ``PCMLikeNoiseModel.prog_coeff``, ``HermesNoiseModel.prog_coeff``,
  ``ReRamWan2022NoiseModel.coeff_dic``).
- :func:`log_or_polynomial`: clip(a ln g + b, lo, hi) below a break point and a polynomial
  above it. With no polynomial it is the clipped log-linear law of the PCM drift exponent
  (Nandakumar 2019; aihwkit ``PCMLikeNoiseModel.generate_drift_coefficients``); with one it is
  the branch function aihwkit's ``HermesNoiseModel`` fits to the HERMES chip (Le Gallo 2023)
  for the mean and spread of ν and for the 1/f amplitude Q_s.
"""

from __future__ import annotations

import numpy as np

#: aihwkit floors g/G_max at 1e-7 before taking its logarithm (``_ZERO_CLIP`` in noise/pcm.py)
G_FLOOR = 1e-7


def polynomial(coeffs: tuple[float, ...], g: np.ndarray) -> np.ndarray:
    """Σ_k c_k g^k by Horner's rule (``coeffs`` in ascending powers)."""
    g = np.asarray(g, dtype=float)
    out = np.zeros_like(g)
    for c in reversed(coeffs):
        out = out * g + c
    return out


def log_or_polynomial(g: np.ndarray, slope: float, intercept: float, lo: float, hi: float,
                      brk: float = 0.0, poly: tuple[float, ...] = ()) -> np.ndarray:
    """clip(slope · ln g + intercept, lo, hi) for g < ``brk`` (everywhere when ``poly`` is
    empty), and Σ_k poly_k g^k for g ≥ ``brk``."""
    g = np.maximum(np.abs(np.asarray(g, dtype=float)), G_FLOOR)
    low = np.clip(slope * np.log(g) + intercept, lo, hi)
    if not poly:
        return low
    return np.where(g < brk, low, polynomial(poly, g))
