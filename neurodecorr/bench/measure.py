"""Speed measurements of the simulator, each a ratio of two timings taken in the same run.

Ratios survive a noisy machine where absolute times do not: the two sides of every ratio are
timed alternately, best of ``repeats``, so load from other processes hits both alike.

- ``gemm_fraction``: simulator throughput (Euler steps per second) ÷ the machine's own
  throughput for the product of one step (``np.matmul`` of the same shapes, dtype, buffers).
- ``speedup_vs_solve_ivp``: time per sample of ``scipy.integrate.solve_ivp`` (RK45, one sample at
  a time, stopped by a terminal event at the settling tolerance) ÷ that of the batched simulator
  at the same tolerance; both achieved errors against ``numpy.linalg.solve`` are reported.
- ``device_overhead``: a settle reading A through a device preset ÷ the ideal settle, same steps.
- ``speedup_vs_lava``: (samples × integration steps per second) of the simulator ÷ the same for
  the lateral layer in Lava's CPU simulation (:func:`neurodecorr.lava.speed.lateral_throughput`).
- ``scaling``: the fitted exponent of time per step against n (expect about 2: one GEMM).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
from scipy.integrate import solve_ivp

from neurodecorr.circuits import Euler, LateralField, SettleCriterion, settle
from neurodecorr.circuits.stability import optimal_h
from neurodecorr.errors import NeurodecorrError


def best_of(fn: Callable[[], object], repeats: int) -> float:
    """Fastest of ``repeats`` wall-clock timings of ``fn()`` in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def alternate(a: Callable[[], object], b: Callable[[], object], repeats: int
              ) -> tuple[float, float]:
    """Best times of ``a`` and ``b``, timed in alternation after one warm-up call each."""
    a()
    b()
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(best_of(a, 1))
        tb.append(best_of(b, 1))
    return min(ta), min(tb)


def euler_step_s(field: LateralField) -> float:
    """The automatic Euler step (s): the one minimising the slowest mode's contraction."""
    return optimal_h("euler", field.eigenvalues) * field.tau_s


def fixed_steps(field: LateralField, X: np.ndarray, steps: int, dt_s: float
                ) -> Callable[[], object]:
    """A callable that runs exactly ``steps`` Euler steps (tol 0 never settles early)."""
    criterion = SettleCriterion(tol=0.0, max_time_s=steps * dt_s * (1 + 1e-9))
    return lambda: settle(field, X, Euler(dt_s=dt_s), criterion=criterion)


def gemm_fraction(field: LateralField, X: np.ndarray, steps: int, repeats: int) -> dict:
    """Simulator steps per second ÷ bare GEMMs per second on the same shapes."""
    X = np.ascontiguousarray(X, dtype=field.dtype)
    run = fixed_steps(field, X, steps, euler_step_s(field))
    P, At = np.empty_like(X), field.A.T

    def gemms() -> None:
        for _ in range(steps):
            np.matmul(X, At, out=P)

    sim, gemm = alternate(run, gemms, repeats)
    flops = 2.0 * X.shape[0] * field.n**2
    return {"gemm_fraction": gemm / sim, "sim_step_s": sim / steps, "gemm_step_s": gemm / steps,
            "sim_gflops": flops * steps / sim / 1e9, "gemm_gflops": flops * steps / gemm / 1e9}


