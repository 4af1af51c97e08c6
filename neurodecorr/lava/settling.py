"""How many Euler sub-steps the lateral dynamics need, and with which step size.

Explicit Euler on ``τ dx̄/dt = x − A x̄`` with step ``α = Δt/τ`` is the affine iteration
``x̄ ← (I − αA) x̄ + αx``; its error to the fixed point ``A⁻¹x`` contracts by the spectral radius
``ρ(α) = max_k |1 − α λ_k(A)|`` per sub-step (it converges iff ``ρ < 1``, i.e. every eigenvalue
of ``A`` has a positive real part and ``α`` is small enough). For real eigenvalues in
``[λ_min, λ_max]`` the best step is ``α* = 2/(λ_min + λ_max)``, giving
``ρ = (κ − 1)/(κ + 1)`` with ``κ = λ_max/λ_min`` (standard Richardson-iteration result, e.g.
Saad, *Iterative Methods for Sparse Linear Systems*, 2nd ed., §4.2).

The step is the simulator's: :class:`neurodecorr.ode.OptimalStep` for Euler, clipped to the
fixed-point decay bound below (the contraction is a maximum of convex functions of ``α``, so
the clipped optimum is the constrained one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode import Euler, LateralField, OptimalStep, SettleCriterion
from neurodecorr.ode.stability import spectral_radius


@dataclass(frozen=True)
class SettlingPlan:
    """Euler step ``alpha``, contraction ``rho`` per sub-step, sub-steps ``n_total`` to ``tol``."""

    alpha: float
    rho: float
    n_total: int
    tol: float


def contraction(A: np.ndarray, alpha: float) -> float:
    """``ρ(α) = max_k |1 − α λ_k(A)|``."""
    return spectral_radius(Euler(), alpha, np.linalg.eigvals(A))


def settling_plan(A: np.ndarray, tol: float = 1e-9, what: str = "lateral matrix",
                  alpha: float | None = None) -> SettlingPlan:
    """Choose the Euler step ``α`` and the sub-steps to reach ``tol``.

    ``α`` is also kept below ``1/max_i A_ii`` so that the per-neuron leak ``α A_ii`` fits a
    12-bit decay in ``[0, 1)``. A given ``alpha`` is used as is (only the sub-steps are
    planned); it must satisfy the same bound.
    """
    lam = np.linalg.eigvals(A)
    if np.any(lam.real <= 0):
        raise NeurodecorrError(f"{what}: an eigenvalue has real part <= 0 "
                               f"(min {lam.real.min():.3g}); the lateral dynamics do not settle")
    diag_max = float(np.max(np.diag(A)))
    alpha_max = min(2.0 / float(np.max(np.abs(lam) ** 2 / lam.real)), 0.999 / diag_max)
    if alpha is not None:
        if not 0.0 < alpha <= alpha_max:
            raise NeurodecorrError(f"{what}: Euler step {alpha:.6g} is outside (0, "
                                   f"{alpha_max:.6g}]")
    else:
        field = LateralField(A)
        alpha = min(float(OptimalStep().plan(Euler(), field, SettleCriterion()).h[0]),
                    alpha_max)
    rho = contraction(A, alpha)
    if not rho < 1.0:
        raise NeurodecorrError(f"{what}: Euler iteration does not contract (rho = {rho:.6g})")
    n_total = max(1, math.ceil(math.log(tol) / math.log(rho))) if rho > 0 else 1
    return SettlingPlan(alpha=alpha, rho=rho, n_total=n_total, tol=tol)
