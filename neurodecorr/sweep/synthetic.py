"""Inputs a sweep point draws from its seed when it gives sizes instead of files.

A point of ``settle`` or ``decorrelate`` may give ``n`` (units) and ``batch`` (samples) instead
of ``--matrix``/``--input``. It then gets correlated inputs and, for ``settle``, a stable
non-symmetric lateral matrix, both drawn from the point's seed. The two draws come from separate
child streams of ``SeedSequence(seed, spawn_key=(SPAWN_KEY,))``, so (i) the inputs of one
``(n, batch, seed)`` are the same whichever command uses them, and (ii) they are independent of
the stream ``default_rng(seed)`` that the command itself draws its own noise from.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.errors import NeurodecorrError

#: Tags the sweep's data streams apart from ``default_rng(seed)`` inside the commands.
SPAWN_KEY = 0x5EE9

#: Ratio of the largest to the smallest input variance (eigenvalues of the covariance).
INPUT_CONDITION = 10.0

#: Radius of the disc around 1 that holds the eigenvalues of the lateral matrix.
LATERAL_RADIUS = 0.5


def _streams(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    if seed < 0:
        raise NeurodecorrError(f"seed: must be non-negative to draw inputs, got {seed}")
    inputs, lateral = np.random.SeedSequence(seed, spawn_key=(SPAWN_KEY,)).spawn(2)
    return np.random.default_rng(inputs), np.random.default_rng(lateral)


def haar_orthogonal(n: int, rng: np.random.Generator) -> np.ndarray:
    """A Haar-distributed orthogonal matrix: QR of a Gaussian with the signs of ``diag(R)`` fixed.

    Mezzadri 2007, "How to generate random matrices from the classical compact groups".
    """
    Q, R = np.linalg.qr(rng.standard_normal((n, n)))
    return Q * np.sign(np.diag(R))


def input_covariance(n: int, seed: int) -> np.ndarray:
    """The covariance ``Σ = L Lᵀ`` of :func:`correlated_inputs` for this ``n`` and seed."""
    L = _mixing(n, _streams(seed)[0])
    return L @ L.T


def _mixing(n: int, rng: np.random.Generator) -> np.ndarray:
    # Eigenvalues log-spaced over INPUT_CONDITION and scaled to mean 1, so <|x|^2> = n and a
    # decorrelation rate that suits one n suits the others after dividing by n.
    lam = np.geomspace(1.0, 1.0 / INPUT_CONDITION, n)
    lam *= n / lam.sum()
    return haar_orthogonal(n, rng) * np.sqrt(lam)


def correlated_inputs(n: int, batch: int, seed: int) -> np.ndarray:
    """``batch`` samples ``x = L z`` (rows of ``X = Z Lᵀ``), ``z ~ N(0, I)``.

    ``L = Q diag(√λ)`` with ``Q`` Haar-orthogonal and ``λ`` log-spaced over a factor
    :data:`INPUT_CONDITION`, scaled so that ``tr Σ = n``: every pair of units is correlated
    through the random eigenvectors, and ``Σ = Q diag(λ) Qᵀ`` is known exactly.
    """
    _check_sizes(n, batch)
    rng = _streams(seed)[0]
    L = _mixing(n, rng)
    return rng.standard_normal((batch, n)) @ L.T


def stable_lateral(n: int, seed: int) -> np.ndarray:
    """A non-symmetric lateral matrix ``A = I + r G / ρ(G)`` with ``G`` standard Gaussian.

    Every eigenvalue of ``A`` is ``1 + r μ/ρ(G)`` for an eigenvalue ``μ`` of ``G``, so it lies
    in the disc of radius ``r =`` :data:`LATERAL_RADIUS` around 1 and ``Re λ(A) ≥ 1 − r > 0``:
    the circuit ``τ dx̄/dt = x − A x̄`` settles from any start.
    """
    _check_sizes(n, 1)
    G = _streams(seed)[1].standard_normal((n, n))
    rho = float(np.max(np.abs(np.linalg.eigvals(G))))
    if rho == 0.0:
        return np.eye(n)
    return np.eye(n) + (LATERAL_RADIUS / rho) * G


def _check_sizes(n: int, batch: int) -> None:
    if n < 1 or batch < 1:
        raise NeurodecorrError(f"n and batch must be at least 1, got n={n}, batch={batch}")
