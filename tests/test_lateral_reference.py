"""A lateral array with a diagonal reference in the nodes' feedback (``[lateral] reference``).

Independent truths: ``numpy.linalg.solve`` for the settled state, the software rule
``A ← g⁻¹(A + η⟨(Ax̄)x̄ᵀ⟩)`` in numpy for a learning step, and the circular law (Gaussian
matrices drawn in numpy with the measured σ) for the spectrum after writes.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neurodecorr.circuits.description import load_circuit
from neurodecorr.circuits.lateral import LateralArray
from neurodecorr.circuits.updates import UpdateConfig, pulse_counts
from neurodecorr.devices import load_device
from neurodecorr.errors import NeurodecorrError

IDEAL = load_device("ideal")
MODES = ("fixed", "node")


def _circuit(reference="node", reference_range=1.0, **keys):
    lat = load_circuit("ideal").lateral
    if reference == "none":
        return dataclasses.replace(lat, **keys)
    return dataclasses.replace(lat, reference=reference, reference_range=reference_range, **keys)


def _A(rng, n=6):
    """Near the identity, with a diagonal away from 1 (so Δ has a diagonal in ``fixed``)."""
    return np.diag(rng.uniform(0.6, 1.3, n)) + 0.1 * rng.standard_normal((n, n))


@pytest.mark.parametrize("mode", MODES)
def test_reference_circuit_settles_to_the_solve(rng, mode):
    A = _A(rng)
    X = rng.standard_normal((7, 6))
    lat = LateralArray(_circuit(mode, mismatch_sigma_rel=0.05), A, IDEAL,
                       np.random.default_rng(1))
    Xbar, _ = lat.settle(X, 0.0)
    truth = np.linalg.solve(A, X.T).T
    np.testing.assert_allclose(Xbar, truth, rtol=0, atol=1e-5 * np.max(np.abs(truth)))
    # the devices hold the deviation only
    W = lat.crossbar.effective_weights(0.0)
    expect = A - (np.eye(6) if mode == "fixed" else np.diag(np.diag(A)))
    np.testing.assert_allclose(W, expect, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_reference_learning_is_the_software_rule(rng, mode):
    """Conductances + mixed precision's digital remainder χ + the reference, over the gain
    register, follow ``A ← g⁻¹(A + (η/k) Σ (A x̄)x̄ᵀ)`` step for step (ideal devices: a pulse
    count moves a device by exactly its count)."""
    n, k, eta = 6, 9, 0.05
    lat = LateralArray(_circuit(mode), _A(rng, n), IDEAL, np.random.default_rng(2),
                       update=UpdateConfig("mixed-precision"))
    for _ in range(3):
        A_dev = lat.effective_matrix(0.0)            # what the settles and reads use
        chi = lat.crossbar.chi.copy()
        X = rng.standard_normal((k, n))
        Xbar = np.linalg.solve(A_dev, X.T).T
        g = np.sqrt(np.sum(X**2) / np.sum(Xbar**2))
        truth = (A_dev + chi / lat.gain + eta / k * (A_dev @ Xbar.T) @ Xbar) / g
        assert lat.learn(X, Xbar, 0.0, eta) == pytest.approx(g, rel=1e-12)
        got = lat.effective_matrix(0.0) + lat.crossbar.chi / lat.gain
        np.testing.assert_allclose(got, truth, rtol=0, atol=1e-12)
    if mode == "node":   # the diagonal lives in the nodes' registers, never in the devices
        assert np.all(np.diag(lat.crossbar.effective_weights(0.0)) == 0)
        assert np.max(np.abs(np.diag(lat.crossbar.chi))) < 1e-15


@pytest.mark.parametrize("mode", MODES)
def test_reference_learning_without_a_step_only_rescales(rng, mode):
    """η = 0: ``Ã`` stays, the gain register moves, so ``A ← A/g`` (the fixed reference's
    diagonal correction is written alone)."""
    lat = LateralArray(_circuit(mode), _A(rng), IDEAL, np.random.default_rng(2),
                       update=UpdateConfig("mixed-precision"))
    A0 = lat.effective_matrix(0.0)
    X = rng.standard_normal((5, 6))
    g = lat.learn(X, 0.5 * X, 0.0, eta=0.0)
    assert g == pytest.approx(2.0, rel=1e-12)
    got = lat.effective_matrix(0.0) + lat.crossbar.chi / lat.gain
    np.testing.assert_allclose(got, A0 / g, rtol=0, atol=1e-12)


@pytest.mark.parametrize("mode", MODES)
def test_reference_write_is_node_local(rng, mode):
    """Changing node 2's own row of Ã leaves every other node's row of the devices, of the
    digital buffer χ and of the reference bit-identical."""
    A = _A(rng, 5)
    X = rng.standard_normal((8, 5))
    Xbar = rng.standard_normal((8, 5))
    rows, chis, refs = [], [], []
    for shift in (0.0, 0.3):
        B = A.copy()
        B[2, [1, 3, 4]] += shift
        lat = LateralArray(_circuit(mode, reference_range=4.0), B, IDEAL,
                           np.random.default_rng(3), update=UpdateConfig("mixed-precision"))
        lat.learn(X, Xbar, 0.0, eta=0.2)
        rows.append(lat.crossbar.effective_weights(0.0))
        chis.append(lat.crossbar.chi.copy())
        refs.append(lat._feedback(lat.gain).copy())
    others = [0, 1, 3, 4]
    np.testing.assert_array_equal(rows[0][others], rows[1][others])
    np.testing.assert_array_equal(chis[0][others], chis[1][others])
    np.testing.assert_array_equal(refs[0][others], refs[1][others])
    assert not np.array_equal(chis[0][2], chis[1][2])


def _written_reram(reference: str, seed: int, n: int = 64) -> np.ndarray:
    """``A`` of a ReRAM lateral array programmed at ``A = I`` after every device took one
    pulse up and one down (each write re-draws the device's write noise)."""
    circuit = _circuit(reference, reference_range=0.25)
    lat = LateralArray(circuit, np.eye(n), load_device("reram"), np.random.default_rng(seed),
                       update=UpdateConfig("sgd"))
    every = np.ones((n, n))
    pulse_counts(lat.crossbar.crossbar, every, 0.0)
    pulse_counts(lat.crossbar.crossbar, -every, 0.0)
    return lat.effective_matrix(0.0), lat.least_stable(0.0).real


def test_reference_shrinks_write_noise_by_the_range_ratio_and_keeps_the_circular_law():
    """Write noise in units of A scales with the mapped range (4 = headroom 4 × max|A| without
    a reference, 0.25 with one): σ shrinks 16×, and ``min Re μ`` sits where the circular law
    puts Gaussian matrices of the same σ and diagonal — stable with the reference, unstable
    (≈ 1 − 0.4·8) without."""
    n, seeds = 64, range(4)
    off = ~np.eye(n, dtype=bool)
    sig = {ref: [np.std(_written_reram(ref, s)[0][off]) for s in seeds]
           for ref in ("none", "node")}
    ratio = np.mean(sig["node"]) / np.mean(sig["none"])
    # standard error of a σ from N = n(n−1) values: σ/√(2N), per seed, for both means
    se = ratio * np.sqrt(2 / (2 * off.sum() * len(seeds)))
    assert abs(ratio - 0.25 / 4.0) < 5 * se + 0.0625 * 0.02  # + the programming noise share
    mus, ginibre = [], []
    draw = np.random.default_rng(99)
    for s in seeds:
        A, mu = _written_reram("node", s)
        sigma = np.std(A[off])
        mus.append(mu)
        for _ in range(20):
            G = np.diag(np.diag(A)) + sigma * draw.standard_normal((n, n)) * off
            ginibre.append(np.min(np.linalg.eigvals(G).real))
    spread = np.std(ginibre)
    se = spread * np.sqrt(1 / len(mus) + 1 / len(ginibre))
    assert abs(np.mean(mus) - np.mean(ginibre)) < 5 * se
    assert min(mus) > 0.5                                    # stable, edge ≈ 1 − 0.025·8
    assert max(_written_reram("none", s)[1] for s in seeds) < 0  # the array without one is not


def test_reference_run_is_deterministic_for_a_seed(rng):
    A = _A(rng, 8)
    X = rng.standard_normal((5, 8))
    out = []
    for _ in range(2):
        lat = LateralArray(_circuit("node"), A, load_device("pcm"), np.random.default_rng(7),
                           update=UpdateConfig("mixed-precision"))
        for step in range(3):
            Xbar, _ = lat.settle(X, 1e-3 * step)
            lat.learn(X, Xbar, 1e-3 * step, eta=0.05)
        out.append((Xbar, lat.effective_matrix(0.01), lat.gain, lat.r.copy()))
    for a, b in zip(*out, strict=True):
        np.testing.assert_array_equal(a, b)


def test_reference_keys_are_checked():
    lat = load_circuit("ideal").lateral
    with pytest.raises(NeurodecorrError, match=r"\[lateral\] reference_range: needs a reference"):
        dataclasses.replace(lat, reference_range=0.5)
    with pytest.raises(NeurodecorrError, match="reference_level: applies to reference"):
        dataclasses.replace(lat, reference="node", reference_level=2.0)
    with pytest.raises(NeurodecorrError, match="reference: must be one of"):
        dataclasses.replace(lat, reference="digital")


def test_spice_export_refuses_a_reference(rng):
    from neurodecorr.spice import from_lateral_array

    lat = LateralArray(_circuit("node"), _A(rng, 4), IDEAL, np.random.default_rng(1))
    with pytest.raises(NeurodecorrError, match="SPICE export does not draw the reference"):
        from_lateral_array(lat, np.ones(4))
