"""How fast Lava simulates the lateral dynamics: samples × Euler sub-steps per second.

The benchmark's ``speedup_vs_lava`` divides neurodecorr's own throughput on the same dynamics by
this figure. Two mappings of one lateral layer are timed, each as lean as Lava allows (no
monitor; results read back with one ``Var.get`` after the timed run):

- ``loihi`` (the export's default mapping, and the benchmark's reported figure): the layer as
  Loihi 2 would run it, ``RingBuffer → Dense(αI) → Integrator ⇄ Dense(−αA)`` — graded integrator
  neurons with a recurrent ``Dense``, one Euler step per Lava time step;
- ``layer``: one :class:`~neurodecorr.lava.procs.process.LateralLayer` process (the whole layer
  in one OS process, ``n_sub`` Euler sub-steps inside each Lava step) fed by one ``RingBuffer``,
  the CPU-only emulation.

``cpus`` pins a timing to a set of cores: Lava's OS processes are forked by the timing process
and inherit its CPU affinity, so ``cpus={0}`` runs the whole Lava graph on one core, like for
like with a one-thread timing of ours.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.lava import fixed
from neurodecorr.lava.compat import import_lava
from neurodecorr.lava.runtime import lava_session
from neurodecorr.lava.settling import settling_plan


def _lateral_matrix(n: int, rng: np.random.Generator) -> np.ndarray:
    """A well-conditioned symmetric positive-definite ``A = I + 0.1 GGᵀ/n``."""
    G = rng.standard_normal((n, n)) / np.sqrt(n)
    return np.eye(n) + 0.1 * (G @ G.T) / n


def _euler(PA: np.ndarray, gain: np.ndarray, X: np.ndarray, n_sub: int) -> np.ndarray:
    """The same iteration in float64 numpy: per sample, ``n_sub`` times
    ``x̄ ← x̄ + g∘x − (PA) x̄``, with the state carried over from one sample to the next."""
    xbar = np.zeros(PA.shape[0])
    out = np.empty_like(X)
    for k, x in enumerate(X):
        drive = gain * x
        for _ in range(n_sub):
            xbar = xbar + drive - PA @ xbar
        out[k] = xbar
    return out


def _euler_loihi(alpha: float, A: np.ndarray, X: np.ndarray) -> np.ndarray:
    """The loihi graph's iteration in float64 numpy, one Euler step per Lava step.

    Lava's ``Dense`` sends at step ``t`` the product of what it received at ``t − 1``, so the
    neuron sees the source's sample one step late and its own state through the recurrent
    ``Dense`` one step late: ``v_t = v_{t−1} + α x_{t−1} − α A v_{t−1}`` (``x_{−1} = 0``), i.e.
    an Euler step of ``dv/dt = x − A v`` with the input delayed by one step. Returns every
    ``v_t``.
    """
    v = np.zeros(A.shape[0])
    out = np.empty_like(X)
    drive = np.zeros(A.shape[0])
    for t, x in enumerate(X):
        v = v + drive - alpha * (A @ v)
        out[t] = v
        drive = alpha * x
    return out


def _loihi_throughput(n: int, num_samples: int, seed: int) -> dict:
    """``lateral_throughput`` for the ``loihi`` mapping in floating point (see there)."""
    import_lava()
    from lava.proc.dense.process import Dense
    from lava.proc.io.source import RingBuffer

    from neurodecorr.lava.procs.models import MODELS
    from neurodecorr.lava.procs.process import Integrator

    rng = np.random.default_rng(seed)
    A = _lateral_matrix(n, rng)
    X = rng.standard_normal((num_samples + 1, n))  # row 0 is the warm-up sample
    alpha = settling_plan(A).alpha
    source = RingBuffer(data=X.T)
    d_in = Dense(weights=alpha * np.eye(n), num_message_bits=24)
    d_rec = Dense(weights=-alpha * A, num_message_bits=24)
    neuron = Integrator(shape=n, alpha=alpha, record_period=1, record_phase=1,
                        n_records=num_samples + 1)
    source.s_out.connect(d_in.s_in)
    d_in.a_out.connect(neuron.a_in)
    neuron.s_out.connect(d_rec.s_in)
    d_rec.a_out.connect(neuron.a_rec)
    t0 = time.perf_counter()
    with lava_session(neuron, "floating_pt", MODELS["floating_pt"]) as session:
        session.run(1)
        startup_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        session.run(num_samples)
        wall_s = time.perf_counter() - t1
        out = np.asarray(neuron.record.get(), dtype=np.float64).T
    err = float(np.max(np.abs(out - _euler_loihi(alpha, A, X))))
    return {"samples_x_substeps_per_s": num_samples / wall_s, "steps_per_s": num_samples / wall_s,
            "n": n, "n_sub": 1, "num_samples": num_samples, "precision": "float",
            "mapping": "loihi", "steps": num_samples, "wall_s": wall_s, "startup_s": startup_s,
            "n_processes": 4, "max_abs_err": err}


@contextlib.contextmanager
def pinned(cpus: Iterable[int] | None) -> Iterator[list[int]]:
    """Run the block on the cores ``cpus`` (all this process may use when ``None``), and
    restore the former affinity after it; processes forked inside inherit the pinning."""
    if not hasattr(os, "sched_setaffinity"):
        if cpus is not None:
            raise NeurodecorrError("cpus: this platform cannot pin a process to cores")
        yield []
        return
    before = os.sched_getaffinity(0)
    wanted = set(before) if cpus is None else {int(c) for c in cpus}
    if not wanted or not wanted <= before:
        raise NeurodecorrError(f"cpus: {sorted(wanted)} is not a non-empty subset of the cores "
                               f"this process may run on, {sorted(before)}")
    os.sched_setaffinity(0, wanted)
    try:
        yield sorted(wanted)
    finally:
        os.sched_setaffinity(0, before)


def lateral_throughput(n: int = 100, n_sub: int = 20, num_samples: int = 2000,
                       precision: str = "float", seed: int = 0, mapping: str = "layer",
                       cpus: Iterable[int] | None = None) -> dict:
    """Time one lateral layer of ``n`` neurons in Lava's CPU simulation.

    ``mapping = "loihi"`` times the export's default mapping in floating point (four processes:
    ``RingBuffer → Dense(αI) → Integrator ⇄ Dense(−αA)``, one Euler step per Lava step, so
    ``n_sub`` must be 1), checked against :func:`_euler_loihi`; ``"layer"`` (below) the
    one-process CPU emulation.

    What is timed: ``num_samples`` Lava steps of a ``RingBuffer → LateralLayer`` network, one
    sample per step, each step running ``n_sub`` Euler sub-steps ``x̄ ← x̄ + P(x − A x̄)`` of the
    lateral dynamics (``P = αI`` in floating point; the full-range per-neuron steps and integer
    arithmetic of :mod:`neurodecorr.lava.fixed` in fixed point), i.e. Lava's per-step
    synchronisation and messaging plus the model's own numpy work. Not timed: building the
    processes, Lava's compilation and forking of the OS processes, and a first warm-up step
    (reported as ``startup_s``), and reading the results back (one ``Var.get``), which are then
    checked against the same iteration computed in float64 numpy (``max_abs_err``; in fixed
    point with the realised integer parameters, so only the flooring shifts differ).

    Parameters
    ----------
    n : int
        Neurons in the layer; ``A = I + 0.1 GGᵀ/n`` with ``G`` standard normal / √n.
    n_sub : int
        Euler sub-steps per Lava step (per sample).
    num_samples : int
        Timed Lava steps (one sample each); 2000 at ``n = 100`` take about half a second.
    precision : {"float", "fixed"}
    seed : int
    mapping : {"layer", "loihi"}
    cpus : iterable of int, optional
        Cores to run on (the timing process and the Lava processes it forks; :func:`pinned`);
        all this process may use by default.

    Returns
    -------
    dict
        ``samples_x_substeps_per_s`` (``num_samples · n_sub / wall_s``), ``steps_per_s``,
        ``n``, ``n_sub``, ``num_samples``, ``precision``, ``steps``, ``wall_s``, ``startup_s``,
        ``n_processes`` (2; 4 for ``loihi``), ``mapping``, ``max_abs_err`` and ``cpus`` (the
        cores it ran on).
    """
    with pinned(cpus) as cores:
        out = _timed_throughput(n, n_sub, num_samples, precision, seed, mapping)
    out["cpus"] = cores
    return out


def _timed_throughput(n: int, n_sub: int, num_samples: int, precision: str, seed: int,
                      mapping: str) -> dict:
    """:func:`lateral_throughput` on the cores it was given."""
    if mapping == "loihi":
        if precision != "float" or n_sub != 1:
            raise NeurodecorrError("lateral_throughput: the loihi mapping is timed in floating "
                                   "point at one Euler step per Lava step (precision='float', "
                                   "n_sub=1)")
        return _loihi_throughput(n, num_samples, seed)
    if mapping != "layer":
        raise NeurodecorrError(f"mapping: unknown '{mapping}'; choose loihi or layer")
    import_lava()
    from lava.proc.io.source import RingBuffer

    from neurodecorr.lava.procs.models import MODELS
    from neurodecorr.lava.procs.process import LateralLayer

    rng = np.random.default_rng(seed)
    A = _lateral_matrix(n, rng)
    X = rng.standard_normal((num_samples + 1, n))  # row 0 is the warm-up sample
    records = {"record_period": 1, "record_phase": 1, "n_records": num_samples + 1}
    if precision == "float":
        alpha = settling_plan(A).alpha
        PA, g = alpha * A, np.full(n, alpha)
        layer = LateralLayer(lateral=alpha * (A - np.diag(np.diag(A))), leak=alpha * np.diag(A),
                             bias=np.zeros(n), decorrelate=True, activation="identity",
                             n_sub=n_sub, alpha=alpha, **records)
        data, scale = X.T, 1.0
    elif precision == "fixed":
        from neurodecorr.lava.export import _fixed_lateral

        fl, _ = _fixed_lateral(A, 1e-9, "benchmark lateral matrix")
        F = fixed.choose_frac_bits(float(np.max(np.abs(X))) * max(1.0, float(fl.step.max())))
        gain, gain_shift = fixed.quantise_gain(fl.step)
        layer = LateralLayer(lateral=fl.lateral, leak=fl.leak, bias=np.zeros(n, np.int64),
                             gain=gain, decorrelate=True, activation="identity", n_sub=n_sub,
                             gain_shift=gain_shift, lateral_exp=fl.lateral_exp, **records)
        data, scale = fixed.to_fixed(X.T, F).astype(np.int32), 2.0**-F
        # the integer model realises exactly these, up to its flooring shifts
        PA = np.diag(fl.leak / 2.0**fixed.LEAK_BITS) + fl.lateral * 2.0**fl.lateral_exp
        g = gain * 2.0**-gain_shift
    else:
        raise NeurodecorrError(f"precision: unknown '{precision}'; choose float or fixed")
    source = RingBuffer(data=data)
    source.s_out.connect(layer.a_in)
    tag = "floating_pt" if precision == "float" else "fixed_pt"
    t0 = time.perf_counter()
    with lava_session(layer, tag, MODELS[tag]) as session:
        session.run(1)
        startup_s = time.perf_counter() - t0
        t1 = time.perf_counter()
        session.run(num_samples)
        wall_s = time.perf_counter() - t1
        out = np.asarray(layer.record.get(), dtype=np.float64).T * scale
    err = float(np.max(np.abs(out - _euler(PA, g, X, n_sub))))
    return {"samples_x_substeps_per_s": num_samples * n_sub / wall_s,
            "steps_per_s": num_samples / wall_s, "n": n, "n_sub": n_sub,
            "num_samples": num_samples, "precision": precision, "mapping": "layer",
            "steps": num_samples, "wall_s": wall_s, "startup_s": startup_s, "n_processes": 2,
            "max_abs_err": err}
