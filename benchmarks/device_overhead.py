"""Cost of one analogue crossbar read against the plain GEMM it replaces.

Times ``Crossbar.matvec(X, t)`` (DAC, drifted conductances, per-read and output noise, ADC,
drift compensation) against ``X @ W.T`` for n = 256 inputs and outputs and a batch of 256, in
float32 and float64, at a fixed read time (the drifted matrix is cached, as in a settle where
every integration step reads at the same physical time). The GEMM and the read are timed
alternately and each reports the best of several repeats, the figure least disturbed by other
processes.

    .venv/bin/python benchmarks/device_overhead.py [--n 256] [--batch 256] [--repeats 7]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from neurodecorr.devices import Crossbar, load_device


def best_times(fns, repeats: int, inner: int) -> list[float]:
    """Best time per call of each function, timed alternately so load hits all alike."""
    for fn in fns:
        fn()
    best = [float("inf")] * len(fns)
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t = time.perf_counter()
            for _ in range(inner):
                fn()
            best[k] = min(best[k], (time.perf_counter() - t) / inner)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=256)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--inner", type=int, default=20)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    w = np.eye(args.n) + rng.normal(size=(args.n, args.n)) / (4 * np.sqrt(args.n))
    x = rng.normal(size=(args.batch, args.n))
    print(f"n = {args.n}, batch = {args.batch}; best of {args.repeats} x {args.inner} calls")
    print(f"{'device':24s} {'dtype':8s} {'GEMM ms':>9s} {'matvec ms':>10s} {'ratio':>6s}")
    for name, comp in (("ideal", "none"), ("pcm", "none"), ("pcm", "global"),
                       ("reram", "column"), ("pcm+periphery-10bit", "none")):
        cb = Crossbar(load_device(name), w, np.random.default_rng(1), drift_compensation=comp)
        for dtype in (np.float32, np.float64):
            xd, wd = x.astype(dtype), w.astype(dtype)
            t_gemm, t_read = best_times([lambda xd=xd, wd=wd: xd @ wd.T,
                                         lambda xd=xd, cb=cb: cb.matvec(xd, 3600.0)],
                                        args.repeats, args.inner)
            label = f"{name} ({comp})" if comp != "none" else name
            print(f"{label:24s} {np.dtype(dtype).name:8s} {t_gemm * 1e3:9.3f} "
                  f"{t_read * 1e3:10.3f} {t_read / t_gemm:6.2f}")


if __name__ == "__main__":
    main()
