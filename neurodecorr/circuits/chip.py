"""Whole-chip simulation: every layer a lateral circuit, a forward crossbar and an activation.

Layer ``l`` of a :class:`Chip` is built from one :class:`~neurodecorr.core.network.Layer` and one
circuit description (:mod:`neurodecorr.circuits.description`):

1. the layer input ``x`` (the previous activation circuit's output) is held on the lateral
   nodes through the gain register, and the lateral circuit settles to ``x̄ = A⁻¹ x``
   (:class:`~neurodecorr.circuits.lateral.LateralArray`; skipped for a layer without
   decorrelation);
2. the forward crossbar, holding ``[W | b]`` on devices, reads ``z = W x̄ + b`` (the bias is one
   more device column driven at 1) through its DACs, devices and ADCs;
3. the activation circuit applies ReLU / leaky ReLU (hidden layers) and clips to its rails; the
   last layer is linear and its ADC outputs are the logits.

A physical clock runs through the whole chip: each settle advances it by its circuit time, and
every read and write of every array happens at the clock's time, so device drift and the drift
clocks of written devices evolve while the chip computes and learns.

Costs (:meth:`Chip.totals`): the crossbar counters of every array plus the integrator's node
updates, turned into joules by each layer's ``[energy]`` table (:mod:`neurodecorr.circuits.costs`).
"""

from __future__ import annotations

import numpy as np

from neurodecorr.circuits.costs import EVENTS, array_events, energy_of
from neurodecorr.circuits.description import CircuitConfig, load_circuit
from neurodecorr.circuits.lateral import LateralArray
from neurodecorr.core.network import Layer, Network, Trace
from neurodecorr.errors import NeurodecorrError


def _slope(kind: str, negative_slope: float) -> float:
    return {"relu": 0.0, "identity": 1.0}.get(kind, negative_slope)


def resolve_per_layer(value: str | list | tuple | None, n_layers: int, what: str) -> list:
    """``"a"`` → ``[a]*L``; ``"a,b"`` or a list → one entry per layer (must be ``L`` long)."""
    if value is None:
        return [None] * n_layers
    items = list(value) if isinstance(value, list | tuple) else [
        s.strip() for s in str(value).split(",")]
    if len(items) == 1:
        return items * n_layers
    if len(items) != n_layers:
        raise NeurodecorrError(f"{what}: {len(items)} entries for a network of {n_layers} "
                               f"layers; give one for all layers or one per layer")
    return items


