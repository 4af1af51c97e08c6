"""A safe reader of ``.npy`` files and ``.npz`` archives, for files nobody vouches for.

``numpy.load`` trusts a file's header: an ``.npy`` that declares 10¹² elements allocates them
(MemoryError), a truncated or bit-flipped ``.npz`` raises ``BadZipFile``, every member of an
archive is decompressed even if unused (a 0.8 MB archive expanded to 875 MB), and complex,
string or structured dtypes come back as they are. This reader instead

* parses the header itself (at most :data:`MAX_HEADER_BYTES`, a Python literal of exactly the
  three fields the format defines, a plain dtype string of an allowed kind — never an object or
  structured dtype) and requires the declared shape to match the bytes actually present before
  it reads them, so memory is bounded by the file itself;
* reads only the members asked for, refusing a deflated member that claims more expansion than
  deflate can give (1032:1), and lets ``zipfile`` verify each member's CRC-32;
* builds the array with ``np.frombuffer`` and checks kinds, dimensions and finiteness,
  turning every problem into a one-line :class:`NeurodecorrError` naming the file and member.

The format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
"""

from __future__ import annotations

import ast
import json
import math
import os
import struct
import zipfile
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.io.inputs import input_file

#: numpy's own default limit on an ``.npy`` header (``max_header_size``)
MAX_HEADER_BYTES = 10_000
#: deflate cannot expand more than about 1032:1; a member claiming more is forged
MAX_DEFLATE_RATIO = 1100
_MAGIC = b"\x93NUMPY"
_KIND_NAMES = {"f": "float", "i": "integer", "u": "unsigned integer", "b": "boolean",
               "U": "text", "c": "complex", "S": "bytes", "O": "object", "V": "structured",
               "M": "datetime", "m": "timedelta"}


def _header(read: Callable[[int], bytes], source: str) -> tuple[np.dtype, tuple[int, ...], bool,
                                                                int]:
    """Dtype, shape, Fortran order and header length of the ``.npy`` data that ``read`` yields."""
    magic = read(8)
    if len(magic) < 8 or not magic.startswith(_MAGIC):
        raise NeurodecorrError(f"{source}: not an .npy array (no NPY magic bytes)")
    major = magic[6]
    if major not in (1, 2, 3):
        raise NeurodecorrError(f"{source}: .npy format version {major} is not supported")
    size_format = "<H" if major == 1 else "<I"
    raw = read(struct.calcsize(size_format))
    if len(raw) < struct.calcsize(size_format):
        raise NeurodecorrError(f"{source}: truncated .npy header")
    (length,) = struct.unpack(size_format, raw)
    if length > MAX_HEADER_BYTES:
        raise NeurodecorrError(f"{source}: .npy header of {length} bytes (at most "
                               f"{MAX_HEADER_BYTES} allowed)")
    text = read(length)
    try:
        fields = ast.literal_eval(text.decode("latin1" if major < 3 else "utf-8"))
    except Exception:  # any malformed literal: SyntaxError, ValueError, MemoryError, ...
        raise NeurodecorrError(f"{source}: malformed .npy header") from None
    if (not isinstance(fields, dict) or set(fields) != {"descr", "fortran_order", "shape"}
            or not isinstance(fields["descr"], str)
            or not isinstance(fields["fortran_order"], bool)
            or not isinstance(fields["shape"], tuple)
            or not all(isinstance(n, int) and n >= 0 for n in fields["shape"])):
        raise NeurodecorrError(f"{source}: malformed .npy header (expected descr, fortran_order "
                               f"and shape)")
    try:
        dtype = np.dtype(fields["descr"])
    except (TypeError, ValueError):
        raise NeurodecorrError(f"{source}: unknown dtype '{fields['descr'][:40]}'") from None
    return dtype, fields["shape"], fields["fortran_order"], 8 + len(raw) + length


def _array(read: Callable[[int], bytes], size: int, source: str, kinds: str,
           ndim: tuple[int, ...] | None, finite: bool) -> np.ndarray:
    """Parse one ``.npy`` stream of ``size`` bytes and check it."""
    dtype, shape, fortran, offset = _header(read, source)
    if dtype.kind not in kinds or dtype.fields is not None or dtype.subdtype is not None:
        allowed = " or ".join(_KIND_NAMES[k] for k in kinds)
        raise NeurodecorrError(f"{source}: {_KIND_NAMES.get(dtype.kind, dtype.kind)} data "
                               f"({dtype.str}); expected {allowed}")
    if ndim is not None and len(shape) not in ndim:
        raise NeurodecorrError(f"{source}: shape {shape}; expected "
                               f"{' or '.join(f'{d}-D' for d in ndim)}")
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes != size - offset:
        raise NeurodecorrError(f"{source}: header declares shape {shape} ({nbytes} bytes) but "
                               f"the file holds {max(size - offset, 0)} bytes of data")
    data = read(nbytes)
    if len(data) != nbytes:
        raise NeurodecorrError(f"{source}: truncated data")
    arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    arr = arr.astype(dtype.newbyteorder("="), order="C")  # native, writable, contiguous
    if finite and arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise NeurodecorrError(f"{source}: contains NaN or infinite values")
    return arr


