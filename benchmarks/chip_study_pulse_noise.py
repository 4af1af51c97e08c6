"""Chip study diagnostic: what one epoch of on-chip lateral learning writes into each device preset.

Replays the writes of the ``ahmad`` rule from the software run of the chip study (FA,
MNIST-1D 40-64-10, SGD lr 0.2, η = 1e-3, batch 64, seed 0) into a fresh lateral array of every
preset, programmed with ``A = I`` at the study's headroom (``s = 4``). Per sample ``n`` the
chip writes ``ΔÃ = (η/k)(Ãx̄)x̄ᵀ = (η/k) x x̄ᵀ`` (``Ãx̄ = x`` with the gain register at 1), one
stochastic pulse train each (``Crossbar.write_rank1``). After one epoch (63 batches, 4000
writes, clock 1 ms per batch) the realised change of the normalised weights ``ΔW`` is compared
with the intended ``ΣI = Σ_n (η/k) x_n x̄_nᵀ / s``:

* ``signal``: RMS of the intended off-diagonal change ``ΣI`` (what the rule wants written);
* ``noise``: RMS of ``ΔW − ΣI`` over the off-diagonal devices, measured;
* ``predicted``: the closed form of the pulse-count (shot) noise. A train sends
  ``E[n_ij] = |I_ij|/dw_min`` pulses to device ``ij`` (Poisson-like, variance ≈ mean), each a
  step of mean square ``δ² f² (1 + σ_c2c²)`` (``δ² (f² + σ_c2c²)`` for additive cycle noise),
  so ``Var(ΔW_ij) ≈ Σ_n |I_ij,n| δ_ij² m / dw_min`` (+ ``(σ_wn dw_min)²`` of write noise):
  proportional to ``dw_min · Σ|I|``, which the per-sample writes make far larger than
  ``|ΣI|`` (their off-diagonal terms mostly cancel over samples);
* ``bias`` on the diagonal: measured mean of ``ΔW − ΣI`` and the soft-bounds/linear-step
  prediction ``−Σ|I|·γ w/b`` (a pulse towards a bound is shortened by ``1 − γ w/b``).

Rows with ``accumulate`` true write the same updates with per-batch digital accumulation
instead: the periphery sums the batch's ``(Ãx̄)x̄ᵀ`` and writes it as the rank-1 terms of its
SVD (as the forward weights are written). A candidate mitigation; it does not lower ``Σ|I|``.

    .venv/bin/python benchmarks/chip_study_pulse_noise.py
    # ≈ 20 s → docs/assets/chip_study_pulse_noise.json, .csv
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path

import numpy as np

from neurodecorr.data import load_dataset
from neurodecorr.devices import Crossbar, load_device
from neurodecorr.io import json_bytes, write_outputs
from neurodecorr.learning.chip_trainer import SGDTrainer
from neurodecorr.learning.config import TrainConfig

ASSETS = Path(__file__).resolve().parents[1] / "docs" / "assets"
PRESETS = "ideal,ecram,pcm,reram," + str(
    Path(__file__).resolve().parent / "chip_study_devices" / "reram-no-write-noise.toml")


def record_writes(args) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Per layer, per batch: the layer inputs ``X`` and settled states ``X̄`` the software run's
    decorrelators learned from in its first epoch."""
    data = load_dataset("mnist1d")
    config = TrainConfig(dataset="mnist1d", algorithm="fa", decorrelation="ahmad",
                         hidden=(args.hidden,), epochs=1, batch_size=args.batch_size, lr=args.lr,
                         decor_lr=args.decor_lr, seed=args.seed)
    trainer = SGDTrainer(config, data)
    batches: list[list[tuple[np.ndarray, np.ndarray]]] = [[] for _ in trainer.network.layers]
    update = trainer._update_decorrelators

    def recording(inputs):
        for i, x in enumerate(inputs):
            batches[i].append((x.copy(), trainer.network.decorrelate(i, x)))
        update(inputs)

    trainer._update_decorrelators = recording
    trainer.train_epoch()
    return batches


