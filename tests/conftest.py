"""Shared fixtures: seeded generators and correlated data with a known covariance."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def correlated_data(rng: np.random.Generator, n_samples: int, d: int, scale: float = 1.0
                    ) -> np.ndarray:
    """Samples ``x = L z`` with a random mixing ``L``: strongly correlated, known covariance."""
    L = rng.normal(size=(d, d)) / np.sqrt(d) + np.eye(d)
    return scale * rng.normal(size=(n_samples, d)) @ L.T
