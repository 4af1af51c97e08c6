"""MNIST-1D (Greydanus & Kobak 2024), generated offline.

``mnist1d.data.make_dataset(get_dataset_args())`` reproduces the published data set exactly
(4000 train / 1000 test samples of length 40, 10 classes) without a download. Its inputs are
strongly correlated (mean |off-diagonal correlation| about 0.21), which makes it a good test bed
for decorrelation. ``get_dataset`` would download and is never called.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from neurodecorr.data.base import Dataset


@lru_cache(maxsize=1)
def _generate() -> dict[str, np.ndarray]:
    from mnist1d.data import get_dataset_args, make_dataset

    return make_dataset(get_dataset_args())


def load_mnist1d() -> Dataset:
    """Return MNIST-1D as float64 inputs and int64 labels (generated once per process)."""
    raw = _generate()
    return Dataset(
        name="mnist1d",
        x_train=np.asarray(raw["x"], dtype=np.float64).copy(),
        y_train=np.asarray(raw["y"], dtype=np.int64).copy(),
        x_test=np.asarray(raw["x_test"], dtype=np.float64).copy(),
        y_test=np.asarray(raw["y_test"], dtype=np.int64).copy(),
        n_classes=10,
    )
