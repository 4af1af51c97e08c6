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
from neurodecorr.circuits.lateral import LateralArray, LateralUnstable
from neurodecorr.circuits.updates import make_array
from neurodecorr.core.activation import activate, slope_below_zero
from neurodecorr.core.forward import Trace, run_layers
from neurodecorr.core.network import Hardware, Layer, Network
from neurodecorr.errors import NeurodecorrError


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
                 dtype: object = np.float64, update: str | None = None,
                 drift_compensation: str = "none", headroom: float | None = None) -> None:
        from neurodecorr.devices import load_device

        self.circuit = circuit
        self.is_output = is_output
        self.dtype = np.dtype(dtype)
        act = circuit.activation
        if is_output:
            self.activation, self.negative_slope, self.rail = "identity", 0.01, None
        else:
            self.activation, self.negative_slope = act.kind, act.negative_slope
            self.rail = (act.rail_V / circuit.lateral.volts_per_unit) if act.rail_V > 0 else None
            if abs(layer.slope - self.slope) > 1e-12:
                raise NeurodecorrError(
                    f"circuit '{circuit.name}': activation {act.kind} (slope below zero "
                    f"{self.slope:g}) differs from the network's {layer.activation} (slope "
                    f"{layer.slope:g}); set the circuit's [activation] or --negative-slope to "
                    f"match")
        r_lat, r_fwd = rng.spawn(2)
        self.lateral_device_name = lateral_device or circuit.lateral.device
        self.forward_device_name = forward_device or circuit.forward.device
        self.lateral: LateralArray | None = None
        if layer.decorrelation is not None:
            A = np.linalg.inv(np.asarray(layer.decorrelation, dtype=np.float64))
            self.lateral = LateralArray(circuit.lateral, A, load_device(self.lateral_device_name),
                                        r_lat, t_program_s, dtype,
                                        circuit.lateral.update_config(update), drift_compensation)
        Wb = np.hstack([layer.weight, layer.bias[:, None]]).astype(np.float64)
        scale = (headroom or circuit.forward.weight_headroom) * float(np.max(np.abs(Wb)))
        self.forward = make_array(load_device(self.forward_device_name), Wb, r_fwd, t_program_s,
                                  scale if scale > 0 else None,
                                  circuit.forward.update_config(update), drift_compensation)
        self.n_in, self.n_out = layer.weight.shape[1], layer.weight.shape[0]

    @property
    def slope(self) -> float:
        """The activation circuit's slope below zero (1 on the linear output layer)."""
        return slope_below_zero(self.activation, self.negative_slope)

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
        aug = np.empty((Xbar.shape[0], Xbar.shape[1] + 1), dtype=self.dtype)
        aug[:, :-1] = Xbar
        aug[:, -1] = 1.0
        return np.asarray(self.forward.matvec(aug, t_s), dtype=np.float64)

    def activate(self, Z: np.ndarray) -> np.ndarray:
        """The activation circuit: ``f(z)`` clipped to its rails (identity on the output)."""
        H = activate(Z, self.activation, self.negative_slope)
        return H if self.rail is None else np.clip(H, -self.rail, self.rail)

    def effective(self, t_s: float) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """``W``, ``b`` and ``M = A⁻¹`` as the conductances (and gain register) hold them."""
        Wb = self.forward.effective_weights(t_s)
        M = None
        if self.lateral is not None:
            M = np.linalg.inv(self.lateral.effective_matrix(t_s))
        return Wb[:, :-1], Wb[:, -1], M

    def write_forward(self, dW: np.ndarray, db: np.ndarray, lr: float, t_s: float) -> int:
        """``[W | b] ← [W | b] − lr [dW | db]`` through the array's update algorithm.

        The batch update is factorised into rank-1 terms by the digital periphery (singular
        value decomposition; streaming batch updates of Hoskins et al. 2019, Front. Neurosci.
        13:793): ``[dW | db] = Σ_k s_k u_k v_kᵀ``, each a term of
        :meth:`~neurodecorr.circuits.updates.AnalogArray.update` (one pulse train each with
        ``sgd``; :func:`rank1_terms`). Returns the number of rank-1 terms.
        """
        xs, ds = rank1_terms(np.hstack([dW, np.asarray(db)[:, None]]))
        if len(xs):
            self.forward.update(xs, ds, -lr, t_s)
        return len(xs)

    def events(self) -> dict[str, float]:
        """Event totals of this layer's arrays and integrators (see :mod:`~.costs`)."""
        ev = array_events(self.forward, self.circuit.forward.tile_size)
        if self.lateral is not None:
            lat = array_events(self.lateral.crossbar, self.circuit.lateral.tile_size)
            ev = {k: ev[k] + lat[k] for k in ev}
            ev["integration_steps"] = float(self.lateral.node_updates)
        return ev


