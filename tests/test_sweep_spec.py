"""Sweep specs, drawn inputs, error lines, metrics flattening, the results CSV and the plot
summary: everything of ``neurodecorr sweep`` that needs no Dask cluster."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from neurodecorr.cli import main, register_sweep_targets
from neurodecorr.errors import NeurodecorrError
from neurodecorr.sweep import (
    ResultsFile,
    correlated_inputs,
    input_covariance,
    load_spec,
    read_rows,
    stable_lateral,
)
from neurodecorr.sweep.plot import summarise
from neurodecorr.sweep.point import error_line, flatten_metrics

EXAMPLES = Path(__file__).parents[1] / "benchmarks" / "sweeps"


@pytest.fixture(autouse=True)
def _sweep_knows_the_commands():
    """The CLI registers the commands the sweep runs when it loads ``sweep``; these tests call
    the library directly, so they register them the same way."""
    register_sweep_targets()


def _spec(tmp_path, body: str, name: str = "spec.toml"):
    path = tmp_path / name
    path.write_text(body)
    return path


def test_lists_expand_to_their_product_first_key_slowest(tmp_path):
    path = _spec(tmp_path, """
[sweep]
command = "decorrelate"
input = "x.npy"
eta = [0.01, 0.02, 0.03]
epochs = 4
form = ["linear", "recurrent"]
centre = [true, false]
""")
    spec = load_spec(path)
    points = spec.points()
    assert spec.swept == ("eta", "form", "centre")
    assert len(points) == 3 * 2 * 2
    combos = [(p.params["eta"], p.params["form"], p.params["centre"]) for p in points]
    assert combos == [(e, f, c) for e in (0.01, 0.02, 0.03) for f in ("linear", "recurrent")
                      for c in (True, False)]
    first, second = points[0].argv, points[1].argv
    assert first == ("--input", "x.npy", "--eta", "0.01", "--epochs", "4", "--form", "linear",
                     "--centre")
    assert second[-1] == "--no-centre"
    assert len({p.key for p in points}) == len(points)
    assert all(p.sizes is None for p in points)


def test_point_keys_depend_on_values_only(tmp_path):
    a = load_spec(_spec(tmp_path, '[sweep]\ncommand = "decorrelate"\nn = 4\nbatch = 8\n'
                                  'batch_size = 4\nseed = [1, 2]\n', "a.toml")).points()
    b = load_spec(_spec(tmp_path, '[sweep]\ncommand = "decorrelate"\nseed = [2, 1]\n'
                                  'batch-size = 4\nbatch = 8\nn = 4\n', "b.toml")).points()
    c = load_spec(_spec(tmp_path, '[sweep]\ncommand = "decorrelate"\nn = 4\nbatch = 8\n'
                                  'batch_size = 5\nseed = [1, 2]\n', "c.toml")).points()
    assert {p.key for p in a} == {p.key for p in b}
    assert not {p.key for p in a} & {p.key for p in c}
    assert [p.sizes for p in a] == [(4, 8, 1), (4, 8, 2)]
    assert "--input" not in a[0].argv


@pytest.mark.parametrize("body,key", [
    ('[sweep\ncommand = "settle"', "malformed TOML"),
    ('[other]\nx = 1', "other"),
    ('command = "decorrelate"', "command"),
    ('[sweep]\nn = 4', "[sweep].command"),
    ('[sweep]\ncommand = "frobnicate"', "[sweep].command"),
    ('[sweep]\ncommand = "decorrelate"\ninput = "x.npy"\neta = []', "[sweep].eta"),
    ('[sweep]\ncommand = "decorrelate"\ninput = "x.npy"\neta = [[0.1]]', "[sweep].eta"),
    ('[sweep]\ncommand = "decorrelate"\ninput = "x.npy"\n[sweep.eta]\na = 1', "[sweep].eta"),
    ('[sweep]\ncommand = "decorrelate"\ninput = "x.npy"\neta = [0.1, 0.1]', "[sweep].eta"),
    ('[sweep]\ncommand = "decorrelate"\ninput = "x.npy"\nepochs = 2.5', "[sweep].epochs"),
    ('[sweep]\ncommand = "decorrelate"\ninput = "x.npy"\neta = "fast"', "[sweep].eta"),
    ('[sweep]\ncommand = "decorrelate"\ninput = "x.npy"\nrule = "hebb"', "[sweep].rule"),
    ('[sweep]\ncommand = "decorrelate"\ninput = "x.npy"\ncentre = 1', "[sweep].centre"),
    ('[sweep]\ncommand = "decorrelate"\ninput = "x.npy"\nepochs = true', "[sweep].epochs"),
    ('[sweep]\ncommand = "decorrelate"\ninput = "x.npy"\netaa = 0.1', "[sweep].etaa"),
    ('[sweep]\ncommand = "decorrelate"\ninput = "x.npy"\njson = "m.json"', "[sweep].json"),
    ('[sweep]\ncommand = "decorrelate"\ninput = "x.npy"\nout_matrix = "m.npy"',
     "[sweep].out_matrix"),
    ('[sweep]\ncommand = "decorrelate"\ninput = "x.npy"\nstatus = "ok"', "[sweep].status"),
    ('[sweep]\ncommand = "train"\ncheckpoint = "c.npz"', "[sweep].checkpoint"),
    ('[sweep]\ncommand = "train"\nn = 4\nbatch = 8', "[sweep].n"),
    ('[sweep]\ncommand = "decorrelate"\nbatch-size = 4\nbatch_size = 8\ninput = "x.npy"',
     "[sweep].batch_size"),
    ('[sweep]\ncommand = "decorrelate"\neta = 0.1', "needs --input"),
    ('[sweep]\ncommand = "decorrelate"\nn = 4', "[sweep].n"),
    ('[sweep]\ncommand = "decorrelate"\nn = 4\nbatch = 0', "[sweep].batch"),
    ('[sweep]\ncommand = "decorrelate"\nn = 4\nbatch = 8\nseed = -1', "[sweep].seed"),
    ('[sweep]\ncommand = "decorrelate"\nn = 4\nbatch = 8\ninput = "x.npy"', "[sweep].input"),
])
def test_bad_specs_give_one_line_naming_file_and_key(tmp_path, body, key):
    path = _spec(tmp_path, body)
    with pytest.raises(NeurodecorrError) as info:
        load_spec(path)
    message = str(info.value)
    assert "\n" not in message
    assert str(path) in message
    assert key in message


def test_cli_spec_errors_exit_2_with_one_line_and_no_output(tmp_path, capsys):
    out = tmp_path / "r.csv"
    cases = [
        [str(tmp_path / "missing.toml"), "--out", str(out)],
        [str(_spec(tmp_path, '[sweep]\ncommand = "nope"')), "--out", str(out)],
        [str(_spec(tmp_path, '[sweep]\ncommand = "decorrelate"\nn = 4\nbatch = 8', "ok.toml")),
         "--out", str(tmp_path / "no" / "r.csv")],
        [str(tmp_path / "ok.toml"), "--out", str(out), "--workers", "0"],
        [str(tmp_path / "ok.toml"), "--out", str(out), "--workers", "2",
         "--scheduler", "tcp://127.0.0.1:1"],
        [str(tmp_path / "ok.toml"), "--out", str(out), "--plot", str(tmp_path / "p.png")],
        [str(tmp_path / "ok.toml"), "--out", str(out), "--plot-y", "x"],
        [str(tmp_path / "ok.toml"), "--out", str(out), "--plot", str(tmp_path / "p.png"),
         "--plot-y", "m", "--plot-x", "eta"],
        [str(tmp_path / "ok.toml"), "--out", str(out), "--timeout-s", "0"],
    ]
    for argv in cases:
        capsys.readouterr()
        assert main(["sweep", *argv]) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("neurodecorr: error: ") and err.count("\n") == 1, err
    assert not out.exists()
    assert not (tmp_path / "p.png").exists()


def test_existing_non_sweep_csv_is_refused_and_kept(tmp_path, capsys):
    out = tmp_path / "mine.csv"
    out.write_text("a,b\n1,2\n")
    spec = _spec(tmp_path, '[sweep]\ncommand = "decorrelate"\nn = 4\nbatch = 8')
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    assert "not a sweep results CSV" in capsys.readouterr().err
    assert out.read_text() == "a,b\n1,2\n"


@pytest.mark.parametrize("n", [1, 2, 7, 40])
@pytest.mark.parametrize("seed", [0, 3])
def test_drawn_lateral_matrix_is_stable_and_non_symmetric(n, seed):
    A = stable_lateral(n, seed)
    lam = np.linalg.eigvals(A)
    assert np.all(np.abs(lam - 1.0) <= 0.5 + 1e-9)
    assert np.all(lam.real >= 0.5 - 1e-9)
    if n > 1:
        assert np.max(np.abs(A - A.T)) > 1e-3
    assert np.array_equal(A, stable_lateral(n, seed))


def test_drawn_inputs_have_their_stated_covariance():
    n, batch, seed = 5, 40_000, 11
    X = correlated_inputs(n, batch, seed)
    assert X.shape == (batch, n)
    assert np.array_equal(X, correlated_inputs(n, batch, seed))
    assert not np.array_equal(X, correlated_inputs(n, batch, seed + 1))
    sigma = input_covariance(n, seed)
    assert np.trace(sigma) == pytest.approx(n, rel=1e-12)
    lam = np.linalg.eigvalsh(sigma)
    assert lam.max() / lam.min() == pytest.approx(10.0, rel=1e-9)
    # Sample covariance of Gaussian rows: var(C_ij) = (S_ii S_jj + S_ij^2) / N.
    C = X.T @ X / batch
    se = np.sqrt((np.outer(np.diag(sigma), np.diag(sigma)) + sigma**2) / batch)
    assert np.max(np.abs(C - sigma) / se) < 5.0
    corr = sigma / np.sqrt(np.outer(np.diag(sigma), np.diag(sigma)))
    assert np.max(np.abs(corr - np.eye(n))) > 0.1


def test_error_line_picks_the_cli_error_else_the_last_line():
    assert error_line("progress\nneurodecorr: error: eta: too big\n", 2) == "eta: too big"
    tb = "Traceback (most recent call last):\n  File x\nZeroDivisionError: division by zero\n"
    assert error_line(tb, 1) == "ZeroDivisionError: division by zero (exit status 1)"
    assert error_line("", -9) == "killed by signal 9"


def test_flatten_metrics_keeps_scalars_with_dotted_names(tmp_path):
    report = {"command": "settle", "input": str(tmp_path / "x.npy"), "ok": True,
              "metrics": {"rms": 0.25, "deep": {"steps": 12, "nan": None}},
              "curve": [1.0, 2.0], "note": "two\nlines"}
    flat = flatten_metrics(report, drop=str(tmp_path))
    assert set(flat) == {"command", "ok", "metrics.rms", "metrics.deep.steps",
                         "metrics.deep.nan", "note"}
    assert flat["metrics.rms"] == 0.25 and flat["metrics.deep.steps"] == 12
    assert flat["metrics.deep.nan"] is None
    assert flat["note"] == "two lines"


def test_flatten_metrics_summarises_a_history_of_records():
    history = [{"epoch": 1, "test_acc": 0.5, "loss": 2.0, "ok": True},
               {"epoch": 2, "test_acc": 0.7, "loss": 1.5, "ok": False},
               {"epoch": 3, "test_acc": 0.6, "loss": 1.7, "ok": True}]
    flat = flatten_metrics({"history": history})
    assert flat["history.last.test_acc"] == 0.6 and flat["history.last.ok"] is True
    assert flat["history.max.test_acc"] == 0.7 and flat["history.min.loss"] == 1.5
    assert flat["history.max.epoch"] == 3 and "history.max.ok" not in flat


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_results_file_appends_widens_replaces_and_survives_a_cut(tmp_path):
    path = tmp_path / "r.csv"
    res = ResultsFile(path, ["key", "status", "a"])
    assert not path.exists()
    res.start()
    assert _csv(path) == [["key", "status", "a"]]
    res.add({"key": "k1", "status": "error: boom, badly", "a": 1})
    res.add({"key": "k2", "status": "ok", "a": 2, "m": 0.5})
    res.add({"key": "k3", "status": "ok", "a": 3, "m": float("nan"), "extra": True})
    assert _csv(path) == [["key", "status", "a", "m", "extra"],
                          ["k1", "error: boom, badly", "1", "", ""],
                          ["k2", "ok", "2", "0.5", ""],
                          ["k3", "ok", "3", "nan", "true"]]
    res.add({"key": "k1", "status": "ok", "a": 1, "m": 0.125})
    rows = _csv(path)
    assert [r[0] for r in rows[1:]] == ["k1", "k2", "k3"] and rows[1][:4] == ["k1", "ok", "1",
                                                                              "0.125"]
    res.add({"key": "k4", "status": "ok", "a": 4, "m": 1.0})
    # A machine dying in the middle of an append leaves a partial last line behind.
    text = path.read_text()
    path.write_text(text[: len(text) - 6])
    header, back = read_rows(path)
    assert header == ["key", "status", "a", "m", "extra"]
    assert [r["key"] for r in back] == ["k1", "k2", "k3"]
    again = ResultsFile(path, ["key", "status", "a"])
    again.start()
    assert again.status("k4") is None and again.status("k1") == "ok"
    assert path.read_text().endswith("\n")
    assert len(_csv(path)) == 4


def test_plot_summary_is_mean_and_sample_sd_per_group_and_x():
    rows = [{"status": "ok", "x": str(x), "g": g, "y": str(y)}
            for x, g, y in [(1, "a", 1.0), (1, "a", 3.0), (2, "a", 5.0), (1, "b", 2.0)]]
    rows += [{"status": "error: no", "x": "2", "g": "b", "y": "9"},
             {"status": "ok", "x": "2", "g": "b", "y": "nan"}]
    summary = summarise(rows, "x", "y", "g")
    assert summary["a"] == [("1", 2.0, float(np.std([1.0, 3.0], ddof=1)), 2), ("2", 5.0, 0.0, 1)]
    assert summary["b"] == [("1", 2.0, 0.0, 1)]
    assert json.dumps(summarise(rows, "x", "y")) == json.dumps(
        {"": [["1", 2.0, 1.0, 3], ["2", 5.0, 0.0, 1]]})


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.toml")), ids=lambda p: p.name)
def test_shipped_example_studies_are_valid(path):
    spec = load_spec(path)
    points = spec.points()
    assert len(points) == int(np.prod([len(v) for v in spec.values.values()]))
    assert len({p.key for p in points}) == len(points)


@pytest.mark.parametrize("key,values,bad", [
    ("method", '["euler", "eulr"]', "eulr"),
    ("dtype", '"float16"', "float16"),
    ("drift_compensation", '["none", "row"]', "row"),
    ("solver", '"rk45"', "rk45"),
])
def test_enumerated_options_are_checked_before_the_cluster_starts(tmp_path, capsys, key, values,
                                                                  bad):
    spec = _spec(tmp_path, f'[sweep]\ncommand = "settle"\nn = 4\nbatch = 2\n{key} = {values}\n')
    with pytest.raises(NeurodecorrError, match=rf"\[sweep\]\.{key}: .*'{bad}' is not one of"):
        load_spec(spec)
    out = tmp_path / "r.csv"
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"[sweep].{key}" in err
    assert not out.exists()


@pytest.mark.parametrize("values", ["[nan, 1e-6]", '["nan", 1e-6]', "[1e-6, inf]", '"-inf"'])
def test_non_finite_numbers_are_refused_before_the_cluster_starts(tmp_path, capsys, values):
    spec = _spec(tmp_path, f'[sweep]\ncommand = "settle"\nn = 4\nbatch = 2\ntau = {values}\n')
    said = r"\[sweep\]\.tau: Invalid value for '--tau': '-?(nan|inf)' is not a finite number"
    with pytest.raises(NeurodecorrError, match=said):
        load_spec(spec)
    assert main(["settle", "--help"]) == 0  # the CLI wraps settle's float types in place
    with pytest.raises(NeurodecorrError, match=said):
        load_spec(spec)
    out = tmp_path / "r.csv"
    assert main(["sweep", str(spec), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "not a finite number" in err
    assert not out.exists()
