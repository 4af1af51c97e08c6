"""A cyclic step-size controller: Chebyshev step sizes for Euler (super-time-stepping).

Euler with a constant step contracts the error of every eigen-mode μ of ``A + λI`` by
``|1 − h μ|`` per step; at the best constant step that is ``(κ − 1)/(κ + 1)`` for a real
spectrum in ``[a, b]``, ``κ = b/a``. A cycle of ``N`` Euler steps with the steps

    h_k = 1 / (c + d cos((2k − 1)π / 2N)),   c = (a + b)/2,  d = (b − a)/2,  k = 1..N

multiplies each mode by ``Π_k (1 − h_k μ) = T_N((c − μ)/d) / T_N(c/d)``, the Chebyshev
polynomial that is smallest on ``[a, b]``: about ``((√κ − 1)/(√κ + 1))^N`` per cycle, so the
number of steps to a tolerance scales with ``√κ`` instead of ``κ`` (super-time-stepping,
Alexiades, Amiez & Gremaud 1996; the Chebyshev semi-iteration, Golub & Varga 1961). Every step
is an ordinary Euler step of ``τ dx̄/dt = x − A x̄ − λx̄`` with the fixed point ``(A + λI)⁻¹ x``,
so the cycle has that fixed point exactly: the method is Euler, and only the controller that
chooses its steps differs. A cycle is ``check_every`` steps; the residual of every state is
measured (each Euler step reads ``A x̄`` anyway) and the run stops at the first state below
``tol``, whose residual is exact. The states approximate the trajectory (to first order)
only at cycle ends, so ``t_settle`` is the time of the Euler iterate, not of the circuit.
Individual steps exceed Euler's stability limit: the step order is chosen to keep the
largest intermediate growth of any mode small, and the cycle's contraction is evaluated on the
actual spectrum (complex eigenvalues included); where it does not beat constant-step Euler the
cycle falls back to Euler's best constant step. For a non-normal matrix whose optimal Euler
step is not a 2-norm contraction the controller takes the contracting constant step of
:mod:`neurodecorr.ode.contraction` instead (the cycle's bound holds per eigen-mode only).
Noiseless circuits only: intermediate growth would amplify read or state noise.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode.controllers.base import StepCycle
from neurodecorr.ode.controllers.optimal import optimal_plan
from neurodecorr.ode.solvers.euler import Euler
from neurodecorr.ode.stability import optimal_h, spectral_radius

#: largest growth of any mode inside a cycle (its rounding error is growth · eps)
MAX_GROWTH = 1e3


def _cycle_stats(h: np.ndarray, mu: np.ndarray) -> tuple[float, float]:
    """Contraction ``max_μ |Π(1 − h_k μ)|`` of the cycle and its largest intermediate growth."""
    factors = 1.0 - h[:, None] * mu[None, :]
    partial = np.cumprod(factors, axis=0)
    return float(np.max(np.abs(partial[-1]))), float(np.max(np.abs(partial)))


def _orders(n: int) -> list[np.ndarray]:
    """Candidate orders of the N steps (largest-first interleaved with smallest, and sorted)."""
    idx = np.arange(n)
    inter = np.empty(n, dtype=int)
    inter[0::2] = idx[: (n + 1) // 2]
    inter[1::2] = idx[::-1][: n // 2]
    return [inter, inter[::-1].copy(), idx, idx[::-1].copy()]


def chebyshev_cycle(eigenvalues: np.ndarray, n_steps: int) -> tuple[np.ndarray, float]:
    """Steps ``h_k = dt_k/τ`` of one cycle and its contraction on ``eigenvalues`` of ``A + λI``.

    Falls back to ``n_steps`` constant optimal Euler steps when the Chebyshev cycle does not
    contract faster, or grows any mode by more than :data:`MAX_GROWTH` inside the cycle.
    """
    mu = np.asarray(eigenvalues, dtype=np.complex128)
    h_euler = optimal_h(Euler(), mu)
    euler = np.full(n_steps, h_euler)
    rho_euler = spectral_radius(Euler(), h_euler, mu) ** n_steps
    a, b = float(np.min(mu.real)), float(np.max(np.abs(mu)))
    if n_steps < 2 or not b > a > 0:
        return euler, rho_euler
    k = np.arange(1, n_steps + 1)
    h = 1.0 / ((a + b) / 2 + (b - a) / 2 * np.cos((2 * k - 1) * np.pi / (2 * n_steps)))
    best = None
    for order in _orders(n_steps):
        rho, growth = _cycle_stats(h[order], mu)
        if growth <= MAX_GROWTH and (best is None or growth < best[2]):
            best = (h[order], rho, growth)
    if best is None or best[1] >= rho_euler:
        return euler, rho_euler
    return best[0], best[1]


class ChebyshevCycle:
    """Euler's steps in Chebyshev cycles of ``n_steps`` (default ``check_every``) steps.

    The cycle is built from the spectrum of ``A + λI`` once per field and kept with it
    (``LateralField.plans``). Euler only (the cycle is built for its stability polynomial),
    noiseless circuits only (intermediate growth would amplify noise).
    """

    noiseless_only = True
    label = "chebyshev"

    def __init__(self, n_steps: int | None = None) -> None:
        if n_steps is not None and (int(n_steps) != n_steps or n_steps < 1):
            raise NeurodecorrError(f"n_steps: must be a positive integer, got {n_steps}")
        self.n_steps = n_steps

    def plan(self, solver, field, criterion) -> StepCycle:
        if not isinstance(solver, Euler) or solver.stochastic:
            raise NeurodecorrError(f"method {solver.name}: the Chebyshev cycle is built for "
                                   "Euler's steps; use euler")
        h, rho, norm, warning = optimal_plan(solver, field)
        if norm is not None:
            # non-normal: Euler's eigen-optimal step already lets the residual grow, and the
            # cycle's larger steps would grow it more; take the 2-norm-contracting step
            return StepCycle(np.array([h]), rho, 1, norm, warning)
        n_steps = int(self.n_steps or criterion.check_every)
        key = ("chebyshev", n_steps)
        if key not in field.plans:
            field.plans[key] = chebyshev_cycle(field.eigenvalues, n_steps)
        hs, rho = field.plans[key]
        # every step reads A x̄ anyway: measure every state, stop at the first below tol
        return StepCycle(hs, rho, 1, None, warning)
