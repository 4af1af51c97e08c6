"""Forward Euler: ``x̄ ← x̄ + h (x − A x̄ − λ x̄)``, ``h = dt/τ``.

First order; one lateral product per step. Stable for ``h < 2 Re μ / |μ|²`` for every
eigenvalue μ of ``A + λI``. The workhorse for settling: the error of the fixed point does not
depend on the step (the iteration's fixed point is exactly ``(A + λI)⁻¹ x``), only the speed does.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.circuits import kernels
from neurodecorr.circuits.integrators.base import FixedStepSolver


class _EulerStepper:
    def __init__(self, field, X, Y, h):
        self.field, self.X, self.Y = field, X, Y
        self.h = Y.dtype.type(h)
        self.leak = Y.dtype.type(field.leak)
        self.P = np.empty_like(Y)
        self.R = np.empty_like(Y)
        self.rsq = np.empty(Y.shape[0])
        self.measured = False
        self.nfev = 0

    def measure(self, t):
        self.field.reader.read(self.Y, t, self.P)
        self.nfev += 1
        kernels.residual(self.X, self.P, self.Y, self.leak, self.R, self.rsq)
        self.measured = True
        return self.rsq

    def step(self, t):
        if self.measured:
            kernels.axpy(self.Y, self.R, self.h)
            self.measured = False
            return
        self.field.reader.read(self.Y, t, self.P)
        self.nfev += 1
        kernels.euler_step(self.Y, self.X, self.P, self.leak, self.h)


class Euler(FixedStepSolver):
    """Forward Euler with a fixed step (see module docstring)."""

    name = "euler"

    def stepper(self, field, X, Y, h, dt_s, rng):
        return _EulerStepper(field, X, Y, h)
