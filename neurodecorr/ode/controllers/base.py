"""What a step-size controller returns: the steps of one cycle and its contraction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class StepCycle:
    """Steps ``h_k = dt_k/τ`` repeated cyclically, and how a cycle contracts the residual.

    Attributes
    ----------
    h : ndarray, shape (L,)
        Dimensionless steps of one cycle (L = 1 for a constant step).
    rho : float
        ``max_μ |Π_k R(−h_k μ)|``: the asymptotic contraction of the residual per cycle.
    check_every : int
        Steps between residual checks.
    norm : float or None
        ``‖G‖₂`` of the iteration matrix of one step when the controller chose the step to be a
        2-norm contraction (non-normal matrices, :mod:`neurodecorr.ode.contraction`): the
        residual then falls at least this much every step, which sets the horizon.
    warning : str or None
        Why the plan may fail (a non-normal matrix with no contracting step): the settle
        then goes on past its horizon while the residual falls, up to the step budget, and
        adds the warning to its result if it does not settle.
    """

    h: np.ndarray
    rho: float
    check_every: int
    norm: float | None = None
    warning: str | None = None

    def times(self, tau_s: float) -> np.ndarray:
        """Start time of each step within a cycle, and the cycle's length, in seconds."""
        return np.concatenate([[0.0], np.cumsum(self.h)]) * tau_s
