"""Folding the gain register into the lateral conductances (``[lateral] gain_fold``).

Independent truths: a twin array that never folds (same matrix, devices and writes) for the
matrix ``A = Ã/G`` the rule learns, ``numpy.linalg.solve`` for the settled states, and the
closed form of one fold (``Ã/G``, ``r/G``, ``χ/G``, ``G = 1``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neurodecorr.circuits.description import load_circuit
from neurodecorr.circuits.lateral import LateralArray
from neurodecorr.circuits.updates import UpdateConfig
from neurodecorr.devices import load_device
from neurodecorr.errors import NeurodecorrError

IDEAL = load_device("ideal")


def _circuit(reference: str, **keys):
    lat = load_circuit("ideal").lateral
    if reference != "none":
        keys["reference"] = reference
    return dataclasses.replace(lat, **keys)


def _A(rng, n=6):
    return np.diag(rng.uniform(0.8, 1.3, n)) + 0.1 * rng.standard_normal((n, n))


def _pair(rng, reference, fold=1.5, update="mixed-precision"):
    A = _A(rng)
    return [LateralArray(_circuit(reference, gain_fold=f), A, IDEAL, np.random.default_rng(4),
                         update=UpdateConfig(update)) for f in (0.0, fold)]


@pytest.mark.parametrize("reference", ["none", "fixed", "node"])
def test_a_fold_keeps_the_matrix_the_rule_learns(rng, reference):
    """Steps whose gain crosses the fold threshold: the folded array's ``A`` follows its
    never-folded twin's (to the devices' granularity: a count is whole pulses in each array's
    own scale), its register is back at 1, and both settle to ``solve(A, x)``."""
    plain, folded = _pair(rng, reference, fold=1.2)
    n = plain.n
    X = 3.0 * rng.standard_normal((16, n))
    for step in range(8):
        t = 1e-3 * step
        # the same x̄ drives both (the rule's input, not the twins' own settles, which differ
        # by their granularity), so the two runs see the same writes
        Xbar, _ = plain.settle(X, t)
        plain.learn(X, Xbar, t, eta=0.02)
        folded.learn(X, Xbar, t, eta=0.02)
    assert plain.gain > 1.2 ** 2  # the twin's register grew past the threshold twice
    assert folded.folds >= 2 and 1 / 1.2 < folded.gain < 1.2
    t = 0.01
    A_plain, A_folded = plain.effective_matrix(t), folded.effective_matrix(t)
    # each array's own undelivered remainder is under one step ε of its conductances (|χ| < ε):
    # ε/G_plain + ε/G_folded in A, with G_plain ≥ 1 and G_folded > 1/1.2
    eps = plain.crossbar.granularity
    np.testing.assert_allclose(A_folded, A_plain, rtol=0, atol=eps * (1 / plain.gain + 1.2))
    Xbar_f, _ = folded.settle(X, t)
    truth = np.linalg.solve(A_folded, X.T).T
    np.testing.assert_allclose(Xbar_f, truth, atol=1e-5 * np.max(np.abs(truth)))


def test_one_fold_is_the_closed_form(rng):
    """``fold_gain``: conductances ``Ã/G``, node reference ``r/G``, buffer ``χ/G``, ``G = 1``."""
    _, lat = _pair(rng, "node", fold=100.0)
    X = rng.standard_normal((8, lat.n))
    lat.learn(X, X / 2.0, 0.0, eta=0.01)  # g = 2, below the threshold: no fold yet
    assert lat.folds == 0
    G, W, r = lat.gain, lat.crossbar.effective_weights(0.0), lat.r.copy()
    chi = lat.crossbar.chi.copy()
    A = lat.effective_matrix(0.0)
    lat.check_stability(0.0)  # the digital copy takes this matrix
    stored, gain = lat.copy
    A_copy = lat._with_reference(stored, gain, lat._r_copy)
    lat.fold_gain(0.0)
    assert lat.gain == 1.0 and lat.folds == 1
    np.testing.assert_allclose(lat.crossbar.effective_weights(0.0), W / G, atol=1e-12)
    np.testing.assert_allclose(lat.r, r / G, rtol=1e-12)
    np.testing.assert_allclose(lat.crossbar.chi, chi / G, rtol=1e-12)
    np.testing.assert_allclose(lat.effective_matrix(0.0), A, atol=1e-12)
    # the digital copy describes the same matrix as before the fold: a restore leaves A as is
    stored, gain = lat.copy
    np.testing.assert_allclose(A_copy, A, atol=1e-12)
    np.testing.assert_allclose(lat._with_reference(stored, gain, lat._r_copy), A, atol=1e-12)


def test_without_folding_the_register_grows_and_a_fold_moves_it_into_the_conductances(rng):
    """With ``x`` of 1.4× the amplitude of ``x̄`` and no writes (η = 0), the twin's register
    multiplies by exactly ``g = 1.4`` each step (closed form ``1.4⁵``), while the folding
    array stays inside its band and its conductances carry the rest: theirs over the twin's
    is ``G_folded/G_plain``, the same ``A``."""
    plain, folded = _pair(rng, "none", fold=1.5)
    X = rng.standard_normal((8, plain.n))
    for step in range(5):
        for lat in (plain, folded):
            lat.learn(X, X / 1.4, 1e-3 * step, eta=0.0)
    np.testing.assert_allclose(plain.gain, 1.4 ** 5, rtol=1e-12)
    assert folded.gain < 1.5
    ratio = (np.abs(plain.crossbar.effective_weights(0.01)).max()
             / np.abs(folded.crossbar.effective_weights(0.01)).max())
    np.testing.assert_allclose(ratio, plain.gain / folded.gain, rtol=1e-6)


def test_gain_fold_is_checked(rng):
    lat = load_circuit("ideal").lateral
    with pytest.raises(NeurodecorrError, match=r"\[lateral\] gain_fold: must be 0 \(never\) or "
                                               r"above 1"):
        dataclasses.replace(lat, gain_fold=0.5)
    with pytest.raises(NeurodecorrError, match=r"\[lateral\] gain_fold: needs an sgd or "
                                               r"mixed-precision lateral array, not tiki-taka"):
        LateralArray(dataclasses.replace(lat, gain_fold=2.0), _A(rng), IDEAL,
                     np.random.default_rng(0), update=UpdateConfig("tiki-taka"))
