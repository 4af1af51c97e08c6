"""The result of one settle, named in the spirit of ``scipy.integrate.solve_ivp``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: status codes: settled, stopped at the time limit, failed (non-finite or diverging states)
SETTLED, TIME_LIMIT, FAILED = 0, 1, -1


@dataclass
class SettleResult:
    """What a settle returns.

    Attributes
    ----------
    y : ndarray, shape (batch, n) or (n,)
        States at the final time (the shape of the input ``x``).
    t : float
        Final circuit time, in seconds.
    t_settle : ndarray, shape (batch,)
        Per sample, the first checked time (s) at which its relative residual was below ``tol``;
        NaN for a sample that never got there.
    residual : ndarray, shape (batch,)
        Per sample, ``‖x − A x̄ − λx̄‖ / ‖x‖`` at the final time, measured through the reader
        (so through the device when one is used).
    nsteps : int
        Steps taken (accepted steps for adaptive methods; grid steps plus bisection levels for the
        exact solution).
    nfev : int
        Evaluations of the lateral product ``A x̄`` over the whole batch.
    status : int
        0 settled, 1 time limit reached, −1 failed.
    message : str
    method : str
    dt_s : float
        Step used, in seconds (NaN for adaptive methods).
    """

    y: np.ndarray
    t: float
    t_settle: np.ndarray
    residual: np.ndarray
    nsteps: int
    nfev: int
    status: int
    message: str
    method: str
    dt_s: float

    @property
    def success(self) -> bool:
        """True when every sample settled (``max residual < tol``)."""
        return self.status == SETTLED

    @property
    def max_residual(self) -> float:
        return float(np.max(self.residual)) if self.residual.size else 0.0

    def summary(self) -> dict:
        """Plain numbers for a JSON report."""
        settled = self.t_settle[np.isfinite(self.t_settle)]
        return {
            "method": self.method,
            "steps": int(self.nsteps),
            "nfev": int(self.nfev),
            "dt_s": float(self.dt_s),
            "t_final_s": float(self.t),
            "settling_time_max_s": float(np.max(self.t_settle)) if self.t_settle.size else 0.0,
            "settling_time_mean_s": float(np.mean(settled)) if settled.size else float("nan"),
            "n_settled": int(settled.size),
            "residual_max": self.max_residual,
            "residual_mean": float(np.mean(self.residual)) if self.residual.size else 0.0,
            "converged": self.success,
            "status": int(self.status),
            "message": self.message,
        }
