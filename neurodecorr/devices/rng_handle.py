"""A numpy random generator handed to numba kernels by address: the same numbers, no unboxing.

numba's kernels can draw from a :class:`numpy.random.Generator` passed as an argument, but
every call pays for turning the Python object into numba's: typing it and three
``ctypes.cast`` of the bit generator's function pointers, about 12 µs a call (numba 0.68),
more than the work of a small kernel. The chip's training step calls such kernels a dozen
times per batch (reads, 1/f noise, pulse trains).

:func:`handle` reads those addresses once (the bit generator's state and its ``next_uint64``,
``next_uint32``, ``next_double`` functions, from ``bit_generator.ctypes``) into a ``uint64``
array, and :func:`generator`, called inside a kernel, rebuilds numba's generator from it:
the struct numba's unboxing builds, without a parent object. The kernel then calls the same
functions on the same state as with the object itself, so it draws the same numbers and
advances the generator alike (``tests/test_rng_handle.py``). A kernel written with
``rng = generator(rng)`` takes either a ``Generator`` or a handle.

The handle holds raw addresses: it is valid while its generator lives, so keep both together
(:class:`Handles`, which a copy or a pickle does not carry over). As with numba's own
unboxing, the bit generator's lock is not taken.
"""

from __future__ import annotations

import ctypes

import numpy as np
from numba.core import cgutils, types
from numba.extending import intrinsic, overload

_GENERATOR = types.NumPyRandomGeneratorType("NumPyRandomGeneratorType")
_BIT_GENERATOR = types.NumPyRandomBitGeneratorType("bit_generator")


def handle(rng: np.random.Generator) -> np.ndarray:
    """The addresses numba's generator needs: state, ``next_uint64``, ``next_uint32``,
    ``next_double``, the bit generator struct (``uint64``, shape (5,))."""
    c = rng.bit_generator.ctypes

    def address(fn) -> int:
        return ctypes.cast(fn, ctypes.c_void_p).value

    return np.array([c.state_address, address(c.next_uint64), address(c.next_uint32),
                     address(c.next_double), c.bit_generator.value], dtype=np.uint64)


class Handles:
    """The handle of the last generator asked for, kept with the generator it points into.

    A copy or a pickle starts empty: its addresses would point into the original generator
    (or into another process), not into the copied one."""

    __slots__ = ("_rng", "_handle")

    def __init__(self) -> None:
        self._rng: np.random.Generator | None = None
        self._handle: np.ndarray | None = None

    def __call__(self, rng: np.random.Generator) -> np.ndarray:
        if rng is not self._rng:
            self._handle = handle(rng)
            self._rng = rng
        return self._handle

    def __reduce__(self):
        return Handles, ()


@intrinsic
def _from_handle(typingctx, h):
    if not (isinstance(h, types.Array) and h.dtype == types.uint64):
        return None

    def codegen(context, builder, sig, args):
        arr = context.make_array(sig.args[0])(context, builder, args[0])

        def at(i):
            return builder.load(cgutils.gep_inbounds(builder, arr.data, i))

        bit = cgutils.create_struct_proxy(_BIT_GENERATOR)(context, builder)
        bit.state_address = at(0)
        bit.state = at(0)
        bit.fnptr_next_uint64 = at(1)
        bit.fnptr_next_uint32 = at(2)
        bit.fnptr_next_double = at(3)
        bit.bit_generator = at(4)
        bit.parent = cgutils.get_null_value(bit.parent.type)
        gen = cgutils.create_struct_proxy(_GENERATOR)(context, builder)
        gen.bit_generator = bit._getvalue()
        # no meminfo: numba's reference counting skips a null one, and nothing is owned
        gen.meminfo = cgutils.get_null_value(gen.meminfo.type)
        gen.parent = cgutils.get_null_value(gen.parent.type)
        return gen._getvalue()

    return _GENERATOR(h), codegen


def generator(rng):
    """Inside a kernel: numba's generator from a :func:`handle` (a ``Generator`` passes
    through)."""
    return rng


@overload(generator)
def _generator(rng):
    if isinstance(rng, types.NumPyRandomGeneratorType):
        return lambda rng: rng
    if isinstance(rng, types.Array) and rng.dtype == types.uint64 and rng.ndim == 1:
        return lambda rng: _from_handle(rng)
    return None
