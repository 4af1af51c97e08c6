"""The :class:`Dataset` container and the registry of loaders."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from neurodecorr.errors import NeurodecorrError


@dataclass(frozen=True)
class Dataset:
    """Train and test splits; rows of ``x_*`` are samples, ``y_*`` are integer class labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]


def _mnist1d(**_: object) -> Dataset:
    from neurodecorr.data.mnist1d import load_mnist1d

    return load_mnist1d()


#: name -> loader(**options) -> Dataset
LOADERS: dict[str, Callable[..., Dataset]] = {"mnist1d": _mnist1d}


def load_dataset(name: str, **options: object) -> Dataset:
    """Load a data set by name; unknown names are a one-line error listing the known ones."""
    if name not in LOADERS:
        raise NeurodecorrError(f"unknown dataset '{name}'; choose one of: {', '.join(LOADERS)}")
    return LOADERS[name](**options)