def replay(device: str, batches, eta: float, headroom: float, accumulate: bool, seed: int,
           interval_s: float = 1e-3) -> dict:
    cfg = load_device(device)
    n = batches[0][0].shape[1]
    cb = Crossbar(cfg, np.eye(n), np.random.default_rng(seed), weight_scale=headroom)
    s, p = cb.scale, cfg.pulsed
    w0 = cb.effective_weights(0.0) / s
    intended = np.zeros((n, n))
    abs_up = np.zeros((n, n))
    abs_down = np.zeros((n, n))
    t = 0.0
    for X, Xbar in batches:
        k = X.shape[0]
        if accumulate:
            U, sv, Vt = np.linalg.svd(X.T @ Xbar, full_matrices=False)
            keep = sv > sv[0] * 1e-10
            terms = [(Vt[j], U[:, j] * sv[j]) for j in np.flatnonzero(keep)]
        else:
            terms = list(zip(Xbar, X, strict=True))
        for x, d in terms:
            inc = (eta / k) * np.outer(d, x) / s
            intended += inc
            # what a train sends: |lr d_i x_j| per device, one sign per device and train
            abs_up += np.where(inc > 0, inc, 0.0)
            abs_down += np.where(inc < 0, -inc, 0.0)
            cb.write_rank1(x, d, eta / k, t)
        t += interval_s
    dw_nom = p.dw_min_norm
    f_up = cb.pulsed.step_factor(w0, np.ones_like(w0, dtype=bool), Ellipsis)
    f_down = cb.pulsed.step_factor(w0, np.zeros_like(w0, dtype=bool), Ellipsis)
    if p.c2c_additive:
        m_up, m_down = f_up ** 2 + p.c2c_rel ** 2, f_down ** 2 + p.c2c_rel ** 2
    else:
        m_up, m_down = f_up ** 2 * (1 + p.c2c_rel ** 2), f_down ** 2 * (1 + p.c2c_rel ** 2)
    var = (abs_up * cb.pulsed.dw_up ** 2 * m_up + abs_down * cb.pulsed.dw_down ** 2 * m_down
           ) / dw_nom + (p.write_noise_rel * dw_nom) ** 2
    # expected delivered change at the starting state: each direction's step relative to dw_min
    expected = (abs_up * cb.pulsed.dw_up * f_up - abs_down * cb.pulsed.dw_down * f_down) / dw_nom
    dW = cb.effective_weights(t) / s - w0
    resid = dW - intended
    off = ~np.eye(n, dtype=bool)
    diag = np.eye(n, dtype=bool)
    rms = lambda v: float(np.sqrt(np.mean(np.square(v))))  # noqa: E731
    return {
        "device": Path(device).stem if device.endswith(".toml") else device,
        "accumulate": accumulate, "n": n, "dw_min_norm": dw_nom,
        "pulses_per_device": float(cb.counters["device_pulses"] / n ** 2),
        "off_signal_rms": rms(intended[off]),
        "off_sum_abs_mean": float(np.mean((abs_up + abs_down)[off])),
        "off_noise_rms": rms(resid[off]),
        "off_noise_predicted_rms": float(np.sqrt(np.mean(var[off]))),
        "diag_intended_mean": float(np.mean(intended[diag])),
        "diag_realised_mean": float(np.mean(dW[diag])),
        "diag_expected_mean": float(np.mean(expected[diag])),
        "diag_bias_mean": float(np.mean(resid[diag])),
        "diag_bias_predicted_mean": float(np.mean((expected - intended)[diag])),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--presets", default=PRESETS)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=0.2)
    p.add_argument("--decor-lr", type=float, default=1e-3)
    p.add_argument("--headroom", type=float, default=4.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ASSETS / "chip_study_pulse_noise"))
    args = p.parse_args(argv)
    layers = record_writes(args)
    rows = []
    for device in [s.strip() for s in args.presets.split(",") if s.strip()]:
        for accumulate in (False, True):
            for li, batches in enumerate(layers):
                r = replay(device, batches, args.decor_lr, args.headroom, accumulate, args.seed)
                r["layer"] = li + 1
                rows.append(r)
                print({k: (round(v, 5) if isinstance(v, float) else v) for k, v in r.items()},
                      flush=True)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    out = Path(args.out)
    write_outputs({
        str(out.with_suffix(".json")): json_bytes({
            "command": "benchmarks/chip_study_pulse_noise.py " + " ".join(argv or sys.argv[1:]),
            "rows": rows}),
        str(out.with_suffix(".csv")): buf.getvalue().encode()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
