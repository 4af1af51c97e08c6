"""The one activation module: f and f′ against their closed forms and finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from neurodecorr.core.activation import ACTIVATIONS, activate, derivative, slope_below_zero
from neurodecorr.errors import NeurodecorrError


@pytest.mark.parametrize("name,slope", [("identity", 1.0), ("relu", 0.0), ("leaky_relu", 0.2)])
def test_activation_is_the_piecewise_linear_closed_form(rng, name, slope):
    z = rng.standard_normal(1000)
    assert slope_below_zero(name, 0.2) == slope
    np.testing.assert_array_equal(activate(z, name, 0.2), np.where(z > 0, z, slope * z))
    np.testing.assert_array_equal(derivative(z, name, 0.2), np.where(z > 0, 1.0, slope))


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_derivative_matches_central_differences_away_from_zero(rng, name):
    z = rng.standard_normal(500)
    z = z[np.abs(z) > 1e-3]
    h = 1e-6
    numeric = (activate(z + h, name, 0.07) - activate(z - h, name, 0.07)) / (2 * h)
    np.testing.assert_allclose(derivative(z, name, 0.07), numeric, rtol=1e-8, atol=1e-9)


def test_derivative_at_zero_is_taken_from_below():
    assert derivative(np.array([0.0]), "leaky_relu", 0.3)[0] == 0.3
    assert derivative(np.array([0.0]), "relu")[0] == 0.0


def test_unknown_activation_is_a_one_line_error():
    with pytest.raises(NeurodecorrError, match="unknown activation 'tanh'"):
        activate(np.zeros(2), "tanh")
