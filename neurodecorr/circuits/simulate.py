"""``settle``: the one entry point of the circuit simulator.

What is integrated (a :class:`~neurodecorr.circuits.field.LateralField`), how (an integrator
from :mod:`neurodecorr.circuits.integrators`) and when to stop (a
:class:`~neurodecorr.circuits.settling.SettleCriterion`) are separate objects, as in diffrax;
the answer is one :class:`~neurodecorr.circuits.solution.SettleResult`.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.circuits.field import LateralField
from neurodecorr.circuits.integrators import METHODS
from neurodecorr.circuits.settling import SettleCriterion
from neurodecorr.circuits.solution import SettleResult
from neurodecorr.circuits.stability import check_eigenvalues
from neurodecorr.errors import NeurodecorrError


def make_integrator(method: object, **options: object) -> object:
    """An integrator instance from a name in :data:`METHODS` (or pass an instance through)."""
    if not isinstance(method, str):
        if options:
            raise NeurodecorrError("integrator options given with an integrator instance")
        return method
    if method not in METHODS:
        raise NeurodecorrError(f"method: unknown method '{method}'; choose one of: "
                               f"{', '.join(METHODS)}")
    return METHODS[method](**options)


def settle(field: LateralField | np.ndarray, x: np.ndarray, method: object = "euler", *,
           criterion: SettleCriterion | None = None, y0: np.ndarray | None = None,
           rng: np.random.Generator | int | None = None, **field_options: object
           ) -> SettleResult:
    """Integrate ``τ dx̄/dt = x − A x̄ (− λx̄, + noise)`` from ``y0`` until it settles.

    Parameters
    ----------
    field : LateralField or array_like (n, n)
        The circuit; a bare matrix ``A`` is wrapped in a field built from ``field_options``
        (``tau_s``, ``leak``, ``noise_std``, ``dtype``, ``reader``).
    x : array_like, shape (batch, n) or (n,)
        Inputs held on the nodes.
    method : str or integrator
        ``euler``, ``rk4``, ``exact``, ``adaptive`` or ``euler-maruyama`` (defaults of each
        class), or a configured instance such as ``Euler(dt_s=1e-8)``.
    criterion : SettleCriterion, optional
        Tolerance, time limit and check interval.
    y0 : array_like, optional
        Initial states (default zero), the shape of ``x``.
    rng : Generator or int, optional
        Source of the circuit noise; required when the field has noise.

    Returns
    -------
    SettleResult
        ``y`` has the shape of ``x`` and the field's dtype.

    Raises
    ------
    NeurodecorrError
        For an unstable ``A`` (an eigenvalue with non-positive real part), a step beyond the
        method's stability limit, mismatched shapes, non-finite inputs, or noise without a seed.
    """
    if not isinstance(field, LateralField):
        field = LateralField(field, **field_options)
    elif field_options:
        raise NeurodecorrError("field options given with a LateralField; set them on the field")
    integrator = make_integrator(method)
    criterion = criterion or SettleCriterion()
    x = np.asarray(x)
    if x.ndim not in (1, 2) or x.shape[-1] != field.n:
        raise NeurodecorrError(f"x: shape {x.shape} does not match A of shape "
                               f"{field.A.shape}; expected (batch, {field.n}) or ({field.n},)")
    if not np.all(np.isfinite(x)):
        raise NeurodecorrError("x: contains NaN or infinite values")
    X = np.ascontiguousarray(np.atleast_2d(x), dtype=field.dtype)
    if y0 is None:
        Y = np.zeros_like(X)
    else:
        y0 = np.asarray(y0)
        if y0.shape != x.shape or not np.all(np.isfinite(y0)):
            raise NeurodecorrError(f"y0: must be finite with the shape of x {x.shape}, got "
                                   f"{y0.shape}")
        Y = np.array(np.atleast_2d(y0), dtype=field.dtype, order="C")
    if field.noise_std > 0 and integrator.name != "euler-maruyama":
        raise NeurodecorrError(f"method {integrator.name}: a circuit with noise needs "
                               "euler-maruyama")
    if field.noise_std > 0 and rng is None:
        raise NeurodecorrError("seed: a noisy circuit needs a seed or a numpy Generator")
    if not isinstance(rng, np.random.Generator):
        rng = np.random.default_rng(rng)
    what = "A + leak*I" if field.leak else "A"
    if not field.ideal:
        what += " (the effective matrix the device holds at the start of the settle)"
    check_eigenvalues(field.eigenvalues, what)
    result = integrator.run(field, X, Y, criterion, rng)
    result.y = result.y.reshape(x.shape)
    return result
