"""Lateral arrays on the chip: node-local writes and the stability responses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neurodecorr.circuits.chip import Chip
from neurodecorr.circuits.description import load_circuit
from neurodecorr.circuits.lateral import LateralArray, LateralUnstable
from neurodecorr.circuits.updates import UpdateConfig
from neurodecorr.core.network import Layer, Network
from neurodecorr.devices import load_device

IDEAL = load_device("ideal")


def _lateral(A, update="mixed-precision", on_unstable="stop"):
    circuit = dataclasses.replace(load_circuit("ideal").lateral, on_unstable=on_unstable)
    return LateralArray(circuit, A, IDEAL, np.random.default_rng(3),
                        update=UpdateConfig(update))


def _A(rng, n=5):
    Q = rng.standard_normal((n, n)) * 0.1
    A = np.eye(n) + Q
    A[0, 0] = 2.0  # the largest entry: the weight scale stays the same below
    return A


def test_lateral_write_is_node_local(rng):
    """Changing node j's quantities (its row of Ã, hence its lateral input) leaves every
    other node's row of the devices and of its digital buffer χ bit-identical."""
    A = _A(rng)
    X = rng.standard_normal((8, 5))
    Xbar = rng.standard_normal((8, 5))
    rows, chis = [], []
    for shift in (0.0, 0.3):
        B = A.copy()
        B[2, [1, 3, 4]] += shift
        lat = _lateral(B)
        lat.learn(X, Xbar, 0.0, eta=0.2)
        rows.append(lat.crossbar.effective_weights(0.0))
        chis.append(lat.crossbar.chi.copy())
    others = [0, 1, 3, 4]
    np.testing.assert_array_equal(rows[0][others], rows[1][others])
    np.testing.assert_array_equal(chis[0][others], chis[1][others])
    assert not np.array_equal(chis[0][2], chis[1][2])  # node 2's own row did change


def test_gain_step_records_the_power_it_balances(rng):
    """``last_power`` is the mean square of the inputs and of the settled states per node and
    sample, and the register's step is the square root of their ratio (closed form)."""
    lat = _lateral(_A(rng))
    X = rng.standard_normal((8, 5)) * 3.0
    Xbar = rng.standard_normal((8, 5))
    g = lat.learn(X, Xbar, 0.0, eta=0.01)
    p_in, p_out = np.mean(X ** 2), np.mean(Xbar ** 2)
    np.testing.assert_allclose(lat.last_power, (p_in, p_out), rtol=1e-12)
    np.testing.assert_allclose(g, np.sqrt(p_in / p_out), rtol=1e-12)
    np.testing.assert_allclose(lat.gain, g, rtol=1e-12)


def _push_unstable(lat):
    """A write that turns node 0's self-coupling negative: Ã_00 ← Ã_00 − 3."""
    e = np.zeros((1, lat.n))
    e[0, 0] = 1.0
    lat.crossbar.update(e, e, -3.0, 0.0)
    return lat.crossbar.effective_weights(0.0)


def test_stop_names_the_eigenvalue(rng):
    lat = _lateral(_A(rng))
    assert lat.check_stability(0.0) is None
    bad = _push_unstable(lat)
    with pytest.raises(LateralUnstable) as err:
        lat.check_stability(0.0)
    want = np.linalg.eigvals(bad)
    want = want[np.argmin(want.real)]
    assert err.value.eigenvalue == pytest.approx(want, abs=1e-9)
    assert f"eigenvalue {want.real:.4g}" in str(err.value)


def test_reprogram_restores_the_digital_copy(rng):
    A = _A(rng)
    lat = _lateral(A, on_unstable="reprogram")
    lat.check_stability(0.0)
    good = lat.crossbar.effective_weights(0.0)
    _push_unstable(lat)
    mu = lat.check_stability(0.0)
    assert mu.real <= 0 and lat.responses == 1
    np.testing.assert_allclose(lat.crossbar.effective_weights(0.0), good, atol=1e-12)
    assert np.all(lat.crossbar.chi == 0)


