"""A fixed step that contracts the residual in the 2-norm, for non-normal matrices.

A fixed-step solver multiplies the residual by its iteration matrix ``G(h) = R(−h S)`` each
step (``S = A + λI``; Euler: ``G = I − h S``). The optimal controller chooses ``h`` from the
spectrum, which bounds only the asymptotic rate: for a non-normal ``S`` the powers ``G^k``
can grow by many orders of magnitude first (``A = I + 0.5·(strictly upper ones)``, n = 50:
all eigenvalues are 1, Euler's eigen-optimal ``h = 1`` makes ``G = −0.5 U`` nilpotent, and
the residual grows to 1e7 before it falls). When ``‖G(h)‖₂ < 1`` instead, the residual falls
monotonically, ``‖r_k‖ ≤ ‖G‖₂^k ‖r_0‖``, and the steps to ``tol`` follow from ``‖G‖₂``.

**Field-of-values step.** For unit ``v``,
``‖(I − hS)v‖² = 1 − 2h vᵀ S_H v + h² ‖S v‖² ≤ 1 − 2h ω + h² σ²`` with ``ω = λ_min(S_H)``,
``S_H = (S + Sᵀ)/2`` (ω is the left end of the real part of the field of values of ``S``) and
``σ = σ_max(S)``. At ``h = ω/σ²`` this gives ``‖I − hS‖₂ ≤ sqrt(1 − ω²/σ²) < 1`` whenever
``ω > 0`` (the field-of-values bound; Horn & Johnson, *Topics in Matrix Analysis*, §1.2;
Eiermann 1993, *Acta Numerica*, on field-of-values estimates for iterative methods). Since
``h ↦ ‖I − hS‖₂`` is convex, the step with the smallest norm between that step and the
eigen-optimal one is found by golden-section search; the norms are estimated by power
iteration on ``GᵀG`` (O(n²) per product), so for RK4 too (whose ``G`` is a polynomial in
``hS``) the step is checked, not assumed. Normal matrices never get here: for them
``‖G‖₂`` is the spectral radius, already below 1 at the eigen-optimal step.
"""

from __future__ import annotations

import math

import numpy as np

#: power iterations per norm estimate (warm-started from the previous vector)
POWER_ITERATIONS = 30
#: golden-section steps between the field-of-values step and the eigen-optimal step
SEARCH_STEPS = 20
#: seed of the start vector of the power iterations (a plan must not depend on global state)
_SEED = 0


def iteration_apply(solver, S: np.ndarray, h: float):
    """``v ↦ G(h) v`` (``v`` a vector or a matrix of columns) for Euler's ``I − hS`` or RK4's
    Taylor polynomial."""
    coeffs = taylor_factors(solver)

    def apply(v: np.ndarray) -> np.ndarray:
        # Horner: G v = v + z(v + z/2(v + z/3(...))) with z v = −h S v
        out = v.copy()
        for c in coeffs[::-1]:
            out = v - (h * c) * (S @ out)
        return out

    return apply


def _iteration(solver, S: np.ndarray, h: float):
    """``v ↦ G(h) v`` and ``v ↦ G(h)ᵀ v``."""
    return iteration_apply(solver, S, h), iteration_apply(solver, S.T, h)


def taylor_factors(solver) -> list[float]:
    """Horner factors of the stability polynomial: Euler ``[1]``, RK4 ``[1, 1/2, 1/3, 1/4]``."""
    return [1.0] if solver.name in ("euler", "euler-maruyama") else [1.0, 0.5, 1.0 / 3, 0.25]


def norm_estimate(apply, apply_t, v: np.ndarray, iterations: int = POWER_ITERATIONS
                  ) -> tuple[float, np.ndarray]:
    """``‖G‖₂`` by power iteration on ``GᵀG`` from ``v``; returns the estimate and the vector.

    The estimate approaches the norm from below (a Rayleigh quotient of ``GᵀG``).
    """
    estimate = 0.0
    for _ in range(iterations):
        w = apply(v)
        estimate = float(np.linalg.norm(w))
        u = apply_t(w)
        size = float(np.linalg.norm(u))
        if size == 0.0:
            break
        v = u / size
    return estimate, v


def supports(solver) -> bool:
    """The solvers whose iteration matrix :func:`_iteration` knows."""
    return solver.name in ("euler", "euler-maruyama", "rk4")


def is_contraction(solver, field, h: float) -> bool:
    """True when the estimated ``‖G(h)‖₂`` is below 1 (always for a symmetric ``S``)."""
    S = field.system_matrix
    if np.array_equal(S, S.T) or not supports(solver):
        return True
    v = np.random.default_rng(_SEED).standard_normal(field.n)
    q, _ = norm_estimate(*_iteration(solver, S, h), v / np.linalg.norm(v))
    return q < 1.0


def contracting_step(solver, field, h_eig: float) -> tuple[float, float] | None:
    """A step ``h ≤ h_eig`` with the smallest estimated ``‖G(h)‖₂ < 1`` and that norm.

    None when ``S_H`` is not positive definite (no step is then guaranteed to contract).
    The norm returned is, at the field-of-values step, the larger of the bound and the
    estimate, so that a horizon computed from it holds.
    """
    S = field.system_matrix
    omega = field.numerical_abscissa
    if not omega > 0:
        return None
    rng = np.random.default_rng(_SEED)
    v = rng.standard_normal(field.n)
    sigma, _ = norm_estimate(lambda u: S @ u, lambda u: S.T @ u, v / np.linalg.norm(v))
    h_fov = omega / sigma ** 2
    bound = math.sqrt(max(1.0 - (omega / sigma) ** 2, 0.0))
    vector = v / np.linalg.norm(v)

    def norm_at(h: float) -> float:
        nonlocal vector
        q, vector = norm_estimate(*_iteration(solver, S, h), vector)
        return q

    best = (h_fov, max(bound, norm_at(h_fov)))
    if h_eig > h_fov:
        # golden section on the convex h -> ||I - hS||_2 (for RK4 a heuristic, checked)
        ratio = (math.sqrt(5.0) - 1.0) / 2.0
        lo, hi = h_fov, h_eig
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        qa, qb = norm_at(a), norm_at(b)
        for _ in range(SEARCH_STEPS):
            if qa < qb:
                hi, b, qb = b, a, qa
                a = hi - ratio * (hi - lo)
                qa = norm_at(a)
            else:
                lo, a, qa = a, b, qb
                b = lo + ratio * (hi - lo)
                qb = norm_at(b)
        for h, q in ((a, qa), (b, qb)):
            if q < best[1]:
                best = (h, q)
    return best if best[1] < 1.0 else None
