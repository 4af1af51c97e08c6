"""Fitting a decorrelator to a data set by minibatch passes.

Both forms see the same stream of minibatches (shuffled once per epoch from an explicit seed),
so the linear ``M`` and the inverse ``A`` can be compared like for like.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

from neurodecorr.core.inverse import InverseDecorrelator
from neurodecorr.core.linear import LinearDecorrelator, check_stability
from neurodecorr.core.rules import DecorrelationConfig
from neurodecorr.errors import NeurodecorrError

FORMS = ("linear", "recurrent")


def minibatches(n_samples: int, batch_size: int, epochs: int, seed: int
                ) -> Iterator[np.ndarray]:
    """Row indices of each minibatch: a fresh permutation per epoch from ``seed``."""
    if batch_size < 1:
        raise NeurodecorrError(f"batch-size: must be at least 1, got {batch_size}")
    if epochs < 1:
        raise NeurodecorrError(f"epochs: must be at least 1, got {epochs}")
    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(n_samples)
        for start in range(0, n_samples, batch_size):
            yield order[start:start + batch_size]


@dataclass
class FitResult:
    """A fitted decorrelator: ``matrix`` is ``M`` (linear form) or ``A = M⁻¹`` (recurrent)."""

    form: str
    matrix: np.ndarray
    steps: int

    def transform(self, X: np.ndarray) -> np.ndarray:
        """``X̄``: ``X Mᵀ`` in the linear form, the fixed point ``A⁻¹ x`` in the recurrent form."""
        if self.form == "linear":
            return X @ self.matrix.T
        return np.linalg.solve(self.matrix, X.T).T


def fit_decorrelator(X: np.ndarray, config: DecorrelationConfig, form: str = "linear",
                     epochs: int = 1, batch_size: int = 64, seed: int = 0,
                     progress: Callable[[int], None] | None = None) -> FitResult:
    """Learn ``M`` (linear form) or ``A = M⁻¹`` (recurrent form, first-order local rule).

    Parameters
    ----------
    X : ndarray, shape (N, d)
        Samples in rows.
    config : DecorrelationConfig
    form : {"linear", "recurrent"}
    epochs, batch_size, seed : int
        Passes over the data, minibatch size, seed of the shuffling.
    progress : callable, optional
        Called with the number of samples processed after each minibatch.
    """
    if form not in FORMS:
        raise NeurodecorrError(f"form: unknown form '{form}'; choose linear or recurrent")
    if X.ndim != 2 or X.shape[0] < 2:
        raise NeurodecorrError(f"input: need a 2-D array with at least 2 samples, got shape "
                               f"{X.shape}")
    check_stability(X, config.eta)
    d = X.shape[1]
    model = LinearDecorrelator(d, config) if form == "linear" else InverseDecorrelator(d, config)
    steps = 0
    for idx in minibatches(X.shape[0], batch_size, epochs, seed):
        model.update(X[idx])
        steps += 1
        if progress is not None:
            progress(len(idx))
    matrix = model.M if form == "linear" else model.A
    return FitResult(form=form, matrix=matrix, steps=steps)
