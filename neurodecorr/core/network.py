"""A network as plain data: the one description every backend consumes.

A :class:`Network` is a stack of :class:`Layer` objects plus, optionally, the :class:`Hardware`
it runs on. Layer ``l`` receives ``x``, decorrelates it, ``x̄ = M x`` (on a chip: the lateral
circuit settles to ``x̄ = A⁻¹ x`` with ``A = M⁻¹`` stored as conductances), then applies its
forward weights and activation, ``h = f(W x̄ + b)`` (:mod:`neurodecorr.core.activation`). The
last layer's activation is ``identity``: its outputs are logits.

What a network holds, and nothing else:

========================  ==========================================================
``layers[l].weight``      ``W``, shape (n_out, n_in)
``layers[l].bias``        ``b``, shape (n_out,)
``layers[l].decorrelation``  the decorrelator's state ``M``, shape (n_in, n_in), or ``None``
``layers[l].activation``  ``identity``, ``relu`` or ``leaky_relu`` (+ ``negative_slope``)
``hardware``              :class:`Hardware` (circuits and devices per layer), or ``None``
``metadata``              JSON-ready facts about its origin (e.g. the training config)
========================  ==========================================================

Backends (:mod:`neurodecorr.core.forward`: exact numpy; :class:`neurodecorr.circuits.chip.Chip`;
the torch reference) compute forward passes of it; learning (:mod:`neurodecorr.learning`) updates
its arrays in place. It is saved as an ``.npz`` archive with a schema version and a JSON header;
nothing is ever pickled.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from neurodecorr.core.activation import ACTIVATIONS, activate, derivative, slope_below_zero
from neurodecorr.core.forward import NumpyBackend
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import NpzArchive, npz_bytes, write_outputs

SCHEMA_VERSION = 1


def _names(value: str | list | tuple | None, what: str) -> tuple[str, ...] | None:
    """``"a"`` → ``("a",)``, ``"a,b"`` or a list → one entry each; ``None`` stays ``None``."""
    if value is None:
        return None
    items = list(value) if isinstance(value, list | tuple) else str(value).split(",")
    names = tuple(str(s).strip() for s in items)
    if not names or not all(names):
        raise NeurodecorrError(f"{what}: empty name in {value!r}")
    return names


@dataclass(frozen=True)
class Hardware:
    """The chip a network runs on, as the chip backend (:class:`~neurodecorr.circuits.chip.Chip`)
    reads it.

    Each field holds one name (or TOML path) for every layer, or one per layer; a comma-separated
    string is split into entries.

    Attributes
    ----------
    circuit : tuple of str
        Circuit descriptions (:mod:`neurodecorr.circuits.description`).
    lateral_device, forward_device : tuple of str, optional
        Device presets (:mod:`neurodecorr.devices`) of the lateral and forward arrays, overriding
        the circuits' own; ``None`` keeps the circuits'.
    """

    circuit: tuple[str, ...] = ("ideal",)
    lateral_device: tuple[str, ...] | None = None
    forward_device: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "circuit", _names(self.circuit, "circuit") or ("ideal",))
        for name in ("lateral_device", "forward_device"):
            object.__setattr__(self, name, _names(getattr(self, name), name.replace("_", " ")))

    @classmethod
    def on(cls, circuit: str | None = None, device: str | None = None) -> Hardware:
        """Circuits ``circuit`` (default ``ideal``) with ``device`` on every array."""
        return cls(circuit=circuit or "ideal", lateral_device=device, forward_device=device)

    def per_layer(self, n_layers: int) -> list[tuple[str, str | None, str | None]]:
        """``(circuit, lateral device, forward device)`` of each of ``n_layers`` layers."""
        columns = []
        for name in ("circuit", "lateral_device", "forward_device"):
            items = getattr(self, name)
            if items is None:
                items = (None,)
            if len(items) == 1:
                items = items * n_layers
            if len(items) != n_layers:
                raise NeurodecorrError(f"{name.replace('_', ' ')}: {len(items)} entries for a "
                                       f"network of {n_layers} layers; give one for all layers "
                                       f"or one per layer")
            columns.append(items)
        return list(zip(*columns, strict=True))

    def to_dict(self) -> dict:
        return {name: None if getattr(self, name) is None else list(getattr(self, name))
                for name in ("circuit", "lateral_device", "forward_device")}


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
        ``identity``, ``relu`` or ``leaky_relu`` (:mod:`neurodecorr.core.activation`).
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
    def slope(self) -> float:
        """The activation's slope below zero (1 for ``identity``, 0 for ``relu``)."""
        return slope_below_zero(self.activation, self.negative_slope)

    def activate(self, z: np.ndarray) -> np.ndarray:
        """``f(z)``."""
        return activate(z, self.activation, self.negative_slope)

    def derivative(self, z: np.ndarray) -> np.ndarray:
        """``f′(z)``."""
        return derivative(z, self.activation, self.negative_slope)

    @property
    def lateral(self) -> np.ndarray:
        """``A = M⁻¹``, what a chip stores as conductances (identity without decorrelation)."""
        if self.decorrelation is None:
            return np.eye(self.n_in)
        return np.linalg.inv(self.decorrelation)


