"""Every JSON report a command writes records the versions that produced it."""

from __future__ import annotations

import json
from importlib.metadata import version

import numpy as np
import pytest

from neurodecorr.cli import main


@pytest.fixture
def inputs(tmp_path, rng):
    n = 5
    A = 1.5 * np.eye(n) + 0.2 * rng.standard_normal((n, n)) / np.sqrt(n)
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "X.npy", rng.standard_normal((64, n)))
    return tmp_path


@pytest.mark.parametrize("argv", [
    ["settle", "--matrix", "{d}/A.npy", "--input", "{d}/X.npy", "--out", "{d}/Y.npy"],
    ["settle", "--matrix", "{d}/A.npy", "--input", "{d}/X.npy", "--out", "{d}/Y.npy",
     "--circuit", "ideal"],
    ["decorrelate", "--input", "{d}/X.npy", "--out-matrix", "{d}/M.npy", "--epochs", "1"],
])
def test_json_reports_carry_package_versions(inputs, argv):
    report = inputs / "r.json"
    assert main([a.format(d=inputs) for a in argv] + ["--json", str(report)]) == 0
    versions = json.loads(report.read_text())["versions"]
    for package in ("numpy", "scipy", "torch"):
        assert versions[package] == version(package)
    assert versions["neurodecorr"] == version("neurodecorr")
