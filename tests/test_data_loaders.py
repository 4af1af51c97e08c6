"""Data sets: shapes, splits and statistics (CIFAR: tests/test_data_cifar.py)."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecorr.data import LOADERS, load_dataset
from neurodecorr.data.synthetic import load_synthetic, spectrum
from neurodecorr.errors import NeurodecorrError


def test_registry_lists_every_dataset_and_refuses_unknown_names():
    assert {"mnist1d", "digits", "synthetic", "cifar10", "cifar100"} <= set(LOADERS)
    with pytest.raises(NeurodecorrError, match="unknown dataset 'mnist2d'"):
        load_dataset("mnist2d")


def test_digits_split_is_fixed_and_standardised():
    a, b = load_dataset("digits"), load_dataset("digits")
    assert a.x_train.shape[1] == 64 and len(a.x_train) + len(a.x_test) == 1797
    assert len(a.x_test) == round(0.2 * 1797)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    varying = a.x_train.std(axis=0) > 0
    np.testing.assert_allclose(a.x_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(a.x_train.std(axis=0)[varying], 1, rtol=1e-12)
    assert set(np.unique(a.y_train)) == set(range(10))


def test_synthetic_covariance_has_the_requested_spectrum():
    n, d = 40000, 8
    data = load_synthetic(n_features=d, n_train=n, n_test=10, decay=1.5, seed=4)
    eig = np.sort(np.linalg.eigvalsh(np.cov(data.x_train.T, bias=True)))[::-1]
    lam = spectrum(d, 1.5)
    # each sample eigenvalue of a Gaussian covariance has relative s.e. ≈ √(2/n) ≈ 0.007
    np.testing.assert_allclose(eig, lam, rtol=0.05)
    assert lam.sum() == pytest.approx(d)


def test_synthetic_is_seeded_and_labels_use_every_class():
    a = load_synthetic(seed=1)
    b = load_synthetic(seed=1)
    c = load_synthetic(seed=2)
    np.testing.assert_array_equal(a.x_train, b.x_train)
    assert not np.array_equal(a.x_train, c.x_train)
    assert set(np.unique(a.y_train)) == set(range(4))
    with pytest.raises(NeurodecorrError, match="decay"):
        load_synthetic(decay=-1)


def test_mnist1d_is_generated_offline_with_the_published_shapes():
    d = load_dataset("mnist1d")
    assert d.x_train.shape == (4000, 40) and d.x_test.shape == (1000, 40)
    assert d.n_classes == 10
