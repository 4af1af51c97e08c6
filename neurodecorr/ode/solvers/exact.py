"""The exact solution of the linear, noiseless circuit.

    x̄(t) = x̄* + e^{−(A+λI) t/τ} (x̄₀ − x̄*),      x̄* = (A + λI)⁻¹ x

and its residual ``r(t) = x − (A+λI) x̄(t) = e^{−(A+λI) t/τ} r(0)``. Settling times come from
the residual propagated exactly on a grid of step Δ (one product with the propagator
``e^{−(A+λI)Δ/τ}`` per grid step; the grid is a constant step-size controller, default
``Δ = τ ln 2 / min Re μ``) and refined by bisection with the propagators of Δ/2, Δ/4, … so
they are resolved to ``Δ / 2^levels``. Matrix exponentials are computed by
``scipy.linalg.expm`` (Al-Mohy & Higham 2009) in float64; states are returned in the field's dtype.

The residual reported at the end is recomputed from the returned states (one product), so a
fixed point spoiled by rounding (a near-singular matrix) is reported as it is.

Use it for reference trajectories and for exact settling times of the ideal circuit; it needs
the ideal reader (a device's reads are not a fixed matrix) and no noise.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import expm

from neurodecorr.ode.solvers.base import Solver, Stepper


def exact_solution(field, X: np.ndarray, t_s: np.ndarray, y0: np.ndarray | None = None
                   ) -> np.ndarray:
    """States of the ideal circuit at the times ``t_s`` (s), in float64.

    Returns an array of shape ``(len(t_s),) + X.shape``.
    """
    X64 = np.atleast_2d(np.asarray(X, dtype=np.float64))
    Y0 = np.zeros_like(X64) if y0 is None else np.atleast_2d(np.asarray(y0, dtype=np.float64))
    out = _states(field, X64, Y0, field.fixed_point(X64), np.atleast_1d(t_s))
    return out.reshape((out.shape[0],) + np.shape(X))


def _states(field, X64, Y0, xstar, times) -> np.ndarray:
    out = np.empty((len(times),) + X64.shape)
    for k, t in enumerate(times):
        E = expm(-field.system_matrix * (float(t) / field.tau_s))
        out[k] = xstar + (Y0 - xstar) @ E.T
    return out


class ExactStepper(Stepper):
    """Propagates the residual ``R ← R E(Δ)ᵀ``; the states are formed once, at the end."""

    def __init__(self, field, X, Y, refine_levels):
        super().__init__(Y)
        self.field = field
        self.S = field.system_matrix
        self.X64 = np.asarray(X, dtype=np.float64)
        self.Y0 = np.asarray(Y, dtype=np.float64).copy()
        self.xstar = field.fixed_point(self.X64)
        self.R = self.X64 - self.Y0 @ self.S.T
        self.R_prev = self.R
        self.refine_levels = refine_levels
        self.levels: list[np.ndarray] = []
        self.h = None

    def _propagators(self, h: float) -> list[np.ndarray]:
        """Propagators over ``hτ / 2^j`` for j = 0..levels (built once per grid step)."""
        if self.h != h:
            levels = [expm(-self.S * (h / 2 ** self.refine_levels))]
            for _ in range(self.refine_levels):
                levels.append(levels[-1] @ levels[-1])
            self.levels, self.h = levels[::-1], h
        return self.levels

    def measure(self, t):
        self.nfev += 1
        return np.einsum("ij,ij->i", self.R, self.R)

    def advance(self, t, h):
        self.R_prev, self.R = self.R, self.R @ self._propagators(h)[0].T

    def refine(self, newly, t, monitor):
        """Bisect the last grid step ``[t − Δ, t]`` for the first time each residual is below
        ``tol``."""
        if self.h is None or not newly.any():
            return 0
        dt = self.h * self.field.tau_s
        R_lo = self.R_prev[newly]
        offset = np.zeros(R_lo.shape[0])
        for j in range(1, len(self.levels)):
            mid = R_lo @ self.levels[j].T
            below = np.sqrt(np.einsum("ij,ij->i", mid, mid)) / monitor.scale[newly] \
                < monitor.criterion.tol
            offset[~below] += dt / 2 ** j
            R_lo[~below] = mid[~below]
        monitor.t_settle[newly] = t - dt + offset + dt / 2 ** (len(self.levels) - 1)
        return self.refine_levels

    def states_at(self, times, t0, t1):
        return _states(self.field, self.X64, self.Y0, self.xstar, times)

    def finish(self, t):
        self.Y[...] = _states(self.field, self.X64, self.Y0, self.xstar, [t])[0]

    def final_rsq(self):
        # the residual was propagated analytically; the states are formed from x̄* = S⁻¹x,
        # whose rounding (up to eps·κ(S)) the propagation never sees: report the states' own
        R = self.X64 - np.asarray(self.Y, dtype=np.float64) @ self.S.T
        return np.einsum("ij,ij->i", R, R)


class Exact(Solver):
    """Exact settling of the ideal linear circuit (see module docstring).

    Parameters
    ----------
    dt_s : float, optional
        Grid step Δ in seconds; default ``τ ln 2 / min Re μ`` (the slowest mode halves per step).
    refine_levels : int
        Bisection levels that resolve each settling time to ``Δ / 2^levels``.
    """

    name = "exact"
    needs_exact_field = True
    stability_limited = False
    cheap_residual = True

    def __init__(self, dt_s: float | None = None, refine_levels: int = 12) -> None:
        super().__init__(dt_s)
        self.refine_levels = int(refine_levels)

    def amplification(self, z):
        return np.exp(z)

    def default_dt_s(self, field):
        return field.tau_s * math.log(2.0) / float(np.min(field.eigenvalues.real))

    def init(self, field, X, Y, rng, t_end_s, tol):
        return ExactStepper(field, X, Y, self.refine_levels)
