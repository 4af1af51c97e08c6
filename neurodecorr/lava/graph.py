"""Build Lava processes from a :class:`~neurodecorr.lava.export.LavaExport` and run samples.

Samples stream through one network: a ``RingBuffer`` holds each sample for
``steps_per_sample`` steps, and the last stage keeps its output at the last step of every
sample window (shifted by the latency of the ``Dense`` processes), so ``N`` samples cost
``N · steps_per_sample + latency`` Lava steps in one run and one ``Var.get``. With
``record_stages`` every stage and integrator keeps its own output the same way, at its own
latency (what :class:`neurodecorr.lava.backend.LavaBackend` reads back as a trace).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from neurodecorr.lava import fixed
from neurodecorr.lava.compat import import_lava
from neurodecorr.lava.export import LavaExport
from neurodecorr.lava.runtime import lava_session


@dataclass
class LavaNetwork:
    """The built processes: ``source`` feeds the first stage, ``output`` records results;
    ``recorders`` are the stages and integrators that record (``output`` alone by default)."""

    source: object
    output: object
    processes: list
    n_samples: int
    num_steps: int
    recorders: list


def _dense(Dense, layer: dict, precision: str):
    kwargs = {"weights": np.asarray(layer["weight"]), "num_message_bits": 24}
    if precision == "fixed":
        kwargs["weights"] = kwargs["weights"].astype(np.int32)
        kwargs["weight_exp"] = int(layer["weight_exp"])
    return Dense(**kwargs)


def build(export: LavaExport, X: np.ndarray, record_stages: bool = False) -> LavaNetwork:
    """Create and connect the processes for the samples ``X`` (shape ``(N, n_in)``); with
    ``record_stages`` every ``lateral`` stage and ``integrator`` records, not only the last."""
    import_lava()
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer

    from neurodecorr.lava.procs.process import Integrator, LateralLayer

    X = np.atleast_2d(np.asarray(X, dtype=np.float64))
    n, T = X.shape[0], export.steps_per_sample
    data = np.repeat(X.T, T, axis=1)
    if export.precision == "fixed":
        data = fixed.to_fixed(data, export.frac_bits).astype(np.int32)
    source = RingBuffer(data=data)
    procs: list = [source]
    recorders: list = []
    out_port = source.s_out
    last = len(export.layers) - 1
    delay = 0  # Lava steps from the source to this stage: one per Dense (they send first)

    def record(i: int) -> dict:
        if not (record_stages or i == last):
            return {}
        return {"record_period": T, "record_phase": T + delay, "n_records": n}
    for i, layer in enumerate(export.layers[1:], start=1):
        kind = layer["type"]
        if kind == "lateral":
            params = {k: v for k, v in layer.items()
                      if k not in ("type", "shape", "lateral", "leak", "bias", "gain", "step")}
            params.update(record(i))
            gain = np.asarray(layer["gain"]) if "gain" in layer else None
            proc = LateralLayer(lateral=np.asarray(layer["lateral"]),
                                leak=np.asarray(layer["leak"]), bias=np.asarray(layer["bias"]),
                                gain=gain, **params)
            out_port.connect(proc.a_in)
            out_port = proc.s_out
            procs.append(proc)
            if "n_records" in params:
                recorders.append(proc)
        elif kind == "dense":
            proc = _dense(Dense, layer, export.precision)
            out_port.connect(proc.s_in)
            out_port = proc.a_out
            procs.append(proc)
            delay += 1
        elif kind == "integrator":
            delay += 1  # its input Dense
            d_in = _dense(Dense, {"weight": layer["weight_in"],
                                  "weight_exp": layer["weight_in_exp"]}, export.precision)
            d_rec = _dense(Dense, {"weight": layer["weight_rec"],
                                   "weight_exp": layer["weight_rec_exp"]}, export.precision)
            neuron = Integrator(shape=int(layer["shape"][0]), alpha=float(layer.get("alpha", 1.0)),
                                decay=np.asarray(layer["decay"]),
                                rec_shift=int(layer.get("rec_shift", 0)), **record(i))
            out_port.connect(d_in.s_in)
            d_in.a_out.connect(neuron.a_in)
            neuron.s_out.connect(d_rec.s_in)
            d_rec.a_out.connect(neuron.a_rec)
            out_port = neuron.s_out
            procs.extend([d_in, neuron, d_rec])
            if record_stages:
                recorders.append(neuron)
    return LavaNetwork(source=source, output=procs[-1], processes=procs, n_samples=n,
                       num_steps=n * T + export.latency, recorders=recorders)


@dataclass
class LavaRun:
    """Outputs of a Lava run (one row per sample), its Lava steps and wall time; with
    ``record_stages``, ``stages`` holds what every recording stage and integrator sent, in the
    export's order, as Lava holds it (integers in fixed point)."""

    outputs: np.ndarray
    steps: int
    wall_s: float
    n_processes: int
    stages: list[np.ndarray] | None = None


def run_export(export: LavaExport, X: np.ndarray, progress=None,
               record_stages: bool = False, chunk_timeout_s: float | None = None) -> LavaRun:
    """Run ``X`` through the exported network in Lava's CPU simulation; always stops Lava.

    Returns float outputs: fixed-point results are scaled back by the output stage's ``2^−F``.
    ``chunk_timeout_s``: the session's time limit (:func:`neurodecorr.lava.runtime.lava_session`).
    """
    from neurodecorr.lava.procs.models import MODELS

    net = build(export, X, record_stages)
    with lava_session(net.source, export.tag, MODELS[export.tag],
                      chunk_timeout_s) as session:
        session.run(net.num_steps, progress)
        recs = [np.asarray(proc.record.get(), dtype=np.float64).T[:net.n_samples]
                for proc in net.recorders]
    rec = recs[-1]
    if export.precision == "fixed":
        rec = rec * 2.0**-export.out_frac_bits
    return LavaRun(outputs=rec, steps=session.steps, wall_s=session.wall_s,
                   n_processes=len(net.processes), stages=recs if record_stages else None)
