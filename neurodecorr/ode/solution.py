"""The result of one settle, in the conventions of ``scipy.integrate.solve_ivp``.

Same as solve_ivp: ``status`` (1 a termination event — every sample settled; 0 the end of the
time span — the time limit, the step budget, or a noisy circuit's horizon; −1 failure),
``message``, ``nfev``, ``t_events``-like per-sample settling times (``t_settle``).

Different from solve_ivp, on purpose:

- ``success`` is True only when the states end below ``tol`` (solve_ivp says True for any
  ``status >= 0``): a settle that stopped at its time limit has not done its job. A noisy
  circuit ends at status 0 and succeeds when its final residual is below ``tol``.
- ``t`` is the final time (a float) and ``y`` the final states in the shape of the input
  ``x`` (batch, n), because a settle is about its end point; the trajectory, when asked for
  with ``t_eval``, is ``t_eval`` (m,), ``y_eval`` (m,) + x.shape and ``residual_eval``
  (m, batch), ending with the last requested time at or before the stop (as solve_ivp with a
  terminal event).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from neurodecorr.ode.results import Result


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
        Steps taken (accepted steps for adaptive methods, grid steps for the exact solution).
    nfev : int
        Evaluations of the lateral product ``A x̄`` over the whole batch.
    result : Result
        How the run ended; ``status`` and ``message`` derive from it.
    message : str
    method : str
    dt_s : float
        Mean step, in seconds (NaN for adaptive methods).
    tol : float
        The tolerance the run was held to.
    t_eval, y_eval, residual_eval : ndarray or None
        The trajectory at the requested times (see the module docstring).
    warnings : list of str
        What the run found doubtful before it started (e.g. a precision floor above ``tol``).
    """

    y: np.ndarray
    t: float
    t_settle: np.ndarray
    residual: np.ndarray
    nsteps: int
    nfev: int
    result: Result
    message: str
    method: str
    dt_s: float
    tol: float
    t_eval: np.ndarray | None = None
    y_eval: np.ndarray | None = None
    residual_eval: np.ndarray | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def status(self) -> int:
        """solve_ivp's code: 1 settled, 0 end of the time span, −1 failed."""
        return self.result.status

    @property
    def success(self) -> bool:
        """True when the run did not fail and every sample ended below ``tol``."""
        return self.status >= 0 and self.max_residual < self.tol

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
            "warnings": list(self.warnings),
        }
