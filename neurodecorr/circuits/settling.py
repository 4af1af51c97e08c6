"""When to stop: the settling criterion and the monitor that applies it during integration.

A sample has settled when its relative residual ``‖x_i − A x̄_i − λ x̄_i‖ / ‖x_i‖`` is below
``tol`` (absolute residual for a zero input); the batch has settled when every sample has.
The residual is ``τ`` times the vector field, so the fixed-step integrators get it from the
product they need for the step anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodecorr.circuits.solution import FAILED, SETTLED
from neurodecorr.errors import NeurodecorrError


@dataclass(frozen=True)
class SettleCriterion:
    """Settling tolerance and limits.

    Attributes
    ----------
    tol : float
        Relative residual below which a sample counts as settled.
    max_time_s : float or None
        Circuit-time limit (s). None: five times the time the slowest mode of the discrete
        iteration needs to shrink the residual by ``tol`` (see :func:`default_max_time`).
    check_every : int
        Fixed-step methods measure the residual every this many steps; the per-sample settling
        time is resolved to ``check_every · dt``.
    growth_limit : float
        Stop as diverged when the largest residual exceeds this multiple of its initial value.
    """

    tol: float = 1e-6
    max_time_s: float | None = None
    check_every: int = 8
    growth_limit: float = 1e6

    def __post_init__(self) -> None:
        if not (np.isfinite(self.tol) and self.tol >= 0):
            raise NeurodecorrError(f"tol: must be non-negative, got {self.tol}")
        if self.max_time_s is not None and not (np.isfinite(self.max_time_s)
                                                and self.max_time_s > 0):
            raise NeurodecorrError(f"max_time: must be positive, got {self.max_time_s}")
        if int(self.check_every) != self.check_every or self.check_every < 1:
            raise NeurodecorrError(f"check_every: must be a positive integer, got "
                                   f"{self.check_every}")
        if not self.growth_limit > 1:
            raise NeurodecorrError(f"growth_limit: must exceed 1, got {self.growth_limit}")


def default_max_time(tol: float, rate_per_s: float) -> float:
    """``5 · ln(1/tol) / rate``: generous for non-normal transients, finite for tol = 0."""
    return 5.0 * max(np.log(1.0 / max(tol, 1e-300)), 1.0) / rate_per_s


class Monitor:
    """Tracks per-sample settling times and detects settling, non-finite states and divergence.

    Parameters
    ----------
    X : ndarray, shape (batch, n)
        Inputs; their norms normalise the residual.
    criterion : SettleCriterion
    """

    def __init__(self, X: np.ndarray, criterion: SettleCriterion) -> None:
        norms = np.sqrt(np.einsum("ij,ij->i", X, X, dtype=np.float64))
        self.scale = np.where(norms > 0, norms, 1.0)
        self.criterion = criterion
        self.t_settle = np.full(X.shape[0], np.nan)
        self.residual = np.full(X.shape[0], np.inf)
        self.initial: float | None = None
        self.message = ""

    def update(self, t: float, rsq: np.ndarray, stop_when_settled: bool = True) -> int | None:
        """Record the squared residual norms measured at time ``t``; return a status to stop."""
        r = np.sqrt(rsq) / self.scale
        self.residual = r
        worst = float(np.max(r)) if r.size else 0.0
        if not np.isfinite(worst):
            self.message = f"states became non-finite at t = {t:.4g} s"
            return FAILED
        newly = np.isnan(self.t_settle) & (r < self.criterion.tol)
        self.t_settle[newly] = t
        if self.initial is None:
            self.initial = max(worst, self.criterion.tol, np.finfo(np.float64).tiny)
        elif worst > self.criterion.growth_limit * self.initial:
            self.message = (f"diverged: residual grew from {self.initial:.3g} to {worst:.3g} "
                            f"by t = {t:.4g} s")
            return FAILED
        if stop_when_settled and worst < self.criterion.tol:
            self.message = f"settled: max residual {worst:.3g} < tol {self.criterion.tol:.3g}"
            return SETTLED
        return None
