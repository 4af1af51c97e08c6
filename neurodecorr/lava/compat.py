"""Importing Lava: the one Python 3.11 fix, the start-method guard and a clear missing message.

lava-nc 0.10.0 declares Python ``<3.11``. Exactly one thing breaks on 3.11+:
``lava/magma/compiler/var_model.py`` gives three dataclasses an instance of the dataclass
``ByteEncoder`` as a field default, which Python 3.11 rejects ("mutable default ... use
default_factory", bpo-44674). :func:`import_lava` installs a :data:`sys.meta_path` finder that
rewrites ``= ByteEncoder()`` into ``= field(default_factory=ByteEncoder)`` in that one module's
source as it is imported, and refuses bytecode caching for it, so neither an old cache nor our
rewrite ever lands on disk. Nothing else of Lava is touched, and nothing happens on 3.10.

Importing Lava also calls ``multiprocessing.set_start_method('fork')``, which raises if the host
program fixed a start method before; the guard here accepts a host that already chose ``fork``
and refuses, in one line, a host that chose another.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import multiprocessing
import sys
from types import ModuleType

from neurodecorr.errors import NeurodecorrError

#: the one module that Python 3.11 cannot import unchanged
PATCHED_MODULE = "lava.magma.compiler.var_model"
_OLD = "= ByteEncoder()"
_NEW = "= field(default_factory=ByteEncoder)"

INSTALL_HINT = ("Lava (lava-nc 0.10.0) is not installed; install the 'lava' extra "
                "(`make setup` does it, see docs/lava.md)")


def patch_source(source: str) -> str:
    """Return ``var_model.py``'s source with its instance defaults turned into factories.

    Raises :class:`NeurodecorrError` if the source does not look as expected (another Lava
    version), rather than importing a half-fixed module.
    """
    if _OLD not in source:
        if _NEW in source:
            return source
        raise NeurodecorrError(f"{PATCHED_MODULE}: unexpected source; the Python 3.11 fix is "
                               "written for lava-nc 0.10.0")
    patched = source.replace(_OLD, _NEW)
    if "from dataclasses import dataclass" in patched and "field" not in patched.split(
            "from dataclasses import", 1)[1].split("\n", 1)[0]:
        patched = patched.replace("from dataclasses import dataclass",
                                  "from dataclasses import dataclass, field", 1)
    return patched


class _PatchingLoader(importlib.machinery.SourceFileLoader):
    """Loads ``var_model.py`` from its rewritten source; never reads or writes bytecode."""

    def get_code(self, fullname: str):
        source = self.get_data(self.path).decode("utf-8")
        return compile(patch_source(source), self.path, "exec", dont_inherit=True)

    def set_data(self, path: str, data: bytes, *, _mode: int = 0o666) -> None:
        return None


class _PatchingFinder(importlib.abc.MetaPathFinder):
    """Finds ``lava.magma.compiler.var_model`` and hands it to :class:`_PatchingLoader`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != PATCHED_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None:
            return None
        loader = _PatchingLoader(fullname, spec.origin)
        return importlib.util.spec_from_file_location(fullname, spec.origin, loader=loader)


def install_fix() -> bool:
    """Install the import hook on Python 3.11+ (idempotent); return whether it is active."""
    if sys.version_info < (3, 11):
        return False
    if not any(isinstance(f, _PatchingFinder) for f in sys.meta_path):
        if PATCHED_MODULE in sys.modules:
            raise NeurodecorrError(f"{PATCHED_MODULE} was imported before the Python 3.11 fix; "
                                   "import Lava only through neurodecorr.lava")
        sys.meta_path.insert(0, _PatchingFinder())
    return True


def lava_available() -> bool:
    """Whether lava-nc is installed (without importing it)."""
    return importlib.util.find_spec("lava") is not None


def import_lava() -> ModuleType:
    """Import Lava's runtime with the fix and the start-method guard; return ``lava``.

    Raises
    ------
    NeurodecorrError
        If lava-nc is not installed, or the host program chose a start method other than
        ``fork``.
    """
    if "lava.magma.runtime.message_infrastructure.multiprocessing" in sys.modules:
        return sys.modules["lava"]
    if not lava_available():
        raise NeurodecorrError(INSTALL_HINT)
    install_fix()
    current = multiprocessing.get_start_method(allow_none=True)
    if current not in (None, "fork"):
        raise NeurodecorrError(f"Lava needs the 'fork' multiprocessing start method, but this "
                               f"program already chose '{current}'")
    original = multiprocessing.set_start_method
    if current == "fork":
        # Lava calls set_start_method('fork') unconditionally; it is already in force.
        multiprocessing.set_start_method = lambda method, force=False: None
    try:
        import lava.magma.runtime.message_infrastructure.multiprocessing  # noqa: F401
    finally:
        multiprocessing.set_start_method = original
    return sys.modules["lava"]
