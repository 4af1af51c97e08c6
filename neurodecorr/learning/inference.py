"""Inference after training: a saved network deployed on a chip, its accuracy against time.

The network (``train --save-network``) is programmed into a fresh :class:`~neurodecorr.circuits.
chip.Chip` at time 0 — forward crossbars with ``headroom · max|W|`` mapped to G_max, lateral
arrays holding ``A = M⁻¹`` — and read at each time ``t`` after programming: device drift
``(t/t₀)^(−ν)``, accumulated 1/f noise and read noise act, and the digital drift compensation
(``global`` or ``column``: probe reads through the noisy path, rescaling every output;
:mod:`neurodecorr.devices.compensation`) corrects what it can. This is aihwkit's inference
evaluation (``InferenceRPUConfig``, ``drift_analog_weights(t)``), on the project's chip.
"""

from __future__ import annotations

import numpy as np

from neurodecorr.circuits.chip import Chip
from neurodecorr.circuits.lateral import LateralUnstable
from neurodecorr.core.network import Hardware, Network
from neurodecorr.errors import NeurodecorrError


def deployment_hardware(network: Network, device: str | None = None,
                        circuit: str | None = None) -> Hardware:
    """The chip a saved network is deployed on: the hardware it records (a chip-trained
    network: the circuits and devices it was trained on; a software-trained one: the
    ``ideal`` circuit), with ``circuit`` and ``device`` replacing what they name."""
    recorded = network.hardware or Hardware()
    return Hardware(circuit=circuit or recorded.circuit,
                    lateral_device=device or recorded.lateral_device,
                    forward_device=device or recorded.forward_device)


def accuracy_over_time(network: Network, X: np.ndarray, y: np.ndarray, times_s: list[float],
                       device: str | None = None, circuit: str | None = None,
                       drift_compensation: str = "none", headroom: float | None = None,
                       seed: int = 0) -> list[dict]:
    """Accuracy of ``network`` programmed on a chip and read ``t`` seconds after programming.

    The chip is :func:`deployment_hardware` (by default the hardware the network records).
    Returns one row per time: ``{"t_s", "accuracy"}``; one chip, read at increasing times
    (the same devices age, as a deployed chip does).
    """
    times = [float(t) for t in times_s]
    if not times or any(not (np.isfinite(t) and t > 0) for t in times):
        raise NeurodecorrError(f"--times: positive finite seconds, got {times_s}")
    if headroom is not None and not (np.isfinite(headroom) and headroom > 0):
        raise NeurodecorrError(f"--headroom: must be positive, got {headroom}")
    deployed = network.copy()
    deployed.hardware = deployment_hardware(network, device, circuit)
    try:
        chip = Chip(deployed, np.random.default_rng([seed, 0x1F]),
                    drift_compensation=drift_compensation, headroom=headroom)
    except NeurodecorrError as exc:
        if circuit is not None and device is not None:
            raise
        raise NeurodecorrError(f"{exc} (the hardware the network records: "
                               f"{_named(deployed.hardware)}; replace it with --circuit or "
                               f"--device)") from None
    rows = []
    for t in sorted(times):
        chip.clock_s = t
        try:
            logits = chip.forward(deployed, X).logits
        except LateralUnstable as exc:
            raise NeurodecorrError(f"deployment at t = {t:g} s: {exc.what}; the programmed "
                                   f"devices do not hold this learned matrix stably: try "
                                   f"{_remedies(chip, exc.layer)}") from None
        rows.append({"t_s": t, "accuracy": float(np.mean(np.argmax(logits, axis=1) == y))})
    return rows


def _named(hardware: Hardware) -> str:
    parts = [f"circuit {','.join(hardware.circuit)}"]
    for what in ("lateral_device", "forward_device"):
        names = getattr(hardware, what)
        if names:
            parts.append(f"{what.replace('_', ' ')} {','.join(names)}")
    return ", ".join(parts)


def _remedies(chip: Chip, layer: int | None) -> str:
    """What a user can change when a deployed lateral matrix is unstable: the diagonal into
    digital node references when the failing layer's devices hold it, then seed and devices."""
    lateral = chip.layers[layer].lateral if layer is not None else None
    first = ("--circuit node-reference (the diagonal in digital node references), "
             if lateral is not None and lateral.reference == "none" else "")
    return f"{first}another --seed or devices with less programming noise"


def parse_times(text: str) -> list[float]:
    """``"1,3600,86400"`` -> seconds (checked by :func:`accuracy_over_time`)."""
    try:
        return [float(t) for t in text.split(",")]
    except ValueError:
        raise NeurodecorrError(f"--times: comma-separated seconds, got {text!r}") from None


def evaluate_file(network_path: str, dataset: str | None, times_s: list[float], **deployment
                  ) -> tuple[str, Hardware, list[dict]]:
    """:func:`accuracy_over_time` of a network file (``train --save-network``) on the test set
    of ``dataset`` (default: the data set the file records); returns the data set, the
    hardware deployed on (:func:`deployment_hardware`) and the rows."""
    from neurodecorr.data import load_dataset
    from neurodecorr.io import input_file
    from neurodecorr.learning.checkpoint import load_trained_network

    input_file(network_path, "NETWORK")
    network, recorded = load_trained_network(network_path)
    dataset = dataset or recorded
    if dataset is None:
        raise NeurodecorrError(f"--dataset: {network_path} records no data set; name one")
    data = load_dataset(dataset)
    if network.layers[0].n_in != data.x_test.shape[1]:
        raise NeurodecorrError(f"{network_path}: the network takes {network.layers[0].n_in} "
                               f"inputs, {dataset} has {data.x_test.shape[1]}")
    # a pure function of the options and the file: the same hardware accuracy_over_time builds
    hardware = deployment_hardware(network, deployment.get("device"), deployment.get("circuit"))
    return dataset, hardware, accuracy_over_time(network, data.x_test, data.y_test, times_s,
                                                 **deployment)
