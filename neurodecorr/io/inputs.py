"""Opening the user's input files: regular files only, bounded sizes, TOML with its encoding named.

Every file neurodecorr reads is opened through :func:`input_file` first. A FIFO would block the
read forever and a device could stream without end, so anything but a regular file (also
behind a symbolic link) is refused with the right cause — "no such file", "is a folder", "is a
FIFO" — instead of hanging or naming the wrong problem.
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Any

from neurodecorr.errors import NeurodecorrError
from neurodecorr.io.outputs import file_kind

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, packaged as tomli
    import tomli as tomllib

#: TOML files are small configuration files; a larger one is a mistake, not a configuration.
MAX_TOML_BYTES = 16 * 2**20

_BOMS = ((b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
         (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def input_file(path: str | os.PathLike, what: str = "input") -> Path:
    """Check that ``path`` is an existing regular file (a link to one is fine) and return it."""
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise NeurodecorrError(f"{what}: {path} is a broken symbolic link") from None
        raise NeurodecorrError(f"{what}: no such file: {path}") from None
    except OSError as exc:
        raise NeurodecorrError(f"{what}: cannot read {path} ({(exc.strerror or '').lower()})"
                               ) from None
    if not stat.S_ISREG(mode):
        raise NeurodecorrError(f"{what}: {path} is a {file_kind(mode)}, not a regular file")
    return path


def read_bytes(path: str | os.PathLike, what: str = "input", max_bytes: int | None = None
               ) -> bytes:
    """The whole content of a regular file, refusing one larger than ``max_bytes``."""
    path = input_file(path, what)
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if max_bytes is not None and size > max_bytes:
                raise NeurodecorrError(f"{what}: {path} is {size} bytes, more than the "
                                       f"{max_bytes} this kind of file can have")
            return fh.read()
    except OSError as exc:
        raise NeurodecorrError(f"{what}: cannot read {path} ({(exc.strerror or '').lower()})"
                               ) from None


def decode_utf8(data: bytes, path: str | os.PathLike, what: str) -> str:
    """Decode a text file that must be UTF-8, naming the encoding it probably has instead."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            raise NeurodecorrError(f"{what}: {path} is {name} text; save it as UTF-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]  # a UTF-8 byte-order mark: harmless, some editors write one
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        likely = "UTF-16" if b"\x00" in data else "Latin-1 or another 8-bit encoding"
        raise NeurodecorrError(f"{what}: {path} is not UTF-8 (byte 0x{data[exc.start]:02x} at "
                               f"offset {exc.start}; probably {likely}); save it as UTF-8"
                               ) from None


def load_toml(path: str | os.PathLike, what: str = "file") -> dict[str, Any]:
    """Read a UTF-8 TOML file; any problem is one line naming the file."""
    text = decode_utf8(read_bytes(path, what, MAX_TOML_BYTES), path, what)
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise NeurodecorrError(f"{path}: malformed TOML: {exc}") from None
