"""The layers of the package point one way (docs/architecture.md), read from the source itself."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "neurodecorr"

#: Each top-level module or package of neurodecorr and its layer: a module may import only
#: modules of a lower layer (or its own package). The diagram in docs/architecture.md.
LAYERS = {
    "errors": 0,
    "io": 1, "resources": 1, "provenance": 1, "numba_cache": 1,
    "core": 2, "data": 2,
    "__init__": 3, "devices": 3, "reference": 3, "ode": 3,
    "circuits": 4,
    "learning": 5,
    "lava": 6, "torch": 6, "spice": 6,
    "bench": 7, "sweep": 7, "progress": 7, "terminal": 7,
    "commands": 8,
    "cli": 9,
    "__main__": 10,
}


def _imports() -> list[tuple[str, str, str]]:
    """(file, importing module, imported module) for every neurodecorr import in the package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module and
                     node.level == 0 else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            found += [(str(path.relative_to(PACKAGE.parent)), module, n) for n in names
                      if n == "neurodecorr" or n.startswith("neurodecorr.")]
    return found


def _top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_part_of_the_package_has_a_layer():
    tops = {p.stem if p.is_file() else p.name for p in PACKAGE.iterdir()
            if (p.suffix == ".py" or (p / "__init__.py").is_file())}
    assert tops <= set(LAYERS), f"add {sorted(tops - set(LAYERS))} to LAYERS and the docs"


def test_imports_point_down_the_layers_only():
    wrong = [f"{file}: {a} imports {b}" for file, a, b in _imports()
             if _top(a) != _top(b) and LAYERS[_top(b)] >= LAYERS[_top(a)]]
    assert not wrong, "\n".join(wrong)


def test_no_command_imports_another():
    wrong = [f"{file}: imports {b}" for file, a, b in _imports()
             if a.startswith("neurodecorr.commands.") and b.startswith("neurodecorr.commands.")]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("module", ["neurodecorr.sweep", "neurodecorr.learning",
                                    "neurodecorr.circuits.chip"])
def test_the_library_runs_without_loading_the_cli(module):
    code = f"import sys, {module}; assert 'neurodecorr.cli' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=PACKAGE.parent)


def test_the_sweep_runs_the_commands_the_cli_runs():
    from neurodecorr.cli import COMMANDS, register_sweep_targets
    from neurodecorr.sweep.targets import TARGETS, target_modules

    register_sweep_targets()
    assert target_modules() == tuple(COMMANDS[name][0] for name in TARGETS)


def test_nothing_below_the_cli_names_the_command_layer():
    """A dynamic import (importlib, runpy) hides from the import test above: the layers below
    the CLI must not even spell the command modules' names."""
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if LAYERS[_top(module)] >= LAYERS["commands"]:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    "neurodecorr.commands" in node.value:
                wrong.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: "
                             f"{node.value!r}")
    assert not wrong, "\n".join(wrong)


def test_every_file_the_architecture_map_names_exists():
    text = (PACKAGE.parent / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([a-z_/]+(?:\.py|/))`", text))
    assert len(named) > 20
    missing = [p for p in sorted(named)
               if not (PACKAGE / p).exists() and not (PACKAGE.parent / p).exists()]
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"
