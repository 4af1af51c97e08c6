"""Reading and writing files safely: the one place neurodecorr touches the file system.

* :mod:`~neurodecorr.io.outputs`: all-or-nothing outputs, checked before any work
  (:func:`check_outputs`, :func:`write_outputs`).
* :mod:`~neurodecorr.io.inputs`: regular files only, TOML with its encoding named
  (:func:`input_file`, :func:`load_toml`).
* :mod:`~neurodecorr.io.arrays`: a safe ``.npy``/``.npz`` reader (:func:`read_npy`,
  :class:`NpzArchive`).

Only safe formats are read (``.npy`` without pickles, ``.npz``, JSON, TOML); see
docs/reliability.md for what the tool promises.
"""

from __future__ import annotations

import io
import json
import math
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from neurodecorr.io.arrays import NpzArchive, read_npy
from neurodecorr.io.inputs import decode_utf8, input_file, load_toml, read_bytes
from neurodecorr.io.outputs import (
    check_output_folder,
    check_outputs,
    resolve_output,
    write_outputs,
)

__all__ = [
    "NpzArchive", "check_output_folder", "check_outputs", "decode_utf8", "input_file",
    "json_bytes", "load_array", "load_toml", "npy_bytes", "npz_bytes", "read_bytes", "read_npy",
    "resolve_output", "write_json", "write_npy", "write_outputs",
]


def load_array(path: str | os.PathLike, what: str = "array", ndim: tuple[int, ...] | None = None,
               finite: bool = True) -> np.ndarray:
    """Load a numeric ``.npy`` file safely (see :func:`~neurodecorr.io.arrays.read_npy`)."""
    return read_npy(path, what, kinds="fiub", ndim=ndim, finite=finite)


def npy_bytes(arr: np.ndarray) -> bytes:
    """Serialise one array in ``.npy`` format."""
    buf = io.BytesIO()
    np.save(buf, np.asarray(arr), allow_pickle=False)
    return buf.getvalue()


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """Serialise several arrays as an uncompressed ``.npz`` archive, the same bytes every time.

    ``np.savez`` stamps each member with the current time; here every member carries the zip
    format's earliest date, so equal arrays give equal files (see docs/reliability.md).
    """
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, arr in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, npy_bytes(arr))
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


def write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write a JSON document atomically."""
    write_outputs({path: json_bytes(obj)})


def write_npy(path: str | os.PathLike, arr: np.ndarray) -> None:
    """Write one ``.npy`` array atomically."""
    write_outputs({path: npy_bytes(arr)})