def read_npy(path: str | os.PathLike, what: str = "array", kinds: str = "fiu",
             ndim: tuple[int, ...] | None = None, finite: bool = True) -> np.ndarray:
    """Read a ``.npy`` file safely.

    Parameters
    ----------
    path : path-like
    what : str
        The name used in error messages (e.g. ``"--matrix"``).
    kinds : str
        Allowed dtype kinds: ``f`` float, ``i``/``u`` integers, ``b`` boolean, ``U`` text.
    ndim : tuple of int, optional
        Allowed numbers of dimensions.
    finite : bool
        Refuse NaN and infinity.
    """
    path = input_file(path, what)
    source = f"{what}: {path}"
    try:
        with open(path, "rb") as fh:
            if fh.read(4) == b"PK\x03\x04":
                raise NeurodecorrError(f"{source} is an .npz archive; expected a single .npy "
                                       f"array")
            fh.seek(0)
            return _array(fh.read, os.fstat(fh.fileno()).st_size, source, kinds, ndim, finite)
    except OSError as exc:
        raise NeurodecorrError(f"{source}: cannot read ({(exc.strerror or '').lower()})"
                               ) from None


class NpzArchive(Mapping):
    """An ``.npz`` archive opened for reading selected members (use as a context manager).

    As a mapping, ``archive[name]`` reads one member on demand: text for the names in
    ``text_members``, numbers (float or integer) otherwise; nothing is read until asked for.
    """

    def __init__(self, path: str | os.PathLike, what: str = "archive",
                 text_members: tuple[str, ...] = ("header",)) -> None:
        self.text_members = text_members
        self.path = input_file(path, what)
        self.source = str(self.path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError):
            raise NeurodecorrError(f"{self.source}: not an .npz archive (damaged or another "
                                   f"format)") from None
        self._members = {info.filename[:-4]: info for info in self._zip.infolist()
                         if info.filename.endswith(".npy")}

    @property
    def names(self) -> list[str]:
        """The array names in the archive (without ``.npy``)."""
        return list(self._members)

    def __contains__(self, name: object) -> bool:
        return name in self._members

    def __getitem__(self, name: str) -> np.ndarray:
        if name in self.text_members:
            return self.array(name, kinds="U", ndim=(0,))
        return self.array(name, kinds="fiu")

    def __iter__(self) -> Iterator[str]:
        return iter(self._members)

    def __len__(self) -> int:
        return len(self._members)

    def array(self, name: str, kinds: str = "fiu", ndim: tuple[int, ...] | None = None,
              finite: bool = True) -> np.ndarray:
        """Read and check one member (see :func:`read_npy` for the parameters)."""
        source = f"{self.source}: member '{name}'"
        info = self._members.get(name)
        if info is None:
            raise NeurodecorrError(f"{self.source}: no member '{name}'")
        if (info.compress_type != zipfile.ZIP_STORED
                and info.file_size > MAX_DEFLATE_RATIO * info.compress_size + 4096):
            raise NeurodecorrError(f"{source}: claims {info.file_size} bytes from "
                                   f"{info.compress_size} compressed; damaged or forged")
        try:
            with self._zip.open(info) as fh:
                arr = _array(fh.read, info.file_size, source, kinds, ndim, finite)
                fh.read(1)  # reach the end, where zipfile checks the CRC-32
                return arr
        except NeurodecorrError:  # a well-formed array of the wrong kind: said as it is
            raise
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError,
                RuntimeError) as exc:  # CRC mismatch, truncated stream, bad compression method
            raise NeurodecorrError(f"{source}: damaged ({exc})") from None

    def text(self, name: str) -> str:
        """A member holding one string (a 0-d text array)."""
        arr = self.array(name, kinds="U", ndim=(0,))
        return str(arr)

    def json(self, name: str) -> Any:
        """A member holding one JSON document."""
        try:
            return json.loads(self.text(name))
        except json.JSONDecodeError:
            raise NeurodecorrError(f"{self.source}: member '{name}' is not valid JSON") from None

    def close(self) -> None:
        self._zip.close()

    def __enter__(self) -> NpzArchive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
