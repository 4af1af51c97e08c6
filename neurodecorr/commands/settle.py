"""``neurodecorr settle``: integrate the lateral circuit τ dx̄/dt = x − A x̄ to its fixed point."""

from __future__ import annotations

import sys

import click

from neurodecorr.circuits.settle_job import SettleJob, run_settle_job
from neurodecorr.devices.config import COMPENSATIONS
from neurodecorr.ode import DTYPES, MAX_STEPS, METHODS, SOLVERS


@click.command(name="settle")
@click.option("--matrix", "matrix_path", required=True, type=click.Path(dir_okay=False),
              help="Lateral matrix A (n, n) as .npy.")
@click.option("--input", "input_path", required=True, type=click.Path(dir_okay=False),
              help="Inputs X as .npy, (batch, n) or (n,).")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write the settled states (shape of X) as .npy.")
@click.option("--method", type=click.Choice(METHODS), default="euler", show_default=True,
              help="Integrator.")
@click.option("--solver", type=click.Choice(SOLVERS), default="RK45", show_default=True,
              help="solve_ivp method for --method adaptive.")
@click.option("--tau", "tau_s", type=float, default=1e-6, show_default=True,
              help="Node time constant τ in seconds.")
@click.option("--dt", "dt_s", type=float, default=None,
              help="Step in seconds (default: the fastest stable step for the spectrum of A).")
@click.option("--tol", type=float, default=1e-6, show_default=True,
              help="Settled when max_i |x_i - A xbar_i| / |x_i| < tol.")
@click.option("--max-time", "max_time_s", type=float, default=None,
              help="Circuit-time limit in seconds (default: a bound on the settling time "
                   "that holds for non-normal A).")
@click.option("--max-steps", type=click.IntRange(min=1), default=MAX_STEPS, show_default=True,
              help="Step budget: work estimated beyond it is refused before the first step.")
@click.option("--leak", type=float, default=0.0, show_default=True,
              help="Leak λ of every node, in units of 1/τ.")
@click.option("--noise-std", type=float, default=0.0, show_default=True,
              help="RMS node noise (state units, at A = I); needs --method euler-maruyama.")
@click.option("--check-every", type=click.IntRange(min=1), default=8, show_default=True,
              help="Fixed-step methods check the residual every this many steps.")
@click.option("--dtype", type=click.Choice(DTYPES), default="float64", show_default=True)
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the circuit noise.")
@click.option("--device", default=None,
              help="Read A through this analogue device: a preset name or a TOML path.")
@click.option("--time", "age_s", type=float, default=0.0, show_default=True,
              help="With --device: age of the programmed array at the start of the settle (s).")
@click.option("--drift-compensation", type=click.Choice(COMPENSATIONS), default="none",
              show_default=True, help="With --device: how reads undo the drift.")
@click.option("--circuit", default=None,
              help="Settle through this circuit description (name or TOML path): its R·C with "
                   "mismatch, leak, rails, thermal noise and lateral device.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False),
              help="Write a JSON report (method, sizes, steps, settling times, residual).")
@click.option("--trajectory", "trajectory_path", type=click.Path(dir_okay=False),
              help="Write the transient as .npz: t (m,), xbar (m, *X.shape), residual "
                   "(m, batch).")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False),
              help="Write a PNG of x̄(t) and of the residual against time.")
@click.option("--trajectory-points", type=int, default=201, show_default=True,
              help="Times kept for --trajectory and --plot, evenly from 0 to the end.")
def command(matrix_path, input_path, out_path, json_path, trajectory_path, plot_path,
            **options) -> None:
    """Settle the lateral circuit with stored matrix A on the inputs X.

    Integrates τ dx̄/dt = x − A x̄ (Ahmad 2024, Appendix C, stable sign) from x̄ = 0 until every
    sample's relative residual is below --tol, and writes x̄ ≈ A⁻¹x. Refuses an unstable A, a
    step beyond the stability limit, work beyond the step budget, and mismatched or
    non-finite inputs.

    With --device every product A x̄ is read through the crossbar at age --time plus the
    circuit time. A noisy device never settles below its noise floor: it is integrated to a
    fixed horizon (--max-time, or the default from the spectrum) and the residual is the one
    measured through the noisy read.
    """
    ctx = click.get_current_context()
    given = frozenset(name for name in options
                      if ctx.get_parameter_source(name) == click.core.ParameterSource.COMMANDLINE)
    job = SettleJob(**options, given=given)
    run = run_settle_job(job, matrix_path, input_path, out_path, json_path, trajectory_path,
                         plot_path)
    print(run.line, file=sys.stderr)
    for warning in run.result.warnings:
        print(f"neurodecorr: warning: {warning}", file=sys.stderr)
    if not run.result.success:
        print(f"neurodecorr: warning: {run.result.message}", file=sys.stderr)
