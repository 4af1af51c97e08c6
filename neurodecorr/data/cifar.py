"""CIFAR-10 and CIFAR-100 from the standard "python version" batch files in a user's folder.

Nothing is downloaded. The folder must hold exactly the files of the official archive
(``cifar-10-batches-py``: ``data_batch_1``..``data_batch_5``, ``test_batch``, ``batches.meta``
and optionally its ``readme.html``; ``cifar-100-python``: ``train``, ``test``, ``meta`` and
optionally its ``file.txt~``). Those files are Python pickles — the only pickles neurodecorr
reads — and they are read through :class:`RestrictedUnpickler`, which can rebuild numpy arrays
and nothing else, so a tampered file cannot run code. Images become rows of 3072 values in
[0, 1], standardised per feature with the training set's mean and standard deviation.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from neurodecorr.data.base import Dataset
from neurodecorr.data.digits import standardise
from neurodecorr.errors import NeurodecorrError

N_PIXELS = 3 * 32 * 32

#: name -> (required files, optional files of the official archive, train, test, label key,
#:          classes)
LAYOUTS = {
    "cifar10": ({"data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5",
                 "test_batch", "batches.meta"}, {"readme.html"},
                [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"], b"labels", 10),
    "cifar100": ({"train", "test", "meta"}, {"file.txt~"}, ["train"], ["test"],
                 b"fine_labels", 100),
}


def _allowed_globals() -> dict[tuple[str, str], object]:
    try:
        from numpy._core.multiarray import _reconstruct
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct
    return {
        ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
    }


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that admits only numpy's array reconstruction and built-in containers.

    ``find_class`` is the only way a pickle can reach code; it returns numpy's
    ``_reconstruct``, ``ndarray`` and ``dtype`` and refuses every other global.
    """

    def find_class(self, module: str, name: str) -> object:
        allowed = _allowed_globals()
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return allowed[(module, name)]


def read_batch(path: Path) -> dict:
    """Unpickle one CIFAR batch (a dict with bytes keys) through :class:`RestrictedUnpickler`."""
    try:
        with open(path, "rb") as fh:
            obj = RestrictedUnpickler(fh, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError,
            IndexError, KeyError) as exc:
        raise NeurodecorrError(f"{path}: not a CIFAR python batch ({exc})") from None
    if not isinstance(obj, dict):
        raise NeurodecorrError(f"{path}: not a CIFAR python batch (not a dictionary)")
    return obj


def check_folder(data_dir: str | os.PathLike, name: str) -> Path:
    """Refuse a folder that does not hold exactly the official files of ``name``."""
    required, optional = LAYOUTS[name][:2]
    folder = Path(data_dir)
    if not folder.is_dir():
        raise NeurodecorrError(f"--data-dir: no such folder: {folder}")
    present = {p.name for p in folder.iterdir()}
    missing = sorted(required - present)
    if missing:
        raise NeurodecorrError(f"--data-dir: {folder} is not a {name} python-batch folder; "
                               f"missing {', '.join(missing)}")
    extra = sorted(present - required - optional)
    if extra:
        raise NeurodecorrError(f"--data-dir: {folder} holds files that are not part of "
                               f"{name}: {', '.join(extra)}")
    for f in sorted(required):
        if not (folder / f).is_file():
            raise NeurodecorrError(f"--data-dir: {folder / f} is not a regular file")
    return folder


def _read_split(folder: Path, files: list[str], label_key: bytes, n_classes: int
                ) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = [], []
    for f in files:
        batch = read_batch(folder / f)
        if b"data" not in batch or label_key not in batch:
            raise NeurodecorrError(f"{folder / f}: missing '{label_key.decode()}' or 'data'")
        data = np.asarray(batch[b"data"])
        labels = np.asarray(batch[label_key])
        if data.ndim != 2 or data.shape[1] != N_PIXELS or data.dtype != np.uint8:
            raise NeurodecorrError(f"{folder / f}: data must be uint8 of shape (N, {N_PIXELS}), "
                                   f"got {data.dtype} {data.shape}")
        if labels.shape != (len(data),) or labels.dtype.kind not in "iu":
            raise NeurodecorrError(f"{folder / f}: {len(data)} images but labels of shape "
                                   f"{labels.shape}")
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            raise NeurodecorrError(f"{folder / f}: labels outside 0..{n_classes - 1}")
        xs.append(data.astype(np.float64) / 255.0)
        ys.append(labels.astype(np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def load_cifar(name: str, data_dir: str | os.PathLike | None) -> Dataset:
    """Load ``cifar10`` or ``cifar100`` (fine labels) from ``data_dir``."""
    if data_dir is None:
        raise NeurodecorrError(f"--data-dir: {name} is never downloaded; name the folder that "
                               f"holds its python-version batch files")
    _, _, train_files, test_files, label_key, n_classes = LAYOUTS[name]
    folder = check_folder(data_dir, name)
    x_train, y_train = _read_split(folder, train_files, label_key, n_classes)
    x_test, y_test = _read_split(folder, test_files, label_key, n_classes)
    x_train, x_test = standardise(x_train, x_test)
    return Dataset(name=name, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                   n_classes=n_classes)
