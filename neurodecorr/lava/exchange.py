"""The exchange file: netx-style HDF5 that holds an exported network.

Layout (lava-dl netx reads ``layer/<i>/{type, shape, weight, ...}``; we keep that layout):

- root attributes: ``format = "neurodecorr-lava"``, ``version``, ``precision``, ``mapping``,
  ``steps_per_sample``, ``frac_bits`` (of the input encoding), ``tol`` (the contraction the
  lateral dynamics were planned to reach per sample, :mod:`neurodecorr.lava.settling`);
- ``layer/<i>/type``: ``input``, ``dense`` (netx's own type: ``weight``, ``weight_exp``; in fixed
  point ``weight`` is the 8-bit mantissa, as netx casts weights to integers, and ``row_scale``
  records each row's full-range scale),
  ``neurodecorr_lateral`` (our lateral layer: ``lateral``, ``leak``, ``bias``, ``n_sub``,
  ``activation``; ``alpha`` in floating point; ``gain``/``gain_shift``, ``lateral_exp``,
  ``frac_bits`` and the per-neuron Euler ``step`` in fixed point, ...) and
  ``neurodecorr_integrator`` (``weight_in``, ``weight_rec`` like netx's ``dense_rec``,
  ``decay``; ``alpha`` in floating point, ``rec_shift`` in fixed point);
- every field is a dataset, scalars included, as in netx files.

:func:`load_export` rebuilds the :class:`~neurodecorr.lava.export.LavaExport` from which
:func:`neurodecorr.lava.graph.build` creates the processes.
"""

from __future__ import annotations

import io
import os

import h5py
import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava import schema
from neurodecorr.lava.export import MAPPINGS, PRECISIONS, LavaExport

FORMAT = "neurodecorr-lava"
#: 2: full-range fixed point (per-row weight scales, input gains, per-stage frac_bits);
#: 3: Loihi 2 widths (weight exponents >= -8 with the integrator's rec_shift, mantissas ±254,
#: rounding toward zero), checked field by field; 4: the settling tolerance ``tol`` is stored
#: and the steps are checked against it
VERSION = 4
#: most layers a file may hold
MAX_LAYERS = 1000
#: in-memory layer type -> type written to the file
FILE_TYPES = {"input": "input", "dense": "dense", "lateral": "neurodecorr_lateral",
              "integrator": "neurodecorr_integrator"}
MEMORY_TYPES = {v: k for k, v in FILE_TYPES.items()}
_STRINGS = ("activation",)


def export_bytes(export: LavaExport) -> bytes:
    """Serialise ``export`` to HDF5 bytes (written atomically by the caller)."""
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        f.attrs.update(format=FORMAT, version=VERSION, precision=export.precision,
                       mapping=export.mapping, steps_per_sample=export.steps_per_sample,
                       frac_bits=export.frac_bits, tol=float(export.info["tol"]))
        group = f.create_group("layer")
        for i, layer in enumerate(export.layers):
            g = group.create_group(str(i))
            g.create_dataset("type", data=FILE_TYPES[layer["type"]].encode())
            for key, value in layer.items():
                if key == "type":
                    continue
                if isinstance(value, str):
                    g.create_dataset(key, data=value.encode())
                else:
                    g.create_dataset(key, data=np.asarray(value))
    return buf.getvalue()


def _value(ds: h5py.Dataset):
    v = ds[()]
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.ndarray):
        return v
    return v.item() if isinstance(v, np.generic) else v


def _attr(f: h5py.File, name: str, path) -> object:
    if name not in f.attrs:
        raise NeurodecorrError(f"{path}: missing root attribute '{name}'")
    value = f.attrs[name]
    return value.decode() if isinstance(value, bytes) else value


def _int_attr(f: h5py.File, name: str, path, lo: int, hi: int) -> int:
    value = np.asarray(_attr(f, name, path))
    if value.shape != () or value.dtype.kind not in "iu" or not lo <= int(value) <= hi:
        raise NeurodecorrError(f"{path}: attribute '{name}' must be an integer in [{lo}, {hi}]")
    return int(value)


def load_export(path: str | os.PathLike) -> LavaExport:
    """Read an exchange file and check all of it (:func:`neurodecorr.lava.schema.check_layers`).

    Any problem is a one-line :class:`NeurodecorrError` naming the file, layer and field.
    """
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise NeurodecorrError(f"no such file: {path}") from None
    except OSError as exc:
        raise NeurodecorrError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        if f.attrs.get("format") != FORMAT:
            raise NeurodecorrError(f"{path}: not a neurodecorr Lava export (format attribute)")
        version = f.attrs.get("version")
        if not isinstance(version, (int, np.integer)) or int(version) != VERSION:
            raise NeurodecorrError(f"{path}: version {version} is not supported (this "
                                   f"neurodecorr reads version {VERSION}; export again)")
        precision, mapping = str(_attr(f, "precision", path)), str(_attr(f, "mapping", path))
        if precision not in PRECISIONS or mapping not in MAPPINGS:
            raise NeurodecorrError(f"{path}: unknown precision '{precision}' or mapping "
                                   f"'{mapping}'")
        steps = _int_attr(f, "steps_per_sample", path, 1, schema.MAX_STEPS)
        frac_bits = _int_attr(f, "frac_bits", path, *schema.FRAC_RANGE)
        tol = np.asarray(_attr(f, "tol", path))
        if tol.shape != () or tol.dtype.kind != "f" or not 0 < float(tol) < 1:
            raise NeurodecorrError(f"{path}: attribute 'tol' must be a number in (0, 1)")
        tol = float(tol)
        group = f.get("layer")
        if not isinstance(group, h5py.Group) or not 2 <= len(group) <= MAX_LAYERS:
            raise NeurodecorrError(f"{path}: 'layer' must be a group of 2 to {MAX_LAYERS} layers")
        layers = []
        for i in range(len(group)):
            g = group.get(str(i))
            if not isinstance(g, h5py.Group) or not isinstance(g.get("type"), h5py.Dataset):
                raise NeurodecorrError(f"{path}: missing layer/{i}/type")
            file_type = _value(g["type"])
            if file_type not in MEMORY_TYPES:
                raise NeurodecorrError(f"{path}: layer/{i}/type '{file_type}' is not supported")
            layer = {"type": MEMORY_TYPES[file_type]}
            for name, ds in g.items():
                if not isinstance(ds, h5py.Dataset):
                    raise NeurodecorrError(f"{path}: layer/{i}/{name} is not a dataset")
                if name != "type":
                    layer[name] = _value(ds)
            layers.append(layer)
    layers = schema.check_layers(layers, precision, mapping, str(path))
    if precision == "float" and frac_bits != 0:
        raise NeurodecorrError(f"{path}: attribute 'frac_bits' must be 0 in floating point")
    if precision == "fixed":
        schema.check_dense_messages(layers, str(path))
    schema.check_schedule(layers, precision, mapping, steps, tol, str(path))
    return LavaExport(layers=layers, precision=precision, mapping=mapping,
                      steps_per_sample=steps, frac_bits=frac_bits, info={"tol": tol})