def test_clamp_keeps_the_largest_stable_part_of_the_write(rng):
    lat = _lateral(_A(rng), on_unstable="clamp")
    lat.check_stability(0.0)
    good = lat.crossbar.effective_weights(0.0)
    bad = _push_unstable(lat)
    lat.check_stability(0.0)
    # independent: the first s = 1/2, 1/4, ... with a positive spectrum
    for s in 0.5 ** np.arange(1, 11):
        want = good + s * (bad - good)
        if np.linalg.eigvals(want).real.min() > 0:
            break
    assert s < 1
    np.testing.assert_allclose(lat.crossbar.effective_weights(0.0), want, atol=1e-12)
    assert np.linalg.eigvals(lat.crossbar.effective_weights(0.0)).real.min() > 0


def test_chip_names_the_layer_of_an_unstable_lateral_matrix(rng):
    """On the chip the stop names the layer (the trainer adds the epoch)."""
    A = _A(rng, 4)
    net = Network(layers=[Layer(weight=rng.standard_normal((3, 4)), bias=np.zeros(3),
                                decorrelation=np.linalg.inv(A), activation="identity")])
    chip = Chip(net, rng=1, update="mixed-precision")
    X = rng.standard_normal((6, 4))
    xbar = chip.decorrelate(0, X)
    with pytest.raises(LateralUnstable, match="lateral matrix of layer 0 lost stability"):
        chip.learn_lateral(0, X, xbar, eta=-40.0)
    err = LateralUnstable(-0.5 + 0j, 1, 7)
    assert "of layer 1 lost stability in epoch 7 (eigenvalue -0.5" in str(err)


def _bypass_check(lat, A):
    """Put ``A`` into the array without a write, as drift, a fault or noise the eigenvalue
    check did not see would: the next settle meets it."""
    lat.crossbar.reprogram(A, 0.0)


@pytest.mark.parametrize("on_unstable", ["reprogram", "clamp"])
def test_a_failed_settle_reprograms_from_the_digital_copy_and_settles_again(rng, on_unstable):
    """A settle meeting an unstable matrix: the array gets the digital copy back and the batch
    settles on it, to x̄ = Ã_copy⁻¹ (G x) (numpy.linalg.solve)."""
    A = _A(rng)
    lat = _lateral(A, on_unstable=on_unstable)
    lat.check_stability(0.0)
    good = lat.crossbar.effective_weights(0.0)
    bad = good.copy()
    bad[0, 0] = -1.0
    _bypass_check(lat, bad)
    assert lat.least_stable(0.0).real < 0
    X = rng.standard_normal((6, 5))
    Xbar, _ = lat.settle(X, 0.0, tol=1e-10)
    assert lat.responses == 1
    np.testing.assert_allclose(lat.crossbar.effective_weights(0.0), good, atol=1e-12)
    np.testing.assert_allclose(Xbar, np.linalg.solve(good, lat.gain * X.T).T, atol=1e-8)


def test_a_failed_settle_stops_with_the_eigenvalue_and_the_reason(rng):
    lat = _lateral(_A(rng))
    bad = lat.crossbar.effective_weights(0.0)
    bad[0, 0] = -1.0
    _bypass_check(lat, bad)
    want = np.linalg.eigvals(bad)
    want = want[np.argmin(want.real)]
    with pytest.raises(LateralUnstable) as err:
        lat.settle(rng.standard_normal((3, 5)), 0.0)
    assert err.value.eigenvalue == pytest.approx(want, abs=1e-9)
    assert "failed" in str(err.value) and "unstable" in err.value.reason
    assert "\n" not in str(err.value)


def test_a_stable_matrix_too_slow_for_the_step_budget_is_a_failed_settle(rng):
    """Re μ > 0 passes the eigenvalue check, but a mode of 1e-7 cannot settle within the
    budget: the settle's failure gets the response too, naming that eigenvalue."""
    A = np.eye(5)
    A[4, 4] = 1e-7
    lat = _lateral(A)
    with pytest.raises(LateralUnstable) as err:
        lat.settle(rng.standard_normal((2, 5)), 0.0, max_steps=1000)
    assert err.value.eigenvalue.real == pytest.approx(1e-7, rel=1e-6)
    assert "step budget" in err.value.reason


