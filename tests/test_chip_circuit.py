"""Circuit non-idealities change the lateral circuit exactly as their parameters predict."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import solve_continuous_lyapunov, solve_discrete_lyapunov

from neurodecorr.circuits.chip import ChipLayer
from neurodecorr.circuits.description import BOLTZMANN_J_PER_K, load_circuit
from neurodecorr.circuits.lateral import LateralArray
from neurodecorr.cli import main
from neurodecorr.core.network import Layer
from neurodecorr.devices import load_device


def _lateral(tmp_path, body: str):
    path = tmp_path / "c.toml"
    path.write_text("[lateral]\n" + body)
    return load_circuit(str(path))


def _spd(rng, n, spread=0.4):
    Q = rng.standard_normal((n, n)) * spread / np.sqrt(n)
    return np.eye(n) + 0.5 * (Q + Q.T)


def test_mismatch_keeps_the_fixed_point_and_changes_the_dynamics(tmp_path, rng):
    n, K, h = 6, 40, 0.1
    A = _spd(rng, n)
    X = rng.standard_normal((5, n))
    c = _lateral(tmp_path, "mismatch_sigma_rel = 0.1\nsettle_tol = 1e-12\n")
    arr = LateralArray(c.lateral, A, load_device("ideal"), np.random.default_rng(0))
    xbar, _ = arr.settle(X, 0.0)
    np.testing.assert_allclose(xbar, np.linalg.solve(A, X.T).T, atol=1e-10)
    # a fixed window of K Euler steps of h = dt/τ: the discrete solution of
    # τ_i dx̄_i/dt = x_i − (A x̄)_i is x̄_K = x̄* − (I − h D A)^K x̄*, D = diag(τ/τ_i)
    tau = c.lateral.tau_s
    c2 = _lateral(tmp_path, f"mismatch_sigma_rel = 0.1\nsettle_tol = 0.0\ndt_s = {h * tau}\n"
                            f"settle_window_s = {K * h * tau}\n")
    arr = LateralArray(c2.lateral, A, load_device("ideal"), np.random.default_rng(0))
    D = np.diag(tau / arr.tau_i_s)
    xstar = np.linalg.solve(A, X.T)
    want = (xstar - np.linalg.matrix_power(np.eye(n) - h * D @ A, K) @ xstar).T
    got, result = arr.settle(X, 0.0)
    assert result.nsteps == K
    np.testing.assert_allclose(got, want, atol=1e-12)
    nominal = (xstar - np.linalg.matrix_power(np.eye(n) - h * A, K) @ xstar).T
    assert np.max(np.abs(got - nominal)) > 1e3 * 1e-12


def test_rails_clip_exactly_at_the_rail(tmp_path, rng):
    """A = I: x̄ = clip(x, ±r) with the saturated nodes exactly at the rail."""
    n = 8
    c = _lateral(tmp_path, "rail_V = 1.2\nvolts_per_unit = 0.5\nsettle_tol = 1e-12\n")
    r = 1.2 / 0.5
    X = 4.0 * rng.standard_normal((20, n))
    arr = LateralArray(c.lateral, np.eye(n), load_device("ideal"), np.random.default_rng(1))
    xbar, result = arr.settle(X, 0.0)
    assert result.success
    sat = np.abs(X) >= r
    assert sat.any() and (~sat).any()
    assert np.array_equal(xbar[sat], np.sign(X[sat]) * r)
    np.testing.assert_allclose(xbar[~sat], X[~sat], atol=1e-10)


def test_rails_with_coupling_give_the_complementarity_solution(tmp_path, rng):
    """Saturated nodes sit at ±r with their drive pointing outwards; the free nodes solve the
    reduced linear system A_FF x̄_F = x_F − A_FS x̄_S (numpy.linalg.solve)."""
    n = 6
    A = _spd(rng, n, 0.3)
    c = _lateral(tmp_path, "rail_V = 1.0\nvolts_per_unit = 1.0\nsettle_tol = 1e-12\n")
    X = 2.5 * rng.standard_normal((30, n))
    arr = LateralArray(c.lateral, A, load_device("ideal"), np.random.default_rng(2))
    xbar, result = arr.settle(X, 0.0)
    n_saturated = 0
    for x, y in zip(X, xbar, strict=True):
        S = np.abs(y) >= 1.0
        n_saturated += S.sum()
        drive = x - A @ y
        assert np.all(np.abs(y) <= 1.0)
        assert np.all(drive[S] * np.sign(y[S]) >= -1e-9)
        F = ~S
        if F.any():
            yF = np.linalg.solve(A[np.ix_(F, F)], x[F] - A[np.ix_(F, S)] @ y[S])
            np.testing.assert_allclose(y[F], yF, atol=1e-9)
    assert n_saturated > 0


def test_activation_rails_clip_exactly(tmp_path, rng):
    path = tmp_path / "a.toml"
    path.write_text("[lateral]\nvolts_per_unit = 0.5\n[activation]\nkind = 'relu'\n"
                    "rail_V = 1.0\n")
    c = load_circuit(str(path))
    layer = Layer(weight=rng.standard_normal((4, 3)), bias=np.zeros(4), activation="relu")
    chip_layer = ChipLayer(layer, c, np.random.default_rng(0))
    Z = 5 * rng.standard_normal((50, 4))
    np.testing.assert_array_equal(chip_layer.activate(Z), np.clip(np.maximum(Z, 0), 0, 2.0))


def test_thermal_noise_gives_the_stationary_covariance_of_the_sde(tmp_path, rng):
    """Euler–Maruyama: Cov = discrete Lyapunov solution exactly in distribution, and the
    continuous closed form (A + λI)P + P(A + λI)ᵀ = 2σ²I to O(h)."""
    n, N, h = 3, 20000, 0.05
    A = _spd(rng, n, 0.6)
    T, R, C, V = 300.0, 1e6, 1e-12, 1e-4
    noise_std = np.sqrt(BOLTZMANN_J_PER_K * T / C) / V  # kT/C in state units
    c = _lateral(tmp_path, f"R_ohm = {R}\nC_F = {C}\ntemperature_K = {T}\nvolts_per_unit = {V}\n"
                           f"opamp_gain = 50.0\nsettle_tol = 0.0\ndt_s = {h * R * C}\n"
                           f"settle_window_s = {60 / 0.4 * R * C}\n")
    assert c.lateral.noise_std == pytest.approx(noise_std)
    arr = LateralArray(c.lateral, A, load_device("ideal"), np.random.default_rng(3))
    X = np.tile(rng.standard_normal(n), (N, 1))
    xbar, _ = arr.settle(X, 0.0)
    S = A + c.lateral.leak * np.eye(n)
    fluct = xbar - np.linalg.solve(S, X[0])
    cov = fluct.T @ fluct / N
    F = np.eye(n) - h * S
    P_discrete = solve_discrete_lyapunov(F, 2 * h * noise_std**2 * np.eye(n))
    P_cont = solve_continuous_lyapunov(S, 2 * noise_std**2 * np.eye(n))
    # standard error of a (co)variance estimate from N independent samples
    se = np.sqrt((P_discrete**2 + np.outer(np.diag(P_discrete), np.diag(P_discrete))) / N)
    assert np.all(np.abs(cov - P_discrete) < 5 * se)
    assert np.all(np.abs(np.diag(cov) - np.diag(P_cont)) < 5 * np.diag(se) + 0.1 * np.diag(P_cont))


def test_leak_moves_the_fixed_point_to_the_leaky_solution(tmp_path, rng):
    n = 5
    A = _spd(rng, n)
    c = _lateral(tmp_path, "opamp_gain = 20.0\nsettle_tol = 1e-12\n")
    X = rng.standard_normal((4, n))
    arr = LateralArray(c.lateral, A, load_device("ideal"), np.random.default_rng(4))
    xbar, _ = arr.settle(X, 0.0)
    np.testing.assert_allclose(xbar, np.linalg.solve(A + np.eye(n) / 20.0, X.T).T, atol=1e-10)


def test_settle_cli_through_a_circuit(tmp_path, rng):
    n = 6
    A = _spd(rng, n)
    X = rng.standard_normal((3, n))
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "X.npy", X)
    out, js = tmp_path / "y.npy", tmp_path / "r.json"
    rc = main(["settle", "--matrix", str(tmp_path / "A.npy"), "--input", str(tmp_path / "X.npy"),
               "--out", str(out), "--circuit", "ideal", "--json", str(js)])
    assert rc == 0
    np.testing.assert_allclose(np.load(out), np.linalg.solve(A, X.T).T, atol=1e-5)
    assert "integration_steps" in js.read_text()


def test_settle_cli_refuses_options_the_circuit_sets(tmp_path, capsys, rng):
    np.save(tmp_path / "A.npy", np.eye(3))
    np.save(tmp_path / "X.npy", np.ones(3))
    out = tmp_path / "y.npy"
    rc = main(["settle", "--matrix", str(tmp_path / "A.npy"), "--input", str(tmp_path / "X.npy"),
               "--out", str(out), "--circuit", "ideal", "--tau", "1e-5"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--tau" in err and "Traceback" not in err
    assert not out.exists()


def test_lateral_field_matrix_is_what_the_reads_multiply_by(tmp_path, rng):
    """The settle's stability check and step use the matrix a read multiplies by: drift and the
    accumulated 1/f state of the conductances (``Crossbar.read_weights``), not the drifted
    conductances alone. Truth: the mean of many noisy reads of the unit vectors."""
    n, reps = 5, 4000
    c = _lateral(tmp_path, "R_ohm = 1e6\nC_F = 1e-12\n")
    A = _spd(rng, n)
    arr = LateralArray(c.lateral, A, load_device("pcm+periphery-ideal"), np.random.default_rng(3))
    t = 5.0  # s after programming: the 1/f state has moved the conductances by several %
    field = arr.field(np.zeros((1, n)), t)
    E = np.tile(np.eye(n), (reps, 1))
    reads = arr.crossbar.matvec(E, t).reshape(reps, n, n)  # [r, j, i] = row i of A, column j
    mean = reads.mean(axis=0).T
    se = reads.std(axis=0, ddof=1).T / np.sqrt(reps)
    assert np.all(np.abs(field.A - mean) <= 5 * se)
    # the drifted conductances alone miss the 1/f state by far more than the sampling error
    drifted = arr.crossbar.effective_weights(t)
    noisy = se > 0  # pcm's read noise is state-dependent: a pair clamped at 0 S reads exactly
    assert np.max(np.abs(drifted - mean)[noisy] / se[noisy]) > 20
