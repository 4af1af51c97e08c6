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

The number of sub-steps is planned like a simulator settle: the step budget and its refusal
are :func:`neurodecorr.ode.horizon.plan_horizon`'s (a slowest mode too slow for ``tol`` inside
``max_steps`` is refused before any Lava process starts, with the simulator's message). Lava
runs the sub-steps without checking a residual, so they must reach ``tol`` for every input:
from ``x̄₀ = 0`` the error and the residual after ``n`` sub-steps are ``M^n`` times their
initial values, ``M = I − αA``, so ``n`` is the smallest count with ``‖M^n‖₂ ≤ tol``. For a
normal ``A`` that is ``ρ^n ≤ tol``, the asymptotic count ``⌈ln tol / ln ρ⌉``; a non-normal
``A`` can need many more (``A = I + 0.05·(strictly upper ones)``, n = 50, α = 0.999:
ρ = 0.001 but ``‖M⁴‖₂ = 0.73``; 16 sub-steps reach 1e-9), found from the matrix powers
themselves, within the same budget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode import MAX_STEPS, Euler, LateralField, OptimalStep, SettleCriterion
from neurodecorr.ode.horizon import plan_horizon
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


def _transient_steps(M: np.ndarray, tol: float, start: int, budget: int) -> int | None:
    """Smallest ``n ≥ start`` (found by doubling, then bisection) with ``‖M^n‖₂ ≤ tol``.

    ``‖M^n‖₂`` need not fall monotonically, so the bisection keeps ``hi`` a count that reaches
    ``tol`` (the count returned always does). None when ``budget`` steps do not reach it.
    """
    def reaches(n: int) -> bool:
        return np.linalg.norm(np.linalg.matrix_power(M, n), 2) <= tol

    lo, hi = start, start
    while not reaches(hi):
        if hi >= budget:
            return None
        lo, hi = hi, min(2 * hi, budget)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if reaches(mid) else (mid, hi)
    return hi


def settling_plan(A: np.ndarray, tol: float = 1e-9, what: str = "lateral matrix",
                  alpha: float | None = None, max_steps: int = MAX_STEPS) -> SettlingPlan:
    """Choose the Euler step ``α`` and the sub-steps ``n`` with ``‖(I − αA)^n‖₂ ≤ tol``.

    ``α`` is also kept below ``1/max_i A_ii`` so that the per-neuron leak ``α A_ii`` fits a
    12-bit decay in ``[0, 1)``. A given ``alpha`` is used as is (only the sub-steps are
    planned); it must satisfy the same bound. Work beyond ``max_steps`` sub-steps is refused
    with a message naming the cause (the slowest mode, or the departure from normality).
    """
    lam = np.linalg.eigvals(A)
    if np.any(lam.real <= 0):
        raise NeurodecorrError(f"{what}: an eigenvalue has real part <= 0 "
                               f"(min {lam.real.min():.3g}); the lateral dynamics do not settle")
    field = LateralField(A)
    diag_max = float(np.max(np.diag(A)))
    alpha_max = min(2.0 / float(np.max(np.abs(lam) ** 2 / lam.real)), 0.999 / diag_max)
    if alpha is not None:
        if not 0.0 < alpha <= alpha_max:
            raise NeurodecorrError(f"{what}: Euler step {alpha:.6g} is outside (0, "
                                   f"{alpha_max:.6g}]")
    else:
        alpha = min(float(OptimalStep().plan(Euler(), field, SettleCriterion()).h[0]),
                    alpha_max)
    rho = contraction(A, alpha)
    if not rho < 1.0:
        raise NeurodecorrError(f"{what}: Euler iteration does not contract (rho = {rho:.6g})")
    try:
        # the simulator's budget check: refuses a slowest mode that cannot reach tol in time
        plan_horizon(field, SettleCriterion(tol=tol, max_steps=max_steps), Euler(),
                     np.array([alpha]), rho)
    except NeurodecorrError as err:
        raise NeurodecorrError(f"{what}: {err}") from None
    n_asymptotic = max(1, math.ceil(math.log(tol) / math.log(rho))) if rho > 0 else 1
    # the slack absorbs the rounding of ‖M^n‖₂ = ρ^n for a normal A (its plan stays asymptotic)
    n_total = _transient_steps(np.eye(A.shape[0]) - alpha * A, tol * (1 + 1e-9),
                               min(n_asymptotic, max_steps), max_steps)
    if n_total is None:
        raise NeurodecorrError(
            f"{what}: far from normal (departure from normality "
            f"{field.departure_from_normality:.3g}); the Euler iteration with step "
            f"{alpha:.4g} has not reached tol {tol:.3g} after max_steps = {max_steps} "
            f"sub-steps; condition the matrix, loosen tol or raise max_steps")
    return SettlingPlan(alpha=alpha, rho=rho, n_total=n_total, tol=tol)
