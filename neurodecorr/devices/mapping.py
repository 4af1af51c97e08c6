"""Weights to conductances and back.

Differential pair: w = s (G⁺ − G⁻)/ΔG with ΔG = G_max − G_min; the sign of w selects which
device of the pair carries the magnitude, the other stays at G_min.
Single device with a reference column: w = 2 s (G − G_ref)/ΔG with G_ref = (G_min + G_max)/2,
one reference device per output row subtracted from that row's current.
``s`` is the per-array weight scale: normalised weights w/s lie in [−1, 1].
"""

from __future__ import annotations

import numpy as np

from neurodecorr.devices.config import MappingConfig
from neurodecorr.errors import NeurodecorrError


def weight_scale(weights: np.ndarray, headroom: float) -> float:
    """s = headroom · max|W| (1 for an all-zero array, so that writes can still grow it)."""
    peak = float(np.max(np.abs(weights))) if weights.size else 0.0
    return headroom * peak if peak > 0 else 1.0


def to_conductances(w_norm: np.ndarray, cfg: MappingConfig,
                    clip: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Normalised weights in [−1, 1] -> the two device arrays of the mapping (µS).

    Returns ``(G⁺, G⁻)`` of shape (out, in) each for ``differential``, or ``(G, G_ref)`` with
    ``G_ref`` of shape (out, 1) for ``reference``. ``clip`` False keeps weights beyond ±1
    (pulsed devices whose own bounds exceed the nominal range).
    """
    w = np.clip(w_norm, -1.0, 1.0) if clip else np.asarray(w_norm, dtype=float)
    if cfg.scheme == "differential":
        gp = cfg.g_min_uS + cfg.g_range_uS * np.maximum(w, 0.0)
        gn = cfg.g_min_uS + cfg.g_range_uS * np.maximum(-w, 0.0)
        return gp, gn
    g_ref = 0.5 * (cfg.g_min_uS + cfg.g_max_uS)
    g = g_ref + 0.5 * cfg.g_range_uS * w
    return g, np.full((w.shape[0], 1), g_ref)


def to_weights(a: np.ndarray, b: np.ndarray, cfg: MappingConfig) -> np.ndarray:
    """The inverse of :func:`to_conductances`: two device arrays -> normalised weights."""
    if cfg.scheme == "differential":
        return (a - b) / cfg.g_range_uS
    return 2.0 * (a - b) / cfg.g_range_uS


def check_weights(weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights)
    if w.ndim != 2 or w.dtype.kind not in "fiu":
        raise NeurodecorrError(f"crossbar weights: expected a 2-D numeric array, got shape "
                               f"{w.shape} dtype {w.dtype}")
    if not np.all(np.isfinite(w)):
        raise NeurodecorrError("crossbar weights: contain NaN or infinite values")
    return w.astype(np.float64)
