"""Stuck-at faults, fixed per device from the seed.

Each device is independently stuck at G_min with probability f_min, at G_max with f_max, or at
a conductance drawn uniformly from [G_min, G_max] with f_rand (one uniform draw u per device:
u < f_min, f_min ≤ u < f_min + f_max, ...). Stuck devices neither drift nor respond to writes.
Measured ReRAM arrays show 9.8–13.5 % corrupt devices (Gong & Rasch et al. 2022, IEDM).
"""

from __future__ import annotations

import numpy as np

from neurodecorr.devices.config import FaultsConfig, MappingConfig


def draw_stuck(shape: tuple[int, ...], faults: FaultsConfig, mapping: MappingConfig,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Returns a boolean mask of stuck devices and the conductances they are stuck at (µS)."""
    u = rng.random(shape)
    value = rng.uniform(mapping.g_min_uS, mapping.g_max_uS, size=shape)
    lo = u < faults.stuck_g_min_frac
    c1 = faults.stuck_g_min_frac + faults.stuck_g_max_frac
    hi = (u >= faults.stuck_g_min_frac) & (u < c1)
    rnd = (u >= c1) & (u < c1 + faults.stuck_random_frac)
    value = np.where(lo, mapping.g_min_uS, np.where(hi, mapping.g_max_uS, value))
    return lo | hi | rnd, value
