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
                                  "npz", "tau", "dt", "method", "dtype", "big-dt",
                                  "adaptive-dt", "chebyshev-dt"])
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
                 "dtype": ["--dtype", "float16"], "big-dt": ["--dt", "1.0"],
                 "adaptive-dt": ["--method", "adaptive", "--dt", "1e-7"],
                 "chebyshev-dt": ["--method", "chebyshev", "--dt", "1e-7"]}[case]
    out = d / "OUT.npy"
    argv = ["settle", "--matrix", str(matrix), "--input", str(inp), "--out", str(out),
            "--json", str(d / "o.json"), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("neurodecorr: error:")
    assert not out.exists() and not (d / "o.json").exists()
    assert not [p for p in d.iterdir() if p.name.startswith(".OUT")]


def test_trajectory_and_plot_of_the_transient(files):
    """The npz holds x̄(t) and the residual; both agree with the exact solution and with each
    other, and the run's end point is the one an unrecorded run reaches."""
    from neurodecorr.ode import LateralField, exact_solution

    d, A, X = files
    base = ["settle", "--matrix", str(d / "A.npy"), "--input", str(d / "X.npy"), "--tol",
            "1e-9", "--method", "exact"]
    assert main([*base, "--out", str(d / "plain.npy")]) == 0
    assert main([*base, "--out", str(d / "y.npy"), "--trajectory", str(d / "t.npz"),
                 "--plot", str(d / "t.png"), "--trajectory-points", "41"]) == 0
    np.testing.assert_array_equal(np.load(d / "y.npy"), np.load(d / "plain.npy"))
    with np.load(d / "t.npz") as z:
        t, xbar, residual = z["t"], z["xbar"], z["residual"]
    assert t.shape == (41,) and t[0] == 0 and np.all(np.diff(t) > 0)
    assert xbar.shape == (41,) + X.shape and residual.shape == (41, X.shape[0])
    np.testing.assert_allclose(xbar, exact_solution(LateralField(A), X, t), atol=1e-12)
    recomputed = np.linalg.norm(X[None] - xbar @ A.T, axis=2) / np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(residual, recomputed, rtol=1e-9, atol=1e-15)
    assert np.all(residual[0] == pytest.approx(1.0)) and residual[-1].max() < 1e-9
    assert (d / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("extra,cause", [
    (["--method", "euler-maruyama", "--noise-std", "0.1", "--max-time", "1e3"], "max_time"),
    (["--max-steps", "5", "--tol", "1e-12"], "step budget"),
])
def test_work_beyond_the_step_budget_is_refused_up_front(files, capsys, extra, cause):
    d, _, _ = files
    out = d / "OUT.npy"
    argv = ["settle", "--matrix", str(d / "A.npy"), "--input", str(d / "X.npy"), "--out",
            str(out), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and cause in err and "max_steps" in err
    assert not out.exists()


def test_circuit_with_a_huge_settle_window_is_refused(files, capsys):
    from neurodecorr.circuits.description import CIRCUIT_DIR

    d, _, _ = files
    text = (CIRCUIT_DIR / "ideal.toml").read_text()
    (d / "slow.toml").write_text(text.replace("settle_tol = 1.0e-6",
                                              "settle_tol = 1.0e-6\nsettle_window_s = 1.0e3"))
    out = d / "OUT.npy"
    argv = ["settle", "--matrix", str(d / "A.npy"), "--input", str(d / "X.npy"), "--out",
            str(out), "--circuit", str(d / "slow.toml")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "max_time: 1000 s" in err and "step budget" in err
    assert not out.exists()


def test_a_trajectory_too_large_for_memory_is_refused_before_any_work(files, capsys):
    """6 nodes × 4 samples: 8 B × (24 + 4) per time, so 10^8 times need 20.9 GiB > 2 GiB."""
    d, _, _ = files
    argv = ["settle", "--matrix", str(d / "A.npy"), "--input", str(d / "X.npy"), "--out",
            str(d / "y.npy"), "--trajectory", str(d / "t.npz"), "--trajectory-points",
            "100000000"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--trajectory-points" in err and "20.9 GiB" in err
    assert not (d / "y.npy").exists() and not (d / "t.npz").exists()
