"""Lava as a backend: its traces against the numpy backend's on the same network.

Tiny networks and three samples keep every Lava run to a fraction of a second.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurodecorr.core import Layer, Network, NumpyBackend
from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava.backend import LavaBackend


def _network(rng: np.random.Generator) -> Network:
    """6 → 5 (decorrelated, leaky ReLU) → 3 (no decorrelation, linear)."""
    M = np.eye(6) - 0.1 * rng.standard_normal((6, 6)) / np.sqrt(6)
    return Network([
        Layer(rng.standard_normal((5, 6)) / np.sqrt(6), 0.1 * rng.standard_normal(5), M,
              "leaky_relu", 0.05),
        Layer(rng.standard_normal((3, 5)) / np.sqrt(5), 0.1 * rng.standard_normal(3), None,
              "identity")])


@pytest.mark.parametrize("mapping", ["loihi", "layer"])
def test_float_trace_equals_numpy(mapping):
    rng = np.random.default_rng(3)
    net, X = _network(rng), rng.standard_normal((3, 6))
    exact = NumpyBackend().forward(net, X)
    trace = LavaBackend("float", mapping, tol=1e-13).forward(net, X)
    # what each mapping's stages send (the module's table)
    assert (trace.x[0] is None) == (mapping == "layer")
    assert trace.z[0] is None
    for field in ("x", "xbar", "z"):
        for got, want in zip(getattr(trace, field), getattr(exact, field), strict=True):
            if got is not None:
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(trace.logits, exact.logits, rtol=0, atol=1e-12)


def test_fixed_point_trace_is_the_numpy_trace_to_the_bit_widths():
    """8-bit weight and lateral mantissas (half a step is 1/254 of a row's largest entry) and
    24-bit states: every value within 2⁻⁶ of its field's range, and not exact."""
    rng = np.random.default_rng(4)
    net, X = _network(rng), rng.standard_normal((3, 6))
    exact = NumpyBackend().forward(net, X)
    trace = LavaBackend("fixed", "loihi", calibration=rng.standard_normal((100, 6))).forward(
        net, X)
    errors = []
    for field in ("x", "xbar"):
        for got, want in zip(getattr(trace, field), getattr(exact, field), strict=True):
            errors.append(np.max(np.abs(got - want)) / np.max(np.abs(want)))
    errors.append(np.max(np.abs(trace.logits - exact.logits)) / np.max(np.abs(exact.logits)))
    assert max(errors) < 2.0**-6
    assert max(errors) > 1e-6  # the integers really were used


def test_noise_is_refused():
    rng = np.random.default_rng(5)
    net = _network(rng)
    with pytest.raises(NeurodecorrError, match="clean passes only"):
        LavaBackend().forward(net, np.zeros((1, 6)), noise=[np.zeros((1, 5)), np.zeros((1, 3))])
