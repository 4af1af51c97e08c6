"""Forward Euler: ``x̄ ← x̄ + h (x − A x̄ − λ x̄)``, ``h = dt/τ``.

First order; one lateral product per step. Stable for ``h < 2 Re μ / |μ|²`` for every
eigenvalue μ of ``A + λI``. The workhorse for settling: the error of the fixed point does not
depend on the step (the iteration's fixed point is exactly ``(A + λI)⁻¹ x``), only the speed
does, so any step-size controller may drive it (constant, optimal, Chebyshev cycle).
"""

from __future__ import annotations

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode import kernels
from neurodecorr.ode.solvers.base import Solver, Stepper
from neurodecorr.ode.solvers.blocks import MIN_BLOCK, BlockStepper
from neurodecorr.ode.term import IdealReader


class EulerStepper(Stepper):
    """Euler's buffers; a measured residual is reused by the next step (no second read).

    With the ideal reader the batch is held column-major (``Y``, ``X`` and the product in
    Fortran order): ``Y Aᵀ`` is then BLAS's ``A Yᵀ`` on C-ordered ``n × batch`` data, which
    OpenBLAS runs about 10 % faster at n = 100, batch 256 (float64, one thread), and every
    element-wise kernel runs on the contiguous transposes. ``Y`` is a copy then; ``finish``
    and ``settle`` read the states from ``self.Y``.
    """

    def __init__(self, field, X, Y):
        self.columns = (type(field.reader) is IdealReader and not field.noisy
                        and Y.shape[0] > 1)
        if self.columns:
            X, Y = np.asfortranarray(X), np.asfortranarray(Y)
        super().__init__(Y)
        self.field, self.X = field, X
        self.leak = Y.dtype.type(field.leak)
        self.P = np.empty_like(Y)
        self.R = np.empty_like(Y)
        self.rsq = np.empty(Y.shape[0])
        self.measured = False
        self._h = (None, None)
        # the element-wise kernels see C-contiguous arrays in either layout
        view = (lambda a: a.T) if self.columns else (lambda a: a)
        self._Yk, self._Xk, self._Pk, self._Rk = view(self.Y), view(X), view(self.P), view(self.R)

    def h(self, h: float):
        """``h`` in the working dtype (converted once per distinct step)."""
        if self._h[0] != h:
            self._h = (h, self.Y.dtype.type(h))
        return self._h[1]

    def measure(self, t):
        self.field.reader.read(self.Y, t, self.P)
        self.nfev += 1
        residual = kernels.residual_columns if self.columns else kernels.residual
        residual(self._Xk, self._Pk, self._Yk, self.leak, self._Rk, self.rsq)
        self.measured = True
        return self.rsq

    def advance(self, t, h):
        if self.measured:
            kernels.axpy(self._Yk, self._Rk, self.h(h))
            self.measured = False
            return
        self.field.reader.read(self.Y, t, self.P)
        self.nfev += 1
        kernels.euler_step(self._Yk, self._Xk, self._Pk, self.leak, self.h(h))

    def run(self, ts, hs):
        """The steps between two checks with nothing looked up per step: the read and the
        fused kernel, exactly as :meth:`advance` takes them (about 1.5 µs of Python less per
        step at n = 100, batch 256)."""
        if self.previous is not None:  # a trajectory keeps the state before every step
            return super().run(ts, hs)
        start = 0
        if self.measured:
            self.advance(ts[0], hs[0])
            start = 1
        read, step, to_h = self.field.reader.read, kernels.euler_step, self.h
        Y, P, Yk, Xk, Pk, leak = self.Y, self.P, self._Yk, self._Xk, self._Pk, self.leak
        for i in range(start, len(ts)):
            read(Y, ts[i], P)
            step(Yk, Xk, Pk, leak, to_h(hs[i]))
        self.nfev += len(ts) - start
        return len(ts)


class Euler(Solver):
    """Forward Euler (see module docstring).

    Parameters
    ----------
    dt_s : float, optional
        A constant step (s); None lets the controller choose.
    workers : int
        Threads that settle the batch in blocks (:mod:`neurodecorr.ode.solvers.blocks`), for
        the ideal, noiseless circuit and at least 32 samples per block; 1 (the default) keeps
        it on the calling thread. Each block runs its own BLAS product: use it with a
        single-threaded BLAS (``threadpoolctl.threadpool_limits(1)``, as the bench does),
        or the threads oversubscribe the cores.
    """

    name = "euler"

    def __init__(self, dt_s: float | None = None, workers: int = 1) -> None:
        super().__init__(dt_s)
        if (isinstance(workers, bool) or not isinstance(workers, (int, np.integer))
                or workers < 1):
            raise NeurodecorrError(f"workers: must be a positive integer, got {workers}")
        self.workers = int(workers)

    def amplification(self, z):
        return 1.0 + z

    def stable_limits(self, eigenvalues):
        mu = np.asarray(eigenvalues, dtype=np.complex128)
        return 2.0 * mu.real / np.abs(mu) ** 2

    def init(self, field, X, Y, rng, t_end_s, tol):
        blocks = min(self.workers, Y.shape[0] // MIN_BLOCK)
        if blocks > 1 and type(field.reader) is IdealReader and not field.noisy:
            return BlockStepper(lambda Xb, Yb: EulerStepper(field, Xb, Yb), X, Y, blocks)
        return EulerStepper(field, X, Y)
