"""Speed measurements of the simulator, each a ratio of two timings taken in the same run.

Ratios survive a noisy machine where absolute times do not: the two sides of every ratio are
timed alternately, best of ``repeats``, so load from other processes hits both alike.

- ``gemm_fraction``: simulator throughput (Euler steps per second) ÷ the machine's own
  throughput for the product of one step (``np.matmul`` of the same shapes, dtype, buffers).
- ``speedup_vs_solve_ivp``: time per sample of scipy's RK45 (the solver class ``solve_ivp``
  drives, through :class:`neurodecorr.ode.Adaptive`: one sample at a time, stopped at the first
  step below the settling tolerance) ÷ that of the batched simulator (its fastest noiseless
  method) at the same tolerance; both sides' achieved residuals and errors against
  ``numpy.linalg.solve`` are reported.
- ``device_overhead``: a settle reading A through a device preset ÷ the ideal settle, same steps.
- ``speedup_vs_lava``: (samples × integration steps per second) of the simulator ÷ the same for
  the lateral layer in Lava's CPU simulation in the export's default ``loihi`` mapping
  (:func:`neurodecorr.lava.speed.lateral_throughput`); ``speedup_vs_lava_layer`` against the
  one-process ``layer`` emulation.
- ``scaling``: the fitted exponent of time per step against n (expect about 2: one GEMM).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

import numpy as np

from neurodecorr.errors import NeurodecorrError
from neurodecorr.ode import Adaptive, Euler, LateralField, OptimalStep, SettleCriterion, settle


def best_of(fn: Callable[[], object], repeats: int,
            clock: Callable[[], float] = time.perf_counter) -> float:
    """Fastest of ``repeats`` timings of ``fn()`` in seconds (wall clock unless ``clock``)."""
    times = []
    for _ in range(repeats):
        start = clock()
        fn()
        times.append(clock() - start)
    return min(times)


def alternate(a: Callable[[], object], b: Callable[[], object], repeats: int,
              clock: Callable[[], float] = time.perf_counter) -> tuple[float, float]:
    """Best times of ``a`` and ``b``, timed in alternation after one warm-up call each.

    ``clock=time.process_time`` times CPU seconds of this process instead of wall seconds:
    steadier on a machine shared with other work, for single-threaded code."""
    a()
    b()
    ta, tb = [], []
    for _ in range(repeats):
        ta.append(best_of(a, 1, clock))
        tb.append(best_of(b, 1, clock))
    return min(ta), min(tb)


def euler_step_s(field: LateralField) -> float:
    """The automatic Euler step (s): the optimal controller's, as every settle takes it."""
    return float(OptimalStep().plan(Euler(), field, SettleCriterion()).h[0]) * field.tau_s


def fixed_steps(field: LateralField, X: np.ndarray, steps: int, dt_s: float, workers: int = 1
                ) -> Callable[[], object]:
    """A callable that runs exactly ``steps`` Euler steps (tol 0 never settles early) on
    ``workers`` threads (:class:`neurodecorr.ode.Euler`)."""
    criterion = SettleCriterion(tol=0.0, max_time_s=steps * dt_s * (1 + 1e-9))
    return lambda: settle(field, X, Euler(dt_s=dt_s, workers=workers), criterion=criterion)


def gemm_fraction(field: LateralField, X: np.ndarray, steps: int, repeats: int) -> dict:
    """Simulator steps per second ÷ bare GEMMs per second on the same shapes.

    The bare products use the simulator's layout (a column-major batch: BLAS's ``A Yᵀ``)."""
    X = np.ascontiguousarray(X, dtype=field.dtype)
    run = fixed_steps(field, X, steps, euler_step_s(field))
    P, At = np.asfortranarray(X), field.A.T
    X = np.asfortranarray(X)

    def gemms() -> None:
        for _ in range(steps):
            np.matmul(X, At, out=P)

    sim, gemm = alternate(run, gemms, repeats)
    flops = 2.0 * X.shape[0] * field.n**2
    return {"gemm_fraction": gemm / sim, "sim_step_s": sim / steps, "gemm_step_s": gemm / steps,
            "sim_gflops": flops * steps / sim / 1e9, "gemm_gflops": flops * steps / gemm / 1e9}


