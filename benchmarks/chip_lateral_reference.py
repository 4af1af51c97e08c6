"""Issue #15's decorrelation cells with a diagonal reference in the lateral nodes: the table.

The runs are ``neurodecorr train --json`` runs of the decorrelation task (FA with on-chip
``ahmad``, MNIST-1D 40-64-10, 10 epochs, ``--chip-lr 0.2 --decor-lr 1e-3``), one JSON per run
one file per run (``docs/chip.md``, "Diagonal reference", gives
the loop). This script reads them, writes one line per run to
``docs/assets/chip_lateral_reference.jsonl`` and prints the table: final train accuracy, its
ratio to the ideal-device run with the same circuit and to the ideal-device run of the chip
study (``docs/assets/chip_study.jsonl``, task ``decor-noref``: circuit ``ideal``, no reference,
same seeds)::

    .venv/bin/python benchmarks/chip_lateral_reference.py RUNS_DIR/*.json
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
    """One run: its label, device, circuit, update, seed, accuracies and gain registers."""
    run = json.loads(path.read_text())
    label = path.stem
    chip, cfg = run["chip"], run["config"]
    layers = chip["layers"]
    hist = run["history"]
    done = len(hist) == cfg["epochs"]
    return {"label": label, "circuit": chip["options"]["circuit"],
            "lateral_device": layers[0]["lateral_device"],
            "forward_device": layers[0]["forward_device"],
            "update": chip["options"]["update"], "seed": cfg["seed"], "epochs": len(hist),
            "train_acc": [h["train_acc"] for h in hist], "test_acc": [h["test_acc"] for h in hist],
            "final_train_acc": hist[-1]["train_acc"] if done and hist else None,
            "gain_register": [layer["gain_register"] for layer in layers]}


def study_ideal() -> dict[int, float]:
    """Final train accuracy of the chip study's ideal-device run per seed on the ``ideal`` circuit
    (task ``decor-noref``, FA)."""
    out = {}
    path = ASSETS / "chip_study.jsonl"
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if (r.get("task"), r.get("rule"), r.get("device"), r.get("epochs")) == (
                "decor-noref", "fa", "ideal", 10) and not r.get("failure"):
            out[r["seed"]] = r["train_acc"][-1]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("runs", nargs="+", type=Path)
    p.add_argument("--out", default=str(ASSETS / "chip_lateral_reference.jsonl"))
    args = p.parse_args(argv)
    rows = sorted((summary(f) for f in args.runs),
                  key=lambda r: (r["circuit"], r["lateral_device"], r["forward_device"],
                                 r["update"], r["seed"]))
    Path(args.out).write_text("".join(json.dumps(r) + "\n" for r in rows))
    ideal = study_ideal()
    same = {(r["circuit"], r["seed"]): r["final_train_acc"] for r in rows
            if r["lateral_device"] == r["forward_device"] == "ideal"}
    cells = defaultdict(list)
    for r in rows:
        cells[(Path(r["circuit"]).stem, r["lateral_device"], r["forward_device"],
               r["update"])].append(r)
    print("| circuit | lateral / forward device | update | seeds | train acc % (per seed) "
          "| ÷ ideal, same circuit | ÷ ideal, study | stopped |")
    print("|---|---|---|---|---|---|---|---|")
    for (circ, lat, fwd, upd), runs in cells.items():
        accs = [r["final_train_acc"] for r in runs]
        ok = [a for a in accs if a is not None]
        stopped = [f"seed {r['seed']}: epoch {r['epochs'] + 1}" for r in runs
                   if r["final_train_acc"] is None]
        rs = [r["final_train_acc"] / same[(r["circuit"], r["seed"])] for r in runs
              if r["final_train_acc"] is not None and same.get((r["circuit"], r["seed"]))]
        ri = [r["final_train_acc"] / ideal[r["seed"]] for r in runs
              if r["final_train_acc"] is not None and r["seed"] in ideal]
        per = ", ".join("–" if a is None else f"{100 * a:.1f}" for a in accs)
        mean = f"{100 * np.mean(ok):.1f} ({per})" if ok else f"– ({per})"
        same_ratio = f"{np.mean(rs):.2f}" if rs else "–"
        study_ratio = f"{np.mean(ri):.2f}" if ri else "–"
        print(f"| {circ} | {lat} / {fwd} | {upd} | {len(runs)} | {mean} | {same_ratio} | "
              f"{study_ratio} | {'; '.join(stopped)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
