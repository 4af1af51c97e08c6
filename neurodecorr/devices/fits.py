"""Fitted curves of device statistics as functions of the normalised conductance g = G/G_max.

Two shapes cover the published fits:

- :func:`polynomial`: Σ_k c_k g^k (programming noise, Nandakumar 2019 ICECS; aihwkit
  ``PCMLikeNoiseModel.prog_coeff``, ``HermesNoiseModel.prog_coeff``,
  ``ReRamWan2022NoiseModel.coeff_dic``).
- :func:`log_or_polynomial`: clip(a ln g + b, lo, hi) below a break point and a polynomial
  above it. With no polynomial it is the clipped log-linear law of the PCM drift exponent
  (Nandakumar 2019; aihwkit ``PCMLikeNoiseModel.generate_drift_coefficients``); with one it is
  the branch function aihwkit's ``HermesNoiseModel`` fits to the HERMES chip (Le Gallo 2023)
  for the mean and spread of ν and for the 1/f amplitude Q_s; :class:`LogOrPolynomial` holds
  one such fit's parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, ClassVar

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


@dataclass(frozen=True)
class LogOrPolynomial:
    """One fitted :func:`log_or_polynomial` curve: ``clip(slope·ln g + intercept, lo, hi)``
    below ``brk`` (everywhere without ``poly``), ``Σ_k poly_k g^k`` from ``brk`` on.

    In a preset table the curve of a quantity ``q`` is written flat, one key per parameter
    (:data:`KEYS`): ``q_slope``, ``q_intercept``, ``q_min``, ``q_max``, ``q_break``, ``q_poly``.
    """

    slope: float = 0.0
    intercept: float = 0.0
    lo: float = 0.0
    hi: float = 0.0
    brk: float = 0.0
    poly: tuple[float, ...] = ()

    #: flat-key suffix -> field
    KEYS: ClassVar[dict[str, str]] = {"slope": "slope", "intercept": "intercept", "min": "lo",
                                      "max": "hi", "break": "brk", "poly": "poly"}

    def __call__(self, g: np.ndarray) -> np.ndarray:
        return log_or_polynomial(g, self.slope, self.intercept, self.lo, self.hi, self.brk,
                                 self.poly)

    def flat(self, name: str) -> dict[str, Any]:
        """The flat keys of the curve of ``name``: ``{name_slope: ..., ...}``."""
        return {f"{name}_{suffix}": getattr(self, key) for suffix, key in self.KEYS.items()}

    def with_flat(self, name: str, values: dict[str, Any]) -> LogOrPolynomial:
        """This curve with the flat keys in ``values`` (others keep their values)."""
        return replace(self, **{key: values[f"{name}_{suffix}"]
                                for suffix, key in self.KEYS.items()
                                if f"{name}_{suffix}" in values})