def test_trainer_names_layer_and_epoch_of_a_failed_settle(rng):
    """Through the chip and a training epoch: one line naming the layer, the epoch and μ."""
    from neurodecorr.data import load_dataset
    from neurodecorr.learning.chip_trainer import ChipOptions, ChipTrainer
    from neurodecorr.learning.config import TrainConfig

    config = TrainConfig(dataset="synthetic", algorithm="bp", decorrelation="ahmad",
                         hidden=(4,), epochs=1, batch_size=16, decor_lr=1e-3, seed=0)
    trainer = ChipTrainer(config, load_dataset("synthetic"),
                          ChipOptions(update="mixed-precision"))
    lat = trainer.chip.layers[1].lateral
    bad = lat.crossbar.effective_weights(0.0)
    bad[0, 0] = -1.0
    _bypass_check(lat, bad)
    with pytest.raises(LateralUnstable) as err:
        trainer.train_epoch()
    text = str(err.value)
    assert "lateral circuit of layer 1 failed in epoch 1 (least stable eigenvalue" in text
    assert "\n" not in text


def test_a_noisy_settle_that_diverges_at_the_optimal_step_settles_at_half_of_it():
    """PCM lateral array (8-bit converters, output noise 0.04 of full scale), a stable read
    matrix: Euler at the eigen-optimal step of the noiseless matrix diverges under the per-read
    noise; the array re-runs the settle at half the step, which settles to the noise floor.
    Independent truth: ``numpy.linalg.solve`` for the noiseless fixed point, and for the error
    the stationary mean square of ``e_{k+1} = (I − hR) e_k + h ε_k`` with white read noise of
    the variance measured by two reads of the same states, ``h² s² tr P`` with
    ``P = G P Gᵀ + I`` (scipy's discrete Lyapunov solver). State-dependent noise and the ADC
    make the measured error differ from that model by up to about 1.5× in trials."""
    from scipy.linalg import solve_discrete_lyapunov

    from neurodecorr.ode import Euler, Result, SettleCriterion, settle

    n = 40
    r = np.random.default_rng(2)
    A = np.diag(r.uniform(0.8, 1.5, n)) + 0.1 * r.standard_normal((n, n)) * (1 - np.eye(n))
    X = np.random.default_rng(0).standard_normal((64, n))
    circuit = load_circuit("ideal").lateral
    lat = LateralArray(circuit, A, load_device("pcm"), np.random.default_rng(0),
                       update=UpdateConfig("sgd"))
    field = lat.field(X, 1.0)
    R, U = np.asarray(field.reader.matrix(0.0)), np.asarray(field.reader.U)
    assert np.linalg.eigvals(R).real.min() > 0.1
    first = settle(field, U, Euler(), criterion=SettleCriterion(tol=1e-6),
                   rng=np.random.default_rng(1))
    assert first.result is Result.DIVERGED

    Y, result = lat.settle(X, 1.0)
    assert lat.step_halvings == 1
    assert result.status == 0 and result.dt_s == pytest.approx(first.dt_s / 2)
    assert any("re-run at half the step" in w for w in result.warnings)
    # the diverged attempt's steps ran on the circuit too
    assert lat.node_updates > result.nsteps * X.shape[0] * n
    Y_star = np.linalg.solve(R, U.T).T
    reads = [lat.crossbar.matvec(Y_star, 1.0) for _ in range(2)]
    s2 = np.mean((reads[0] - reads[1]) ** 2) / 2
    h = result.dt_s / circuit.tau_s
    G = np.eye(n) - h * R
    predicted = h * h * s2 * np.trace(solve_discrete_lyapunov(G, np.eye(n)))
    measured = np.mean(np.sum((Y - Y_star) ** 2, axis=1))
    assert 0.5 * predicted < measured < 2.5 * predicted

    # a circuit that fixes its step is integrated at that step: no re-run, the failure stops
    fixed = dataclasses.replace(circuit, dt_s=first.dt_s)
    lat = LateralArray(fixed, A, load_device("pcm"), np.random.default_rng(0),
                       update=UpdateConfig("sgd"))
    with pytest.raises(LateralUnstable, match="diverged"):
        lat.settle(X, 1.0)
    assert lat.step_halvings == 0
