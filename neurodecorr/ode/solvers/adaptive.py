"""Adaptive steps with error control: scipy's solve_ivp methods (RK45, LSODA, BDF).

The batch is integrated as one flat system of ``batch · n`` states by scipy's step-by-step
solver classes (the ones ``solve_ivp`` drives), so the one settle loop measures the residual
after every accepted step and stops at the first below ``tol``. The stiff solvers get the
exact Jacobian ``I_batch ⊗ (−(A + λI)/τ)``: sparse for BDF, banded (bandwidth ``n − 1``) for
LSODA. States are computed in float64.

Use it as an independent check on the fixed-step methods, for a trajectory with error control,
or for very stiff spectra (BDF, LSODA), where explicit methods need tiny steps.
"""

from __future__ import annotations

import numpy as np
import scipy
import scipy.sparse as sp
from scipy import integrate

from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode.solvers.base import Solver, Stepper

_SCIPY_VERSION = tuple(int(p) for p in scipy.__version__.split(".")[:2])

SOLVERS = ("RK45", "LSODA", "BDF")

#: RK45's stability boundary on the negative real axis, |z| ≈ 3.3: on a stiff spectrum its
#: steps are limited to about 3.3 τ / max|μ| whatever the tolerance
RK45_STABILITY_RADIUS = 3.3


def _banded_jacobian(S: np.ndarray, tau: float, b: int) -> np.ndarray:
    """``I_b ⊗ (−S/τ)`` in LSODA's packed band storage: ``band[n−1 + i − j, j] = J[i, j]``."""
    n = S.shape[0]
    band = np.zeros((2 * n - 1, b * n))
    for k in range(-(n - 1), n):
        d = np.diagonal(-S / tau, offset=-k)
        cols = np.arange(n)[max(0, -k):n - max(0, k)]
        for blk in range(b):
            band[n - 1 + k, blk * n + cols] = d
    return band


class AdaptiveStepper(Stepper):
    def __init__(self, solver, field, X, Y, t_end_s, tol):
        super().__init__(Y)
        S, tau = field.system_matrix, field.tau_s
        b, n = X.shape
        self.X64 = np.asarray(X, dtype=np.float64)
        self.St = S.T
        self.shape = (b, n)
        X64, St = self.X64, self.St

        def fun(t, y):
            return ((X64 - y.reshape(b, n) @ St) / tau).ravel()

        options: dict = {}
        if solver.solver == "BDF":
            options["jac"] = sp.kron(sp.identity(b, format="csr"), sp.csr_matrix(-S / tau),
                                     format="csc")
        elif solver.solver == "LSODA":
            options.update(lband=n - 1, uband=n - 1)
            # scipy < 1.16 wraps the Fortran LSODA, whose f2py callback fails on a banded
            # Jacobian ("cb_jac_in_lsoda__user__routines failed"); there LSODA estimates the
            # band by finite differences instead
            if _SCIPY_VERSION >= (1, 16):
                band = _banded_jacobian(S, tau, b)
                options["jac"] = lambda t, y: band
        y0 = np.asarray(Y, dtype=np.float64).ravel()
        rtol = solver.rtol if solver.rtol is not None else float(
            np.clip(tol / 10, 1e-13, 1e-4))
        atol = solver.atol if solver.atol is not None else rtol * max(
            float(np.sqrt(np.mean(self.X64 ** 2))), np.finfo(float).tiny)
        self.ode = getattr(integrate, solver.solver)(fun, 0.0, y0, t_end_s, rtol=rtol,
                                                     atol=atol, **options)
        self.nfev = self.ode.nfev

    def measure(self, t):
        self.nfev += 1
        R = self.X64 - self.ode.y.reshape(self.shape) @ self.St
        return np.einsum("ij,ij->i", R, R)

    def advance(self, t, h):
        before = self.ode.nfev
        message = self.ode.step()
        self.nfev += self.ode.nfev - before
        if self.ode.status == "failed":
            self.failure = str(message)
        self.t = float(self.ode.t)

    def step(self, t, h):
        # the previous state is the solver's, and the dense output interpolates the last step
        self.advance(t, h)

    def states_at(self, times, t0, t1):
        dense = self.ode.dense_output()
        return np.stack([dense(float(t)).reshape(self.shape) for t in times])

    def finish(self, t):
        self.Y[...] = self.ode.y.reshape(self.shape)


class Adaptive(Solver):
    """A solve_ivp method with error control.

    Parameters
    ----------
    solver : {'RK45', 'LSODA', 'BDF'}
    rtol, atol : float, optional
        Tolerances of the error control. Default ``rtol = tol/10`` clipped to
        ``[1e-13, 1e-4]`` and ``atol = rtol · RMS(x)``.
    """

    name = "adaptive"
    adaptive = True
    needs_exact_field = True
    stability_limited = False
    cheap_residual = True

    def __init__(self, solver: str = "RK45", rtol: float | None = None,
                 atol: float | None = None) -> None:
        super().__init__(None)
        if solver not in SOLVERS:
            raise NeurodecorrError(f"solver: unknown solver '{solver}'; choose one of: "
                                   f"{', '.join(SOLVERS)}")
        for name, v in (("rtol", rtol), ("atol", atol)):
            if v is not None and not (np.isfinite(v) and v > 0):
                raise NeurodecorrError(f"{name}: must be positive, got {v}")
        self.solver, self.rtol, self.atol = solver, rtol, atol

    @property
    def label(self) -> str:
        return f"adaptive-{self.solver}"

    def estimate_steps(self, field, t_s: float) -> float:
        """Accepted steps to cover ``t_s``: explicit RK45 is held to its stability limit on a
        stiff spectrum; the implicit methods' steps grow with the solution's time scale."""
        if self.solver != "RK45":
            return 0.0
        return t_s / field.tau_s * float(np.max(np.abs(field.eigenvalues))) \
            / RK45_STABILITY_RADIUS

    def init(self, field, X, Y, rng, t_end_s, tol):
        return AdaptiveStepper(self, field, X, Y, t_end_s, tol)
