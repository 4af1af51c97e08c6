"""``neurodecorr settle``: integrate the lateral circuit τ dx̄/dt = x − A x̄ to its fixed point."""

from __future__ import annotations

import sys
import time

import click
import numpy as np

from neurodecorr.circuits import (
    METHODS,
    SOLVERS,
    LateralField,
    SettleCriterion,
    make_integrator,
    settle,
)
from neurodecorr.circuits.field import DTYPES
from neurodecorr.errors import NeurodecorrError
from neurodecorr.io import check_outputs, json_bytes, load_array, npy_bytes, write_outputs


def _choice(value: str, allowed, what: str) -> str:
    # validated here rather than by click.Choice so that a bad value is one line, exit 2
    if value not in allowed:
        raise NeurodecorrError(f"{what}: unknown value '{value}'; choose one of: "
                               f"{', '.join(allowed)}")
    return value


@click.command(name="settle")
@click.option("--matrix", "matrix_path", required=True, type=click.Path(dir_okay=False),
              help="Lateral matrix A (n, n) as .npy.")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="Inputs X as .npy, (batch, n) or (n,).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the settled states (shape of X) as .npy.")
@click.option("--method", default="euler", show_default=True,
              help=f"Integrator: {', '.join(METHODS)}.")
@click.option("--solver", default="RK45", show_default=True,
              help=f"solve_ivp method for --method adaptive: {', '.join(SOLVERS)}.")
@click.option("--tau", "tau_s", type=float, default=1e-6, show_default=True,
              help="Node time constant τ in seconds.")
@click.option("--dt", "dt_s", type=float, default=None,
              help="Step in seconds (default: the fastest stable step for the spectrum of A).")
@click.option("--tol", type=float, default=1e-6, show_default=True,
              help="Settled when max_i |x_i - A xbar_i| / |x_i| < tol.")
@click.option("--max-time", "max_time_s", type=float, default=None,
              help="Circuit-time limit in seconds (default from the spectrum of A).")
@click.option("--leak", type=float, default=0.0, show_default=True,
              help="Leak λ of every node, in units of 1/τ.")
@click.option("--noise-std", type=float, default=0.0, show_default=True,
              help="RMS node noise (state units, at A = I); needs --method euler-maruyama.")
@click.option("--check-every", type=int, default=8, show_default=True,
              help="Fixed-step methods check the residual every this many steps.")
@click.option("--dtype", default="float64", show_default=True, help="float32 or float64.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the circuit noise.")
@click.option("--device", default=None,
              help="Read A through this analogue device: a preset name or a TOML path.")
@click.option("--time", "age_s", type=float, default=0.0, show_default=True,
              help="With --device: age of the programmed array at the start of the settle (s).")
@click.option("--drift-compensation", default="none", show_default=True,
              help="With --device: none, global or column.")
@click.option("--circuit", default=None,
              help="Settle through this circuit description (name or TOML path): its R·C with "
                   "mismatch, leak, rails, thermal noise and lateral device.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write a JSON report (method, sizes, steps, settling times, residual).")
