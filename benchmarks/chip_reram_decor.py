"""ReRAM on issue #15's decorrelation task: the table of docs/chip.md's ReRAM subsection.

The runs are ``neurodecorr train --json`` runs of the decorrelation task (FA with on-chip
``ahmad``, MNIST-1D 40-64-10, 10 epochs, ``--chip-lr 0.2 --decor-lr 1e-3``), one JSON per run,
named ``LABEL.json``; docs/chip.md gives the commands. This script reads them, writes one line
per run to ``docs/assets/chip_reram_decor.jsonl`` and prints the table: final train accuracy,
and its ratio to the ideal-device run of the same circuit file and seed (the run whose
arrays are all ``ideal``)::

    .venv/bin/python benchmarks/chip_reram_decor.py RUNS_DIR/*.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ASSETS = Path(__file__).resolve().parents[1] / "docs" / "assets"


def summary(path: Path) -> dict:
    """One run: label, circuits, devices, update, seed, accuracies and gain registers."""
    run = json.loads(path.read_text())
    chip, cfg = run["chip"], run["config"]
    layers = chip["layers"]
    hist = run["history"]
    done = len(hist) == cfg["epochs"]
    return {"label": path.stem,
            "circuits": [Path(layer["circuit_file"]).name for layer in layers],
            "lateral_device": [Path(layer["lateral_device"]).stem for layer in layers],
            "forward_device": [Path(layer["forward_device"]).stem for layer in layers],
            "update": chip["options"]["update"], "chip_lr": chip["options"]["lr"],
            "seed": cfg["seed"], "epochs": len(hist),
            "train_acc": [h["train_acc"] for h in hist], "test_acc": [h["test_acc"] for h in hist],
            "final_train_acc": hist[-1]["train_acc"] if done and hist else None,
            "gain_register": [layer["gain_register"] for layer in layers]}


def is_ideal(row: dict) -> bool:
    return set(row["lateral_device"]) | set(row["forward_device"]) == {"ideal"}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", default=str(ASSETS / "chip_reram_decor.jsonl"))
    args = p.parse_args(argv)
    rows = sorted((summary(f) for f in args.runs), key=lambda r: (r["circuits"], r["label"]))
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    ideal = {(tuple(r["circuits"]), r["seed"]): r["final_train_acc"] for r in rows if is_ideal(r)}
    cells = defaultdict(list)
    for r in rows:
        if not is_ideal(r):
            pairs = dict.fromkeys(f"{a} + {b}" for a, b in zip(r["lateral_device"],
                                                               r["forward_device"], strict=True))
            circuits = dict.fromkeys(Path(c).stem for c in r["circuits"])
            cells[(", ".join(circuits), " | ".join(pairs), r["update"] or "circuit",
                   r["chip_lr"])].append(r)
    print("| circuit (per layer) | lateral + forward device | update | chip lr | train acc % "
          "per seed | ideal-device run % per seed | ratio per seed | mean ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for (circ, devices, upd, lr), runs in sorted(cells.items()):
        runs = sorted(runs, key=lambda r: r["seed"])
        accs, refs, ratios = [], [], []
        for r in runs:
            a, ref = r["final_train_acc"], ideal.get((tuple(r["circuits"]), r["seed"]))
            accs.append("–" if a is None else f"{100 * a:.1f}")
            refs.append("–" if ref is None else f"{100 * ref:.1f}")
            ratios.append(None if a is None or not ref else a / ref)
        per = ", ".join("–" if q is None else f"{q:.2f}" for q in ratios)
        ok = [q for q in ratios if q is not None]
        mean = f"{np.mean(ok):.2f}" if ok else "–"
        seeds = ",".join(str(r["seed"]) for r in runs)
        print(f"| {circ} | {devices} | {upd} | {lr:g} | {', '.join(accs)} (seeds {seeds}) | "
              f"{', '.join(refs)} | {per} | {mean} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
