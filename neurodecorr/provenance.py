"""What produced a result: the versions of Python and the numerical stack, for every JSON report."""

from __future__ import annotations

import platform
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

#: the distributions whose versions every report records (None: not installed)
PACKAGES = ("neurodecorr", "numpy", "scipy", "numba", "torch", "h5py", "lava-nc")


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


@cache
def package_versions() -> dict[str, str | None]:
    """``{"python": ..., "neurodecorr": ..., "numpy": ..., ...}`` of the running interpreter."""
    return {"python": platform.python_version(), **{p: _version(p) for p in PACKAGES}}


def with_versions(report: dict[str, Any]) -> dict[str, Any]:
    """The report with a ``"versions"`` entry (see :func:`package_versions`) added."""
    return {**report, "versions": package_versions()}
