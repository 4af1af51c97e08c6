"""When to stop: the settling criterion and the monitor that applies it during integration.

A sample has settled when its relative residual ``‖x_i − A x̄_i − λ x̄_i‖ / ‖x_i‖`` is below
``tol`` (absolute residual for a zero input); the batch has settled when every sample has.
The residual is ``τ`` times the vector field, so the fixed-step solvers get it from the
product they need for the step anyway.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode import kernels
from neurodecorr.ode.results import Result

#: default step budget of one settle (diffrax's ``max_steps``; its default is 4096)
MAX_STEPS = 100_000


@dataclass(frozen=True)
class SettleCriterion:
    """Settling tolerance and limits.

    Attributes
    ----------
    tol : float
        Relative residual below which a sample counts as settled.
    max_time_s : float or None
        Circuit-time limit (s). None: a bound on the settling time that holds for non-normal
        matrices (see :mod:`neurodecorr.ode.horizon`).
    check_every : int
        Fixed-step solvers measure the residual every this many steps; the per-sample settling
        time is resolved to ``check_every · dt``. The Chebyshev controller's cycle length.
    growth_limit : float
        Stop as diverged when the largest residual exceeds this multiple of its initial value.
    max_steps : int
        Step budget. A settle whose planned steps exceed it is refused before it starts,
        naming the cause; a settle that reaches it stops with :attr:`Result.BUDGET`.
    """

    tol: float = 1e-6
    max_time_s: float | None = None
    check_every: int = 8
    growth_limit: float = 1e6
    max_steps: int = MAX_STEPS

    def __post_init__(self) -> None:
        if not (np.isfinite(self.tol) and self.tol >= 0):
            raise NeurodecorrError(f"tol: must be non-negative, got {self.tol}")
        if self.max_time_s is not None and not (np.isfinite(self.max_time_s)
                                                and self.max_time_s > 0):
            raise NeurodecorrError(f"max_time: must be positive, got {self.max_time_s}")
        for name in ("check_every", "max_steps"):
            value = getattr(self, name)
            if int(value) != value or value < 1:
                raise NeurodecorrError(f"{name}: must be a positive integer, got {value}")
        if not self.growth_limit > 1:
            raise NeurodecorrError(f"growth_limit: must exceed 1, got {self.growth_limit}")


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
        self._worst = float(np.max(self.residual)) if self.residual.size else 0.0
        self._newly = np.zeros(X.shape[0], dtype=bool)
        self.previous = np.inf
        self.initial: float | None = None
        #: the numbers of the last check, for the result's message
        self.values: dict = {"tol": criterion.tol}

    @property
    def worst(self) -> float:
        """The largest relative residual of the last check (NaN if any is NaN)."""
        return self._worst

    def update(self, t: float, rsq: np.ndarray, stop_when_settled: bool = True
               ) -> tuple[Result | None, np.ndarray]:
        """Record the squared residual norms measured at ``t``.

        Returns the result that ends the run (None to go on) and the mask of the samples that
        settled at this check (valid until the next check).
        """
        #: the largest residual at the previous check (is the residual still falling?)
        self.previous = self._worst
        residual = np.empty_like(self.scale)
        worst, _ = kernels.relative_residual(rsq, self.scale, self.criterion.tol, t, residual,
                                             self.t_settle, self._newly)
        self.residual, self._worst = residual, worst
        self.values.update(t=t, worst=worst)
        if not math.isfinite(worst):
            self._newly[:] = False
            return Result.NON_FINITE, self._newly
        if self.initial is None:
            self.initial = max(worst, self.criterion.tol, np.finfo(np.float64).tiny)
            self.values["initial"] = self.initial
        elif worst > self.criterion.growth_limit * self.initial:
            return Result.DIVERGED, self._newly
        if stop_when_settled and worst < self.criterion.tol:
            return Result.SETTLED, self._newly
        return None, self._newly

    def recheck(self, rsq: np.ndarray, result: Result) -> Result:
        """Replace the residuals by ``rsq`` recomputed from the returned states; a run that
        settled by a propagated residual but whose states are above ``tol`` ends as
        :attr:`Result.ROUNDING`, and those samples lose their settling time."""
        self.residual = np.sqrt(rsq) / self.scale
        self._worst = float(np.max(self.residual)) if self.residual.size else 0.0
        self.values["worst"] = self.worst
        above = ~(self.residual < self.criterion.tol)
        self.t_settle[above] = np.nan
        return Result.ROUNDING if result is Result.SETTLED and above.any() else result
