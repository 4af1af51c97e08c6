"""How fast Lava simulates the lateral dynamics: samples × sub-steps per second.

The same dynamics as :class:`~neurodecorr.lava.procs.process.LateralLayer` (``n_sub`` Euler
sub-steps per Lava step, one process for the layer), fed by a ``RingBuffer`` with a batch of
``n_samples`` columns held one per step. The figure ``samples·sub_steps/s`` is what the
benchmark compares with neurodecorr's own simulators (``speedup_vs_lava``).
"""

from __future__ import annotations

import numpy as np

from neurodecorr.core.network import Layer, Network
from neurodecorr.lava.export import export_network
from neurodecorr.lava.graph import run_export


def lateral_throughput(n: int = 100, n_sub: int = 20, num_samples: int = 500,
                       precision: str = "float", seed: int = 0) -> dict:
    """Time one lateral layer of size ``n`` in Lava's CPU simulation.

    Returns
    -------
    dict
        ``steps``, ``wall_s``, ``steps_per_s``, ``substeps_per_s`` (samples × Euler sub-steps
        per second, one sample per Lava step), ``n``, ``n_sub``, ``precision``.
    """
    rng = np.random.default_rng(seed)
    G = rng.standard_normal((n, n)) / np.sqrt(n)
    A = np.eye(n) + 0.1 * (G @ G.T) / n
    net = Network([Layer(np.eye(n), np.zeros(n), np.linalg.inv(A), "identity")])
    X = rng.standard_normal((num_samples, n))
    export = export_network(net, precision, "layer", calibration=X)
    for layer in export.layers:
        if layer["type"] == "lateral" and layer["decorrelate"]:
            layer["n_sub"] = n_sub
    export.steps_per_sample = 1
    run = run_export(export, X)
    return {"n": n, "n_sub": n_sub, "precision": precision, "steps": run.steps,
            "wall_s": run.wall_s, "steps_per_s": run.steps / run.wall_s,
            "substeps_per_s": num_samples * n_sub / run.wall_s,
            "n_processes": run.n_processes}
