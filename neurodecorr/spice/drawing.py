"""Drawing the circuit of :mod:`neurodecorr.spice.circuit` from the simulator's own objects.

The components come from a :class:`~neurodecorr.circuits.lateral.LateralArray` built exactly as
the simulator builds it (same generator streams), so the netlist and the ODE hold the same
mismatch and the same programmed conductances for the same seed.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.spice.circuit import IDEAL_OPAMP_GAIN, SpiceCircuit, horizon


def from_lateral_array(array, x: np.ndarray, t_s: float = 0.0, t_stop_s: float | None = None,
                       about: dict | None = None) -> SpiceCircuit:
    """The components a :class:`~neurodecorr.circuits.lateral.LateralArray` was drawn with.

    Parameters
    ----------
    array : LateralArray
        Its per-node ``R_i``, ``C_i`` and crossbar, as drawn from its generator.
    x : ndarray, shape (n,)
        One input sample; the nodes hold ``G·x`` with the array's gain register ``G``.
    t_s : float
        Physical time at which the conductances are read (``Crossbar.conductances``): the
        programming time, so programming error, levels, stuck devices and the device model's
        slow state then (PCM: the 1/f state at its clock ``t0``), no drift, no per-read noise.
        The same matrix as ``Crossbar.read_weights(t_s)`` of the array without compensation.
    t_stop_s : float, optional
        End of the transient; default the settle horizon of :func:`horizon`.
    about : dict, optional
        Provenance written into the netlist header.

    Notes
    -----
    Reading the conductances advances the crossbar's 1/f noise stream (by a zero-variance draw
    at the programming time): draw from an array built for the purpose, as the functions
    below do, not from one a simulation goes on with.
    """
    from neurodecorr.devices.mapping import to_weights

    x = np.asarray(x, dtype=np.float64)
    if x.shape != (array.n,):
        raise NeurodecorrError(f"input: one sample of {array.n} values expected, got shape "
                               f"{x.shape}")
    if not np.all(np.isfinite(x)):
        raise NeurodecorrError("input: contains NaN or infinite values")
    lat = array.circuit
    if lat.reference != "none":
        # the netlist draws the crossbar's conductances only; without the reference's
        # digitally set feedback element it would settle to a different matrix
        raise NeurodecorrError(f"[lateral] reference = \"{lat.reference}\": the SPICE export "
                               "does not draw the reference feedback; export a circuit with "
                               "reference = \"none\"")
    xbar = array.crossbar
    g_pos, g_neg = xbar.conductances(t_s)
    zero = np.zeros(xbar.shape)
    R = np.asarray(array.R_i_ohm, dtype=np.float64)
    # to_weights is linear: the weight each device contributes alone, times the array's scale
    G_pos = xbar.scale * to_weights(g_pos, zero, xbar.config.mapping) / R[:, None]
    G_neg = xbar.scale * to_weights(np.broadcast_to(g_neg, xbar.shape), zero,
                                    xbar.config.mapping) / R[:, None]
    gain = lat.opamp_gain if lat.opamp_gain > 0 else IDEAL_OPAMP_GAIN
    circuit = SpiceCircuit(
        R_ohm=R, C_F=np.asarray(array.C_i_F, dtype=np.float64), G_pos_S=G_pos, G_neg_S=G_neg,
        x=array.gain * x, opamp_gain=float(gain), opamp_pole_Hz=float(lat.opamp_pole_Hz),
        rail_V=float(lat.rail_V), volts_per_unit=float(lat.volts_per_unit),
        model_leak=float(lat.leak), t_stop_s=math.inf, about=dict(about or {}))
    if t_stop_s is None:
        t_stop_s = horizon(circuit.rates_per_s(), lat.settle_tol, lat.settle_window_s)
    if not (math.isfinite(t_stop_s) and t_stop_s > 0):
        raise NeurodecorrError(f"t_stop: must be a positive time in seconds, got {t_stop_s}")
    return dataclasses.replace(circuit, t_stop_s=float(t_stop_s))


def draw_from_matrix(config, A: np.ndarray, x: np.ndarray, seed: int,
                     t_stop_s: float | None = None) -> SpiceCircuit:
    """Draw the lateral circuit of ``config`` holding ``A`` from ``seed``.

    The same draws as ``LateralArray(config.lateral, A, device, numpy.random.default_rng(seed))``:
    the simulator built that way holds exactly this circuit.
    """
    from neurodecorr.circuits.lateral import LateralArray
    from neurodecorr.devices import load_device

    lat = config.lateral
    array = LateralArray(lat, A, load_device(lat.device), np.random.default_rng(seed))
    about = {"source": "matrix", "circuit": config.name, "device": lat.device, "seed": seed}
    return from_lateral_array(array, x, 0.0, t_stop_s, about)


def draw_from_network(network, layer: int, x: np.ndarray, seed: int,
                      t_stop_s: float | None = None) -> SpiceCircuit:
    """Draw the lateral circuit of layer ``layer`` of ``Chip(network, seed)``.

    The chip builds every layer from ``network.hardware`` (circuits and devices; ideal circuits
    without one) and draws each layer's mismatch and programming from its own stream of
    ``seed``, so the netlist is that chip's layer, programmed at its start time.
    """
    from neurodecorr.circuits.chip import Chip

    L = len(network.layers)
    if not 0 <= layer < L:
        raise NeurodecorrError(f"--layer: {layer} is out of range; the network has {L} layers "
                               f"(0 to {L - 1})")
    chip = Chip(network, seed)
    chip_layer = chip.layers[layer]
    if chip_layer.lateral is None:
        raise NeurodecorrError(f"--layer: layer {layer} has no decorrelation, so no lateral "
                               "circuit")
    about = {"source": f"network layer {layer}", "circuit": chip_layer.circuit.name,
             "device": chip_layer.lateral_device_name, "seed": seed}
    return from_lateral_array(chip_layer.lateral, x, chip.clock_s, t_stop_s, about)


#: The command-line options of :func:`draw`, shared by ``export-spice`` and ``spice-check``:
#: (flags, keyword arguments of ``click.option``), plain types only; :func:`draw` validates.
DRAW_OPTIONS: tuple[tuple[tuple[str, ...], dict], ...] = (
    (("--matrix", "matrix_path"),
     {"metavar": "FILE", "help": "Lateral matrix A (n, n) as .npy."}),
    (("--network", "network_path"),
     {"metavar": "FILE", "help": "A network .npz; with --layer, that layer's lateral circuit."}),
    (("--layer",), {"type": int, "help": "With --network: the layer (0-based)."}),
    (("--circuit",),
     {"metavar": "NAME|FILE", "help": "Circuit description of every layer (default: the "
                                      "network's own hardware, else rc-opamp)."}),
    (("--input", "input_path"),
     {"required": True, "metavar": "FILE",
      "help": "Input x as .npy: one sample (n,) or a batch (batch, n)."}),
    (("--sample",), {"type": int, "default": 0, "show_default": True,
                     "help": "Which row of a batch --input to hold on the nodes."}),
    (("--seed",), {"type": int, "default": 0, "show_default": True,
                   "help": "Seed of the mismatch and the device programming."}),
    (("--t-stop", "t_stop_s"), {"type": float, "help": "End of the transient in seconds "
                                                       "(default: the settle horizon)."}),
)


def with_draw_options(command, option):
    """``command`` with every :data:`DRAW_OPTIONS` added by ``option`` (``click.option``)."""
    for flags, kwargs in reversed(DRAW_OPTIONS):
        command = option(*flags, **kwargs)(command)
    return command


def draw(circuit: str | None, *, matrix_path: str | None = None,
         network_path: str | None = None, layer: int | None = None, input_path: str,
         sample: int = 0, seed: int = 0, t_stop_s: float | None = None) -> SpiceCircuit:
    """The circuit of the command-line options of ``export-spice`` and ``spice-check``.

    Parameters
    ----------
    circuit : str or None
        Circuit description (name or TOML path) of every layer; None: the network's own
        hardware, else ``rc-opamp``.
    matrix_path, network_path : str
        Exactly one: a lateral matrix ``A`` (.npy) or a network (.npz) with ``layer``.
    input_path : str
        The input: one sample (n,) or a batch (batch, n) of which row ``sample`` is taken.
    """
    from neurodecorr.circuits.description import load_circuit
    from neurodecorr.core.network import Hardware, Network
    from neurodecorr.io import load_array

    if seed < 0:
        raise NeurodecorrError(f"--seed: must be >= 0, got {seed}")
    if t_stop_s is not None and not (math.isfinite(t_stop_s) and t_stop_s > 0):
        raise NeurodecorrError(f"--t-stop: must be a positive time in seconds, got {t_stop_s}")
    if (matrix_path is None) == (network_path is None):
        raise NeurodecorrError("give exactly one of --matrix and --network")
    if network_path is not None and layer is None:
        raise NeurodecorrError("--network: needs --layer (which layer's lateral circuit)")
    if matrix_path is not None and layer is not None:
        raise NeurodecorrError("--layer: only with --network")
    X = load_array(input_path, "--input", ndim=(1, 2))
    if X.ndim == 2:
        if not 0 <= sample < X.shape[0]:
            raise NeurodecorrError(f"--sample: {sample} is out of range; {input_path} holds "
                                   f"{X.shape[0]} samples")
        X = X[sample]
    elif sample != 0:
        raise NeurodecorrError(f"--sample: {input_path} holds one sample")
    if matrix_path is not None:
        A = load_array(matrix_path, "--matrix", ndim=(2,))
        if A.shape[0] != A.shape[1]:
            raise NeurodecorrError(f"--matrix: {matrix_path} has shape {A.shape}; A must be "
                                   "square")
        if X.shape != (A.shape[0],):
            raise NeurodecorrError(f"--input: a sample of {X.size} values for a matrix of "
                                   f"shape {A.shape}")
        return draw_from_matrix(load_circuit(circuit or "rc-opamp"), A, X, seed, t_stop_s)
    network = Network.load(network_path)
    if circuit is not None or network.hardware is None:
        # every layer on this circuit, with the circuit's own devices
        network = dataclasses.replace(network, hardware=Hardware.on(circuit or "rc-opamp"))
    if 0 <= layer < len(network.layers) and X.shape != (network.layers[layer].n_in,):
        raise NeurodecorrError(f"--input: a sample of {X.size} values for layer {layer} of "
                               f"{network.layers[layer].n_in} inputs")
    return draw_from_network(network, layer, X, seed, t_stop_s)
