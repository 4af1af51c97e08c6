"""A Gaussian teacher–student task whose inputs have a chosen correlation spectrum.

Inputs ``x ~ N(0, Σ)`` with ``Σ = U diag(λ) Uᵀ``, ``U`` a random orthogonal matrix and
``λ_i ∝ i^(−decay)`` scaled so ``tr Σ = n_features`` (``decay = 0``: white inputs; larger:
more strongly correlated). Labels are the argmax of a random teacher network
``W₂ tanh(W₁ x)`` with ``n_teacher_hidden`` units — learnable by the student, but not linearly.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.data.base import Dataset
from neurodecorr.errors import NeurodecorrError


def spectrum(n_features: int, decay: float) -> np.ndarray:
    """Eigenvalues ``λ_i ∝ i^(−decay)``, ``i = 1..n``, summing to ``n_features``."""
    lam = np.arange(1, n_features + 1, dtype=np.float64) ** (-decay)
    return lam * n_features / lam.sum()


def load_synthetic(n_features: int = 32, n_classes: int = 4, n_train: int = 2000,
                   n_test: int = 1000, decay: float = 1.0, n_teacher_hidden: int = 64,
                   seed: int = 0) -> Dataset:
    """Draw the task; every number follows from ``seed``.

    Parameters
    ----------
    n_features, n_classes, n_train, n_test : int
    decay : float
        Exponent of the input covariance's power-law spectrum (≥ 0).
    n_teacher_hidden : int
        Hidden width of the teacher network.
    seed : int
    """
    for name, value in (("n_features", n_features), ("n_train", n_train), ("n_test", n_test),
                        ("n_teacher_hidden", n_teacher_hidden)):
        if value < 1:
            raise NeurodecorrError(f"synthetic: {name} must be at least 1, got {value}")
    if n_classes < 2:
        raise NeurodecorrError(f"synthetic: n_classes must be at least 2, got {n_classes}")
    if not decay >= 0:
        raise NeurodecorrError(f"synthetic: decay must be >= 0, got {decay}")
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n_features, n_features)))
    mixing = U * np.sqrt(spectrum(n_features, decay))
    x = rng.standard_normal((n_train + n_test, n_features)) @ mixing.T
    W1 = rng.standard_normal((n_teacher_hidden, n_features)) / np.sqrt(n_features)
    W2 = rng.standard_normal((n_classes, n_teacher_hidden)) / np.sqrt(n_teacher_hidden)
    y = np.argmax(np.tanh(x @ W1.T) @ W2.T, axis=1).astype(np.int64)
    return Dataset(name="synthetic", x_train=x[:n_train], y_train=y[:n_train],
                   x_test=x[n_train:], y_test=y[n_train:], n_classes=n_classes)
