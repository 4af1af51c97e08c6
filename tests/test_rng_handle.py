"""Kernels drawing through a generator handle draw numpy's numbers and advance its state."""

from __future__ import annotations

import copy
import pickle

import numba
import numpy as np
import pytest

from neurodecorr.devices import Crossbar, load_device
from neurodecorr.devices.rng_handle import Handles, generator, handle


@numba.njit(cache=False)
def _draws(rng, normals, uniforms):
    rng = generator(rng)
    for i in range(normals.size):
        normals[i] = rng.standard_normal()
    for i in range(uniforms.size):
        uniforms[i] = rng.random()


@pytest.mark.parametrize("bit_generator", [np.random.PCG64, np.random.Philox, np.random.MT19937])
def test_handle_draws_numpys_numbers_and_advances_the_generator(bit_generator):
    gen = np.random.Generator(bit_generator(7))
    twin = np.random.Generator(bit_generator(7))
    normals, uniforms = np.empty(1000), np.empty(333)
    _draws(handle(gen), normals, uniforms)
    np.testing.assert_array_equal(normals, twin.standard_normal(1000))
    np.testing.assert_array_equal(uniforms, twin.random(333))
    # the state moved in the generator object itself: its next numpy draw is the twin's
    assert gen.standard_normal() == twin.standard_normal()


def test_a_generator_passes_through_as_before():
    gen, twin = np.random.default_rng(3), np.random.default_rng(3)
    normals, uniforms = np.empty(50), np.empty(50)
    _draws(gen, normals, uniforms)
    np.testing.assert_array_equal(normals, twin.standard_normal(50))
    np.testing.assert_array_equal(uniforms, twin.random(50))


def test_handles_follow_the_generator_and_never_travel_with_a_copy():
    gen = np.random.default_rng(0)
    cache = Handles()
    h = cache(gen)
    assert cache(gen) is h
    other = np.random.default_rng(0)
    assert cache(other)[0] != h[0]  # another generator, another state address
    for dup in (copy.deepcopy(cache), pickle.loads(pickle.dumps(cache))):
        assert dup._rng is None and dup._handle is None


def test_a_copied_crossbar_draws_from_its_own_generator():
    rng = np.random.default_rng(5)
    xb = Crossbar(load_device("pcm"), rng.uniform(-0.5, 0.5, (6, 9)), rng)
    X = rng.uniform(0, 1, (4, 9))
    xb.matvec(X, 1.0)  # the handles are made
    twin = copy.deepcopy(xb)
    first, first_twin = xb.matvec(X, 1.0), twin.matvec(X, 1.0)
    np.testing.assert_array_equal(first, first_twin)
    # a stale handle would draw the copy's noise from the original's generator: the
    # original's next read would then differ from the copy's
    np.testing.assert_array_equal(xb.matvec(X, 2.0), twin.matvec(X, 2.0))
    assert not np.array_equal(first, xb.matvec(X, 2.0))
