"""The API reference names every public name: each package's ``__all__`` has an entry in the
strictly built docs site."""

from __future__ import annotations

import ast
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


_XREF = re.compile(r":(?:func|class|mod|meth|attr|data|exc|obj):`~?(neurodecorr(?:\.\w+)+)`")


def _defines(tree: ast.AST, parts: list[str]) -> bool:
    """Whether ``parts`` (``Class``, ``Class.method``, ``NAME``) is defined in a module's AST."""
    body = getattr(tree, "body", [])
    for node in body:
        names = []
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names = [node.target.id]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:  # a re-export: resolve it where it is defined
                if (alias.asname or alias.name) == parts[0]:
                    return _resolves(".".join([node.module, alias.name, *parts[1:]]))
        if parts[0] in names:
            return len(parts) == 1 or (isinstance(node, ast.ClassDef)
                                       and _defines(node, parts[1:]))
    return False


def _resolves(target: str) -> bool:
    """Resolve a dotted ``neurodecorr.…`` target against the source files, importing nothing
    (so the lazily imported Lava and torch modules are checked too)."""
    parts = target.split(".")
    for cut in range(len(parts), 0, -1):
        base = ROOT.joinpath(*parts[:cut])
        for module in (base.with_suffix(".py"), base / "__init__.py"):
            if module.is_file():
                rest = parts[cut:]
                return not rest or _defines(ast.parse(module.read_text()), rest)
    return False


def test_every_cross_reference_in_the_source_names_something_that_exists():
    broken = [f"{path.relative_to(ROOT)}: {target}"
              for path in sorted((ROOT / "neurodecorr").rglob("*.py"))
              for target in _XREF.findall(path.read_text()) if not _resolves(target)]
    assert not broken, broken
