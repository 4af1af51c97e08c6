"""How a settle ended: one enumeration carrying scipy's status code and its message.

The status codes are those of ``scipy.integrate.solve_ivp``: 1 a termination event occurred
(here: every sample settled), 0 the end of the time span was reached, −1 the integration
failed. Every message is written here once (as diffrax's ``RESULTS``).
"""

from __future__ import annotations

from enum import Enum


class Result(Enum):
    """Outcome of a settle; ``status`` is solve_ivp's code, ``message(**values)`` its text."""

    SETTLED = (1, "settled: max residual {worst:.3g} < tol {tol:.3g}")
    TIME_LIMIT = (0, "time limit {t_end:.4g} s reached; max residual {worst:.3g} > tol "
                     "{tol:.3g}")
    BUDGET = (0, "step budget of {max_steps} steps reached at t = {t:.4g} s; max residual "
                 "{worst:.3g} > tol {tol:.3g} (raise max_steps or set max_time)")
    ROUNDING = (0, "the propagated residual reached tol {tol:.3g} by t = {t:.4g} s, but the "
                   "returned states' residual is {worst:.3g} (rounding in forming them)")
    HORIZON = (0, "noisy circuit integrated to its horizon t = {t:.4g} s; max residual "
                  "{worst:.3g} ({side} tol {tol:.3g})")
    NON_FINITE = (-1, "states became non-finite at t = {t:.4g} s")
    DIVERGED = (-1, "diverged: residual grew from {initial:.3g} to {worst:.3g} by t = {t:.4g} s")
    SOLVER_FAILED = (-1, "{solver} failed at t = {t:.4g} s: {why}")

    def __init__(self, status: int, template: str) -> None:
        self.status = status
        self.template = template

    def message(self, **values: object) -> str:
        """The message with the run's numbers filled in."""
        return self.template.format(**values)
