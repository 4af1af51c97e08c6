"""Classical fourth-order Runge–Kutta.

Four lateral products per step; stability function ``R(z) = Σ_{k≤4} z^k/k!`` whose region
reaches ``z = −2.785`` on the real axis and ``±2.83i`` on the imaginary axis, so it tolerates
strongly rotating (non-symmetric) modes that Euler must take in small steps. Use it when the
trajectory itself matters (fourth-order accurate in ``dt``); for the fixed point alone Euler
is cheaper per unit of contraction when the spectrum is real.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.ode import kernels
from neurodecorr.ode.solvers.base import Solver, Stepper


class RK4Stepper(Stepper):
    def __init__(self, field, X, Y, tau_s):
        super().__init__(Y)
        self.field, self.X, self.tau_s = field, X, tau_s
        f = Y.dtype.type
        self.one, self.two = f(1), f(2)
        self.leak = f(field.leak)
        self.P = np.empty_like(Y)
        self.S = np.empty_like(Y)
        self.K = np.empty_like(Y)
        self.R = np.empty_like(Y)
        self.rsq = np.empty(Y.shape[0])
        self.measured = False
        self._h = None

    def _read(self, Y, t):
        self.field.reader.read(Y, t, self.P)
        self.nfev += 1

    def measure(self, t):
        self._read(self.Y, t)
        kernels.residual(self.X, self.P, self.Y, self.leak, self.R, self.rsq)
        self.measured = True
        return self.rsq

    def advance(self, t, h):
        if self._h != h:
            f = self.Y.dtype.type
            self._h, self.h2, self.hh, self.h6 = h, f(h / 2), f(h), f(h / 6)
        X, Y, S, K, P, leak = self.X, self.Y, self.S, self.K, self.P, self.leak
        dt = h * self.tau_s
        if not self.measured:
            self._read(Y, t)
        self.measured = False
        kernels.rk4_stage(Y, Y, X, P, leak, K, self.one, self.h2, True, S)
        self._read(S, t + dt / 2)
        kernels.rk4_stage(Y, S, X, P, leak, K, self.two, self.h2, False, S)
        self._read(S, t + dt / 2)
        kernels.rk4_stage(Y, S, X, P, leak, K, self.two, self.hh, False, S)
        self._read(S, t + dt)
        kernels.rk4_final(Y, S, X, P, leak, K, self.h6)


class RK4(Solver):
    """Classical RK4 (see module docstring)."""

    name = "rk4"

    def amplification(self, z):
        return 1.0 + z * (1.0 + z / 2.0 * (1.0 + z / 3.0 * (1.0 + z / 4.0)))

    def init(self, field, X, Y, rng, t_end_s, tol):
        return RK4Stepper(field, X, Y, field.tau_s)
