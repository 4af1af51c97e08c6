"""Forward Euler with a cycle of Chebyshev step sizes (super-time-stepping) for settling.

Euler with a constant step contracts the error of every eigen-mode μ of ``A + λI`` by
``|1 − h μ|`` per step; at the best constant step that is ``(κ − 1)/(κ + 1)`` for a real
spectrum in ``[a, b]``, ``κ = b/a``. A cycle of ``N`` Euler steps with the steps

    h_k = 1 / (c + d cos((2k − 1)π / 2N)),   c = (a + b)/2,  d = (b − a)/2,  k = 1..N

multiplies each mode by ``Π_k (1 − h_k μ) = T_N((c − μ)/d) / T_N(c/d)``, the Chebyshev
polynomial that is smallest on ``[a, b]``: about ``((√κ − 1)/(√κ + 1))^N`` per cycle, so the
number of steps to a tolerance scales with ``√κ`` instead of ``κ`` (super-time-stepping,
Alexiades, Amiez & Gremaud 1996; the Chebyshev semi-iteration, Golub & Varga 1961). Every step
is an ordinary Euler step of ``τ dx̄/dt = x − A x̄ − λx̄`` with the fixed point ``(A + λI)⁻¹ x``,
so the cycle has that fixed point exactly. A cycle is ``check_every`` steps; the residual of
every state is measured (each step reads ``A x̄`` anyway) and the run stops at the first state
below ``tol``, whose residual is exact. The states approximate the trajectory (to first order)
only at cycle ends, so ``t_settle`` is the time of the Euler iterate, not of the circuit.
Individual steps exceed Euler's stability limit: the step order is chosen to keep the
largest intermediate growth of any mode small, and the cycle's contraction is evaluated on the
actual spectrum (complex eigenvalues included); where it does not beat constant-step Euler the
cycle falls back to Euler's best constant step. Noiseless circuits only: intermediate growth
would amplify read or state noise.
"""

from __future__ import annotations

import math
import weakref
from dataclasses import replace

import numpy as np

from neurodecorr.circuits import kernels
from neurodecorr.circuits.integrators.base import FixedStepSolver
from neurodecorr.circuits.settling import Monitor, default_max_time
from neurodecorr.circuits.solution import SETTLED, TIME_LIMIT, SettleResult
from neurodecorr.circuits.stability import optimal_h, spectral_radius
from neurodecorr.errors import NeurodecorrError

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


#: the last cycle built, for repeated settles of the same field: (spectrum, N, steps, ρ)
_last: list = []


def cycle_for(eigenvalues: np.ndarray, n_steps: int) -> tuple[np.ndarray, float]:
    """:func:`chebyshev_cycle`, reused while the same spectrum array (a field's cached
    eigenvalues) is settled again: building a cycle costs a few ms at n = 256."""
    if _last and _last[0]() is eigenvalues and _last[1] == n_steps:
        return _last[2], _last[3]
    hs, rho = chebyshev_cycle(eigenvalues, n_steps)
    _last[:] = [weakref.ref(eigenvalues), n_steps, hs, rho]
    return hs, rho


def chebyshev_cycle(eigenvalues: np.ndarray, n_steps: int) -> tuple[np.ndarray, float]:
    """Steps ``h_k = dt_k/τ`` of one cycle and its contraction on ``eigenvalues`` of ``A + λI``.

    Falls back to ``n_steps`` constant optimal Euler steps when the Chebyshev cycle does not
    contract faster, or grows any mode by more than :data:`MAX_GROWTH` inside the cycle.
    """
    mu = np.asarray(eigenvalues, dtype=np.complex128)
    h_euler = optimal_h("euler", mu)
    euler = np.full(n_steps, h_euler)
    rho_euler = spectral_radius("euler", h_euler, mu) ** n_steps
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


class ChebyshevEuler(FixedStepSolver):
    """Euler steps in Chebyshev cycles of ``check_every`` steps (see module docstring).

    The cycle is built from the spectrum of ``A + λI``; a given ``dt_s`` is refused (the steps
    are the method). ``SettleResult.dt_s`` is the mean step of a cycle.
    """

    name = "chebyshev"

    def __init__(self, dt_s: float | None = None) -> None:
        if dt_s is not None:
            raise NeurodecorrError("dt: the chebyshev method chooses its own steps from the "
                                   "spectrum; use euler for a fixed step")
        super().__init__(None)

    def run(self, field, X, Y, criterion, rng) -> SettleResult:
        if field.noisy:
            raise NeurodecorrError("method chebyshev: needs a noiseless circuit (its large "
                                   "steps amplify noise); use euler or euler-maruyama")
        n_steps = int(criterion.check_every)
        hs, rho = cycle_for(field.eigenvalues, n_steps)
        cycle_s = float(np.sum(hs)) * field.tau_s
        offsets = np.concatenate([[0.0], np.cumsum(hs)[:-1]]) * field.tau_s
        max_time = criterion.max_time_s
        if max_time is None:
            max_time = default_max_time(criterion.tol, -math.log(max(rho, 1e-300)) / cycle_s)
        max_steps = n_steps * max(1, math.ceil(max_time / cycle_s - 1e-9))
        f = Y.dtype.type
        hs_t, leak = [f(h) for h in hs], f(field.leak)
        P, nxt, rsq = np.empty_like(Y), np.empty_like(Y), np.empty(Y.shape[0])
        # every step reads A x̄ anyway, so the residual of every state is measured: the run
        # stops at the first state below tol, inside a cycle or at its end
        monitor = Monitor(X, replace(criterion, check_every=1))
        cur, step = Y, 0
        while True:
            k = step % n_steps
            t = (step // n_steps) * cycle_s + offsets[k]
            field.reader.read(cur, t, P)
            kernels.residual_step(X, P, cur, leak, hs_t[k], nxt, rsq)
            status = monitor.update(t, rsq)
            if status is not None:
                break
            if step == max_steps:
                status = SETTLED if np.max(monitor.residual) < criterion.tol else TIME_LIMIT
                break
            cur, nxt = nxt, cur
            step += 1
        worst = float(np.max(monitor.residual))
        if status == TIME_LIMIT:
            message = (f"time limit {max_time:.4g} s reached; max residual {worst:.3g} > tol "
                       f"{criterion.tol:.3g}")
        else:
            message = monitor.message
        if cur is not Y:
            Y[...] = cur
        return SettleResult(y=Y, t=t, t_settle=monitor.t_settle, residual=monitor.residual,
                            nsteps=step, nfev=step + 1, status=status, message=message,
                            method=self.name, dt_s=cycle_s / n_steps)
