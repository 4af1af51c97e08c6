"""The activations of a layer, ``f`` and its derivative ``f′``: one definition for every backend.

All three are the leaky ReLU with a slope ``s`` below zero,

    f(z) = z        for z > 0,     f(z) = s z    otherwise,
    f′(z) = 1       for z > 0,     f′(z) = s     otherwise,

with ``s = 1`` for ``identity`` (the output layer: its pre-activations are the logits),
``s = 0`` for ``relu`` and ``s = negative_slope`` for ``leaky_relu`` (Maas, Hannun & Ng 2013).
At ``z = 0`` the derivative is taken from below, as PyTorch does for ``leaky_relu``.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.errors import NeurodecorrError

ACTIVATIONS = ("identity", "relu", "leaky_relu")


def slope_below_zero(name: str, negative_slope: float = 0.01) -> float:
    """The slope ``s`` of activation ``name`` below zero (1, 0 or ``negative_slope``)."""
    if name == "identity":
        return 1.0
    if name == "relu":
        return 0.0
    if name == "leaky_relu":
        return float(negative_slope)
    raise NeurodecorrError(f"unknown activation '{name}'; choose one of: {', '.join(ACTIVATIONS)}")


def activate(z: np.ndarray, name: str, negative_slope: float = 0.01) -> np.ndarray:
    """``f(z)`` of activation ``name`` (see the module docstring)."""
    s = slope_below_zero(name, negative_slope)
    return z if s == 1.0 else np.where(z > 0, z, s * z)


def derivative(z: np.ndarray, name: str, negative_slope: float = 0.01) -> np.ndarray:
    """``f′(z)`` of activation ``name``: 1 above zero, ``s`` at and below zero."""
    return np.where(z > 0, 1.0, slope_below_zero(name, negative_slope))
