"""scikit-learn's handwritten digits (1797 images of 8×8 pixels, 10 classes), shipped offline.

The split is fixed: a permutation drawn with seed 0 puts the first 80 % in training. Features
are standardised with the training set's mean and standard deviation (a constant pixel keeps
scale 1).
"""

from __future__ import annotations

import numpy as np

from neurodecorr.data.base import Dataset

TEST_FRACTION = 0.2
SPLIT_SEED = 0


def standardise(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Subtract the training mean and divide by the training standard deviation per feature."""
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0
    return (x_train - mean) / std, (x_test - mean) / std


def load_digits() -> Dataset:
    """Return the digits as standardised float64 features and int64 labels."""
    from sklearn.datasets import load_digits as sk_load_digits

    raw = sk_load_digits()
    x = np.asarray(raw.data, dtype=np.float64)
    y = np.asarray(raw.target, dtype=np.int64)
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    n_test = int(round(TEST_FRACTION * len(x)))
    test, train = order[:n_test], order[n_test:]
    x_train, x_test = standardise(x[train], x[test])
    return Dataset(name="digits", x_train=x_train, y_train=y[train], x_test=x_test,
                   y_test=y[test], n_classes=10)
