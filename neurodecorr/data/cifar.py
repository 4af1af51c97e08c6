"""CIFAR-10 and CIFAR-100 from the official archives, unpacked in a folder the user names.

Nothing is downloaded. Both official formats are read, each from the folder its archive unpacks
to (https://www.cs.toronto.edu/~kriz/cifar.html):

=================  ======================  ==================================================
data set, format   folder                  files
=================  ======================  ==================================================
cifar10 python     ``cifar-10-batches-py``   ``data_batch_1``..``5``, ``test_batch``,
                                           ``batches.meta`` (+ ``readme.html``)
cifar10 binary     ``cifar-10-batches-bin``  ``data_batch_1.bin``..``5.bin``, ``test_batch.bin``,
                                           ``batches.meta.txt`` (+ ``readme.html``)
cifar100 python    ``cifar-100-python``      ``train``, ``test``, ``meta`` (+ ``file.txt~``)
cifar100 binary    ``cifar-100-binary``      ``train.bin``, ``test.bin``,
                                           ``coarse_label_names.txt``, ``fine_label_names.txt``
=================  ======================  ==================================================

The binary records are ``<label byte> <3072 pixel bytes>`` (CIFAR-100: coarse then fine label
byte), read with ``np.frombuffer``. The python batches are pickles — the only pickles
neurodecorr reads — and they are never unpickled with numpy: numpy's ``dtype.__setstate__`` is
not memory-safe (a 68-byte crafted batch crashed the interpreter). Instead Python's pure-Python
unpickler runs with stand-ins for the three globals a batch names (``_reconstruct``,
``ndarray``, ``dtype``) that only record their arguments; :func:`parse_python_batch` then accepts
exactly the structure of a CIFAR batch — a dict with the official keys, one C-ordered ``uint8``
array of shape (N, 3072) whose raw bytes are turned into an array by ``np.frombuffer``, N integer
labels in range and N file names — and refuses anything else with one line. Images become rows
of 3072 values in [0, 1], standardised per feature with the training set's mean and standard
deviation.
"""

from __future__ import annotations

import io
import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from neurodecorr.data.base import Dataset
from neurodecorr.data.digits import standardise
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import read_bytes

N_PIXELS = 3 * 32 * 32
#: the largest official file is CIFAR-100's python ``train`` (about 155 MB)
MAX_FILE_BYTES = 256 * 2**20


@dataclass(frozen=True)
class Layout:
    """The files of one official archive and how to read its labels."""

    dataset: str
    format: str  # "python" or "binary"
    folder: str  # the folder name the official archive unpacks to
    required: frozenset[str]
    optional: frozenset[str]
    train: tuple[str, ...]
    test: tuple[str, ...]
    n_classes: int
    #: python: the batch's keys, label key first; binary: the label byte's column in a record
    keys: tuple[str, ...] = ()
    label_column: int = 0
    label_bytes: int = 1


_C10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
LAYOUTS = (
    Layout("cifar10", "python", "cifar-10-batches-py",
           frozenset({*_C10_TRAIN, "test_batch", "batches.meta"}), frozenset({"readme.html"}),
           _C10_TRAIN, ("test_batch",), 10, keys=("labels", "data", "batch_label", "filenames")),
    Layout("cifar10", "binary", "cifar-10-batches-bin",
           frozenset({*(f"{f}.bin" for f in _C10_TRAIN), "test_batch.bin", "batches.meta.txt"}),
           frozenset({"readme.html"}), tuple(f"{f}.bin" for f in _C10_TRAIN),
           ("test_batch.bin",), 10),
    Layout("cifar100", "python", "cifar-100-python", frozenset({"train", "test", "meta"}),
           frozenset({"file.txt~"}), ("train",), ("test",), 100,
           keys=("fine_labels", "coarse_labels", "data", "batch_label", "filenames")),
    Layout("cifar100", "binary", "cifar-100-binary",
           frozenset({"train.bin", "test.bin", "coarse_label_names.txt",
                      "fine_label_names.txt"}), frozenset(), ("train.bin",), ("test.bin",), 100,
           label_column=1, label_bytes=2),
)


class _Frozen(type):
    """Stand-ins cannot be changed by a pickle (its BUILD opcode may ``setattr`` what it built)."""

    def __setattr__(cls, name: str, value: object) -> None:
        raise TypeError("read-only")


