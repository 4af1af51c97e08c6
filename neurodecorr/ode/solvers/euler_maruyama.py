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

from neurodecorr.ode import kernels
from neurodecorr.ode.solvers.base import Stepper
from neurodecorr.ode.solvers.euler import Euler, EulerStepper


class EulerMaruyamaStepper(EulerStepper):
    def __init__(self, field, X, Y, rng):
        super().__init__(field, X, Y)
        self.noise_std = field.noise_std
        self.Z = np.empty_like(Y)
        self.rng = rng
        self._s = (None, None)

    def advance(self, t, h):
        if not self.measured:
            self.measure(t)
        self.measured = False
        if self._s[0] != h:
            self._s = (h, self.Y.dtype.type(self.noise_std * math.sqrt(2.0 * h)))
        self.rng.standard_normal(out=self.Z, dtype=self.Z.dtype)
        kernels.axpy2(self.Y, self.R, self.h(h), self.Z, self._s[1])

    # every step draws noise and measures: Euler's fused run of plain steps does not apply
    run = Stepper.run


class EulerMaruyama(Euler):
    """Euler–Maruyama (see module docstring): Euler's drift plus the noise increment."""

    name = "euler-maruyama"
    stochastic = True

    def init(self, field, X, Y, rng, t_end_s, tol):
        return EulerMaruyamaStepper(field, X, Y, rng)
