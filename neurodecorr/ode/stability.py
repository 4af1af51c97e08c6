"""Stability of the circuit and of the fixed-step solvers that simulate it.

The circuit ``τ dx̄/dt = x − (A + λI) x̄`` settles from every start if and only if every
eigenvalue μ of ``A + λI`` has a positive real part. A one-step method applied to it multiplies
each eigen-mode per step by ``R(z)`` with ``z = −h μ``, ``h = dt/τ``: ``R(z) = 1 + z`` for
(forward) Euler and Euler–Maruyama, ``R(z) = 1 + z + z²/2 + z³/6 + z⁴/24`` for classical RK4
(Hairer & Wanner, *Solving ODEs II*, §IV.2). The discrete iteration settles when
``max |R(−h μ)| < 1``; it settles fastest (asymptotically) at the ``h`` that minimises that
spectral radius, which is the step the optimal controller chooses.

Each solver declares its stability function as ``solver.amplification(z)``; the functions
here take the solver.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.errors import NeurodecorrError

#: The stability regions of both methods lie inside |z| < 3 (RK4 reaches −2.785 on the real axis).
_REGION_RADIUS = 3.0


def _fmt(mu: complex) -> str:
    return f"{mu.real:.4g}{mu.imag:+.4g}j" if mu.imag else f"{mu.real:.4g}"


def check_eigenvalues(eigenvalues: np.ndarray, what: str = "A") -> None:
    """Refuse a matrix with an eigenvalue of non-positive real part, naming that eigenvalue."""
    if eigenvalues.size == 0:
        raise NeurodecorrError(f"{what}: empty matrix")
    i = int(np.argmin(eigenvalues.real))
    if not eigenvalues[i].real > 0:
        raise NeurodecorrError(
            f"{what} is unstable: eigenvalue {_fmt(eigenvalues[i])} has non-positive real part, "
            "so tau dxbar/dt = x - A xbar does not settle")


def ray_limits(amplification, eigenvalues: np.ndarray) -> np.ndarray:
    """Per eigenvalue μ, the largest ``h`` with ``|R(−s μ)| < 1`` for all ``s`` in ``(0, h)``.

    Each ray ``z = −s μ/|μ|`` is scanned and the first crossing of ``|R| = 1`` bisected.
    """
    mu = np.asarray(eigenvalues, dtype=np.complex128)
    direction = -mu / np.abs(mu)
    s = np.linspace(0.0, _REGION_RADIUS, 601)[1:]
    outside = np.abs(amplification(s[:, None] * direction[None, :])) >= 1.0
    # first grid point outside the region along each ray (the region is open at s = 0)
    first = np.where(outside.any(axis=0), outside.argmax(axis=0), len(s) - 1)
    hi = s[first]
    lo = np.where(first > 0, s[np.maximum(first - 1, 0)], 0.0)
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        bad = np.abs(amplification(mid * direction)) >= 1.0
        hi = np.where(bad, mid, hi)
        lo = np.where(bad, lo, mid)
    return lo / np.abs(mu)


def max_stable_h(solver, eigenvalues: np.ndarray) -> tuple[float, complex]:
    """Largest ``h = dt/τ`` with ``|R(−h μ)| < 1`` on ``(0, h)`` for every eigenvalue μ.

    Returns the limit and the eigenvalue that sets it (the fastest mode), from the solver's
    ``stable_limits`` (Euler: the closed form ``h < 2 Re μ / |μ|²``; RK4: :func:`ray_limits`).
    """
    mu = np.asarray(eigenvalues, dtype=np.complex128)
    limits = solver.stable_limits(mu)
    i = int(np.argmin(limits))
    return float(limits[i]), complex(mu[i])


def spectral_radius(solver, h: float, eigenvalues: np.ndarray) -> float:
    """``max_μ |R(−h μ)|``: the asymptotic contraction of the error per step."""
    return float(np.max(np.abs(solver.amplification(-h * np.asarray(eigenvalues)))))


def optimal_h(solver, eigenvalues: np.ndarray) -> float:
    """The ``h`` in ``(0, h_max)`` that minimises :func:`spectral_radius` (grid, then refine).

    For Euler with a real spectrum in ``[μ_min, μ_max]`` this is ``2/(μ_min + μ_max)``.
    """
    h_max, _ = max_stable_h(solver, eigenvalues)
    amplification = solver.amplification
    mu = np.asarray(eigenvalues)
    grid = h_max * np.linspace(0.0, 1.0, 401)[1:-1]
    rho = np.max(np.abs(amplification(-grid[:, None] * mu[None, :])), axis=1)
    k = int(np.argmin(rho))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    fine = np.linspace(lo, hi, 201)
    rho = np.max(np.abs(amplification(-fine[:, None] * mu[None, :])), axis=1)
    return float(fine[int(np.argmin(rho))])


def check_step(solver, dt_s: float, tau_s: float, eigenvalues: np.ndarray) -> None:
    """Refuse a step ``dt`` at or beyond the method's stability limit for the fastest mode."""
    h_max, mu = max_stable_h(solver, eigenvalues)
    if not dt_s / tau_s < h_max:
        raise NeurodecorrError(
            f"dt: {dt_s:.4g} s is too large for {solver.name}: the mode with eigenvalue {_fmt(mu)} "
            f"needs dt < {h_max * tau_s:.4g} s (tau = {tau_s:.4g} s)")
