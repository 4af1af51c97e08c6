"""Adaptive steps through ``scipy.integrate.solve_ivp`` (RK45, LSODA, BDF).

The batch is integrated as one flat system of ``batch · n`` states. Settling is a terminal event
``max_i ‖r_i‖/‖x_i‖ − tol/2`` (half the tolerance, so that the located state is safely below
it); each evaluation of the event also records the first time each sample was seen below
``tol``. The stiff solvers get the exact Jacobian ``I_batch ⊗ (−(A + λI)/τ)``: sparse for BDF,
banded (bandwidth ``n − 1``) for LSODA. States are computed in float64.

Use it as an independent check on the fixed-step methods, for a trajectory with error control,
or for very stiff spectra (BDF, LSODA), where explicit methods need tiny steps.
"""

from __future__ import annotations

import numpy as np
import scipy
import scipy.sparse as sp
from scipy.integrate import solve_ivp

from neurodecorr.circuits.field import LateralField
from neurodecorr.circuits.integrators.base import require_exact_field
from neurodecorr.circuits.settling import Monitor, SettleCriterion, default_max_time
from neurodecorr.circuits.solution import FAILED, SETTLED, TIME_LIMIT, SettleResult
from neurodecorr.errors import NeurodecorrError

_SCIPY_VERSION = tuple(int(p) for p in scipy.__version__.split(".")[:2])

SOLVERS = ("RK45", "LSODA", "BDF")


class Adaptive:
    """``solve_ivp`` with error control.

    Parameters
    ----------
    solver : {'RK45', 'LSODA', 'BDF'}
    rtol, atol : float, optional
        solve_ivp tolerances. Default ``rtol = tol`` clipped to ``[1e-13, 1e-3]`` and
        ``atol = rtol · RMS(x)``.
    """

    name = "adaptive"

    def __init__(self, solver: str = "RK45", rtol: float | None = None,
                 atol: float | None = None) -> None:
        if solver not in SOLVERS:
            raise NeurodecorrError(f"solver: unknown solver '{solver}'; choose one of: "
                                   f"{', '.join(SOLVERS)}")
        for name, v in (("rtol", rtol), ("atol", atol)):
            if v is not None and not (np.isfinite(v) and v > 0):
                raise NeurodecorrError(f"{name}: must be positive, got {v}")
        self.solver, self.rtol, self.atol = solver, rtol, atol

    def run(self, field: LateralField, X: np.ndarray, Y: np.ndarray,
            criterion: SettleCriterion, rng: np.random.Generator) -> SettleResult:
        require_exact_field(field, "adaptive")
        S, tau = field.system_matrix, field.tau_s
        b, n = X.shape
        X64 = np.asarray(X, dtype=np.float64)
        St = S.T
        monitor = Monitor(X64, criterion)
        max_time = criterion.max_time_s
        if max_time is None:
            max_time = default_max_time(criterion.tol, float(np.min(field.eigenvalues.real)) / tau)
        rtol = self.rtol if self.rtol is not None else float(
            np.clip(criterion.tol / 10, 1e-13, 1e-4))
        atol = self.atol if self.atol is not None else rtol * max(
            float(np.sqrt(np.mean(X64 ** 2))), np.finfo(float).tiny)
        # solve_ivp evaluates the event once at the end of each accepted step and, while
        # locating the root, inside the last one: steps are the evaluations past the latest time.
        counts = {"events": 0, "steps": 0, "t_last": 0.0}

        def fun(t, y):
            return ((X64 - y.reshape(b, n) @ St) / tau).ravel()

        def residual_sq(y):
            R = X64 - y.reshape(b, n) @ St
            return np.einsum("ij,ij->i", R, R)

        def event(t, y):
            counts["events"] += 1
            if t > counts["t_last"]:
                counts["steps"] += 1
                counts["t_last"] = t
            r = np.sqrt(residual_sq(y)) / monitor.scale
            seen = (r < criterion.tol) & ~(monitor.t_settle <= t)
            monitor.t_settle[seen] = t
            return float(np.max(r)) - 0.5 * criterion.tol

        event.terminal = True
        event.direction = -1
        y0 = np.asarray(Y, dtype=np.float64).ravel()
        status = monitor.update(0.0, residual_sq(y0))
        nsteps, nfev, t, y = 0, 1, 0.0, y0
        if status is None:
            options: dict = {}
            if self.solver == "BDF":
                options["jac"] = sp.kron(sp.identity(b, format="csr"), sp.csr_matrix(-S / tau),
                                         format="csc")
            elif self.solver == "LSODA":
                options.update(lband=n - 1, uband=n - 1)
                # scipy < 1.16 wraps the Fortran LSODA, whose f2py callback fails on a banded
                # Jacobian ("cb_jac_in_lsoda__user__routines failed"); there LSODA estimates the
                # band by finite differences instead
                if _SCIPY_VERSION >= (1, 16):
                    band = np.zeros((2 * n - 1, b * n))
                    for k in range(-(n - 1), n):  # packed: band[n-1 + i - j, j] = J[i, j]
                        d = np.diagonal(-S / tau, offset=-k)
                        cols = np.arange(n)[max(0, -k):n - max(0, k)]
                        for blk in range(b):
                            band[n - 1 + k, blk * n + cols] = d
                    options["jac"] = lambda t, y: band
            sol = solve_ivp(fun, (0.0, max_time), y0, method=self.solver, t_eval=[max_time],
                            events=event, rtol=rtol, atol=atol, **options)
            nsteps, nfev = counts["steps"], sol.nfev + 1
            if sol.status == -1:
                status, monitor.message = FAILED, f"solve_ivp ({self.solver}) failed: {sol.message}"
            elif sol.status == 1:
                t, y = float(sol.t_events[0][-1]), sol.y_events[0][-1]
            else:
                t, y = max_time, sol.y[:, -1]
        if status != FAILED:
            monitor.update(t, residual_sq(y), stop_when_settled=False)
            worst = float(np.max(monitor.residual))
            status = SETTLED if worst < criterion.tol else TIME_LIMIT
            message = (f"settled: max residual {worst:.3g} < tol {criterion.tol:.3g}"
                       if status == SETTLED else
                       f"time limit {max_time:.4g} s reached; max residual {worst:.3g} > tol "
                       f"{criterion.tol:.3g}")
            Y[...] = y.reshape(b, n)
        else:
            message = monitor.message
        return SettleResult(y=Y, t=t, t_settle=monitor.t_settle, residual=monitor.residual,
                            nsteps=nsteps, nfev=nfev + counts["events"], status=status,
                            message=message, method=f"adaptive-{self.solver}", dt_s=float("nan"))
