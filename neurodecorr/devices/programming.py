"""Programming target conductances: finite levels, programming noise, write-verify.

1. Quantise the target to ``levels`` equally spaced states in [G_min, G_max] (if finite).
2. G = G_target + σ_prog(G_target/G_max) ξ, σ_prog a polynomial in µS (Nandakumar 2019,
   fitted on PCM; aihwkit ``PCMLikeNoiseModel.prog_coeff``).
3. Write-verify: up to ``write_verify_iterations`` times, devices with |G − G_target| greater
   than the tolerance are programmed again (a fresh draw). With p = P(|σξ| > tol) the fraction
   left outside the tolerance after k iterations is p^(k+1) (MemTorch's write-verify, in closed
   form).
4. Clamp at 0: a conductance cannot be negative. Nothing else is clipped, as in aihwkit
   (``PCMLikeNoiseModel.apply_programming_noise_to_conductance``: ``g_prog.clamp_(min=0.0)``):
   clipping at G_max as well would bias the mean low and shrink the spread near the top (at
   g = G_max the mean would sit 0.42 µS low and the sd be 0.62 instead of 1.06 µS for PCM).
"""

from __future__ import annotations

import numpy as np

from neurodecorr.devices.config import MappingConfig, ProgrammingConfig


def quantise_levels(g_uS: np.ndarray, levels: int, g_min_uS: float, g_max_uS: float) -> np.ndarray:
    """Round to the nearest of ``levels`` equally spaced states (``levels`` 0: unchanged)."""
    if levels == 0:
        return g_uS
    step = (g_max_uS - g_min_uS) / (levels - 1)
    idx = np.clip(np.rint((g_uS - g_min_uS) / step), 0, levels - 1)
    return g_min_uS + idx * step


def program(target_uS: np.ndarray, prog: ProgrammingConfig, mapping: MappingConfig,
            rng: np.random.Generator) -> tuple[np.ndarray, int]:
    """Program ``target_uS``; returns the programmed conductances and the number of
    programming operations (initial writes plus write-verify re-writes)."""
    target = quantise_levels(np.asarray(target_uS, dtype=float), prog.levels,
                             mapping.g_min_uS, mapping.g_max_uS)
    sigma = np.maximum(prog.sigma_uS(target / mapping.g_max_uS), 0.0)
    g = target + sigma * rng.standard_normal(target.shape)
    operations = target.size
    tol = prog.write_verify_tolerance_uS
    for _ in range(prog.write_verify_iterations):
        bad = np.abs(g - target) > tol
        n_bad = int(np.count_nonzero(bad))
        if n_bad == 0:
            break
        g[bad] = target[bad] + sigma[bad] * rng.standard_normal(n_bad)
        operations += n_bad
    return np.maximum(g, 0.0), operations
