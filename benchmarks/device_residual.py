"""Where the residual of a settle through a noisy device comes from.

The sweep's case: ``A = I + G/(2ρ(G))`` (n = 16), correlated inputs (batch 8), PCM and ReRAM
one second and one day after programming (global drift compensation after a day), RK4 with its
automatic step. For each it prints

- the programming (and 1/f) error of the matrix the reads multiply by, ``‖A_eff − A‖_F/‖A‖_F``,
  and what it does to the fixed point, ``‖A_eff⁻¹x − A⁻¹x‖/‖A⁻¹x‖``;
- the residual a read measures *at* the device's own fixed point ``A_eff⁻¹x`` (mean over 200
  reads), for the full periphery and for each noise source alone (the DAC keeps its abs-max
  input scaling, at 24 bits, when its rounding is not the source);
- the settle: the residual it reports (measured through the noisy read), the noiseless residual
  of its states against ``A_eff``, and their error against ``A⁻¹x``.

    .venv/bin/python benchmarks/device_residual.py
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from neurodecorr.circuits import LateralField, SettleCriterion, settle
from neurodecorr.circuits.device import DeviceReader
from neurodecorr.devices import Crossbar, load_device


def rel(a: np.ndarray, ref: np.ndarray) -> float:
    """Largest relative error over the batch."""
    return float(np.max(np.linalg.norm(a - ref, axis=1) / np.linalg.norm(ref, axis=1)))


def sources(cfg):
    fine = replace(cfg.dac, bits=24)
    quiet = {"read": replace(cfg.read, noise_uS=0.0),
             "output": replace(cfg.output, noise_norm=0.0)}
    return {"all": cfg,
            "ADC rounding": replace(cfg, dac=fine, **quiet),
            "DAC rounding": replace(cfg, adc=None, **quiet),
            "output noise": replace(cfg, read=quiet["read"], dac=fine, adc=None),
            "per-read device noise": replace(cfg, output=quiet["output"], dac=fine, adc=None)}


def main() -> None:
    n, b = 16, 8
    rng = np.random.default_rng(0)
    G = rng.standard_normal((n, n))
    A = np.eye(n) + 0.5 * G / np.max(np.abs(np.linalg.eigvals(G)))
    X = rng.standard_normal((b, n)) @ (np.eye(n) + rng.standard_normal((n, n)) / np.sqrt(n)).T
    truth = np.linalg.solve(A, X.T).T
    for name in ("pcm", "reram"):
        cfg = load_device(name)
        for age, comp in ((1.0, "none"), (86400.0, "global")):
            cb = Crossbar(cfg, A, np.random.default_rng([0, 1]), drift_compensation=comp)
            A_eff = cb.read_weights(age)
            print(f"{name}, age {age:g} s, compensation {comp}: ‖A_eff − A‖/‖A‖ = "
                  f"{np.linalg.norm(A_eff - A) / np.linalg.norm(A):.3f} (off-diagonal rms of A "
                  f"{np.sqrt(np.mean((A - np.diag(np.diag(A))) ** 2)):.3f}, of the error "
                  f"{np.sqrt(np.mean((A_eff - A) ** 2)):.3f}); fixed point off by "
                  f"{rel(np.linalg.solve(A_eff, X.T).T, truth):.3f}")
            for what, c in sources(cfg).items():
                cb2 = Crossbar(c, A, np.random.default_rng([0, 1]), drift_compensation=comp)
                A2 = cb2.read_weights(age)
                fixed = np.linalg.solve(A2, X.T).T
                reads = np.stack([cb2.matvec(fixed, age) for _ in range(200)])
                r = np.linalg.norm(X[None] - reads, axis=2) / np.linalg.norm(X, axis=1)
                print(f"    read residual at the fixed point, {what:22s} {r.mean():.3f}")
            reader = DeviceReader(cfg, A, np.random.default_rng([0, 1]), t_age_s=age,
                                  drift_compensation=comp)
            res = settle(LateralField(A, reader=reader), X, "rk4",
                         criterion=SettleCriterion(tol=1e-6))
            M = reader.matrix(0.0)
            print(f"    settle (rk4): status {res.status}, reported residual "
                  f"{np.max(res.residual):.3f}; noiseless residual {rel(res.y @ M.T, X):.3f}; "
                  f"states vs A_eff⁻¹x {rel(res.y, np.linalg.solve(M, X.T).T):.3f}, "
                  f"vs A⁻¹x {rel(res.y, truth):.3f}")


if __name__ == "__main__":
    main()
