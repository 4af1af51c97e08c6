"""Speed of the circuit simulator, each figure a ratio measured inside one run.

The measurements themselves live in :mod:`neurodecorr.bench.measure` (the same code
``neurodecorr bench`` runs); this script chooses the matrices and sizes of the issue's targets
and prints every detail:

- ``gemm_fraction`` at n = 1024, batch 256, float32 (target ≥ 0.6);
- ``speedup_vs_solve_ivp`` at n = 256, batch 256, tol 1e-6 (target ≥ 100), on a lateral matrix
  with a spread real-and-complex spectrum (condition ≈ 10), per simulator method, with both
  sides' achieved residuals, plus float32 and a batched solve_ivp (informative);
- the scaling exponent of time per step against n = 128 … 2048 (expect about 2);
- ``device_overhead`` per device preset at n = 256, batch 256 (target ≤ 2).

Usage: ``OPENBLAS_NUM_THREADS=1 python benchmarks/simulator_speed.py [--quick]
[--only gemm,ivp,scaling,device] [--json OUT.json]``. One BLAS thread is what the docs quote:
on this 2-core machine a multi-threaded BLAS at these sizes is erratic.
"""

from __future__ import annotations

import argparse
import json
import platform

import numpy as np

from neurodecorr.bench import measure
from neurodecorr.circuits import LateralField
from neurodecorr.errors import NeurodecorrError

PARTS = ("gemm", "ivp", "scaling", "device")


def stable_matrix(n: int, rng: np.random.Generator, spread: float = 0.3) -> np.ndarray:
    """A non-symmetric lateral matrix like a learned one: ``I + spread · G/√n``."""
    return np.eye(n) + spread * rng.standard_normal((n, n)) / np.sqrt(n)


def spread_matrix(n: int, rng: np.random.Generator) -> np.ndarray:
    """Eigenvalues spread over 0.3 … 3 plus a non-symmetric part: condition about 10."""
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    symmetric = Q @ np.diag(np.linspace(0.3, 3.0, n)) @ Q.T
    return symmetric + 0.2 * rng.standard_normal((n, n)) / np.sqrt(n)


def gemm(n: int, batch: int, steps: int, repeats: int, rng) -> dict:
    field = LateralField(stable_matrix(n, rng), dtype=np.float32)
    X = rng.standard_normal((batch, n)).astype(np.float32)
    return {"n": n, "batch": batch, "dtype": "float32", "steps": steps,
            **measure.gemm_fraction(field, X, steps, repeats)}


def ivp(n: int, batch: int, tol: float, samples: int, repeats: int, rng) -> dict:
    A = spread_matrix(n, rng)
    X = rng.standard_normal((batch, n))
    out = {"n": n, "batch": batch, "tol": tol,
           **measure.speedup_vs_solve_ivp(LateralField(A), X, tol, samples, repeats,
                                          batched=True)}
    # informative, not the figure: float32's rounding floor (about 6e-7 here) is close to tol
    f32 = measure.speedup_vs_solve_ivp(LateralField(A, dtype=np.float32), X, tol, samples,
                                       repeats, methods=("chebyshev",))
    out["float32"] = {k: f32[k] for k in ("speedup_vs_solve_ivp", "sim_per_sample_s", "sim")}
    return out


