"""What an exchange file's layers may hold: every field, its type, shape and range.

:func:`check_layers` is the strict half of :func:`neurodecorr.lava.exchange.load_export`: a
file is accepted only if every layer has exactly the fields its type and precision need, each
of the right kind, shape and range, and the layers form a network the bridge can build. The
ranges are Loihi 2's (:mod:`neurodecorr.lava.fixed`): 8-bit weight mantissas (even,
``[−254, 254]``), weight exponents in ``[−8, 7]`` for every Lava ``Dense``, 12-bit gains and
decays, 24-bit biases, and finite values everywhere; every fixed-point ``Dense`` (the
integrators' included) must keep its 24-bit payloads' row sums inside Lava's 32-bit message, as
the exporter ensures (:func:`check_dense_messages`). Floating-point files have physical ranges:
weights and biases bounded by :data:`FLOAT_MAX`, leaks and decays in ``[0, 1]``, Euler steps
``alpha`` positive where a layer decorrelates (and 0 where it does not).

:func:`check_schedule` checks the steps against the settling the file needs: ``steps_per_sample``
must be what the exporter writes (1 in the ``layer`` mapping, ``Σ n_settle`` of the integrators
in the ``loihi`` mapping), a stage without decorrelation holds no lateral dynamics, and in
floating point each decorrelating stage's or integrator's Euler iteration ``M`` (read from its
weights) must reach the export's tolerance in its sub-steps, ``‖Mⁿ‖₂ ≤ tol``
(:mod:`neurodecorr.lava.settling`), with a bounded gain ``‖α(I − M)⁻¹‖₂ = ‖A⁻¹‖₂ ≤``
:data:`DECORRELATION_GAIN_MAX`. Fixed-point sub-step counts depend on the float matrix behind
the quantised one: :func:`neurodecorr.lava.bundle.read_bundle` checks them against the network.

Any problem is one :class:`~neurodecorr.errors.NeurodecorrError` line naming the file, the layer
and the field.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.core.network import ACTIVATIONS
from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava import fixed

#: most Lava steps per sample, Euler sub-steps per step or settling steps a file may ask for
MAX_STEPS = 1_000_000
_MANT = (-fixed.MANT_MAX, fixed.MANT_MAX)
_U12 = (0, 2**fixed.GAIN_BITS - 1)
_S24 = (-fixed.STATE_MAX - 1, fixed.STATE_MAX)
FRAC_RANGE = (-16, 48)
#: largest magnitude of a floating-point weight, bias or Euler step: trained networks hold
#: values of order 1-10; the bound keeps every product and sum of a Lava step finite
FLOAT_MAX = 1e6
#: largest gain ``‖A⁻¹‖₂`` (the decorrelation matrix's norm) a float stage may have at rest
DECORRELATION_GAIN_MAX = 1e6
_FLOAT = (-FLOAT_MAX, FLOAT_MAX)
_UNIT = (0.0, 1.0)

# field -> (kind, shape, range). kind: "int", "mant" (even 8-bit mantissas), "float", "bool",
# "act"; shape: "" (scalar), "1", "n" (this layer), "n,n", "n,p" (p: the previous layer's
# size); range: inclusive (lo, hi), "pos" (> 0) or None
_COMMON_STAGE = {"shape": ("int", "1", None), "activation": ("act", "", None),
                 "negative_slope": ("float", "", (0.0, 1.0)), "decorrelate": ("bool", "", None),
                 "n_sub": ("int", "", (0, MAX_STEPS))}
SCHEMA = {
    ("input", "float"): {"shape": ("int", "1", None)},
    ("dense", "float"): {"shape": ("int", "1", None), "weight": ("float", "n,p", _FLOAT),
                         "weight_exp": ("int", "", (0, 0))},
    ("lateral", "float"): {**_COMMON_STAGE, "bias": ("float", "n", _FLOAT),
                           "alpha": ("float", "", (0.0, FLOAT_MAX)), "leak": ("float", "n", _UNIT),
                           "lateral": ("float", "n,n", _FLOAT)},
    ("integrator", "float"): {"shape": ("int", "1", None), "alpha": ("float", "", (0.0, FLOAT_MAX)),
                              "n_settle": ("int", "", (1, MAX_STEPS)),
                              "weight_in": ("float", "n,n", _FLOAT),
                              "weight_in_exp": ("int", "", (0, 0)),
                              "weight_rec": ("float", "n,n", _FLOAT),
                              "weight_rec_exp": ("int", "", (0, 0)),
                              "decay": ("float", "n", _UNIT)},
    ("dense", "fixed"): {"shape": ("int", "1", None), "weight": ("mant", "n,p", _MANT),
                         "weight_exp": ("int", "", fixed.WEIGHT_EXP_RANGE),
                         "row_scale": ("float", "n", "pos")},
    ("lateral", "fixed"): {**_COMMON_STAGE, "frac_bits": ("int", "", FRAC_RANGE),
                           "gain": ("int", "n", _U12), "gain_shift": ("int", "", (0, 36)),
                           "bias": ("int", "n", _S24), "slope_mant": ("int", "", (0, 255)),
                           "slope_shift": ("int", "", (0, 31)), "step": ("float", "n", "pos"),
                           "lateral_exp": ("int", "", (-24, 7)), "leak": ("int", "n", _U12),
                           "lateral": ("mant", "n,n", _MANT)},
    ("integrator", "fixed"): {"shape": ("int", "1", None), "n_settle": ("int", "", (1, MAX_STEPS)),
                              "frac_bits": ("int", "", FRAC_RANGE), "step": ("float", "n", "pos"),
                              "weight_in": ("int", "n,n", (0, 255)),
                              "weight_in_exp": ("int", "", fixed.WEIGHT_EXP_RANGE),
                              "weight_rec": ("mant", "n,n", _MANT),
                              "weight_rec_exp": ("int", "", fixed.WEIGHT_EXP_RANGE),
                              "rec_shift": ("int", "", (0, 16)),
                              "decay": ("int", "n", _U12)},
}
_SIZE_MAX = 1_000_000


def _shape(spec: str, n: int, p: int) -> tuple[int, ...]:
    return {"": (), "1": (1,), "n": (n,), "n,n": (n, n), "n,p": (n, p)}[spec]


def _check_value(value, kind: str, shape: tuple, bounds, where: str):
    if kind == "act":
        if not isinstance(value, str) or value not in ACTIVATIONS:
            raise NeurodecorrError(f"{where}: activation {value!r} is not one of "
                                   f"{', '.join(ACTIVATIONS)}")
        return value
    arr = np.asarray(value)
    if arr.shape != shape:
        raise NeurodecorrError(f"{where}: shape {arr.shape}, expected {shape}")
    if kind == "bool":
        if arr.dtype != np.bool_:
            raise NeurodecorrError(f"{where}: must be a boolean, got dtype {arr.dtype}")
        return bool(arr)
    allowed = "iuf" if kind == "float" else "iu"
    if arr.dtype.kind not in allowed:
        raise NeurodecorrError(f"{where}: must be {'real' if kind == 'float' else 'integer'} "
                               f"numbers, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise NeurodecorrError(f"{where}: holds a non-finite value")
    if bounds == "pos":
        if np.any(arr <= 0):
            raise NeurodecorrError(f"{where}: must be positive, found {arr.min()}")
    elif bounds is not None:
        lo, hi = bounds
        bad = arr[(arr < lo) | (arr > hi)]
        if bad.size:
            raise NeurodecorrError(f"{where}: value {bad.flat[0]} outside [{lo}, {hi}]")
    if kind == "mant" and np.any(arr % 2):
        raise NeurodecorrError(f"{where}: mixed-sign 8-bit mantissas must be even (Lava drops "
                               "the lowest bit)")
    if kind == "float":
        return arr.astype(np.float64) if shape else float(arr)
    return arr.astype(np.int64) if shape else int(arr)


def check_layer(layer: dict, precision: str, p: int, where: str) -> dict:
    """Check one layer (``p``: the previous layer's size); return it with clean types."""
    kind = layer["type"]
    fields = SCHEMA[("input", "float") if kind == "input" else (kind, precision)]
    missing = sorted(set(fields) - set(layer) - {"type"})
    extra = sorted(set(layer) - set(fields) - {"type"})
    if missing:
        raise NeurodecorrError(f"{where}: missing field '{missing[0]}'")
    if extra:
        raise NeurodecorrError(f"{where}: unexpected field '{extra[0]}'")
    size = _check_value(layer["shape"], "int", (1,), (1, _SIZE_MAX), f"{where}/shape")
    n = int(size[0])
    out = {"type": kind, "shape": (n,)}
    for name, (k, spec, bounds) in fields.items():
        if name != "shape":
            out[name] = _check_value(layer[name], k, _shape(spec, n, p), bounds,
                                     f"{where}/{name}")
    return out


def check_layers(layers: list[dict], precision: str, mapping: str, where: str) -> list[dict]:
    """Check every layer and the order ``input, (stage, [integrator], dense)*, stage``."""
    if len(layers) < 2 or layers[0]["type"] != "input" or layers[-1]["type"] != "lateral":
        raise NeurodecorrError(f"{where}: expected an input layer first and an output stage last")
    checked, p = [], 0
    for i, layer in enumerate(layers):
        la = check_layer(layer, precision, p, f"{where}: layer/{i}")
        prev = checked[-1]["type"] if checked else None
        allowed = {"input": (None,), "lateral": ("input", "dense"), "dense": ("lateral",
                   "integrator"), "integrator": ("lateral",)}[la["type"]]
        if prev not in allowed or la["type"] == "integrator" and mapping != "loihi":
            raise NeurodecorrError(f"{where}: layer/{i}: a '{la['type']}' layer cannot follow "
                                   f"'{prev}' in the {mapping} mapping")
        if la["type"] in ("lateral", "integrator") and i > 0 and la["shape"][0] != p:
            raise NeurodecorrError(f"{where}: layer/{i}/shape: {la['shape'][0]} neurons, the "
                                   f"layer before sends {p}")
        if la["type"] == "lateral":
            if la["decorrelate"] and (mapping == "loihi" or la["n_sub"] < 1):
                raise NeurodecorrError(f"{where}: layer/{i}/decorrelate: lateral dynamics "
                                       f"inside a stage need the layer mapping and n_sub >= 1")
        checked.append(la)
        p = la["shape"][0]
    if checked[-1]["decorrelate"]:
        raise NeurodecorrError(f"{where}: layer/{len(layers) - 1}: the output stage cannot "
                               "decorrelate")
    return checked


def check_dense_messages(layers: list[dict], where: str) -> None:
    """Refuse a fixed-point ``Dense`` whose row sums of 24-bit payloads can leave Lava's 32-bit
    message (:func:`neurodecorr.lava.fixed.dense_bound`), the exporter's own check."""
    limit = 2.0 ** (fixed.DENSE_MESSAGE_BITS - 1)
    for i, la in enumerate(layers):
        pairs = {"dense": [("weight", "weight_exp")],
                 "integrator": [("weight_in", "weight_in_exp"),
                                ("weight_rec", "weight_rec_exp")]}.get(la["type"], [])
        for w, e in pairs:
            if fixed.dense_bound(la[w], la[e]) >= limit:
                raise NeurodecorrError(f"{where}: layer/{i}/{e}: with {w} the row sums of 24-bit "
                                       f"payloads can exceed Lava's {fixed.DENSE_MESSAGE_BITS}-bit "
                                       "Dense message")


def settling_operator(layer: dict) -> tuple[np.ndarray, int, str]:
    """A float decorrelating stage's or integrator's Euler iteration ``x̄ ← M x̄ + αx`` as Lava
    runs it (:mod:`neurodecorr.lava.procs.models`), its sub-steps and their field name."""
    n = layer["shape"][0]
    if layer["type"] == "integrator":  # v ← v − d∘v + a_in + a_rec, a_rec = weight_rec·v
        return np.eye(n) - np.diag(layer["decay"]) + layer["weight_rec"], \
            layer["n_settle"], "n_settle"
    return np.eye(n) - np.diag(layer["leak"]) - layer["lateral"], layer["n_sub"], "n_sub"


def check_schedule(layers: list[dict], precision: str, mapping: str, steps: int, tol: float,
                   where: str) -> None:
    """Check the steps against the settling the layers need (see the module docstring)."""
    integrators = [la for la in layers if la["type"] == "integrator"]
    expected = 1 if mapping == "layer" else sum(la["n_settle"] for la in integrators) or 1
    if steps != expected:
        raise NeurodecorrError(f"{where}: steps_per_sample {steps} does not match the settling "
                               f"of its layers ({expected}: "
                               + ("one step per sample in the layer mapping)" if mapping ==
                                  "layer" else "the sum of the integrators' n_settle)"))
    for i, la in enumerate(layers):
        if la["type"] == "lateral" and not la["decorrelate"]:
            idle = la["n_sub"] == 0 and not np.any(la["leak"]) and not np.any(la["lateral"])
            if precision == "float":
                idle = idle and la["alpha"] == 0
            else:
                idle = idle and la["lateral_exp"] == 0
            if not idle:
                raise NeurodecorrError(f"{where}: layer/{i}: a stage without decorrelation must "
                                       "have n_sub, alpha, leak and lateral all zero")
        if precision != "float" or not (la["type"] == "integrator" or
                                        la["type"] == "lateral" and la["decorrelate"]):
            continue
        M, n, name = settling_operator(la)
        if not la["alpha"] > 0:
            raise NeurodecorrError(f"{where}: layer/{i}/alpha: a decorrelating layer needs a "
                                   "positive Euler step")
        if la["type"] == "integrator" and not np.array_equal(la["weight_in"],
                                                             la["alpha"] * np.eye(M.shape[0])):
            raise NeurodecorrError(f"{where}: layer/{i}/weight_in: must be alpha times the "
                                   "identity")
        reached = float(np.linalg.norm(np.linalg.matrix_power(M, n), 2))
        if not reached <= tol * (1 + 1e-9):
            raise NeurodecorrError(f"{where}: layer/{i}/{name}: {n} Euler sub-steps bring the "
                                   f"error only to {reached:.3g} of its start, not to the "
                                   f"export's tol {tol:.3g}")
        try:
            gain = la["alpha"] * float(np.linalg.norm(np.linalg.inv(np.eye(M.shape[0]) - M), 2))
        except np.linalg.LinAlgError:
            gain = np.inf
        if not gain <= DECORRELATION_GAIN_MAX:
            raise NeurodecorrError(f"{where}: layer/{i}/alpha: the stage's gain at rest "
                                   f"{gain:.3g} exceeds {DECORRELATION_GAIN_MAX:g}")