class _Array(metaclass=_Frozen):
    """What ``numpy.core.multiarray._reconstruct`` made in a batch; records its state."""

    state: object = None

    def __setstate__(self, state: object) -> None:
        self.state = state


class _Dtype(metaclass=_Frozen):
    """What ``numpy.dtype(descr, align, copy)`` made in a batch; records its arguments."""

    state: object = None

    def __init__(self, descr: object, align: object = False, copy: object = False) -> None:
        self.descr = descr

    def __setstate__(self, state: object) -> None:
        self.state = state


class _NdarrayMark(metaclass=_Frozen):
    """Stands for ``numpy.ndarray``, the first argument of ``_reconstruct``."""


class _Reconstruct(metaclass=_Frozen):
    """Stands for ``_reconstruct(ndarray, (0,), b"b")``: an empty array, filled by BUILD."""

    def __new__(cls, ndarray: object, shape: object, typecode: object) -> _Array:
        if ndarray is not _NdarrayMark or shape != (0,) or typecode not in (b"b", "b"):
            raise pickle.UnpicklingError("unexpected array reconstruction")
        return _Array()


_STAND_INS = {
    ("numpy.core.multiarray", "_reconstruct"): _Reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _Reconstruct,
    ("numpy", "ndarray"): _NdarrayMark,
    ("numpy", "dtype"): _Dtype,
}


class _BatchUnpickler(pickle._Unpickler):
    """Python's pure-Python unpickler (its memo is a dict, so no forged index can make it
    allocate), able to name only the stand-ins above."""

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in _STAND_INS:
            raise pickle.UnpicklingError(f"refused global {module}.{name}")
        return _STAND_INS[(module, name)]


def _text_key(key: object) -> str | None:
    if isinstance(key, bytes):
        return key.decode("latin1")
    return key if isinstance(key, str) else None


def _pixels(value: object) -> np.ndarray:
    """The (N, 3072) uint8 images of a recorded ``data`` array, built from its raw bytes."""
    state = value.state if isinstance(value, _Array) else None
    if not (isinstance(state, tuple) and len(state) == 5):
        raise ValueError("'data' is not an array")
    version, shape, dtype, fortran, raw = state
    if not (isinstance(dtype, _Dtype) and dtype.descr in ("u1", b"u1")
            and isinstance(dtype.state, tuple) and len(dtype.state) >= 2
            and dtype.state[1] in ("|", b"|")):
        raise ValueError("'data' is not uint8")
    if not (version == 1 and fortran is False and isinstance(shape, tuple) and len(shape) == 2
            and all(type(n) is int for n in shape) and shape[0] >= 1 and shape[1] == N_PIXELS):
        raise ValueError(f"'data' must be a C-ordered array of shape (N, {N_PIXELS})")
    if not isinstance(raw, bytes) or len(raw) != shape[0] * N_PIXELS:
        raise ValueError(f"'data' holds {len(raw) if isinstance(raw, bytes) else 'no'} bytes "
                         f"for shape {shape}")
    return np.frombuffer(raw, dtype=np.uint8).reshape(shape)


def _labels(value: object, name: str, n: int, n_classes: int) -> np.ndarray:
    if not (isinstance(value, list) and len(value) == n
            and all(type(v) is int and 0 <= v < n_classes for v in value)):
        raise ValueError(f"'{name}' must be {n} integer labels in 0..{n_classes - 1}")
    return np.array(value, dtype=np.int64)