def device(n: int, batch: int, steps: int, repeats: int, rng) -> dict:
    from neurodecorr.circuits.device import DeviceReader
    from neurodecorr.devices import list_presets, load_device

    A = stable_matrix(n, rng)
    X = rng.standard_normal((batch, n)).astype(np.float32)
    ideal = LateralField(A, dtype=np.float32)
    out: dict = {"n": n, "batch": batch, "steps": steps, "overhead_by_preset": {}}
    for name in list_presets("device"):
        # one second after programming: this measures the cost of device reads; long ages can
        # leave a volatile array (capacitor) with an unstable effective matrix, which is refused
        reader = DeviceReader(load_device(name), A, rng=np.random.default_rng(0), t_age_s=1.0)
        try:
            row = measure.device_overhead(ideal, LateralField(A, dtype=np.float32, reader=reader),
                                          X, steps, repeats)
        except NeurodecorrError as exc:
            out.setdefault("refused", {})[name] = str(exc)
            continue
        out["overhead_by_preset"][name] = row["device_overhead"]
    out["device_overhead"] = max(out["overhead_by_preset"].values(), default=None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default=",".join(PARTS),
                    help=f"comma-separated figures to measure: {', '.join(PARTS)}")
    ap.add_argument("--json", help="write the figures to this JSON file")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    only = set(args.only.split(","))
    if not only <= set(PARTS):
        ap.error(f"--only: unknown figure(s) {', '.join(sorted(only - set(PARTS)))}")
    q, r = args.quick, (2 if args.quick else args.repeats)
    # each part draws its matrices from its own stream, so --only does not change them
    rngs = dict(zip(PARTS, np.random.default_rng(args.seed).spawn(len(PARTS)), strict=True))
    report: dict = {"machine": platform.processor() or platform.machine(),
                    "numpy": np.__version__}
    print(f"machine: {report['machine']}, numpy {report['numpy']}")
    if "gemm" in only:
        g = report["gemm_fraction"] = gemm(256 if q else 1024, 64 if q else 256, 50 if q else 200,
                                           r, rngs["gemm"])
        print(f"gemm_fraction         {g['gemm_fraction']:.3f}  (n={g['n']}, batch={g['batch']}, "
              f"float32: simulator {g['sim_gflops']:.1f} GFLOP/s, GEMM {g['gemm_gflops']:.1f})")
    if "ivp" in only:
        s = report["speedup_vs_solve_ivp"] = ivp(64 if q else 256, 64 if q else 256, 1e-6,
                                                 4 if q else 8, r, rngs["ivp"])
        print(f"speedup_vs_solve_ivp  {s['speedup_vs_solve_ivp']:.0f}x  (n={s['n']}, "
              f"batch={s['batch']}, tol={s['tol']:g}, {s['sim_method']}; by method "
              + ", ".join(f"{m} {v:.0f}x" for m, v in s["speedup_by_method"].items()) + ")")
        for m, v in s["sim"].items():
            print(f"    {m}: {v['per_sample_s'] * 1e3:.3f} ms/sample, {v['steps']} steps, "
                  f"residual {v['residual_max']:.1e}")
        print(f"    float32 chebyshev (informative): {s['float32']['speedup_vs_solve_ivp']:.0f}x")
        print(f"    solve_ivp RK45: {s['solve_ivp_per_sample_s'] * 1e3:.3f} ms/sample, "
              f"{s['solve_ivp_nfev_mean']:.0f} evaluations, residual "
              f"{s['solve_ivp_residual_max']:.1e}; batch flattened "
              f"{s['solve_ivp_batched_per_sample_s'] * 1e3:.3f} ms/sample "
              f"({s['speedup_vs_batched']:.0f}x)")
    if "scaling" in only:
        ns = [64, 128, 256] if q else [128, 256, 512, 1024, 2048]
        c = report["scaling"] = measure.scaling(ns, 64 if q else 256, 50 if q else 60, "float32",
                                                r, args.seed)
        print(f"scaling exponent      {c['cost_exponent']:.2f}  (n = {ns}; s/sample: "
              + ", ".join(f"{v:.2e}" for v in c["seconds_per_sample"]) + ")")
    if "device" in only:
        d = report["device"] = device(64 if q else 256, 64 if q else 256, 50 if q else 200, r,
                                      rngs["device"])
        each = ", ".join(f"{k} {v:.2f}" for k, v in d["overhead_by_preset"].items())
        print(f"device_overhead       {d['device_overhead']:.2f}  (worst preset; {each})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
