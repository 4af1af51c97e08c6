"""Settling through analogue device reads (neurodecorr.devices.Crossbar)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurodecorr.circuits import Euler, LateralField, SettleCriterion, settle
from neurodecorr.circuits.device import DeviceReader
from neurodecorr.cli import main
from neurodecorr.devices import load_device
from neurodecorr.errors import NeurodecorrError


@pytest.fixture
def problem(rng):
    n = 12
    A = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    X = rng.standard_normal((6, n))
    return A, X


def test_ideal_device_reproduces_the_ideal_simulator(problem):
    A, X = problem
    criterion = SettleCriterion(tol=1e-10)
    ideal = settle(A, X, "euler", criterion=criterion)
    reader = DeviceReader(load_device("ideal"), A, np.random.default_rng(0), t_age_s=3600.0)
    assert not reader.noisy
    dev = settle(LateralField(A, reader=reader), X, "euler", criterion=criterion)
    assert dev.success and dev.nsteps == ideal.nsteps
    np.testing.assert_allclose(dev.y, ideal.y, rtol=0, atol=1e-6 * np.abs(ideal.y).max())
    assert reader.counters["reads"] == dev.nfev


def test_noisy_device_runs_to_its_horizon_reproducibly(problem):
    A, X = problem
    criterion = SettleCriterion(tol=1e-8, max_time_s=40e-6)

    def run():
        reader = DeviceReader(load_device("pcm"), A, np.random.default_rng(3), t_age_s=60.0)
        return settle(LateralField(A, reader=reader), X, Euler(dt_s=0.5e-6),
                      criterion=criterion), reader

    (a, reader), (b, _) = run(), run()
    assert reader.noisy and a.nsteps == 80 and a.t == pytest.approx(40e-6)
    assert "horizon" in a.message and np.all(np.isfinite(a.y))
    np.testing.assert_array_equal(a.y, b.y)
    # the states sit near the fixed point of the effective (drifted) matrix, not exactly on it
    target = np.linalg.solve(reader.matrix(0.0), X.T).T
    assert 0 < np.abs(a.y - target).max() < np.abs(target).max()


def test_drifted_away_device_is_refused(problem):
    A, X = problem
    reader = DeviceReader(load_device("capacitor"), A, np.random.default_rng(0), t_age_s=1e6)
    with pytest.raises(NeurodecorrError, match="effective matrix the device holds"):
        settle(LateralField(A, reader=reader), X, "euler")


@pytest.mark.parametrize("method", ["exact", "adaptive"])
def test_device_needs_a_fixed_step_method(problem, method):
    A, X = problem
    reader = DeviceReader(load_device("ideal"), A, np.random.default_rng(0))
    with pytest.raises(NeurodecorrError, match="ideal, noiseless"):
        settle(LateralField(A, reader=reader), X, method)


def test_cli_device_ideal_matches_cli_ideal(tmp_path, problem):
    A, X = problem
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "X.npy", X)
    base = ["settle", "--matrix", str(tmp_path / "A.npy"), "--input", str(tmp_path / "X.npy"),
            "--tol", "1e-10"]
    assert main([*base, "--out", str(tmp_path / "a.npy")]) == 0
    assert main([*base, "--out", str(tmp_path / "b.npy"), "--device", "ideal", "--time", "10",
                 "--drift-compensation", "global", "--json", str(tmp_path / "b.json")]) == 0
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    np.testing.assert_allclose(b, a, rtol=0, atol=1e-6 * np.abs(a).max())
    report = json.loads((tmp_path / "b.json").read_text())
    assert report["device"] == "ideal" and report["device_counters"]["reads"] == report["nfev"]


@pytest.mark.parametrize("extra", [["--device", "no-such-device"],
                                   ["--device", "pcm", "--time", "-1"],
                                   ["--device", "pcm", "--drift-compensation", "row"],
                                   ["--device", "pcm", "--method", "exact"]])
def test_cli_device_refusals(tmp_path, problem, capsys, extra):
    A, X = problem
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "o.npy"
    argv = ["settle", "--matrix", str(tmp_path / "A.npy"), "--input", str(tmp_path / "X.npy"),
            "--out", str(out), *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and not out.exists()


def day_old_pcm(comp: str, seed: int = 0):
    """The sweep's failing case: A = I + G/(2ρ(G)), n = 16, PCM a day after programming."""
    rng = np.random.default_rng(seed)
    n = 16
    G = rng.standard_normal((n, n))
    A = np.eye(n) + 0.5 * G / np.max(np.abs(np.linalg.eigvals(G)))
    X = rng.standard_normal((8, n)) @ (np.eye(n) + rng.standard_normal((n, n)) / 4).T
    reader = DeviceReader(load_device("pcm"), A, np.random.default_rng([seed, 1]),
                          t_age_s=86400.0, drift_compensation=comp)
    return A, X, reader


@pytest.mark.parametrize("comp", ["global", "column"])
def test_reader_matrix_is_what_compensated_reads_multiply_by(comp):
    """Drift compensation rescales every read by c ≈ 1.5 a day after programming: the matrix
    the stability check and the step use must be the mean of the reads, not the raw drift."""
    _, _, reader = day_old_pcm(comp)
    M = reader.matrix(0.0)
    Y = np.random.default_rng(5).standard_normal((64, 16))
    out = np.empty_like(Y)
    mean = np.mean([reader.read(Y, 0.0, out).copy() for _ in range(400)], axis=0)
    # per-read noise, output noise and the dithered ADC average out over 400 reads
    assert np.linalg.norm(mean - Y @ M.T) < 0.03 * np.linalg.norm(Y @ M.T)
    gain = reader.crossbar.compensation_gain(reader.t0_s)
    assert np.mean(gain) > 1.3  # a day of PCM drift: the uncompensated matrix is far off


@pytest.mark.parametrize("method", ["euler", "rk4"])
@pytest.mark.parametrize("comp", ["global", "column"])
def test_compensated_day_old_device_settles_with_the_automatic_step(method, comp):
    """Regression: the step used to be chosen from the uncompensated drifted matrix, beyond the
    stability limit of the compensated one, and the settle diverged (residual 1 → 1e7)."""
    A, X, reader = day_old_pcm(comp)
    field = LateralField(A, reader=reader)
    result = settle(field, X, method, criterion=SettleCriterion(tol=1e-6))
    assert result.status != -1, result.message
    M = reader.matrix(0.0)
    target = np.linalg.solve(M, X.T).T
    err = np.linalg.norm(result.y - target, axis=1) / np.linalg.norm(target, axis=1)
    # read noise keeps the states near, not on, the fixed point (about 0.2 here)
    assert np.max(err) < 0.5
