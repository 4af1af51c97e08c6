"""The on-line learning loop: equivalence with the linear form, node-by-node equality,
centring, and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecorr.circuits import RK4, SettleCriterion
from neurodecorr.circuits.online import OnlineLearner, learn_online_nodewise
from neurodecorr.core import DecorrelationConfig, InverseDecorrelator, LinearDecorrelator
from neurodecorr.data import load_dataset
from neurodecorr.errors import NeurodecorrError


@pytest.fixture(scope="module")
def stream() -> np.ndarray:
    return load_dataset("mnist1d").x_train[:2000]


def identity_error(A: np.ndarray, M: np.ndarray) -> float:
    return float(np.linalg.norm(A @ M - np.eye(len(A))) / np.sqrt(len(A)))


def test_streaming_local_rule_matches_linear_form(stream):
    """2000 MNIST-1D samples one at a time, η = 1e-3: the circuit-learned A inverts the
    linear-form M to first order in η."""
    config = DecorrelationConfig(eta=1e-3)
    learner = OnlineLearner(40, config, criterion=SettleCriterion(tol=1e-10))
    A = learner.run(stream)
    linear = LinearDecorrelator(40, config)
    for x in stream:
        linear.update(x[None, :])
    err = identity_error(A, linear.M)
    assert err <= 0.05
    assert identity_error(np.eye(40), linear.M) > 10 * err  # M moved far from the identity
    assert max(learner.history.residual) < 1e-10 and len(learner.history.gain) == 2000


def test_exact_sherman_morrison_stream_inverts_linear_form(stream):
    config = DecorrelationConfig(eta=1e-3)
    learner = OnlineLearner(40, config, update="exact", criterion=SettleCriterion(tol=1e-11))
    A = learner.run(stream[:500])
    linear = LinearDecorrelator(40, config)
    for x in stream[:500]:
        linear.update(x[None, :])
    assert identity_error(A, linear.M) < 1e-7


def test_minibatch_local_rule_matches_linear_form(stream):
    config = DecorrelationConfig(eta=1e-3)
    A = OnlineLearner(40, config, method=RK4(), criterion=SettleCriterion(tol=1e-10)
                      ).run(stream, batch_size=16)
    linear = LinearDecorrelator(40, config)
    for s in range(0, 2000, 16):
        linear.update(stream[s:s + 16])
    assert identity_error(A, linear.M) <= 0.05


@pytest.mark.parametrize("batch_size,update", [(1, "first_order"), (1, "exact"),
                                               (8, "first_order")])
def test_nodewise_loop_equals_vectorised_loop(stream, batch_size, update):
    config = DecorrelationConfig(eta=2e-3)
    X = stream[:160]
    criterion = SettleCriterion(tol=1e-9, check_every=4)
    vec = OnlineLearner(40, config, update=update, criterion=criterion).run(X, batch_size)
    node = learn_online_nodewise(X, config, batch_size=batch_size, update=update,
                                 criterion=criterion)
    assert np.abs(vec - np.eye(40)).max() > 1e-2  # learning happened
    np.testing.assert_allclose(node, vec, rtol=0, atol=1e-12 * np.abs(vec).max())


def test_centred_learning_matches_exact_solves(stream):
    """Settling the running mean with the batch gives the centred states A⁻¹(x − μ)."""
    config = DecorrelationConfig(eta=1e-3, centre=True)
    X = stream[:320] + 0.5
    learner = OnlineLearner(40, config, criterion=SettleCriterion(tol=1e-12))
    learner.run(X, batch_size=32)
    reference = InverseDecorrelator(40, config)
    for s in range(0, 320, 32):
        reference.update(X[s:s + 32])
    np.testing.assert_allclose(learner.A, reference.A, rtol=0, atol=1e-9)


def test_refusals():
    config = DecorrelationConfig(eta=1e-3)
    with pytest.raises(NeurodecorrError, match="one sample"):
        OnlineLearner(4, config, update="exact").run(np.ones((4, 4)), batch_size=2)
    with pytest.raises(NeurodecorrError, match="unknown update"):
        OnlineLearner(4, config, update="second_order")
    unstable = np.diag([1.0, 1.0, 1.0, -1.0])
    with pytest.raises(NeurodecorrError, match="unstable"):
        OnlineLearner(4, config, A=unstable).run(np.ones((2, 4)))
