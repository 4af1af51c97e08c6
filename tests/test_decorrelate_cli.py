"""``neurodecorr decorrelate`` end to end, including its error paths."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from neurodecorr.cli import main
from neurodecorr.core import offdiag_corr_rms
from neurodecorr.data import load_dataset


@pytest.fixture(scope="module")
def mnist1d_inputs(tmp_path_factory):
    path = tmp_path_factory.mktemp("data") / "x.npy"
    np.save(path, load_dataset("mnist1d").x_train)
    return path


def _run(tmp_path, inputs, form, *extra):
    out, js = tmp_path / f"{form}.npy", tmp_path / f"{form}.json"
    rc = main(["decorrelate", "--input", str(inputs), "--form", form, "--rule", "ahmad",
               "--out-matrix", str(out), "--json", str(js), *extra])
    assert rc == 0
    return np.load(out), json.loads(js.read_text())


def test_mnist1d_both_forms_cut_correlations_tenfold_and_agree(tmp_path, mnist1d_inputs):
    X = np.load(mnist1d_inputs)
    results = {}
    for form in ("linear", "recurrent"):
        matrix, report = _run(tmp_path, mnist1d_inputs, form)
        Xbar = X @ matrix.T if form == "linear" else np.linalg.solve(matrix, X.T).T
        rms = offdiag_corr_rms(Xbar)  # recomputed independently of the command's own JSON
        assert rms == pytest.approx(report["metrics"]["offdiag_corr_rms_after"], rel=1e-12)
        assert offdiag_corr_rms(X) / rms >= 10
        results[form] = rms
    assert results["recurrent"] == pytest.approx(results["linear"], rel=0.10)


def test_same_seed_same_bytes(tmp_path, mnist1d_inputs):
    outs = []
    for k in range(2):
        out = tmp_path / f"m{k}.npy"
        assert main(["decorrelate", "--input", str(mnist1d_inputs), "--epochs", "2",
                     "--seed", "7", "--form", "recurrent", "--out-matrix", str(out)]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


@pytest.mark.parametrize("case,arrange", [
    ("missing file", lambda p: ["--input", str(p / "nope.npy")]),
    ("not an array", lambda p: ["--input", str(_write(p / "bad.npy", b"garbage"))]),
    ("1-D input", lambda p: ["--input", str(_save(p / "v.npy", np.ones(5)))]),
    ("NaN input", lambda p: ["--input", str(_save(p / "n.npy", np.full((4, 3), np.nan)))]),
    ("unstable eta", lambda p: ["--input", str(_save(p / "x.npy", np.ones((4, 3)) * 10))]),
    ("unknown rule", lambda p: ["--input", str(_save(p / "x.npy", np.ones((4, 3)))),
                                "--rule", "nope"]),
    ("bad batch", lambda p: ["--input", str(_save(p / "x.npy", np.ones((4, 3)))),
                             "--batch-size", "0"]),
])
def test_user_errors_exit_2_with_one_line_and_no_output(tmp_path, case, arrange):
    args = arrange(tmp_path)
    out = tmp_path / "out.npy"
    proc = subprocess.run([sys.executable, "-m", "neurodecorr", "decorrelate", *args,
                           "--out-matrix", str(out), "--json", str(tmp_path / "o.json")],
                          capture_output=True, text=True)
    assert proc.returncode == 2, case
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("neurodecorr: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and not (tmp_path / "o.json").exists()


def _save(path, arr):
    np.save(path, arr)
    return path


def _write(path, data):
    path.write_bytes(data)
    return path


def test_version_and_help():
    proc = subprocess.run([sys.executable, "-m", "neurodecorr", "--version"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "0.1.0" in proc.stdout
    assert main(["--help"]) == 0


def test_the_cli_module_runs_as_the_package_does():
    """``python -m neurodecorr.cli`` used to import the module and exit 0 doing nothing."""
    proc = subprocess.run([sys.executable, "-m", "neurodecorr.cli", "bench", "--scenario",
                           "no-such-scenario"], capture_output=True, text=True)
    assert proc.returncode == 2 and "unknown scenario 'no-such-scenario'" in proc.stderr
