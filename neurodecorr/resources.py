"""Files shipped inside the package: device presets, circuit descriptions, bench scenarios.

They are package data (``[tool.setuptools.package-data]`` in ``pyproject.toml``), found with
:mod:`importlib.resources` so that a wheel installed anywhere carries and finds them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def package_dir(package: str, folder: str) -> Path:
    """The folder ``folder`` shipped inside ``package``, as a file-system path.

    Wheels install as plain directories, so the traversable that :func:`importlib.resources.files`
    returns is a real path; a zipped install is not supported (the presets are read by path so
    that a preset may name its periphery file relative to itself).
    """
    return Path(str(files(package).joinpath(folder)))
