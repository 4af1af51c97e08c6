"""The vector field (the *term*, in diffrax's words) and the reader protocol it reads through.

    τ dx̄/dt = x − A x̄ − λ x̄ + τ σ ξ(t)

(Ahmad 2024, arXiv 2407.10780, Appendix C, with the sign of the printed equation corrected so
that it settles: see docs/simulator.md). ``x`` is the input held on the nodes, ``A = M⁻¹`` the
stored lateral matrix (read through a pluggable reader), ``λ ≥ 0`` an optional leak of every
node towards zero in units of ``1/τ``, and ``ξ`` white noise. The noise is specified by
``noise_std``, the RMS fluctuation of each node about its fixed point when ``A = I`` and
``λ = 0``; then ``σ = noise_std · sqrt(2/τ)`` and the stationary covariance ``P`` of the
fluctuations solves the Lyapunov equation ``(A + λI) P + P (A + λI)ᵀ = 2 noise_std² I``.

Without noise the fixed point is ``x̄* = (A + λI)⁻¹ x``; with ``λ = 0`` it is ``A⁻¹ x = M x``.

The field never multiplies by ``A`` itself: it asks a *reader* (:class:`Reader`). The ideal
reader is one BLAS product; the circuits package supplies readers with device non-idealities
(converters, noise, drift, mismatch, rails).
"""

from __future__ import annotations

from functools import cached_property
from typing import Protocol

import numpy as np

from neurodecorr.errors import NeurodecorrError

DTYPES = {"float32": np.float32, "float64": np.float64}