def speedup_vs_solve_ivp(field: LateralField, X: np.ndarray, tol: float, ivp_samples: int,
                         repeats: int) -> dict:
    """Per-sample time of solve_ivp RK45 ÷ the batched simulator's, at the same tolerance.

    solve_ivp integrates one sample at a time, as a user would, with a terminal event at
    ``‖x − A x̄‖/‖x‖ = tol`` and ``rtol = tol/10`` (what it needs to reach that residual).
    """
    A = np.asarray(field.A, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    criterion = SettleCriterion(tol=tol)
    result = settle(field, X, "euler", criterion=criterion)
    sim = best_of(lambda: settle(field, X, "euler", criterion=criterion), repeats) / len(X)
    truth = np.linalg.solve(A, X.T).T
    tau = field.tau_s

    def one(x: np.ndarray):
        scale = float(np.linalg.norm(x))

        def settled(t, y):
            return np.linalg.norm(x - A @ y) / scale - tol

        settled.terminal = True
        return solve_ivp(lambda t, y: (x - A @ y) / tau, (0.0, 20 * result.t), np.zeros(len(x)),
                         method="RK45", events=settled, rtol=tol / 10,
                         atol=tol / 10 * float(np.sqrt(np.mean(x * x))))

    start = time.perf_counter()
    sols = [one(x) for x in X[:ivp_samples]]
    ivp = (time.perf_counter() - start) / ivp_samples

    def rel(a, b):
        return float(np.linalg.norm(a - b) / np.linalg.norm(b))

    return {"speedup_vs_solve_ivp": ivp / sim, "sim_per_sample_s": sim,
            "solve_ivp_per_sample_s": ivp, "ivp_samples": ivp_samples,
            "sim_rel_error": max(rel(result.y[i], truth[i]) for i in range(len(X))),
            "solve_ivp_rel_error": max(rel(s.y[:, -1], truth[i]) for i, s in enumerate(sols)),
            "solve_ivp_nfev_mean": float(np.mean([s.nfev for s in sols]))}


def device_overhead(ideal: LateralField, device: LateralField, X: np.ndarray, steps: int,
                    repeats: int) -> dict:
    """Device-read settle ÷ ideal settle, the same number of Euler steps of the same size."""
    dt = euler_step_s(ideal)
    t_ideal, t_dev = alternate(fixed_steps(ideal, X, steps, dt), fixed_steps(device, X, steps, dt),
                               repeats)
    return {"device_overhead": t_dev / t_ideal, "ideal_step_s": t_ideal / steps,
            "device_step_s": t_dev / steps}


def simulator_throughput(field: LateralField, X: np.ndarray, steps: int, repeats: int) -> float:
    """Samples × integration steps per second of the batched Euler simulator."""
    run = fixed_steps(field, X, steps, euler_step_s(field))
    run()
    return X.shape[0] * steps / best_of(run, repeats)


def speedup_vs_lava(n: int, batch: int, n_sub: int, repeats: int, seed: int,
                    dtype: str = "float64") -> dict:
    """Our samples × Euler steps per second ÷ Lava's, for one lateral layer of size ``n``.

    Lava's side is :func:`neurodecorr.lava.speed.lateral_throughput` (one lateral process fed by
    a RingBuffer, steady-state steps only), timed in two mappings of the same dynamics:

    - ``speedup_vs_lava``: one Euler step per Lava time step, as Loihi 2 runs a neuron (one
      update per algorithmic time step);
    - ``speedup_vs_lava_packed``: ``n_sub`` Euler steps packed into each Lava step inside the
      process — a CPU-simulation shortcut that amortises Lava's per-step handshake, with no
      counterpart on the chip.

    Our side is the batched simulator's steady state (200 Euler steps of the whole batch, in
    ``dtype``; Lava's floating-point model computes in float64).
    Returns ``{"speedup_vs_lava": None, "lava": why}`` when the bridge cannot run.
    """
    from neurodecorr.lava.speed import lateral_throughput

    rng = np.random.default_rng(seed)
    A = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    X = rng.standard_normal((batch, n)).astype(dtype)
    try:
        per_step = lateral_throughput(n=n, n_sub=1, num_samples=2000, precision="float")
        packed = lateral_throughput(n=n, n_sub=n_sub, num_samples=1000, precision="float")
    except NeurodecorrError as exc:  # the bridge is optional: say why it did not run
        return {"speedup_vs_lava": None, "lava": str(exc)}
    ours = simulator_throughput(LateralField(A, dtype=dtype), X, 200, repeats)
    lava_1 = float(per_step["samples_x_substeps_per_s"])
    lava_k = float(packed["samples_x_substeps_per_s"])
    return {"speedup_vs_lava": ours / lava_1, "speedup_vs_lava_packed": ours / lava_k,
            "sim_samples_x_steps_per_s": ours, "lava_samples_x_steps_per_s": lava_1,
            "lava_packed_samples_x_steps_per_s": lava_k, "lava_n_sub": n_sub}


def scaling(ns: list[int], batch: int, steps: int, dtype: str, repeats: int, seed: int) -> dict:
    """Time per sample and per step against n, and the fitted exponent of that cost."""
    rng = np.random.default_rng(seed)
    per_sample, gemm_per_sample = [], []
    for n in ns:
        A = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
        field = LateralField(A, dtype=dtype)
        X = rng.standard_normal((batch, n)).astype(dtype)
        row = gemm_fraction(field, X, steps, repeats)
        per_sample.append(row["sim_step_s"] * steps / batch)
        gemm_per_sample.append(row["gemm_step_s"] * steps / batch)
    exponent = float(np.polyfit(np.log(ns), np.log(per_sample), 1)[0])
    return {"ns": list(ns), "seconds_per_sample": per_sample,
            "gemm_seconds_per_sample": gemm_per_sample, "cost_exponent": exponent}