def rank1_terms(G: np.ndarray, rtol: float = 1e-10) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``x_k``, ``d_k`` with ``G = Σ_k d_k x_kᵀ``: the singular terms ``s_k u_k v_kᵀ`` of
    ``G`` with ``s_k > rtol · s_0``, largest first.

    Computed from the eigen-decomposition of the smaller Gram matrix (half the time of an SVD
    at the chip's layer sizes): for ``G G ᵀ = Σ λ_k u_k u_kᵀ`` the terms are ``d_k = u_k``,
    ``x_k = Gᵀ u_k = s_k v_k`` (for ``Gᵀ G``, ``x_k = v_k``, ``d_k = G v_k``). Each term is
    exactly ``u_k u_kᵀ G``, so they sum to ``G`` to round-off however inaccurate the small
    eigenvalues are; ``s_k`` is the computed norm of the scaled side. A pulse train depends on
    its term only through ``d_k x_kᵀ`` (:func:`~neurodecorr.devices.pulsed.pulse_train`), so
    how ``s_k`` is split between the two sides does not matter.
    """
    wide = G.shape[0] <= G.shape[1]
    M = G if wide else np.ascontiguousarray(G.T)
    unit = np.ascontiguousarray(np.linalg.eigh(M @ M.T)[1].T[::-1])  # rows u_k (wide) or v_k
    scaled = unit @ M  # rows s_k v_k (wide) or s_k u_k
    s = np.sqrt(np.einsum("ij,ij->i", scaled, scaled))
    s_max = s.max() if s.size else 0.0
    if s_max == 0:
        return np.empty((0, G.shape[1])), np.empty((0, G.shape[0]))
    keep = s > s_max * rtol
    if not keep.all():
        unit, scaled = unit[keep], scaled[keep]
    return (scaled, unit) if wide else (unit, scaled)


class Chip:
    """A network as a chip of lateral circuits, crossbars and activation circuits: a backend.

    The chip is built and programmed from ``network`` and its :class:`Hardware`
    (``network.hardware``; ideal circuits when it has none). Afterwards the devices hold the
    state: :meth:`forward` reads them, the write methods change them, and :meth:`read_back`
    stores what they hold into the network.

    Parameters
    ----------
    network : Network
        Weights, biases, decorrelation matrices and activations to program, and the hardware.
    update : str, optional
        Update algorithm of every array (:mod:`~neurodecorr.circuits.updates`), overriding
        the circuits' ``update`` keys.
    drift_compensation : {"none", "global", "column"}
        Digital drift compensation of every array (:class:`~neurodecorr.devices.Crossbar`).
    headroom : float, optional
        Overrides every forward crossbar's ``weight_headroom`` (inference deployment: the
        weight mapped to G_max is ``headroom · max|W|``).
    rng : numpy.random.Generator or int
        Every physical random draw (mismatch, programming, reads, writes, noise).
    t_start_s : float
        Physical time of programming; the clock starts there.
    settle_tol : float, optional
        Overrides every circuit's ``settle_tol`` (e.g. a tight tolerance for comparisons).
    """

    name = "chip"

    def __init__(self, network: Network, rng=0, *, t_start_s: float = 0.0,
                 settle_tol: float | None = None, dtype: object = np.float64,
                 update: str | None = None, drift_compensation: str = "none",
                 headroom: float | None = None) -> None:
        network.validate()
        self.network = network
        self.hardware = network.hardware or Hardware()
        specs = self.hardware.per_layer(network.n_layers)
        self.circuits = [load_circuit(c) for c, _, _ in specs]
        if not isinstance(rng, np.random.Generator):
            rng = np.random.default_rng(rng)
        streams = rng.spawn(network.n_layers)
        self.clock_s = float(t_start_s)
        self.settle_tol = settle_tol
        last = network.n_layers - 1
        self.layers = [ChipLayer(layer, c, r, self.clock_s, dl, df, i == last, dtype, update,
                                 drift_compensation, headroom)
                       for i, (layer, c, r, (_, dl, df)) in enumerate(
                           zip(network.layers, self.circuits, streams, specs, strict=True))]
        self.samples = 0

    @property
    def n_layers(self) -> int:
        return len(self.layers)

    def decorrelate(self, index: int, X: np.ndarray) -> np.ndarray:
        """Settle layer ``index``'s lateral circuit on its input; advances the clock."""
        try:
            Xbar, t = self.layers[index].decorrelate(X, self.clock_s, self.settle_tol)
        except LateralUnstable as exc:
            raise exc.located(layer=index) from None
        self.clock_s += t
        return Xbar

    def project(self, index: int, Xbar: np.ndarray) -> np.ndarray:
        """``z = W x̄ + b`` read through layer ``index``'s forward crossbar."""
        return self.layers[index].project(Xbar, self.clock_s)

    def activate(self, index: int, Z: np.ndarray) -> np.ndarray:
        """Layer ``index``'s activation circuit, clipped to its rails."""
        return self.layers[index].activate(Z)

    def forward(self, network: Network, X: np.ndarray,
                noise: list[np.ndarray] | None = None) -> Trace:
        """Input → [settle → crossbar (+ noise) → activation circuit] × L, for the rows of ``X``.

        ``network`` must be the network this chip was programmed from: the pass reads the
        devices, not the network's arrays.
        """
        if network is not self.network:
            raise NeurodecorrError("chip: this network was not programmed into the chip; build "
                                   "a Chip from it first")
        self.samples += int(np.atleast_2d(X).shape[0])
        return run_layers(self, self.n_layers, X, noise)

    def learn_lateral(self, index: int, X: np.ndarray, Xbar: np.ndarray, eta: float,
                      batch_fraction: float = 1.0) -> float:
        """On-chip step of layer ``index``'s lateral matrix (see :meth:`LateralArray.learn`).

        ``X`` and ``Xbar`` are the layer's input and settled state of a pass (a trace's ``x``
        and ``xbar``)."""
        lat = self.layers[index].lateral
        if lat is None:
            raise NeurodecorrError(f"layer {index} has no lateral circuit")
        g = lat.learn(X, Xbar, self.clock_s, eta, batch_fraction)
        try:
            lat.check_stability(self.clock_s)
        except LateralUnstable as exc:
            raise exc.located(layer=index) from None
        return g

    def write_forward(self, index: int, dW: np.ndarray, db: np.ndarray, lr: float) -> int:
        return self.layers[index].write_forward(dW, db, lr, self.clock_s)

    def read_back(self, network: Network) -> None:
        """Store the arrays' effective ``W``, ``b`` and ``M = G·Ã⁻¹`` into ``network`` in place.

        After the chip's writes this keeps the network what the chip holds now: the digital
        backward pass of a learning rule reads it."""
        for layer, chip_layer in zip(network.layers, self.layers, strict=True):
            W, b, M = chip_layer.effective(self.clock_s)
            layer.weight[...] = W
            layer.bias[...] = b
            if M is not None:
                layer.decorrelation[...] = M

    def to_network(self) -> Network:
        """A copy of the network as the chip holds it now (effective weights, ``M = G·Ã⁻¹``)."""
        network = self.network.copy()
        self.read_back(network)
        return network

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
        """Per layer: circuit, devices, update algorithms, the lateral diagonal reference,
        sizes, gain register and its folds, and the settles re-run at half the step
        (:data:`~neurodecorr.circuits.lateral.NOISY_STEP_HALVINGS`)."""
        return [{"layer": i, "circuit": layer.circuit.name, "circuit_file": layer.circuit.path,
                 "lateral_device": layer.lateral_device_name if layer.lateral else None,
                 "forward_device": layer.forward_device_name,
                 "lateral_update": (layer.lateral.crossbar.update_config.update
                                    if layer.lateral else None),
                 "lateral_reference": layer.lateral.reference if layer.lateral else None,
                 "forward_update": layer.forward.update_config.update, "n_in": layer.n_in,
                 "n_out": layer.n_out,
                 "gain_register": layer.lateral.gain if layer.lateral else None,
                 "gain_folds": layer.lateral.folds if layer.lateral else None,
                 "settle_step_halvings": layer.lateral.step_halvings if layer.lateral else None}
                for i, layer in enumerate(self.layers)]
