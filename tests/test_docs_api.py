"""The API reference names every public name: each package's ``__all__`` has an entry in the
strictly built docs site."""

from __future__ import annotations

import importlib
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import neurodecorr

ROOT = Path(__file__).resolve().parents[1]


def _public_names() -> list[str]:
    names = []
    packages = ["neurodecorr"] + [m.name for m in pkgutil.walk_packages(
        neurodecorr.__path__, "neurodecorr.") if m.ispkg and ".commands" not in m.name]
    for package in packages:
        try:
            module = importlib.import_module(package)
        except ImportError:  # an optional backend that is not installed
            continue
        names += [f"{package}.{n}" for n in getattr(module, "__all__", [])
                  if not n.startswith("__")]
    return names


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    pytest.importorskip("mkdocstrings")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1",
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    build = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--quiet",
                            "--site-dir", str(out)], cwd=ROOT, env=env, capture_output=True,
                           text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    return out


def test_every_public_name_has_an_api_entry(site):
    html = "".join(p.read_text() for p in (site / "api").rglob("*.html"))
    anchors = set(re.findall(r'id="(neurodecorr[\w.]*)"', html))
    missing = [name for name in _public_names() if name not in anchors]
    assert not missing, f"not in docs/api: {missing}"


def test_the_chip_trainer_is_public():
    from neurodecorr.learning import ChipOptions, ChipTrainer

    assert ChipTrainer.__module__ == "neurodecorr.learning.chip_trainer"
    assert ChipOptions().circuit == "ideal"
