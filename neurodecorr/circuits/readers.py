"""Lateral readers: how the circuit obtains the product ``A x̄``.

The vector field never multiplies by ``A`` itself; it asks a reader. The ideal reader is one
matrix product (a GEMM over the batch); a device reader (see :mod:`neurodecorr.devices`) reads
the same product through a crossbar's converters, noise and drift. A reader implements

    read(Y, t_s, out) -> out          # out[b] = A_eff(t) @ Y[b], rows of Y are samples

``t_s`` is circuit time since the start of the settle, in seconds.
"""

from __future__ import annotations

import numpy as np


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
