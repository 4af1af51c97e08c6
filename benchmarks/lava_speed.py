"""Lava's CPU simulation speed for one lateral layer, and where our simulator's time goes.

Default: times ``RingBuffer → LateralLayer`` (one process, ``n_sub`` sub-steps per Lava step,
one sample per step) after start-up; see :func:`neurodecorr.lava.speed.lateral_throughput`.

``--compare``: the like-for-like comparison of ``speedup_vs_lava`` (one Euler step per Lava
step against our batched Euler settle of the same layer), with Lava and our side timed in
alternation ``--rounds`` times (best and median of each), and our time per step broken down
on one thread with a one-thread BLAS, in CPU seconds of this process (steadier than wall time
on a shared machine): the bare products in the row-major (``Y Aᵀ``) and column-major
(``A Yᵀ``, what the simulator uses) layouts, the products plus the fused Euler kernel, the
whole settle; and the settle in blocks on every core (wall time).

Usage: ``.venv/bin/python benchmarks/lava_speed.py [--n 100] [--n-sub 20] [--samples 2000]
[--precision float|fixed] [--compare [--batch 256] [--dtype float64] [--rounds 5]]``
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from neurodecorr.lava.speed import lateral_throughput


def _per_step_us(fn, steps: int, repeats: int = 7, clock=time.process_time) -> float:
    fn()
    best = min(_timed(fn, clock) for _ in range(repeats))
    return best / steps * 1e6


def _timed(fn, clock=time.perf_counter) -> float:
    start = clock()
    fn()
    return clock() - start


def compare(n: int, batch: int, dtype: str, rounds: int, steps: int = 200) -> dict:
    from threadpoolctl import threadpool_limits

    from neurodecorr.bench import measure
    from neurodecorr.ode import LateralField, kernels

    rng = np.random.default_rng(0)
    A = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    X = rng.standard_normal((batch, n)).astype(dtype)
    field = LateralField(A, dtype=dtype)
    dt_s = measure.euler_step_s(field)
    At = field.A.T
    rows = {"Y": np.zeros_like(X), "P": np.empty_like(X)}
    cols = {"Y": np.asfortranarray(np.zeros_like(X)), "X": np.asfortranarray(X),
            "P": np.asfortranarray(np.empty_like(X))}
    h = field.dtype.type(0.5)

    def gemm_rows():
        for _ in range(steps):
            np.matmul(rows["Y"], At, out=rows["P"])

    def gemm_cols():
        for _ in range(steps):
            np.matmul(cols["Y"], At, out=cols["P"])

    def gemm_cols_euler():
        Yk, Xk, Pk = cols["Y"].T, cols["X"].T, cols["P"].T
        for _ in range(steps):
            np.matmul(cols["Y"], At, out=cols["P"])
            kernels.euler_step(Yk, Xk, Pk, 0.0, h)

    settle_1 = measure.fixed_steps(field, X, steps, dt_s)
    settle_all = measure.fixed_steps(field, X, steps, dt_s, measure.cores())
    breakdown, ours, lava, lava_layer = {}, [], [], []
    with threadpool_limits(limits=1, user_api="blas"):
        for name, fn in (("gemm_row_major", gemm_rows), ("gemm_column_major", gemm_cols),
                         ("gemm_plus_euler_kernel", gemm_cols_euler),
                         ("settle_one_thread", settle_1)):
            breakdown[name] = _per_step_us(fn, steps)
        breakdown[f"settle_{measure.cores()}_threads_wall"] = _per_step_us(
            settle_all, steps, clock=time.perf_counter)
        breakdown["settle_one_thread_wall"] = _per_step_us(settle_1, steps, clock=time.perf_counter)
        for _ in range(rounds):
            lava.append(lateral_throughput(n, 1, 1000, "float", mapping="loihi")
                        ["samples_x_substeps_per_s"])
            lava_layer.append(lateral_throughput(n, 1, 2000, "float")["samples_x_substeps_per_s"])
            ours.append(batch * steps / min(_timed(settle_1) for _ in range(3)))
    return {"n": n, "batch": batch, "dtype": dtype, "us_per_step": breakdown,
            "ours_samples_x_steps_per_s": ours, "lava_samples_x_steps_per_s": lava,
            "lava_mapping": "loihi", "lava_layer_samples_x_steps_per_s": lava_layer,
            "speedup_best_over_best": max(ours) / max(lava),
            "speedup_vs_layer_best_over_best": max(ours) / max(lava_layer),
            "speedup_median_over_median": float(np.median(ours) / np.median(lava)),
            "speedup_per_round": [o / la for o, la in zip(ours, lava, strict=True)],
            "load_average": os.getloadavg()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--n-sub", type=int, default=20)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--precision", default="float", choices=("float", "fixed"))
    parser.add_argument("--mapping", default="layer", choices=("loihi", "layer"),
                        help="Lava graph to time alone (loihi: float, --n-sub 1)")
    parser.add_argument("--compare", action="store_true")
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--dtype", default="float64", choices=("float64", "float32"))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.compare:
        print(json.dumps(compare(args.n, args.batch, args.dtype, args.rounds), indent=2))
    else:
        print(json.dumps(lateral_throughput(args.n, args.n_sub, args.samples, args.precision,
                                            mapping=args.mapping), indent=2))
