"""Where numba keeps the package's compiled kernels (``@njit(cache=True)``).

numba writes its cache next to the source (``__pycache__``) or, when the package directory is
read-only (a system or container install), in the user's cache directory
(``~/.cache/numba``). When neither is writable and ``NUMBA_CACHE_DIR`` is not set, numba refuses
to import a cached kernel at all ("no locator available"); :func:`ensure_cache_dir` then points
numba at a directory in the system's temporary directory, so that a read-only install with a
read-only home still imports (and compiles once per such directory). Every module defining
cached kernels calls it before its first ``njit``.
"""

from __future__ import annotations

import os
import tempfile

import numba
from numba.core import caching


def _probe() -> None:
    """A function for numba's cache locators to place (never compiled)."""


def ensure_cache_dir(py_file: str) -> None:
    """Make sure numba can cache the kernels of ``py_file`` (see the module docstring)."""
    if numba.config.CACHE_DIR:
        return
    for locator in (caching.InTreeCacheLocator, caching.UserWideCacheLocator):
        if locator.from_function(_probe, py_file) is not None:
            return
    user = os.getuid() if hasattr(os, "getuid") else "user"
    numba.config.CACHE_DIR = os.path.join(tempfile.gettempdir(), f"neurodecorr-numba-{user}")
