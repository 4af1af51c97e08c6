"""Euler–Maruyama for the noisy circuit ``dx̄ = (x − (A + λI) x̄)/τ dt + σ dW``.

``x̄ ← x̄ + h (x − A x̄ − λ x̄) + noise_std · sqrt(2h) · ξ`` with ``h = dt/τ``, ξ ~ N(0, I) drawn
from the caller's generator, and ``σ = noise_std · sqrt(2/τ)`` (Kloeden & Platen 1992, §9.1).
With additive noise the mean-square stability limit equals Euler's. The discrete stationary
covariance differs from the continuous Lyapunov solution by O(h), so use steps well below the
stability limit when the statistics of the fluctuations matter. A noisy circuit never settles
below its noise floor: it is integrated to a fixed horizon (see docs/simulator.md).
"""

from __future__ import annotations

import math

import numpy as np

from neurodecorr.circuits import kernels
from neurodecorr.circuits.integrators.base import FixedStepSolver
from neurodecorr.circuits.integrators.euler import _EulerStepper


class _EMStepper(_EulerStepper):
    def __init__(self, field, X, Y, h, rng):
        super().__init__(field, X, Y, h)
        self.s = Y.dtype.type(field.noise_std * math.sqrt(2.0 * h))
        self.Z = np.empty_like(Y)
        self.rng = rng

    def step(self, t):
        if not self.measured:
            self.measure(t)
        self.measured = False
        self.rng.standard_normal(out=self.Z, dtype=self.Z.dtype)
        kernels.axpy2(self.Y, self.R, self.h, self.Z, self.s)


class EulerMaruyama(FixedStepSolver):
    """Euler–Maruyama with a fixed step (see module docstring)."""

    name = "euler-maruyama"

    def stepper(self, field, X, Y, h, dt_s, rng):
        return _EMStepper(field, X, Y, h, rng)
