"""The wheel carries the source modules (exactly) and the shipped TOML: build it from a clean copy
of the checkout, install it in a fresh virtualenv, run the CLI.

The fresh environment borrows the already-installed dependencies (numpy, scipy, torch, ...) through
a ``.pth`` line pointing at this interpreter's site-packages: nothing is downloaded, and the
editable install of the source tree is not activated there (a path line in a ``.pth`` file adds
the folder without running the ``.pth`` files inside it), so ``neurodecorr`` can only come from
the wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _source_files() -> list[str]:
    """The checkout's files as git sees them: tracked plus untracked-but-not-ignored, present in
    the working tree (so an uncommitted change is built, and an ignored ``build/`` is not)."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the source tree's files cannot be told from build output")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                             "--exclude-standard"], cwd=ROOT, capture_output=True, check=True)
    return sorted({name for name in listed.stdout.decode().split("\0")
                   if name and (ROOT / name).is_file()})


@pytest.fixture(scope="module")
def wheel_env(tmp_path_factory) -> tuple[Path, Path]:
    work = tmp_path_factory.mktemp("wheel")
    # built from a copy of the source files: setuptools packs whatever lies in the project's
    # build/lib, so a stale ignored build/ in the checkout (from an earlier build, of deleted
    # modules) would ship; the copy also keeps this build from writing into the checkout
    source = work / "source"
    for name in _source_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--verbose",
         "--wheel-dir", str(work / "dist"), str(source)],
        capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    # setuptools' deprecations (the license table, license classifiers) are build errors to come
    assert "SetuptoolsDeprecationWarning" not in build.stdout + build.stderr
    (wheel,) = (work / "dist").glob("neurodecorr-*.whl")
    env_dir = work / "env"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    purelib = subprocess.run([str(python), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    Path(purelib, "borrowed_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    # away from the source tree (on PYTHONPATH or as the current folder, its egg-info would
    # look like an installed copy and pip would install nothing)
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
         "--no-index", "--quiet", str(wheel)],
        capture_output=True, text=True, timeout=600, cwd=work, env=_without_source_tree())
    assert install.returncode == 0, install.stderr
    return wheel, python


def _without_source_tree() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _run(python: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), "-m", "neurodecorr", *args], cwd=cwd,
                          env=_without_source_tree(), capture_output=True, text=True,
                          timeout=600)


def test_wheel_declares_its_licence(wheel_env):
    wheel, _ = wheel_env
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        metadata = zf.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
        licence = zf.read(next(n for n in names if n.endswith(".dist-info/licenses/LICENSE")))
    assert "License-Expression: BSD-3-Clause" in metadata.splitlines()
    assert licence == (ROOT / "LICENSE").read_bytes()


def test_wheel_holds_exactly_the_source_modules(wheel_env):
    """Every module of the source tree, and nothing else (no stale copy of a deleted one)."""
    wheel, _ = wheel_env
    packed = {n for n in zipfile.ZipFile(wheel).namelist()
              if n.startswith("neurodecorr/") and n.endswith(".py")}
    source = {n for n in _source_files() if n.startswith("neurodecorr/") and n.endswith(".py")}
    assert source, "no module found in the source tree"
    assert packed == source, {"not in the source": sorted(packed - source),
                              "missing from the wheel": sorted(source - packed)}


def test_wheel_holds_every_shipped_toml(wheel_env):
    wheel, _ = wheel_env
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "neurodecorr").rglob("*.toml")}
    assert shipped, "no shipped TOML found in the source tree"
    assert shipped <= names, sorted(shipped - names)


def test_installed_wheel_lists_and_runs_its_presets(wheel_env, tmp_path):
    _, python = wheel_env
    where = _run(python, tmp_path, "--version")
    assert where.returncode == 0, where.stderr
    located = subprocess.run([str(python), "-c", "import neurodecorr; print(neurodecorr.__file__)"],
                             cwd=tmp_path, env=_without_source_tree(), capture_output=True,
                             text=True, check=True).stdout
    assert str(ROOT) not in located, f"imported the source tree, not the wheel: {located}"

    devices = _run(python, tmp_path, "devices", "list")
    assert devices.returncode == 0, devices.stderr
    for preset in ("pcm", "reram", "ecram", "ideal"):
        assert preset in devices.stdout
    circuits = _run(python, tmp_path, "circuits", "list")
    assert circuits.returncode == 0, circuits.stderr
    assert "rc-opamp" in circuits.stdout and "ideal" in circuits.stdout

    bench = _run(python, tmp_path, "bench", "--scenario", "quick", "--repeats", "1",
                 "--json", str(tmp_path / "b.json"))
    assert bench.returncode == 0, bench.stderr
    assert "ideal" in bench.stdout and (tmp_path / "b.json").is_file()
