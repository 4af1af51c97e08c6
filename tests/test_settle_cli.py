"""``neurodecorr settle``: outputs against numpy.linalg.solve and one-line refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurodecorr.cli import main


@pytest.fixture
def files(tmp_path, rng):
    n = 6
    G, K = rng.standard_normal((2, n, n))
    A = 1.5 * np.eye(n) + 0.4 * (G + K - K.T) / np.sqrt(n)
    X = rng.standard_normal((4, n))
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "X.npy", X)
    return tmp_path, A, X


@pytest.mark.parametrize("method", ["euler", "rk4", "exact", "adaptive", "euler-maruyama"])
def test_settle_writes_the_fixed_point_and_a_report(files, method):
    d, A, X = files
    argv = ["settle", "--matrix", str(d / "A.npy"), "--input", str(d / "X.npy"), "--out",
            str(d / "XBAR.npy"), "--method", method, "--tol", "1e-11", "--json",
            str(d / "r.json")]
    assert main(argv) == 0
    Y = np.load(d / "XBAR.npy")
    np.testing.assert_allclose(Y, np.linalg.solve(A, X.T).T, rtol=1e-8, atol=1e-10)
    report = json.loads((d / "r.json").read_text())
    assert report["n"] == 6 and report["batch"] == 4 and report["converged"] is True
    assert report["residual_max"] < 1e-11 and report["steps"] >= 1
    assert 0 < report["settling_time_mean_s"] <= report["settling_time_max_s"]
    assert "wall_time_s" not in report and report["method"].startswith(method)


def test_settle_float32_and_vector_input(files):
    d, A, X = files
    np.save(d / "x.npy", X[0])
    argv = ["settle", "--matrix", str(d / "A.npy"), "--input", str(d / "x.npy"), "--out",
            str(d / "y.npy"), "--dtype", "float32", "--tol", "1e-5", "--tau", "1e-3"]
    assert main(argv) == 0
    y = np.load(d / "y.npy")
    assert y.shape == (6,) and y.dtype == np.float32
    np.testing.assert_allclose(y, np.linalg.solve(A, X[0]), rtol=1e-4, atol=1e-5)


def _bad(d, name, arr):
    path = d / name
    np.save(path, arr)
    return path


@pytest.mark.parametrize("case", ["unstable", "shape", "nonsquare", "nan", "missing", "text",
                                  "npz", "tau", "dt", "method", "dtype", "big-dt"])
def test_settle_refusals_are_one_line_without_output(files, capsys, case):
    d, A, X = files
    matrix, inp = d / "A.npy", d / "X.npy"
    extra: list[str] = []
    if case == "unstable":
        matrix = _bad(d, "U.npy", np.diag([1.0, 1, 1, 1, 1, -0.5]))
    elif case == "shape":
        inp = _bad(d, "X5.npy", np.ones((3, 5)))
    elif case == "nonsquare":
        matrix = _bad(d, "R.npy", np.ones((6, 5)))
    elif case == "nan":
        inp = _bad(d, "Xn.npy", np.full((2, 6), np.nan))
    elif case == "missing":
        matrix = d / "nope.npy"
    elif case == "text":
        matrix = d / "t.npy"
        matrix.write_text("not an array")
    elif case == "npz":
        matrix = d / "z.npy"
        with open(matrix, "wb") as fh:
            np.savez(fh, A=A)
    else:
        extra = {"tau": ["--tau", "0"], "dt": ["--dt", "-1e-7"], "method": ["--method", "heun"],
                 "dtype": ["--dtype", "float16"], "big-dt": ["--dt", "1.0"]}[case]
    out = d / "OUT.npy"
    argv = ["settle", "--matrix", str(matrix), "--input", str(inp), "--out", str(out),
            "--json", str(d / "o.json"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("neurodecorr: error:")
    assert not out.exists() and not (d / "o.json").exists()
    assert not [p for p in d.iterdir() if p.name.startswith(".OUT")]