def parse_python_batch(data: bytes, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """The images (N, 3072) uint8 and labels (N,) of one python-format batch.

    Raises
    ------
    ValueError
        Anything but exactly the structure of an official batch of ``layout``.
    """
    try:
        obj = _BatchUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as exc:  # a hostile pickle can provoke any error; each is "not a batch"
        raise ValueError(f"not a pickle of a CIFAR batch ({type(exc).__name__}: "
                         f"{str(exc)[:80]})") from None
    if not isinstance(obj, dict):
        raise ValueError("not a dictionary")
    batch = {_text_key(k): v for k, v in obj.items()}
    if set(batch) != set(layout.keys):
        raise ValueError(f"keys {sorted(map(str, batch))}; a {layout.dataset} batch has "
                         f"{sorted(layout.keys)}")
    images = _pixels(batch["data"])
    n = len(images)
    labels = _labels(batch[layout.keys[0]], layout.keys[0], n, layout.n_classes)
    if "coarse_labels" in batch:
        _labels(batch["coarse_labels"], "coarse_labels", n, 20)
    names = batch["filenames"]
    if not (isinstance(names, list) and len(names) == n
            and all(isinstance(f, bytes | str) for f in names)):
        raise ValueError(f"'filenames' must be {n} names")
    if not isinstance(batch["batch_label"], bytes | str):
        raise ValueError("'batch_label' must be text")
    return images, labels


def parse_binary_batch(data: bytes, layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """The images (N, 3072) uint8 and labels (N,) of one binary-format file."""
    record = layout.label_bytes + N_PIXELS
    if not data or len(data) % record:
        raise ValueError(f"{len(data)} bytes is not a whole number of {record}-byte records")
    records = np.frombuffer(data, dtype=np.uint8).reshape(-1, record)
    labels = records[:, layout.label_column].astype(np.int64)
    if labels.max() >= layout.n_classes or (layout.label_bytes == 2 and records[:, 0].max() >= 20):
        raise ValueError(f"labels outside 0..{layout.n_classes - 1}")
    return records[:, layout.label_bytes:], labels


def find_layout(name: str, data_dir: str | os.PathLike) -> tuple[Layout, Path]:
    """Which official archive of ``name`` the folder holds; it must hold exactly its files."""
    folder = Path(data_dir)
    if not folder.is_dir():
        raise NeurodecorrError(f"--data-dir: no such folder: {folder}")
    present = {p.name for p in folder.iterdir()}
    candidates = [lay for lay in LAYOUTS if lay.dataset == name]
    for layout in candidates:
        if layout.required <= present:
            extra = sorted(present - layout.required - layout.optional)
            if extra:
                raise NeurodecorrError(f"--data-dir: {folder} holds files that are not part of "
                                       f"{name} ({layout.format}): {', '.join(extra)}")
            return layout, folder
    inside = [lay.folder for lay in candidates if lay.folder in present]
    if inside:
        raise NeurodecorrError(f"--data-dir: {folder} holds {inside[0]}; name that folder")
    closest = max(candidates, key=lambda lay: len(lay.required & present))
    missing = sorted(closest.required - present)
    official = " or ".join(lay.folder for lay in candidates)
    raise NeurodecorrError(f"--data-dir: {folder} is not a {name} folder ({official}); missing "
                           f"{', '.join(missing)}")


def _read_split(folder: Path, layout: Layout, files: tuple[str, ...]
                ) -> tuple[np.ndarray, np.ndarray]:
    parse = parse_python_batch if layout.format == "python" else parse_binary_batch
    xs, ys = [], []
    for f in files:
        data = read_bytes(folder / f, "--data-dir", MAX_FILE_BYTES)
        try:
            x, y = parse(data, layout)
        except ValueError as exc:
            raise NeurodecorrError(f"{folder / f}: not a {layout.dataset} {layout.format} "
                                   f"batch: {exc}") from None
        xs.append(x)
        ys.append(y)
    return np.concatenate(xs), np.concatenate(ys)


def read_cifar(name: str, data_dir: str | os.PathLike
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The raw splits ``(x_train, y_train, x_test, y_test)``: uint8 images of shape (N, 3072)
    in the official channel-major order (1024 red, 1024 green, 1024 blue) and int64 labels."""
    layout, folder = find_layout(name, data_dir)
    x_train, y_train = _read_split(folder, layout, layout.train)
    x_test, y_test = _read_split(folder, layout, layout.test)
    return x_train, y_train, x_test, y_test


def load_cifar(name: str, data_dir: str | os.PathLike | None) -> Dataset:
    """Load ``cifar10`` or ``cifar100`` (fine labels) from ``data_dir``, either format."""
    if data_dir is None:
        raise NeurodecorrError(f"--data-dir: {name} is never downloaded; name the folder that "
                               f"holds its python or binary batch files")
    x_train, y_train, x_test, y_test = read_cifar(name, data_dir)
    x_train, x_test = standardise(x_train.astype(np.float64) / 255.0,
                                  x_test.astype(np.float64) / 255.0)
    return Dataset(name=name, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test,
                   n_classes=100 if name == "cifar100" else 10)