@dataclass
class Network:
    """A feed-forward stack of decorrelated layers plus the hardware it runs on.

    The exact operations of its layers (:class:`~neurodecorr.core.forward.LayerOps`) are its
    methods; :class:`~neurodecorr.core.forward.NumpyBackend` runs them. ``hardware`` is ``None``
    for a network that only runs in software (the chip backend then builds ideal circuits).
    """

    layers: list[Layer]
    hardware: Hardware | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.validate()

    @classmethod
    def dense(cls, sizes: list[int], rng: np.random.Generator, decorrelated: bool = False,
              negative_slope: float = 0.01, hardware: Hardware | None = None) -> Network:
        """A freshly initialised dense network ``sizes = [n_in, hidden..., n_out]``.

        Weights and biases start as in PyTorch's ``nn.Linear``, ``W, b ~ U(−1/√n_in, 1/√n_in)``,
        drawn layer by layer (``W_0, b_0, W_1, ...``) from ``rng``; hidden layers use a leaky
        ReLU, the output layer is linear. With ``decorrelated`` every ``M`` starts at the
        identity, so switching decorrelation on does not change the network's function.
        """
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            bound = 1.0 / np.sqrt(n_in)
            W = rng.uniform(-bound, bound, size=(n_out, n_in))
            b = rng.uniform(-bound, bound, size=n_out)
            layers.append(Layer(weight=W, bias=b,
                                decorrelation=np.eye(n_in) if decorrelated else None,
                                activation="identity" if i == len(sizes) - 2 else "leaky_relu",
                                negative_slope=negative_slope))
        return cls(layers=layers, hardware=hardware)

    @property
    def n_layers(self) -> int:
        return len(self.layers)

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
        if self.hardware is not None:
            self.hardware.per_layer(len(self.layers))

    def decorrelate(self, index: int, X: np.ndarray) -> np.ndarray:
        """``X̄ = X Mᵀ`` (``X`` itself without decorrelation)."""
        M = self.layers[index].decorrelation
        return X if M is None else X @ M.T

    def project(self, index: int, Xbar: np.ndarray) -> np.ndarray:
        """``Z = X̄ Wᵀ + b``."""
        layer = self.layers[index]
        return Xbar @ layer.weight.T + layer.bias

    def activate(self, index: int, Z: np.ndarray) -> np.ndarray:
        """``f(Z)`` of layer ``index``."""
        return self.layers[index].activate(Z)

    def forward(self, x: np.ndarray, return_hidden: bool = False):
        """Exact outputs ``f(z)`` of the last layer (float64; the logits for a linear output).

        Parameters
        ----------
        x : ndarray, shape (batch, n_in) or (n_in,)
        return_hidden : bool
            Also return the list of decorrelated inputs ``x̄`` of every layer.
        """
        trace = NumpyBackend().forward(self, x)
        h = self.activate(self.n_layers - 1, trace.z[-1])
        out = h if np.ndim(x) > 1 else h[0]
        return (out, trace.xbar) if return_hidden else out

    def copy(self) -> Network:
        """An independent copy (arrays copied)."""
        return Network(layers=[Layer(layer.weight.copy(), layer.bias.copy(),
                                     None if layer.decorrelation is None
                                     else layer.decorrelation.copy(),
                                     layer.activation, layer.negative_slope)
                               for layer in self.layers],
                       hardware=self.hardware, metadata=json.loads(json.dumps(self.metadata)))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The ``.npz`` payload: arrays per layer plus a JSON header."""
        header = {
            "schema_version": SCHEMA_VERSION,
            "kind": "neurodecorr.network",
            "hardware": None if self.hardware is None else self.hardware.to_dict(),
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
            hw = header.get("hardware")
            if hw is not None and not isinstance(hw, dict):
                raise NeurodecorrError("header field 'hardware' must be a table")
            hardware = None if hw is None else Hardware(**hw)
            return cls(layers=layers, hardware=hardware, metadata=header.get("metadata", {}))
        except TypeError as exc:
            raise NeurodecorrError(f"{source}: header field 'hardware': {exc}") from None
        except NeurodecorrError as exc:
            raise NeurodecorrError(f"{source}: {exc}") from None
