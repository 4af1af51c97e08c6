"""Tolerances of the device statistics tests: 5 standard errors of the estimator at the sample
size used (SE of a mean σ/√N, of a standard deviation ≈ σ/√(2N) for Gaussian samples), so a
correct model fails a check with probability below 1e-6."""

from __future__ import annotations

import math

import numpy as np


def close_mean(sample: np.ndarray, expected: float, sd: float) -> None:
    se = sd / math.sqrt(sample.size)
    assert abs(sample.mean() - expected) <= 5 * se + 1e-12, (sample.mean(), expected, se)


def close_std(sample: np.ndarray, expected: float) -> None:
    se = expected / math.sqrt(2 * sample.size)
    assert abs(sample.std(ddof=1) - expected) <= 5 * se + 1e-12, (sample.std(), expected, se)
