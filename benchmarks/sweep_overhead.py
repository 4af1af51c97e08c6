"""Per-point overhead of ``neurodecorr sweep``: what a point costs beyond its command's work.

Runs a sweep of small settles (n = 16, batch 8: about a millisecond of work each) on a local
Dask cluster and reports, per point, the time the sweep recorded (``elapsed_s``: from handing
the point to its process to reading its metrics back) beside the time the same settle takes
in this process once warm (the command's work; its JSON records no wall time). Usage::

    python benchmarks/sweep_overhead.py --points 16 --workers 2 [--json out.json]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from neurodecorr.io import write_json
from neurodecorr.provenance import with_versions
from neurodecorr.sweep import load_spec, read_rows, run_sweep


def measure(points: int, workers: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = Path(tmp) / "spec.toml"
        seeds = ", ".join(str(s) for s in range(1, points + 1))
        spec_path.write_text(f'[sweep]\ncommand = "settle"\nn = 16\nbatch = 8\n'
                             f'seed = [{seeds}]\n')
        out = Path(tmp) / "results.csv"
        start = time.perf_counter()
        run_sweep(load_spec(spec_path), out, workers=workers)
        wall = time.perf_counter() - start
        _, rows = read_rows(out)
    elapsed = [float(r["elapsed_s"]) for r in rows if r["status"] == "ok"]
    work = statistics.median(_settle_seconds(seed) for seed in range(1, points + 1))
    return {"points": points, "workers": workers, "ok": len(elapsed), "sweep_wall_s": wall,
            "elapsed_s_median": statistics.median(elapsed), "settle_s_median": work,
            "overhead_s_median": statistics.median(elapsed) - work}


def _settle_seconds(seed: int) -> float:
    """One point's settle (the same drawn inputs, default method), in this process."""
    from neurodecorr.circuits import settle
    from neurodecorr.sweep import correlated_inputs, stable_lateral

    A, X = stable_lateral(16, seed), correlated_inputs(16, 8, seed)
    settle(A, X)  # loads the kernels
    start = time.perf_counter()
    settle(A, X)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--json", default=None)
    args = p.parse_args(argv)
    result = measure(args.points, args.workers)
    print(" ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                   for k, v in result.items()))
    if args.json:
        write_json(args.json, with_versions({"command": "benchmarks/sweep_overhead.py "
                                             + " ".join(argv or sys.argv[1:]), **result}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
