"""Data sets that never need a download.

``load_dataset(name, ...)`` returns a :class:`Dataset`. MNIST-1D is generated offline by the
``mnist1d`` package; further sets (scikit-learn digits, a synthetic teacher-student task, CIFAR
from a user-named folder) register themselves in :data:`LOADERS`.
"""

from neurodecorr.data.base import LOADERS, NEEDS_DATA_DIR, Dataset, load_dataset

__all__ = ["LOADERS", "NEEDS_DATA_DIR", "Dataset", "load_dataset"]
