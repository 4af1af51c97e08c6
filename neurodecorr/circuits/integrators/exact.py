"""The exact solution of the linear, noiseless circuit.

    x̄(t) = x̄* + e^{−(A+λI) t/τ} (x̄₀ − x̄*),      x̄* = (A + λI)⁻¹ x

and its residual ``r(t) = x − (A+λI) x̄(t) = e^{−(A+λI) t/τ} r(0)``. Settling times come from
the residual propagated exactly on a grid of step Δ (one product with the propagator
``e^{−(A+λI)Δ/τ}`` per grid step) and refined by bisection with the propagators of Δ/2, Δ/4, …
so they are resolved to ``Δ / 2^levels``. Matrix exponentials are computed by
``scipy.linalg.expm`` (Al-Mohy & Higham 2009) in float64; states are returned in the field's dtype.

Use it for reference trajectories and for exact settling times of the ideal circuit; it needs
the ideal reader (a device's reads are not a fixed matrix) and no noise.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import expm

from neurodecorr.circuits.field import LateralField
from neurodecorr.circuits.integrators.base import require_exact_field
from neurodecorr.circuits.settling import Monitor, SettleCriterion, default_max_time
from neurodecorr.circuits.solution import FAILED, SETTLED, TIME_LIMIT, SettleResult
from neurodecorr.errors import NeurodecorrError


def exact_solution(field: LateralField, X: np.ndarray, t_s: np.ndarray,
                   y0: np.ndarray | None = None) -> np.ndarray:
    """States of the ideal circuit at the times ``t_s`` (s), in float64.

    Returns an array of shape ``(len(t_s),) + X.shape``.
    """
    X64 = np.atleast_2d(np.asarray(X, dtype=np.float64))
    Y0 = np.zeros_like(X64) if y0 is None else np.atleast_2d(np.asarray(y0, dtype=np.float64))
    xstar = field.fixed_point(X64)
    out = np.empty((len(np.atleast_1d(t_s)),) + X64.shape)
    for k, t in enumerate(np.atleast_1d(t_s)):
        E = expm(-field.system_matrix * (float(t) / field.tau_s))
        out[k] = xstar + (Y0 - xstar) @ E.T
    return out.reshape((out.shape[0],) + np.shape(X))


class Exact:
    """Exact settling of the ideal linear circuit (see module docstring).

    Parameters
    ----------
    dt_s : float, optional
        Grid step Δ in seconds; default ``τ ln 2 / min Re μ`` (the slowest mode halves per step).
    refine_levels : int
        Bisection levels that resolve each settling time to ``Δ / 2^levels``.
    """

    name = "exact"

    def __init__(self, dt_s: float | None = None, refine_levels: int = 12) -> None:
        if dt_s is not None and not (np.isfinite(dt_s) and dt_s > 0):
            raise NeurodecorrError(f"dt: must be positive, got {dt_s}")
        self.dt_s = dt_s
        self.refine_levels = int(refine_levels)

    def run(self, field: LateralField, X: np.ndarray, Y: np.ndarray,
            criterion: SettleCriterion, rng: np.random.Generator) -> SettleResult:
        require_exact_field(field, "exact")
        S, tau = field.system_matrix, field.tau_s
        slowest = float(np.min(field.eigenvalues.real))
        dt = self.dt_s if self.dt_s is not None else tau * math.log(2.0) / slowest
        max_time = criterion.max_time_s
        if max_time is None:
            max_time = default_max_time(criterion.tol, slowest / tau)
        X64 = np.asarray(X, dtype=np.float64)
        Y0 = np.asarray(Y, dtype=np.float64)
        monitor = Monitor(X64, criterion)
        R = X64 - Y0 @ S.T
        nfev, nsteps = 1, 0
        levels = [expm(-S * (dt / 2 ** self.refine_levels / tau))]
        for _ in range(self.refine_levels):
            levels.append(levels[-1] @ levels[-1])
        levels.reverse()  # levels[j] propagates by dt / 2^j
        t, status = 0.0, monitor.update(0.0, np.einsum("ij,ij->i", R, R))
        while status is None:
            step = min(dt, max_time - t)
            E = levels[0] if step == dt else expm(-S * (step / tau))
            R_prev, R = R, R @ E.T
            was_open = np.isnan(monitor.t_settle)
            nfev, nsteps = nfev + 1, nsteps + 1
            status = monitor.update(t + step, np.einsum("ij,ij->i", R, R))
            newly = was_open & ~np.isnan(monitor.t_settle)
            if newly.any() and step == dt:
                monitor.t_settle[newly] = t + self._refine(R_prev[newly], monitor.scale[newly],
                                                           criterion.tol, levels, dt)
                nfev += self.refine_levels
            t += step
            if status is None and t >= max_time * (1 - 1e-12):
                status = TIME_LIMIT
        if status != FAILED:
            E = expm(-S * (t / tau))
            xstar = field.fixed_point(X64)
            Yt = xstar + (Y0 - xstar) @ E.T
            R = X64 - Yt @ S.T
            monitor.update(t, np.einsum("ij,ij->i", R, R), stop_when_settled=False)
            Y[...] = Yt
            worst = float(np.max(monitor.residual))
            status = SETTLED if worst < criterion.tol else TIME_LIMIT
            message = (f"settled: max residual {worst:.3g} < tol {criterion.tol:.3g}"
                       if status == SETTLED else
                       f"time limit {max_time:.4g} s reached; max residual {worst:.3g} > tol "
                       f"{criterion.tol:.3g}")
        else:
            message = monitor.message
        return SettleResult(y=Y, t=t, t_settle=monitor.t_settle, residual=monitor.residual,
                            nsteps=nsteps, nfev=nfev, status=status, message=message,
                            method=self.name, dt_s=dt)

    def _refine(self, R_lo: np.ndarray, scale: np.ndarray, tol: float,
                levels: list[np.ndarray], dt: float) -> np.ndarray:
        """Bisect ``[t, t + Δ]`` for the first time each residual is below ``tol``."""
        offset = np.zeros(R_lo.shape[0])
        for j in range(1, len(levels)):
            mid = R_lo @ levels[j].T
            below = np.sqrt(np.einsum("ij,ij->i", mid, mid)) / scale < tol
            advance = ~below
            offset[advance] += dt / 2 ** j
            R_lo[advance] = mid[advance]
        return offset + dt / 2 ** (len(levels) - 1)
