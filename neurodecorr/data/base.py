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


def _digits(**_: object) -> Dataset:
    from neurodecorr.data.digits import load_digits

    return load_digits()


def _synthetic(**options: object) -> Dataset:
    from neurodecorr.data.synthetic import load_synthetic

    return load_synthetic(**options)


def _cifar10(data_dir: str | None = None, **_: object) -> Dataset:
    from neurodecorr.data.cifar import load_cifar

    return load_cifar("cifar10", data_dir)


def _cifar100(data_dir: str | None = None, **_: object) -> Dataset:
    from neurodecorr.data.cifar import load_cifar

    return load_cifar("cifar100", data_dir)


#: name -> loader(**options) -> Dataset
LOADERS: dict[str, Callable[..., Dataset]] = {
    "mnist1d": _mnist1d, "digits": _digits, "synthetic": _synthetic, "cifar10": _cifar10,
    "cifar100": _cifar100,
}

#: data sets read from a user-named folder (``data_dir``); the others are generated or shipped
NEEDS_DATA_DIR = ("cifar10", "cifar100")


def load_dataset(name: str, **options: object) -> Dataset:
    """Load a data set by name; unknown names are a one-line error listing the known ones."""
    if name not in LOADERS:
        raise NeurodecorrError(f"unknown dataset '{name}'; choose one of: {', '.join(LOADERS)}")
    return LOADERS[name](**options)
