"""Speed of the circuit simulator, each figure a ratio measured inside one run.

- ``gemm_fraction``: simulator throughput (Euler steps per second) ÷ the machine's own throughput
  for the matrix product of one step (``np.matmul`` of the same shapes and dtype, same buffers).
  Target ≥ 0.6 at n = 1024, batch = 256, float32.
- ``speedup_vs_solve_ivp``: wall time per sample of ``scipy.integrate.solve_ivp`` (RK45, one
  sample at a time, terminal event at the settling tolerance, ``rtol = tol/10``, which it needs
  to reach that residual) ÷ that of the batched simulator (Euler, automatic step) at the same
  settling tolerance. Target ≥ 100 at n = 256, batch = 256.
- ``scaling_exponent``: slope of log(time per Euler step) against log(n), n = 128 … 2048,
  batch 256, float32 (a step is one batch × n × n product: expect about 2).
- ``device_overhead``: device-read settle ÷ ideal settle (same steps) at n = 256, batch 256,
  when :mod:`neurodecorr.devices` is available. Target ≤ 2.

The one-off eigenvalue check of each matrix is done before timing (it is cached per field) and
reported separately as ``spectrum_s``. Times are the best of ``--repeats`` runs; the simulator
and the bare products are timed alternately so that load from other processes hits both alike.

Usage: ``python benchmarks/simulator_speed.py [--quick] [--json OUT.json]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
from scipy.integrate import solve_ivp

from neurodecorr.circuits import Euler, LateralField, SettleCriterion, settle
from neurodecorr.errors import NeurodecorrError


def stable_matrix(n: int, rng: np.random.Generator, spread: float = 0.3) -> np.ndarray:
    """A non-symmetric lateral matrix like a learned one: ``I + spread · G/√n``."""
    return np.eye(n) + spread * rng.standard_normal((n, n)) / np.sqrt(n)


def best_of(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def fixed_steps(field: LateralField, X: np.ndarray, steps: int, dt_s: float):
    """Run exactly ``steps`` Euler steps (tol 0 never settles; the limit is the horizon)."""
    criterion = SettleCriterion(tol=0.0, max_time_s=steps * dt_s)
    return lambda: settle(field, X, Euler(dt_s=dt_s), criterion=criterion)


def gemm_fraction(n: int, batch: int, dtype, steps: int, repeats: int, rng) -> dict:
    A = stable_matrix(n, rng)
    X = rng.standard_normal((batch, n)).astype(dtype)
    field = LateralField(A, dtype=dtype)
    t0 = time.perf_counter()
    field.eigenvalues  # noqa: B018  (cached one-off spectrum)
    spectrum_s = time.perf_counter() - t0
    dt = 0.5 * field.tau_s
    run = fixed_steps(field, X, steps, dt)
    Y, P, At = np.ascontiguousarray(X), np.empty_like(X), field.A.T

    def gemms():
        for _ in range(steps):
            np.matmul(Y, At, out=P)

    run()
    gemms()
    sims, prods = [], []
    for _ in range(repeats):
        sims.append(best_of(run, 1))
        prods.append(best_of(gemms, 1))
    sim, gemm = min(sims) / steps, min(prods) / steps
    return {"n": n, "batch": batch, "dtype": np.dtype(dtype).name, "steps": steps,
            "sim_step_s": sim, "gemm_step_s": gemm,
            "gemm_gflops": 2 * batch * n * n / gemm / 1e9,
            "sim_gflops": 2 * batch * n * n / sim / 1e9,
            "gemm_fraction": gemm / sim, "spectrum_s": spectrum_s}


def speedup_vs_solve_ivp(n: int, batch: int, tol: float, ivp_samples: int, repeats: int,
                         rng) -> dict:
    # a spread real-and-complex spectrum (condition ≈ 10), as learned matrices have
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = Q @ np.diag(np.linspace(0.3, 3.0, n)) @ Q.T + 0.2 * rng.standard_normal((n, n)) / np.sqrt(n)
    X = rng.standard_normal((batch, n))
    field = LateralField(A)
    field.eigenvalues  # noqa: B018
    criterion = SettleCriterion(tol=tol)
    result = settle(field, X, "euler", criterion=criterion)
    sim = best_of(lambda: settle(field, X, "euler", criterion=criterion), repeats) / batch
    tau = field.tau_s
    truth = np.linalg.solve(A, X.T).T

    def one(x):
        scale = np.linalg.norm(x)

        def f(t, y):
            return (x - A @ y) / tau

        def settled(t, y):
            return np.linalg.norm(x - A @ y) / scale - tol

        settled.terminal = True
        return solve_ivp(f, (0.0, result.t * 20), np.zeros(n), method="RK45", events=settled,
                         rtol=tol / 10, atol=tol / 10 * float(np.sqrt(np.mean(x * x))))

    t0 = time.perf_counter()
    sols = [one(x) for x in X[:ivp_samples]]
    ivp = (time.perf_counter() - t0) / ivp_samples
    ivp_err = max(np.linalg.norm(s.y_events[0][-1] - truth[i]) / np.linalg.norm(truth[i])
                  for i, s in enumerate(sols))
    sim_err = float(np.max(np.linalg.norm(result.y - truth, axis=1)
                           / np.linalg.norm(truth, axis=1)))
    return {"n": n, "batch": batch, "tol": tol, "ivp_samples": ivp_samples,
            "sim_per_sample_s": sim, "solve_ivp_per_sample_s": ivp, "speedup": ivp / sim,
            "sim_steps": result.nsteps, "solve_ivp_nfev_mean": float(np.mean([s.nfev
                                                                             for s in sols])),
            "sim_rel_error": sim_err, "solve_ivp_rel_error": float(ivp_err)}


def scaling(ns: list[int], batch: int, steps: int, repeats: int, rng) -> dict:
    rows = [gemm_fraction(n, batch, np.float32, steps, repeats, rng) for n in ns]
    slope = float(np.polyfit(np.log([r["n"] for r in rows]),
                             np.log([r["sim_step_s"] for r in rows]), 1)[0])
    return {"batch": batch, "rows": rows, "exponent": slope}


def device_overhead(n: int, batch: int, steps: int, repeats: int, rng) -> dict | None:
    try:
        from neurodecorr.circuits.device import DeviceReader
        from neurodecorr.devices import list_presets, load_device
    except ImportError:
        return None
    A = stable_matrix(n, rng)
    X = rng.standard_normal((batch, n)).astype(np.float32)
    ideal = LateralField(A, dtype=np.float32)
    dt = 0.5 * ideal.tau_s
    out = {"n": n, "batch": batch, "steps": steps}
    run = fixed_steps(ideal, X, steps, dt)
    run()
    t_ideal = best_of(run, repeats)
    out["ideal_s"] = t_ideal
    presets = {}
    for name in list_presets("device"):
        # one second after programming: this measures the cost of device reads; long ages can
        # leave a volatile array (capacitor) with an unstable effective matrix, which is refused
        reader = DeviceReader(load_device(name), A, rng=np.random.default_rng(0), t_age_s=1.0)
        dev = LateralField(A, dtype=np.float32, reader=reader)
        dev.eigenvalues  # noqa: B018  (one-off, like the ideal field's)
        run = fixed_steps(dev, X, steps, dt)
        try:
            run()
        except NeurodecorrError as exc:
            out.setdefault("refused", {})[name] = str(exc)
            continue
        presets[name] = best_of(run, repeats) / t_ideal
    out["overhead_by_preset"] = presets
    out["device_overhead"] = max(presets.values()) if presets else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes, fewer repeats")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", help="write the figures to this JSON file")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    report = {"machine": platform.processor() or platform.machine(),
              "numpy": np.__version__}
    if args.quick:
        report["gemm_fraction"] = gemm_fraction(256, 64, np.float32, 50, 2, rng)
        report["speedup_vs_solve_ivp"] = speedup_vs_solve_ivp(64, 64, 1e-6, 4, 2, rng)
        report["scaling"] = scaling([64, 128, 256], 64, 50, 2, rng)
        report["device"] = device_overhead(64, 64, 50, 2, rng)
    else:
        report["gemm_fraction"] = gemm_fraction(1024, 256, np.float32, 200, args.repeats, rng)
        report["speedup_vs_solve_ivp"] = speedup_vs_solve_ivp(256, 256, 1e-6, 8, args.repeats,
                                                              rng)
        report["scaling"] = scaling([128, 256, 512, 1024, 2048], 256, 60, args.repeats, rng)
        report["device"] = device_overhead(256, 256, 200, args.repeats, rng)
    g, s, c = report["gemm_fraction"], report["speedup_vs_solve_ivp"], report["scaling"]
    print(f"machine: {report['machine']}, numpy {report['numpy']}")
    print(f"gemm_fraction         {g['gemm_fraction']:.3f}  (n={g['n']}, batch={g['batch']}, "
          f"{g['dtype']}: simulator {g['sim_gflops']:.1f} GFLOP/s, GEMM {g['gemm_gflops']:.1f})")
    print(f"speedup_vs_solve_ivp  {s['speedup']:.0f}x  (n={s['n']}, batch={s['batch']}, "
          f"tol={s['tol']:g}; rel. errors {s['sim_rel_error']:.1e} vs "
          f"{s['solve_ivp_rel_error']:.1e})")
    per_step = ", ".join(f"{r['sim_step_s']:.2e}" for r in c["rows"])
    print(f"scaling exponent      {c['exponent']:.2f}  (n = "
          f"{', '.join(str(r['n']) for r in c['rows'])}; per-step s: {per_step})")
    if report["device"]:
        d = report["device"]
        each = ", ".join(f"{k} {v:.2f}" for k, v in d["overhead_by_preset"].items())
        print(f"device_overhead       {d['device_overhead']:.2f}  (worst preset; {each})")
    else:
        print("device_overhead       n/a (neurodecorr.circuits.device not available)")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