def as_dtype(dtype: object) -> np.dtype:
    """Accept ``float32``/``float64`` (names or numpy types); refuse anything else."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise NeurodecorrError(f"dtype: must be float32 or float64, got {dtype!r}")
    return dt


class Reader(Protocol):
    """How the field obtains the lateral product ``A x̄``.

    ``read(Y, t_s, out)`` writes ``out[b] = A_eff(t) @ Y[b]`` (rows of ``Y`` are samples,
    ``t_s`` is circuit time since the start of the settle, in seconds); ``matrix(t_s)`` is the
    noiseless matrix a read at ``t_s`` multiplies by. ``noisy``: two reads of the same state
    may differ. ``exact``: the product is the fixed matrix ``matrix(0)`` itself, so methods
    that need the matrix (the exact solution, solve_ivp) may use it.
    """

    noisy: bool
    exact: bool

    def read(self, Y: np.ndarray, t_s: float, out: np.ndarray) -> np.ndarray: ...

    def matrix(self, t_s: float = 0.0) -> np.ndarray: ...


class IdealReader:
    """``out = Y Aᵀ`` by one BLAS matrix product; noiseless and time-independent.

    Parameters
    ----------
    A : ndarray, shape (n, n)
        The lateral matrix, already in the working dtype.
    """

    noisy = False
    exact = True

    def __init__(self, A: np.ndarray) -> None:
        self.A = A
        # A C-ordered A read through its transpose view lets BLAS use its transposed kernel
        # without a copy.
        self._At = A.T

    def read(self, Y: np.ndarray, t_s: float, out: np.ndarray) -> np.ndarray:
        return np.matmul(Y, self._At, out=out)

    def matrix(self, t_s: float = 0.0) -> np.ndarray:
        """The matrix this reader multiplies by."""
        return self.A


class LateralField:
    """The lateral dynamics ``τ dx̄/dt = x − A x̄ − λ x̄ (+ noise)`` of one layer.

    Parameters
    ----------
    A : array_like, shape (n, n)
        Lateral matrix (the chip's stored ``M⁻¹``).
    tau_s : float
        Time constant τ of every node, in seconds.
    leak : float
        Leak λ, in units of ``1/τ`` (0: ideal integrating nodes).
    noise_std : float
        RMS state noise of a node with ``A = I`` (state units); 0 for a noiseless circuit.
    dtype : float32 or float64
        Working precision of states and products.
    reader : Reader, optional
        How ``A x̄`` is read; the ideal GEMM by default.
    """

    def __init__(self, A: np.ndarray, tau_s: float = 1e-6, leak: float = 0.0,
                 noise_std: float = 0.0, dtype: object = np.float64, reader: Reader | None = None
                 ) -> None:
        A = np.asarray(A)
        if A.ndim != 2 or A.shape[0] != A.shape[1]:
            raise NeurodecorrError(f"A: must be a square matrix, got shape {A.shape}")
        if not np.all(np.isfinite(A)):
            raise NeurodecorrError("A: contains NaN or infinite values")
        if not (np.isfinite(tau_s) and tau_s > 0):
            raise NeurodecorrError(f"tau_s: must be positive, got {tau_s}")
        if not (np.isfinite(leak) and leak >= 0):
            raise NeurodecorrError(f"leak: must be non-negative, got {leak}")
        if not (np.isfinite(noise_std) and noise_std >= 0):
            raise NeurodecorrError(f"noise_std: must be non-negative, got {noise_std}")
        self.dtype = as_dtype(dtype)
        self.A = np.ascontiguousarray(A, dtype=self.dtype)
        self.tau_s = float(tau_s)
        self.leak = float(leak)
        self.noise_std = float(noise_std)
        self.reader = IdealReader(self.A) if reader is None else reader
        #: step plans of the controllers for this field and figures of its spectrum, reused
        #: by repeated settles (a Chebyshev cycle costs a few ms at n = 256)
        self.plans: dict = {}

    @property
    def n(self) -> int:
        return self.A.shape[0]

    @property
    def exact(self) -> bool:
        """True when the product is the fixed, noiseless matrix ``A`` and there is no noise."""
        return bool(getattr(self.reader, "exact", False)) and not self.noisy

    @property
    def noisy(self) -> bool:
        return self.noise_std > 0 or bool(getattr(self.reader, "noisy", False))

    @cached_property
    def system_matrix(self) -> np.ndarray:
        """``A + λI`` in float64: the matrix whose spectrum sets stability and speed.

        ``A`` is the matrix the reader multiplies by at the start of the settle: the stored
        matrix for the ideal reader, the effective (drifted) one for a device.
        """
        return np.asarray(self.reader.matrix(0.0), dtype=np.float64) + self.leak * np.eye(self.n)

    @cached_property
    def eigenvalues(self) -> np.ndarray:
        """Eigenvalues of ``A + λI`` (float64, computed once per field and cached)."""
        return np.linalg.eigvals(self.system_matrix)

    @cached_property
    def departure_from_normality(self) -> float:
        """Henrici's departure from normality ``ν = sqrt(‖S‖_F² − Σ|μ_i|²)`` of ``S = A + λI``.

        It is the Frobenius norm of the strictly upper part ``N`` of any Schur form
        ``S = Q (D + N) Q*`` (the Frobenius norm is unitarily invariant), so it needs no Schur
        decomposition; 0 for a normal matrix.
        """
        S = self.system_matrix
        gap = float(np.sum(S * S) - np.sum(np.abs(self.eigenvalues) ** 2))
        return float(np.sqrt(max(gap, 0.0)))

    @cached_property
    def numerical_abscissa(self) -> float:
        """``ω = λ_min((S + Sᵀ)/2)``, ``S = A + λI``: the left end of the real part of the field
        of values of ``S`` (ω > 0: ``‖e^{−S s}‖₂ ≤ e^{−ω s}``, and a small Euler step contracts
        in the 2-norm; see :mod:`neurodecorr.ode.contraction`)."""
        S = self.system_matrix
        return float(np.linalg.eigvalsh((S + S.T) / 2.0)[0])

    def fixed_point(self, X: np.ndarray) -> np.ndarray:
        """``x̄* = (A + λI)⁻¹ x`` for each row of ``X``, by a float64 linear solve."""
        return np.linalg.solve(self.system_matrix, np.asarray(X, dtype=np.float64).T).T
