"""The exchange file: netx-style HDF5 that holds an exported network.

Layout (lava-dl netx reads ``layer/<i>/{type, shape, weight, ...}``; we keep that layout):

- root attributes: ``format = "neurodecorr-lava"``, ``version``, ``precision``, ``mapping``,
  ``steps_per_sample``, ``frac_bits`` (of the input encoding);
- ``layer/<i>/type``: ``input``, ``dense`` (netx's own type: ``weight``, ``weight_exp``; in fixed
  point ``weight`` is the 8-bit mantissa, as netx casts weights to integers, and ``row_scale``
  records each row's full-range scale),
  ``neurodecorr_lateral`` (our lateral layer: ``lateral``, ``leak``, ``bias``, ``n_sub``,
  ``activation``; ``alpha`` in floating point; ``gain``/``gain_shift``, ``lateral_exp``,
  ``frac_bits`` and the per-neuron Euler ``step`` in fixed point, ...) and
  ``neurodecorr_integrator`` (``weight_in``, ``weight_rec`` like netx's ``dense_rec``,
  ``decay``; ``alpha`` in floating point);
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
from neurodecorr.lava.export import MAPPINGS, PRECISIONS, LavaExport

FORMAT = "neurodecorr-lava"
#: 2: full-range fixed point (per-row weight scales, input gains, per-stage frac_bits)
VERSION = 2
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
                       frac_bits=export.frac_bits)
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


def load_export(path: str | os.PathLike) -> LavaExport:
    """Read an exchange file; any problem is a one-line error naming the file and field."""
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise NeurodecorrError(f"no such file: {path}") from None
    except OSError as exc:
        raise NeurodecorrError(f"{path}: not a readable HDF5 file ({exc})") from None
    with f:
        if f.attrs.get("format") != FORMAT:
            raise NeurodecorrError(f"{path}: not a neurodecorr Lava export (format attribute)")
        if int(f.attrs.get("version", -1)) != VERSION:
            raise NeurodecorrError(f"{path}: version {f.attrs.get('version')} is not supported")
        precision, mapping = str(f.attrs["precision"]), str(f.attrs["mapping"])
        if precision not in PRECISIONS or mapping not in MAPPINGS:
            raise NeurodecorrError(f"{path}: unknown precision '{precision}' or mapping "
                                   f"'{mapping}'")
        if "layer" not in f:
            raise NeurodecorrError(f"{path}: no 'layer' group")
        layers = []
        for i in range(len(f["layer"])):
            key = f"layer/{i}"
            if key not in f or "type" not in f[key]:
                raise NeurodecorrError(f"{path}: missing {key}/type")
            file_type = _value(f[key]["type"])
            if file_type not in MEMORY_TYPES:
                raise NeurodecorrError(f"{path}: {key}/type '{file_type}' is not supported")
            layer = {"type": MEMORY_TYPES[file_type]}
            for name, ds in f[key].items():
                if name != "type":
                    layer[name] = _value(ds)
            layer["shape"] = tuple(int(s) for s in np.atleast_1d(layer["shape"]))
            layers.append(layer)
        if not layers or layers[0]["type"] != "input" or layers[-1]["type"] != "lateral":
            raise NeurodecorrError(f"{path}: expected an input layer first and an output "
                                   "stage last")
        return LavaExport(layers=layers, precision=precision, mapping=mapping,
                          steps_per_sample=int(f.attrs["steps_per_sample"]),
                          frac_bits=int(f.attrs["frac_bits"]))