class ChipLayer:
    """One layer of the chip (see the module docstring).

    Parameters
    ----------
    layer : Layer
        Weights, bias, decorrelation ``M`` (its inverse is programmed) and activation.
    circuit : CircuitConfig
    rng : numpy.random.Generator
    lateral_device, forward_device : str, optional
        Device presets (names or paths) overriding the circuit's.
    is_output : bool
    """

    def __init__(self, layer: Layer, circuit: CircuitConfig, rng: np.random.Generator,
                 t_program_s: float = 0.0, lateral_device: str | None = None,
                 forward_device: str | None = None, is_output: bool = False,
                 dtype: object = np.float64) -> None:
        from neurodecorr.devices import Crossbar, load_device

        self.circuit = circuit
        self.is_output = is_output
        self.dtype = np.dtype(dtype)
        act = circuit.activation
        if is_output:
            self.slope, self.rail = 1.0, None
        else:
            self.slope = _slope(act.kind, act.negative_slope)
            self.rail = (act.rail_V / circuit.lateral.volts_per_unit) if act.rail_V > 0 else None
            net_slope = _slope(layer.activation, layer.negative_slope)
            if abs(net_slope - self.slope) > 1e-12:
                raise NeurodecorrError(
                    f"circuit '{circuit.name}': activation {act.kind} (slope below zero "
                    f"{self.slope:g}) differs from the network's {layer.activation} (slope "
                    f"{net_slope:g}); set the circuit's [activation] or --negative-slope to match")
        r_lat, r_fwd = rng.spawn(2)
        self.lateral_device_name = lateral_device or circuit.lateral.device
        self.forward_device_name = forward_device or circuit.forward.device
        self.lateral: LateralArray | None = None
        if layer.decorrelation is not None:
            A = np.linalg.inv(np.asarray(layer.decorrelation, dtype=np.float64))
            self.lateral = LateralArray(circuit.lateral, A, load_device(self.lateral_device_name),
                                        r_lat, t_program_s, dtype)
        Wb = np.hstack([layer.weight, layer.bias[:, None]]).astype(np.float64)
        scale = circuit.forward.weight_headroom * float(np.max(np.abs(Wb)))
        self.forward = Crossbar(load_device(self.forward_device_name), Wb, r_fwd,
                                t_program_s=t_program_s, weight_scale=scale if scale > 0 else None)
        self.n_in, self.n_out = layer.weight.shape[1], layer.weight.shape[0]

    def decorrelate(self, X: np.ndarray, t_s: float, tol: float | None = None
                    ) -> tuple[np.ndarray, float]:
        """Settle the lateral circuit on ``X``; returns ``x̄`` and the circuit time taken."""
        if self.lateral is None:
            return X, 0.0
        Xbar, result = self.lateral.settle(X, t_s, tol)
        return Xbar, float(result.t)

    def project(self, Xbar: np.ndarray, t_s: float) -> np.ndarray:
        """``z = [W | b] [x̄; 1]`` read through the forward crossbar."""
        Xbar = np.atleast_2d(Xbar)
        aug = np.hstack([Xbar, np.ones((Xbar.shape[0], 1))]).astype(self.dtype)
        return np.asarray(self.forward.matvec(aug, t_s), dtype=np.float64)

    def activate(self, Z: np.ndarray) -> np.ndarray:
        """The activation circuit: ``f(z)`` clipped to its rails (identity on the output)."""
        H = Z if self.slope == 1.0 else np.where(Z > 0, Z, self.slope * Z)
        return self.clip(H)

    def clip(self, H: np.ndarray) -> np.ndarray:
        """The activation circuit's rails (the signal handed to the next layer)."""
        return H if self.rail is None else np.clip(H, -self.rail, self.rail)

    def effective(self, t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``W``, ``b`` and ``M = A⁻¹`` as the conductances (and gain register) hold them."""
        Wb = self.forward.effective_weights(t_s)
        M = None
        if self.lateral is not None:
            M = np.linalg.inv(self.lateral.effective_matrix(t_s))
        return Wb[:, :-1], Wb[:, -1], M

    def write_forward(self, dW: np.ndarray, db: np.ndarray, lr: float, t_s: float) -> int:
        """``[W | b] ← [W | b] − lr [dW | db]`` in expectation, by stochastic pulse trains.

        The batch update is factorised into rank-1 terms by the digital periphery (singular
        value decomposition; streaming batch updates of Hoskins et al. 2019, Front. Neurosci.
        13:793): ``[dW | db] = Σ_k s_k u_k v_kᵀ``, each written as one pulse train with
        ``d = s_k u_k``, ``x = v_k``. Returns the number of rank-1 writes.
        """
        G = np.hstack([dW, np.asarray(db)[:, None]])
        U, s, Vt = np.linalg.svd(G, full_matrices=False)
        if s.size == 0 or s[0] == 0:
            return 0
        keep = s > s[0] * 1e-10
        for k in np.flatnonzero(keep):
            self.forward.write_rank1(Vt[k], U[:, k] * s[k], -lr, t_s)
        return int(keep.sum())

    def events(self) -> dict[str, float]:
        """Event totals of this layer's arrays and integrators (see :mod:`~.costs`)."""
        ev = array_events(self.forward, self.circuit.forward.tile_size)
        if self.lateral is not None:
            lat = array_events(self.lateral.crossbar, self.circuit.lateral.tile_size)
            ev = {k: ev[k] + lat[k] for k in ev}
            ev["integration_steps"] = float(self.lateral.node_updates)
        return ev


class Chip:
    """A network as a chip of lateral circuits, crossbars and activation circuits.

    Parameters
    ----------
    network : Network
        Weights, biases, decorrelation matrices and activations to program.
    circuits : CircuitConfig, name, or a list of them (one per layer)
    rng : numpy.random.Generator or int
        Every physical random draw (mismatch, programming, reads, writes, noise).
    lateral_devices, forward_devices : str or list, optional
        Device presets overriding the circuits' (one for all layers, or one per layer).
    t_start_s : float
        Physical time of programming; the clock starts there.
    settle_tol : float, optional
        Overrides every circuit's ``settle_tol`` (e.g. a tight tolerance for comparisons).
    """

    def __init__(self, network: Network, circuits, rng, *, lateral_devices=None,
                 forward_devices=None, t_start_s: float = 0.0, settle_tol: float | None = None,
                 dtype: object = np.float64) -> None:
        network.validate()
        L = len(network.layers)
        specs = resolve_per_layer(circuits if circuits is not None else "ideal", L, "circuit")
        self.circuits = [c if isinstance(c, CircuitConfig) else load_circuit(c) for c in specs]
        lat = resolve_per_layer(lateral_devices, L, "lateral device")
        fwd = resolve_per_layer(forward_devices, L, "forward device")
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        streams = rng.spawn(L)
        self.clock_s = float(t_start_s)
        self.settle_tol = settle_tol
        self.layers = [ChipLayer(layer, c, r, self.clock_s, dl, df, i == L - 1, dtype)
                       for i, (layer, c, r, dl, df) in enumerate(
                           zip(network.layers, self.circuits, streams, lat, fwd, strict=True))]
        self.samples = 0

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def input_of(self, index: int, H: np.ndarray) -> np.ndarray:
        """The input layer ``index`` receives: the previous activation circuit's clipped output."""
        return H if index == 0 else self.layers[index - 1].clip(H)

    def decorrelate(self, index: int, X: np.ndarray) -> np.ndarray:
        """Settle layer ``index``'s lateral circuit on its input; advances the clock."""
        if index == 0:
            self.samples += int(np.atleast_2d(X).shape[0])
        Xbar, t = self.layers[index].decorrelate(self.input_of(index, X), self.clock_s,
                                                 self.settle_tol)
        self.clock_s += t
        return Xbar

    def project(self, index: int, Xbar: np.ndarray) -> np.ndarray:
        return self.layers[index].project(Xbar, self.clock_s)

    def forward(self, X: np.ndarray) -> Trace:
        """Input → [settle → crossbar → activation] × L → logits, for the rows of ``X``."""
        xs, xbars, zs = [], [], []
        h = np.atleast_2d(np.asarray(X, dtype=np.float64))
        for i, layer in enumerate(self.layers):
            xbar = self.decorrelate(i, h)
            z = self.project(i, xbar)
            xs.append(self.input_of(i, h))
            xbars.append(xbar)
            zs.append(z)
            h = layer.activate(z)
        return Trace(xs, xbars, zs)

    def logits(self, X: np.ndarray, chunk: int = 4096) -> np.ndarray:
        return np.concatenate([self.forward(X[i:i + chunk]).logits
                               for i in range(0, len(X), chunk)])

    def learn_lateral(self, index: int, X: np.ndarray, Xbar: np.ndarray, eta: float,
                      batch_fraction: float = 1.0) -> float:
        """On-chip step of layer ``index``'s lateral matrix (see :meth:`LateralArray.learn`)."""
        lat = self.layers[index].lateral
        if lat is None:
            raise NeurodecorrError(f"layer {index} has no lateral circuit")
        return lat.learn(self.input_of(index, X), Xbar, self.clock_s, eta, batch_fraction)

    def write_forward(self, index: int, dW: np.ndarray, db: np.ndarray, lr: float) -> int:
        return self.layers[index].write_forward(dW, db, lr, self.clock_s)

    def to_network(self) -> Network:
        """The network the chip holds now (effective weights, ``M = G·Ã⁻¹``)."""
        layers = []
        for layer in self.layers:
            W, b, M = layer.effective(self.clock_s)
            kind = "identity" if layer.is_output else "leaky_relu"
            layers.append(Layer(weight=W, bias=b, decorrelation=M, activation=kind,
                                negative_slope=layer.slope if not layer.is_output else 0.01))
        return Network(layers=layers)

    def totals(self) -> dict[str, float]:
        """Event counts over the chip's life, summed over layers, plus energy (J)."""
        out = dict.fromkeys(EVENTS, 0.0)
        energy = 0.0
        for layer in self.layers:
            ev = layer.events()
            for k in EVENTS:
                out[k] += ev.get(k, 0.0)
            energy += energy_of(ev, layer.circuit.energy)
        out["energy_J"] = energy
        out["samples"] = float(self.samples)
        return out

    def describe(self) -> list[dict]:
        """Per layer: circuit, devices, sizes, gain register, tile sizes."""
        return [{"layer": i, "circuit": layer.circuit.name, "circuit_file": layer.circuit.path,
                 "lateral_device": layer.lateral_device_name if layer.lateral else None,
                 "forward_device": layer.forward_device_name, "n_in": layer.n_in,
                 "n_out": layer.n_out,
                 "gain_register": layer.lateral.gain if layer.lateral else None}
                for i, layer in enumerate(self.layers)]