def relative_residual(A: np.ndarray, X: np.ndarray, Y: np.ndarray) -> np.ndarray:
    """``‖x_i − A x̄_i‖ / ‖x_i‖`` per sample, recomputed in float64 from the returned states."""
    Y = np.asarray(Y, dtype=np.float64)
    return np.linalg.norm(X - Y @ A.T, axis=1) / np.linalg.norm(X, axis=1)


def _solve_ivp_settle(field: LateralField, X: np.ndarray, tol: float):
    """scipy's RK45 from zero until ``max ‖x − A x̄‖/‖x‖ < tol``: :class:`~neurodecorr.ode.Adaptive`.

    ``X`` of shape (n,) is one sample; of shape (batch, n) it is integrated as one flattened
    system. Its default ``rtol = tol/10``: with looser tolerances RK45's own error keeps the
    residual above ``tol`` (at rtol 1e-5 and 1e-3 it ran 6400 evaluations to the horizon
    without reaching 1e-6 in our checks).
    """
    result = settle(field, X, Adaptive("RK45"), criterion=SettleCriterion(tol=tol))
    return np.atleast_2d(result.y), result.nfev


def speedup_vs_solve_ivp(field: LateralField, X: np.ndarray, tol: float, ivp_samples: int,
                         repeats: int, methods: tuple[str, ...] = ("chebyshev", "euler"),
                         batched: bool = False) -> dict:
    """Per-sample time of solve_ivp RK45 ÷ the batched simulator's, at the same tolerance.

    scipy's RK45 integrates one sample at a time, as a user would, stopped at the first step
    with ``‖x − A x̄‖/‖x‖ < tol``. Each simulator method settles the whole batch to the same
    tolerance; the fastest gives ``speedup_vs_solve_ivp`` and all are reported. Both sides'
    achieved residuals (recomputed in float64) and errors against ``numpy.linalg.solve`` are
    reported, and the two are timed alternately, best of ``repeats``. With ``batched=True``
    one RK45 run on the whole batch as a flattened system is timed too (informative).
    """
    A = np.asarray(field.A, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    truth = np.linalg.solve(A, X.T).T
    criterion = SettleCriterion(tol=tol)
    sims = {}
    for method in methods:
        result = settle(field, X, method, criterion=criterion)
        sims[method] = {"per_sample_s": float("inf"), "steps": result.nsteps,
                        "residual_max": float(np.max(relative_residual(A, X, result.y))),
                        "rel_error": float(np.max(np.linalg.norm(result.y - truth, axis=1)
                                                  / np.linalg.norm(truth, axis=1)))}
    ivp = float("inf")
    for _ in range(repeats):
        for method in methods:
            t = best_of(lambda m=method: settle(field, X, m, criterion=criterion), 1) / len(X)
            sims[method]["per_sample_s"] = min(sims[method]["per_sample_s"], t)
        start = time.perf_counter()
        sols = [_solve_ivp_settle(field, x, tol) for x in X[:ivp_samples]]
        ivp = min(ivp, (time.perf_counter() - start) / ivp_samples)
    best = min(sims, key=lambda m: sims[m]["per_sample_s"])
    ivp_y = np.concatenate([y for y, _ in sols])
    out = {"speedup_vs_solve_ivp": ivp / sims[best]["per_sample_s"], "sim_method": best,
           "sim_per_sample_s": sims[best]["per_sample_s"], "solve_ivp_per_sample_s": ivp,
           "ivp_samples": ivp_samples, "ivp_tol": tol,
           "speedup_by_method": {m: ivp / v["per_sample_s"] for m, v in sims.items()},
           "sim": sims, "sim_rel_error": sims[best]["rel_error"],
           "solve_ivp_rel_error": float(np.max(
               np.linalg.norm(ivp_y - truth[:ivp_samples], axis=1)
               / np.linalg.norm(truth[:ivp_samples], axis=1))),
           "solve_ivp_residual_max": float(np.max(relative_residual(A, X[:ivp_samples], ivp_y))),
           "solve_ivp_nfev_mean": float(np.mean([nfev for _, nfev in sols]))}
    if batched:
        start = time.perf_counter()
        flat_y, flat_nfev = _solve_ivp_settle(field, X, tol)
        flat_s = (time.perf_counter() - start) / len(X)
        out.update({"solve_ivp_batched_per_sample_s": flat_s,
                    "solve_ivp_batched_nfev": flat_nfev,
                    "solve_ivp_batched_residual_max": float(np.max(relative_residual(A, X,
                                                                                     flat_y))),
                    "speedup_vs_batched": flat_s / sims[best]["per_sample_s"]})
    return out


def device_overhead(ideal: LateralField, device: LateralField, X: np.ndarray, steps: int,
                    repeats: int) -> dict:
    """Device-read settle ÷ ideal settle, the same number of Euler steps of the same size."""
    dt = euler_step_s(ideal)
    t_ideal, t_dev = alternate(fixed_steps(ideal, X, steps, dt), fixed_steps(device, X, steps, dt),
                               repeats)
    return {"device_overhead": t_dev / t_ideal, "ideal_step_s": t_ideal / steps,
            "device_step_s": t_dev / steps}


def simulator_throughput(field: LateralField, X: np.ndarray, steps: int, repeats: int,
                         workers: int = 1) -> float:
    """Samples × integration steps per second of the batched Euler simulator on ``workers``
    threads (then each with a one-thread BLAS, so that they do not oversubscribe the cores)."""
    from threadpoolctl import threadpool_limits

    run = fixed_steps(field, X, steps, euler_step_s(field), workers)
    with threadpool_limits(limits=1 if workers > 1 else None, user_api="blas"):
        run()
        return X.shape[0] * steps / best_of(run, repeats)


def cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def speedup_vs_lava(n: int, batch: int, n_sub: int, repeats: int, seed: int,
                    dtype: str = "float64") -> dict:
    """Our samples × Euler steps per second ÷ Lava's, for one lateral layer of size ``n``.

    Lava's side is :func:`neurodecorr.lava.speed.lateral_throughput` (steady-state steps only),
    timed in the mappings of the same dynamics:

    - ``speedup_vs_lava`` (the reported figure): the export's default ``loihi`` mapping, the
      layer as Loihi 2 runs it — integrator neurons with a recurrent ``Dense``
      (``RingBuffer → Dense → Integrator ⇄ Dense``, four processes), one Euler step per Lava
      time step (issue #17: "the loihi mapping as the default and the reported figure");
    - ``speedup_vs_lava_layer``: the CPU-only ``layer`` emulation, the whole layer in one
      ``LateralLayer`` process fed by a RingBuffer, one Euler step per Lava step — the leanest
      Lava graph of these dynamics;
    - ``speedup_vs_lava_packed``: ``n_sub`` Euler steps packed into each Lava step of the
      ``layer`` process — a CPU-simulation shortcut that amortises Lava's per-step handshake,
      with no counterpart on the chip.

    Our side is the batched simulator's steady state (200 Euler steps of the whole batch, in
    ``dtype``; Lava's floating-point models compute in float64) on one thread with a
    one-thread BLAS; ``speedup_vs_lava_all_cores`` is the same on every core of the machine
    (``simulator_workers`` threads, each settling a block of the batch), as Lava's run spreads
    its OS processes over them; ``speedup_vs_lava_one_core_each`` divides our one thread by the
    ``loihi`` graph pinned to one core (its four processes and the runtime inherit the pinning:
    :func:`neurodecorr.lava.speed.pinned`), one core on each side.
    ``speedup_vs_lava_by_batch`` gives the per-step figure against the ``loihi`` mapping at
    batch 1 (one sample, as Lava runs) and 256, in float64 and float32 (at 256 also on all
    cores: ``float64_all_cores``; and one core each: ``float64_one_core_each``).
    All sides are timed in ``repeats`` alternating rounds and each keeps its best, so that
    load from other processes cannot favour either (Lava's handshakes between its OS
    processes suffer most from it: 1.2e3 to 8.5e3 steps per second were seen here for the
    ``layer`` process).
    Returns ``{"speedup_vs_lava": None, "lava": why}`` when the bridge cannot run.
    """
    from neurodecorr.lava.speed import lateral_throughput

    rng = np.random.default_rng(seed)
    A = np.eye(n) + 0.3 * rng.standard_normal((n, n)) / np.sqrt(n)
    X = rng.standard_normal((batch, n)).astype(dtype)
    workers = cores()
    # what our side times: (batch, dtype, threads) -> (field, inputs)
    ours = {("case", 1): (LateralField(A, dtype=dtype), X),
            ("case", workers): (LateralField(A, dtype=dtype), X)}
    for b in (1, 256):
        Xb = rng.standard_normal((b, n))
        for dt in ("float64", "float32"):
            for w in (1, workers) if b > 1 else (1,):
                ours[(f"{b} {dt}", w)] = (LateralField(A, dtype=dt), Xb.astype(dt))
    best = dict.fromkeys(ours, 0.0)
    lava, lava_one_core, lava_layer = [], [], []
    one_core = {min(os.sched_getaffinity(0))} if hasattr(os, "sched_getaffinity") else None
    try:
        packed = lateral_throughput(n=n, n_sub=n_sub, num_samples=1000, precision="float")
        for _ in range(repeats):
            lava.append(float(lateral_throughput(n=n, n_sub=1, num_samples=1000,
                                                 mapping="loihi")["samples_x_substeps_per_s"]))
            if one_core is not None:  # the whole Lava graph on one core, as our one thread
                lava_one_core.append(float(lateral_throughput(
                    n=n, n_sub=1, num_samples=1000, mapping="loihi",
                    cpus=one_core)["samples_x_substeps_per_s"]))
            lava_layer.append(float(lateral_throughput(
                n=n, n_sub=1, num_samples=2000, precision="float")["samples_x_substeps_per_s"]))
            for key, (field, Xk) in ours.items():
                best[key] = max(best[key], simulator_throughput(field, Xk, 200, 1, key[1]))
    except NeurodecorrError as exc:  # the bridge is optional: say why it did not run
        return {"speedup_vs_lava": None, "lava": str(exc)}
    lava_1, lava_layer_1 = max(lava), max(lava_layer)
    lava_one_1 = max(lava_one_core) if lava_one_core else None
    lava_k = float(packed["samples_x_substeps_per_s"])
    by_batch: dict = {"1": {}, "256": {}}
    for (key, w), value in best.items():
        if key != "case":
            b, dt = key.split()
            if w == 1:
                by_batch[b][dt] = value / lava_1
                if lava_one_1:
                    by_batch[b][f"{dt}_one_core_each"] = value / lava_one_1
            if w == workers and b != "1":
                by_batch[b][f"{dt}_all_cores"] = value / lava_1
    one, every = best[("case", 1)], best[("case", workers)]
    return {"speedup_vs_lava": one / lava_1, "speedup_vs_lava_all_cores": every / lava_1,
            "speedup_vs_lava_one_core_each": one / lava_one_1 if lava_one_1 else None,
            "lava_one_core_samples_x_steps_per_s": lava_one_1,
            "lava_one_core_rounds_samples_x_steps_per_s": lava_one_core,
            "speedup_vs_lava_layer": one / lava_layer_1,
            "speedup_vs_lava_packed": one / lava_k, "speedup_vs_lava_by_batch": by_batch,
            "sim_samples_x_steps_per_s": one, "sim_all_cores_samples_x_steps_per_s": every,
            "simulator_workers": workers, "lava_mapping": "loihi",
            "lava_samples_x_steps_per_s": lava_1,
            "lava_rounds_samples_x_steps_per_s": lava,
            "lava_layer_samples_x_steps_per_s": lava_layer_1,
            "lava_layer_rounds_samples_x_steps_per_s": lava_layer,
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
