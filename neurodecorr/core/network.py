"""A network as plain data: the one description every backend consumes.

A :class:`Network` is a stack of :class:`Layer` objects. Layer ``l`` receives ``x``, decorrelates
it, ``x̄ = M x`` (on a chip: the lateral circuit settles to ``x̄ = A⁻¹ x`` with ``A = M⁻¹``
stored as conductances), then applies its forward weights and activation,
``h = f(W x̄ + b)``. The last layer's activation is ``identity``: its outputs are logits.

The numpy/numba simulator, the torch reference and the Lava bridge all read this same object,
so comparisons between them are like for like. It is saved as an ``.npz`` archive with a schema
version and a JSON header; nothing is ever pickled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import NpzArchive, npz_bytes, write_outputs

SCHEMA_VERSION = 1
ACTIVATIONS = ("identity", "relu", "leaky_relu")


def activate(z: np.ndarray, name: str, negative_slope: float = 0.01) -> np.ndarray:
    """Apply an activation: ``identity``, ``relu`` or ``leaky_relu`` (slope below zero)."""
    if name == "identity":
        return z
    if name == "relu":
        return np.maximum(z, 0.0)
    if name == "leaky_relu":
        return np.where(z > 0, z, negative_slope * z)
    raise NeurodecorrError(f"unknown activation '{name}'; choose one of: {', '.join(ACTIVATIONS)}")


@dataclass
class Trace:
    """Everything one forward pass computed, per layer ``l``, whatever backend computed it.

    ``x[l]`` is the layer's input, ``xbar[l]`` its decorrelated input (``M x[l]``, or the settled
    state of the lateral circuit on a chip), ``z[l]`` its pre-activation (noise included on a
    perturbed pass); ``z[-1]`` are the logits. Learning rules only see a trace.
    """

    x: list[np.ndarray]
    xbar: list[np.ndarray]
    z: list[np.ndarray]

    @property
    def logits(self) -> np.ndarray:
        return self.z[-1]


@dataclass
class Layer:
    """One layer: optional decorrelation ``M`` on its input, then ``f(W x̄ + b)``.

    Attributes
    ----------
    weight : ndarray, shape (n_out, n_in)
        Forward weights ``W``.
    bias : ndarray, shape (n_out,)
        Forward bias ``b``.
    decorrelation : ndarray, shape (n_in, n_in), or None
        ``M`` with ``x̄ = M x``; ``None`` means no decorrelation (``M = I``).
    activation : str
        ``identity``, ``relu`` or ``leaky_relu``.
    negative_slope : float
        Slope of ``leaky_relu`` below zero.
    """

    weight: np.ndarray
    bias: np.ndarray
    decorrelation: np.ndarray | None = None
    activation: str = "leaky_relu"
    negative_slope: float = 0.01

    @property
    def n_in(self) -> int:
        return self.weight.shape[1]

    @property
    def n_out(self) -> int:
        return self.weight.shape[0]

    @property
    def lateral(self) -> np.ndarray:
        """``A = M⁻¹``, what a chip stores as conductances (identity without decorrelation)."""
        if self.decorrelation is None:
            return np.eye(self.n_in)
        return np.linalg.inv(self.decorrelation)


@dataclass
class Network:
    """A feed-forward stack of decorrelated layers plus the chip configuration it runs on.

    ``device`` and ``circuit`` name a device preset and a circuit description (names or paths,
    see :mod:`neurodecorr.devices` and :mod:`neurodecorr.circuits`); ``None`` means ideal.
    """

    layers: list[Layer]
    device: str | None = None
    circuit: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @property
    def sizes(self) -> list[int]:
        return [self.layers[0].n_in] + [layer.n_out for layer in self.layers]

    def validate(self) -> None:
        """Check shapes, finiteness and names; raise :class:`NeurodecorrError` naming the field."""
        if not self.layers:
            raise NeurodecorrError("network has no layers")
        for i, layer in enumerate(self.layers):
            w = layer.weight
            if w.ndim != 2 or 0 in w.shape:
                raise NeurodecorrError(f"layer {i}: weight must be 2-D and non-empty, got shape "
                                       f"{w.shape}")
            if i > 0 and w.shape[1] != self.layers[i - 1].n_out:
                raise NeurodecorrError(
                    f"layer {i}: weight has {w.shape[1]} inputs but layer {i - 1} has "
                    f"{self.layers[i - 1].n_out} outputs"
                )
            if layer.bias.shape != (w.shape[0],):
                raise NeurodecorrError(f"layer {i}: bias shape {layer.bias.shape}, "
                                       f"expected ({w.shape[0]},)")
            m = layer.decorrelation
            if m is not None and m.shape != (w.shape[1], w.shape[1]):
                raise NeurodecorrError(f"layer {i}: decorrelation shape {m.shape}, "
                                       f"expected ({w.shape[1]}, {w.shape[1]})")
            if layer.activation not in ACTIVATIONS:
                raise NeurodecorrError(f"layer {i}: unknown activation '{layer.activation}'")
            for name, arr in (("weight", w), ("bias", layer.bias), ("decorrelation", m)):
                if arr is not None and not np.all(np.isfinite(arr)):
                    raise NeurodecorrError(f"layer {i}: {name} contains NaN or infinite values")

    def forward(self, x: np.ndarray, return_hidden: bool = False):
        """Exact forward pass in float64: ``x̄ = M x``, ``h = f(W x̄ + b)`` per layer.

        Parameters
        ----------
        x : ndarray, shape (batch, n_in) or (n_in,)
        return_hidden : bool
            Also return the list of decorrelated inputs ``x̄`` of every layer.
        """
        h = np.atleast_2d(np.asarray(x, dtype=np.float64))
        xbars = []
        for layer in self.layers:
            xbar = h if layer.decorrelation is None else h @ layer.decorrelation.T
            xbars.append(xbar)
            h = activate(xbar @ layer.weight.T + layer.bias, layer.activation,
                         layer.negative_slope)
        out = h if np.ndim(x) > 1 else h[0]
        return (out, xbars) if return_hidden else out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The ``.npz`` payload: arrays per layer plus a JSON header."""
        header = {
            "schema_version": SCHEMA_VERSION,
            "kind": "neurodecorr.network",
            "device": self.device,
            "circuit": self.circuit,
            "metadata": self.metadata,
            "layers": [
                {"activation": layer.activation, "negative_slope": layer.negative_slope,
                 "decorrelated": layer.decorrelation is not None}
                for layer in self.layers
            ],
        }
        arrays: dict[str, np.ndarray] = {"header": np.array(json.dumps(header))}
        for i, layer in enumerate(self.layers):
            arrays[f"layer{i}_weight"] = layer.weight
            arrays[f"layer{i}_bias"] = layer.bias
            if layer.decorrelation is not None:
                arrays[f"layer{i}_decorrelation"] = layer.decorrelation
        return arrays

    def save(self, path: str | os.PathLike, extra: dict[str, np.ndarray] | None = None) -> None:
        """Write the network (and optional extra arrays, e.g. optimiser state) atomically."""
        arrays = self.to_arrays()
        arrays.update(extra or {})
        write_outputs({path: npz_bytes(arrays)})

    @classmethod
    def load(cls, path: str | os.PathLike) -> Network:
        """Read a network saved by :meth:`save`; any problem is a one-line error naming the file.

        Only the header and the members it names are read (see :class:`NpzArchive`).
        """
        with NpzArchive(path, "network") as archive:
            return cls.from_arrays(archive, source=archive.source)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], source: str = "network") -> Network:
        if "header" not in arrays:
            raise NeurodecorrError(f"{source}: not a neurodecorr network (no header)")
        try:
            header = json.loads(str(arrays["header"]))
        except json.JSONDecodeError:
            raise NeurodecorrError(f"{source}: header is not valid JSON") from None
        if not isinstance(header, dict) or header.get("kind") != "neurodecorr.network":
            raise NeurodecorrError(f"{source}: not a neurodecorr network")
        if header.get("schema_version") != SCHEMA_VERSION:
            raise NeurodecorrError(f"{source}: schema_version {header.get('schema_version')} "
                                   f"is not supported (expected {SCHEMA_VERSION})")
        specs = header.get("layers")
        if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
            raise NeurodecorrError(f"{source}: header field 'layers' must be a list of tables")
        layers = []
        for i, spec in enumerate(specs):
            try:
                layers.append(Layer(
                    weight=np.asarray(arrays[f"layer{i}_weight"], dtype=np.float64),
                    bias=np.asarray(arrays[f"layer{i}_bias"], dtype=np.float64),
                    decorrelation=(np.asarray(arrays[f"layer{i}_decorrelation"], np.float64)
                                   if spec["decorrelated"] else None),
                    activation=spec["activation"],
                    negative_slope=float(spec["negative_slope"]),
                ))
            except KeyError as exc:
                raise NeurodecorrError(f"{source}: missing field {exc} for layer {i}") from None
            except (TypeError, ValueError) as exc:
                raise NeurodecorrError(f"{source}: layer {i}: {exc}") from None
        try:
            return cls(layers=layers, device=header.get("device"), circuit=header.get("circuit"),
                       metadata=header.get("metadata", {}))
        except NeurodecorrError as exc:
            raise NeurodecorrError(f"{source}: {exc}") from None
