"""Safe, atomic reading and writing of arrays, JSON and TOML.

Only safe formats are read (``.npy`` without pickles, ``.npz``, JSON, TOML). Every result is
written atomically: to a temporary file in the destination folder, then renamed, so an
interrupted or failed command never leaves a partial file behind. :func:`write_outputs` stages
several files first and renames them only when all were written.
"""

from __future__ import annotations

import io
import json
import math
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neurodecorr.errors import NeurodecorrError

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, packaged as tomli
    import tomli as tomllib


def check_output_folder(path: str | os.PathLike, what: str = "output") -> None:
    """Refuse an output path whose folder does not exist, before any work is done."""
    folder = Path(path).parent if str(Path(path).parent) else Path(".")
    if not folder.is_dir():
        raise NeurodecorrError(f"{what}: output folder does not exist: {folder}")


def load_array(path: str | os.PathLike, what: str = "array", ndim: tuple[int, ...] | None = None,
               finite: bool = True) -> np.ndarray:
    """Load a ``.npy`` file (never unpickling) and check its shape and values.

    Parameters
    ----------
    path : path-like
        The ``.npy`` file.
    what : str
        The name used in error messages (e.g. ``"--matrix"``).
    ndim : tuple of int, optional
        Allowed numbers of dimensions.
    finite : bool
        Refuse NaN and infinity.
    """
    path = Path(path)
    if not path.is_file():
        raise NeurodecorrError(f"{what}: no such file: {path}")
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        # numpy reports any unrecognised bytes as "pickled data"; say what is really wrong
        reason = "not an .npy array" if "pickle" in str(exc) else str(exc)
        raise NeurodecorrError(f"{what}: {path} is not a readable .npy array ({reason})") from None
    if isinstance(arr, np.lib.npyio.NpzFile):
        arr.close()
        raise NeurodecorrError(f"{what}: {path} is an .npz archive; expected a single .npy array")
    if arr.dtype.kind not in "fiub":
        raise NeurodecorrError(f"{what}: {path} has dtype {arr.dtype}; expected numbers")
    if ndim is not None and arr.ndim not in ndim:
        raise NeurodecorrError(
            f"{what}: {path} has shape {arr.shape}; expected {' or '.join(f'{d}-D' for d in ndim)}"
        )
    if finite and not np.all(np.isfinite(arr)):
        raise NeurodecorrError(f"{what}: {path} contains NaN or infinite values")
    return arr


def load_toml(path: str | os.PathLike, what: str = "file") -> dict[str, Any]:
    """Read a TOML file, turning syntax errors into one-line errors that name the file."""
    path = Path(path)
    if not path.is_file():
        raise NeurodecorrError(f"{what}: no such file: {path}")
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise NeurodecorrError(f"{path}: malformed TOML: {exc}") from None


def npy_bytes(arr: np.ndarray) -> bytes:
    """Serialise one array in ``.npy`` format."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Serialise several arrays as an uncompressed ``.npz`` archive."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in arrays.items()})
    return buf.getvalue()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _finite_json(obj: Any) -> Any:
    """Replace non-finite floats by None: JSON has no NaN or infinity."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite_json(v) for v in obj]
    return obj


def json_bytes(obj: Any) -> bytes:
    """Serialise to indented JSON; numpy scalars and arrays become plain numbers and lists."""
    text = json.dumps(obj, indent=2, default=_json_default)
    return (json.dumps(_finite_json(json.loads(text)), indent=2) + "\n").encode()


def write_outputs(files: Mapping[str | os.PathLike, bytes]) -> None:
    """Write several files atomically: all are staged, then all renamed.

    If staging any file fails, nothing is renamed and the temporaries are removed, so no partial
    output is left behind.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for dest, data in files.items():
            dest = Path(dest)
            check_output_folder(dest)
            folder = dest.parent if str(dest.parent) else Path(".")
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{dest.name}.", suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            staged.append((tmp, dest))
        for tmp, dest in staged:
            os.replace(tmp, dest)
        staged.clear()
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write a JSON document atomically."""
    write_outputs({path: json_bytes(obj)})


def write_npy(path: str | os.PathLike, arr: np.ndarray) -> None:
    """Write one ``.npy`` array atomically."""
    write_outputs({path: npy_bytes(arr)})
