"""Why some ``decor-split`` runs of the chip study write ever more pulses laterally (issue #15).

One cell of :mod:`chip_study` (default: ``decor-split``, FA, ECRAM, Tiki-Taka on the forward
arrays, mixed precision on the lateral arrays, seed 0), trained epoch by epoch; after each
epoch one row per lateral layer:

- ``mean x²`` and ``mean x̄²``: the layer's input and settled-state power per node and sample,
  averaged over the epoch's batches (:attr:`LateralArray.last_power`, the two scalars the gain
  register balances);
- ``G``: the gain register, and ``ln G / batch``: its growth per batch in that epoch;
- ``pulses``: device pulses the lateral array received in that epoch;
- ``range used``: the largest ``|conductance weight|`` of the lateral array over its full-scale
  weight (1: a device at its bound).

The local rule ``A ← g⁻¹ (A + η (A x̄) x̄ᵀ)`` is held as ``A = Ã/G``: the conductances take
``Ã ← Ã + η (Ã x̄) x̄ᵀ`` and the register ``G ← g G``. At the rule's fixed point ``A`` stays put:
``A (I + η C) = g A`` with ``C = ⟨x̄ x̄ᵀ⟩``, so ``C = σ² I`` and ``g = 1 + η σ²`` (``σ²`` the mean
``x̄²`` per node): ``Ã`` and ``G`` both grow by that factor every batch, and the writes, in
conductance units, grow with them. The table shows that growth and what drives it::

    .venv/bin/python benchmarks/chip_split_gain.py --epochs 4
    .venv/bin/python benchmarks/chip_split_gain.py --epochs 4 --update agad
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import chip_study  # noqa: E402


def watch(trainer) -> list[dict]:
    """Per-batch records of each lateral layer, collected while ``trainer`` trains: the power
    its gain step balanced (:attr:`LateralArray.last_power`) and that step's ``g``."""
    batches: list[dict] = []
    apply = trainer.apply_updates

    def apply_and_record(grads, trace):
        apply(grads, trace)
        batches.append({i: (*layer.lateral.last_power, layer.lateral.last_gain)
                        for i, layer in enumerate(trainer.chip.layers)
                        if layer.lateral is not None})

    trainer.apply_updates = apply_and_record
    return batches


def epoch_rows(trainer, batches: list[dict], pulses_before: dict, epoch: int,
               acc: float) -> list[dict]:
    """One row per lateral layer for the epoch just trained (``pulses_before``: each layer's
    pulse count when it began)."""
    rows = []
    t = trainer.chip.clock_s
    for i, layer in enumerate(trainer.chip.layers):
        lat = layer.lateral
        if lat is None:
            continue
        records = np.array([b[i] for b in batches])
        W = lat.crossbar.effective_weights(t)
        rows.append({"epoch": epoch, "layer": i + 1, "train_acc": acc,
                     "mean_x2": float(records[:, 0].mean()),
                     "mean_xbar2": float(records[:, 1].mean()), "G": lat.gain,
                     # the register's growth, folds or not: the mean log of each step's g
                     "lnG_per_batch": float(np.log(records[:, 2]).mean()), "folds": lat.folds,
                     "pulses": lat.crossbar.counters["device_pulses"] - pulses_before[i],
                     "range_used": float(np.max(np.abs(W)) / lat.crossbar.scale)})
    return rows


def pulses(trainer) -> dict:
    """Device pulses each lateral layer has received so far."""
    return {i: layer.lateral.crossbar.counters["device_pulses"]
            for i, layer in enumerate(trainer.chip.layers) if layer.lateral is not None}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--task", default="decor-split", choices=sorted(chip_study.TASKS))
    p.add_argument("--rule", default="fa", choices=("fa", "bp"))
    p.add_argument("--device", default="ecram")
    p.add_argument("--update", default="tiki-taka")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=4)
    p.add_argument("--gain-fold", type=float, default=0.0,
                   help="[lateral] gain_fold of the lateral arrays (0: never fold)")
    args = p.parse_args(argv)
    keys = {"gain_fold": args.gain_fold} if args.gain_fold else None
    trainer = chip_study.build_trainer(args.task, args.rule, args.device, args.update,
                                       args.seed, args.epochs, keys)
    batches = watch(trainer)
    start = time.perf_counter()
    print(f"{args.task}, {args.rule.upper()}, {args.device}, {args.update}, seed {args.seed}, "
          f"gain_fold {args.gain_fold:g}")
    print("| epoch | layer | train acc | mean x² | mean x̄² | G | ln G / batch | folds "
          "| lateral pulses | range used |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for epoch in range(1, args.epochs + 1):
        before = pulses(trainer)
        batches.clear()
        acc = trainer.train_epoch()["train_acc"]
        for r in epoch_rows(trainer, batches, before, epoch, acc):
            print(f"| {r['epoch']} | {r['layer']} | {100 * r['train_acc']:.1f} % "
                  f"| {r['mean_x2']:.3g} | {r['mean_xbar2']:.3g} | {r['G']:.3g} "
                  f"| {r['lnG_per_batch']:.4f} | {r['folds']} | {r['pulses']:.3g} "
                  f"| {r['range_used']:.2f} |",
                  flush=True)
    print(f"{args.epochs} epochs in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