def command(matrix_path, input_path, out_path, method, solver, tau_s, dt_s, tol, max_time_s,
            leak, noise_std, check_every, dtype, seed, device, age_s, drift_compensation,
            circuit, json_path) -> None:
    """Settle the lateral circuit with stored matrix A on the inputs X.

    Integrates τ dx̄/dt = x − A x̄ (Ahmad 2024, Appendix C, stable sign) from x̄ = 0 until every
    sample's relative residual is below --tol, and writes x̄ ≈ A⁻¹x. Refuses an unstable A, a
    step beyond the stability limit, and mismatched or non-finite inputs.

    With --device every product A x̄ is read through the crossbar at age --time plus the
    circuit time. A noisy device never settles below its noise floor: it is integrated to a
    fixed horizon (--max-time, or the default from the spectrum) and the residual is the one
    measured through the noisy read.
    """
    if circuit is not None:
        ctx = click.get_current_context()
        flags = {p.name: p.opts[0] for p in ctx.command.params}
        clash = [flags[name] for name in
                 ("method", "solver", "tau_s", "dt_s", "leak", "noise_std", "check_every",
                  "drift_compensation", "max_time_s", "tol")
                 if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE]
        if clash:
            raise NeurodecorrError(f"--circuit: {', '.join(clash)} come from the circuit file "
                                   f"(settle_tol, dt_s, settle_window_s, R_ohm, C_F, ...); set "
                                   f"them there instead")
    _choice(method, METHODS, "--method")
    _choice(solver, SOLVERS, "--solver")
    _choice(dtype, DTYPES, "--dtype")
    _choice(drift_compensation, ("none", "global", "column"), "--drift-compensation")
    if not (np.isfinite(age_s) and age_s >= 0):
        raise NeurodecorrError(f"--time: must be a non-negative number of seconds, got {age_s}")
    if age_s and device is None and circuit is None:
        raise NeurodecorrError("--time: the age of a programmed array needs --device or --circuit")
    for name, value in (("--tau", tau_s), ("--dt", dt_s), ("--max-time", max_time_s)):
        if value is not None and not (np.isfinite(value) and value > 0):
            raise NeurodecorrError(f"{name}: must be positive, got {value}")
    A = load_array(matrix_path, "--matrix", ndim=(2,))
    X = load_array(input_path, "--input", ndim=(1, 2))
    if A.shape[0] != A.shape[1]:
        raise NeurodecorrError(f"--matrix: {matrix_path} has shape {A.shape}; A must be square")
    if X.shape[-1] != A.shape[0]:
        raise NeurodecorrError(f"--input: {input_path} has shape {X.shape}, which does not match "
                               f"A of shape {A.shape}")
    if X.size == 0:
        raise NeurodecorrError(f"--input: {input_path} holds no samples")
    check_outputs({"--out": out_path, "--json": json_path},
                  inputs={"--matrix": matrix_path, "--input": input_path})
    if circuit is not None:
        _settle_circuit(circuit, A, X, out_path, json_path, device=device, age_s=age_s, seed=seed,
                        dtype=dtype, matrix_path=matrix_path, input_path=input_path)
        return
    options = {"adaptive": {"solver": solver}}.get(method, {})
    if method in ("euler", "rk4", "euler-maruyama", "exact"):
        options["dt_s"] = dt_s
    elif dt_s is not None:
        raise NeurodecorrError("--dt: the adaptive method chooses its own steps")
    integrator = make_integrator(method, **options)
    reader = None
    if device is not None:
        from neurodecorr.circuits.device import DeviceReader
        from neurodecorr.devices import load_device

        reader = DeviceReader(load_device(device), A, np.random.default_rng([seed, 1]),
                              t_age_s=age_s, drift_compensation=drift_compensation)
    field = LateralField(A, tau_s=tau_s, leak=leak, noise_std=noise_std, dtype=dtype,
                         reader=reader)
    criterion = SettleCriterion(tol=tol, max_time_s=max_time_s, check_every=check_every)
    start = time.perf_counter()
    result = settle(field, X, integrator, criterion=criterion, rng=np.random.default_rng(seed))
    wall_s = time.perf_counter() - start
    if result.status < 0:
        raise NeurodecorrError(f"settle failed: {result.message}")
    files = {out_path: npy_bytes(result.y)}
    if json_path:
        report = {"command": "settle", "matrix": str(matrix_path), "input": str(input_path),
                  "n": int(A.shape[0]), "batch": int(X.shape[0]) if X.ndim == 2 else 1,
                  "tau_s": tau_s, "dtype": dtype, "tol": tol, "leak": leak,
                  "noise_std": noise_std, "seed": seed, "device": device,
                  "age_s": age_s if device else None,
                  "drift_compensation": drift_compensation if device else None,
                  "device_counters": dict(reader.counters) if reader else None,
                  **result.summary()}
        files[json_path] = json_bytes(report)
    write_outputs(files)
    s = result.summary()
    print(f"settle ({result.method}): {s['steps']} steps, t = {s['t_final_s']:.4g} s, max "
          f"residual {s['residual_max']:.3g}, {'settled' if result.success else 'NOT settled'} "
          f"({wall_s:.3f} s wall)", file=sys.stderr)
    if not result.success:
        print(f"neurodecorr: warning: {result.message}", file=sys.stderr)


def _settle_circuit(name, A, X, out_path, json_path, *, device, age_s, seed, dtype, matrix_path,
                    input_path) -> None:
    """Settle through a circuit description (Euler, or Euler–Maruyama when it is noisy)."""
    import dataclasses

    from neurodecorr.circuits.description import load_circuit
    from neurodecorr.circuits.lateral import LateralArray
    from neurodecorr.devices import load_device

    config = load_circuit(name)
    lat = config.lateral if device is None else dataclasses.replace(config.lateral, device=device)
    array = LateralArray(lat, A, load_device(lat.device), np.random.default_rng([seed, 1]),
                         dtype=dtype)
    start = time.perf_counter()
    Xbar, result = array.settle(np.atleast_2d(X), age_s)
    wall_s = time.perf_counter() - start
    files = {out_path: npy_bytes(Xbar.astype(dtype).reshape(X.shape))}
    if json_path:
        files[json_path] = json_bytes({
            "command": "settle", "matrix": str(matrix_path), "input": str(input_path),
            "n": int(A.shape[0]), "batch": int(X.shape[0]) if X.ndim == 2 else 1,
            "circuit": config.name, "circuit_file": config.path, "device": lat.device,
            "tau_s": lat.tau_s, "node_tau_s": array.tau_i_s.tolist(), "leak": lat.leak,
            "noise_std": lat.noise_std, "rail": lat.rail, "tol": lat.settle_tol,
            "dtype": dtype, "seed": seed, "age_s": age_s,
            "device_counters": dict(array.crossbar.counters),
            "integration_steps": int(array.node_updates), **result.summary()})
    write_outputs(files)
    s = result.summary()
    print(f"settle ({result.method}, circuit {config.name}): {s['steps']} steps, t = "
          f"{s['t_final_s']:.4g} s, max residual {s['residual_max']:.3g}, "
          f"{'settled' if result.success else 'NOT settled'} ({wall_s:.3f} s wall)",
          file=sys.stderr)
