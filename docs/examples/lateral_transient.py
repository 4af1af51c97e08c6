"""Example 1: a lateral layer on the PCM preset, its transient against the ideal circuit.

The lateral circuit ``τ dx̄/dt = x − A x̄`` settles to ``x̄ = A⁻¹ x``. With ``A = C^{1/2}``, the
symmetric square root of the input covariance, the settled states are white (ZCA). The script
integrates the ideal circuit and the same matrix programmed onto PCM crossbars, keeping the
trajectory (``settle(..., t_eval=...)``), and draws ``x̄(t)`` and the residual. Run it as
``python docs/examples/lateral_transient.py OUT_DIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from neurodecorr.circuits import RK4, DeviceReader, LateralField, SettleCriterion, settle
from neurodecorr.devices import load_device

TAU_S = 1e-6  # node time constant R·C


def correlated_layer(n: int, batch: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Inputs with a strongly correlated covariance C, and A = C^{1/2} (so M = A⁻¹ whitens)."""
    rng = np.random.default_rng(seed)
    mix = np.eye(n) + 0.6 * rng.standard_normal((n, n)) / np.sqrt(n)
    C = mix @ mix.T
    w, V = np.linalg.eigh(C)
    A = (V * np.sqrt(w)) @ V.T
    X = rng.multivariate_normal(np.zeros(n), C, size=batch)
    return A, X


def transient(field: LateralField, X: np.ndarray, times_s: np.ndarray, dt_s: float,
              seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Times, states and per-sample relative residuals of one settle from x̄ = 0.

    ``t_eval`` keeps the trajectory at ``times_s``; ``tol = 0`` runs the settle to the last of
    them instead of stopping once settled.
    """
    criterion = SettleCriterion(tol=0.0, max_time_s=float(times_s[-1]))
    result = settle(field, X, RK4(dt_s=dt_s), criterion=criterion, t_eval=times_s,
                    rng=np.random.default_rng(seed))
    return result.t_eval, result.y_eval, result.residual_eval


def main(out_dir: str | Path, n: int = 16, batch: int = 32, seed: int = 0) -> dict:
    """Run the example; write ``transient.png`` and return the arrays it drew."""
    out_dir = Path(out_dir)
    A, X = correlated_layer(n, batch, seed)
    dt = TAU_S / 40
    times = np.linspace(0.0, 20 * TAU_S, 81)  # every 10 steps
    ideal = LateralField(A, tau_s=TAU_S)
    # the same A programmed onto PCM (programming noise, drift, read noise, 8-bit converters),
    # read an hour after programming
    pcm = LateralField(A, tau_s=TAU_S, reader=DeviceReader(
        load_device("pcm"), A, np.random.default_rng([seed, 1]), t_age_s=3600.0))
    times, y_ideal, r_ideal = transient(ideal, X, times, dt, seed)
    _, y_pcm, r_pcm = transient(pcm, X, times, dt, seed)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i in range(3):
        line, = left.plot(times * 1e6, y_ideal[:, 0, i], label=f"node {i}, ideal")
        left.plot(times * 1e6, y_pcm[:, 0, i], "--", color=line.get_color(),
                  label=f"node {i}, PCM after 1 h")
    left.set_xlabel("circuit time (µs)")
    left.set_ylabel("x̄ of sample 0")
    left.legend(fontsize=7, ncol=3, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    left.grid(alpha=0.3)
    right.semilogy(times * 1e6, r_ideal.max(axis=1), label="ideal")
    right.semilogy(times * 1e6, r_pcm.max(axis=1), "--", label="PCM after 1 h")
    right.set_xlabel("circuit time (µs)")
    right.set_ylabel("max relative residual ‖x − A x̄‖/‖x‖")
    right.legend(fontsize=8)
    right.grid(alpha=0.3)
    right.set_title(f"lateral layer, n = {n}, batch {batch}", fontsize=9)
    fig.tight_layout()
    fig.savefig(out_dir / "transient.png", dpi=110)
    plt.close(fig)
    return {"A": A, "X": X, "times_s": times, "ideal": y_ideal, "pcm": y_pcm,
            "residual_ideal": r_ideal, "residual_pcm": r_pcm,
            "pcm_matrix": pcm.reader.matrix(0.0)}


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
