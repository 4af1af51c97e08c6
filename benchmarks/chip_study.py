"""On-chip study: FA and BP, with and without decorrelation learned on the chip, per device
preset and update algorithm, over seeds (issue #15).

Tasks on MNIST-1D, batch 64, exact integrators (only the devices and their converters
differ), every array on the preset with its periphery, every algorithm of
:mod:`neurodecorr.circuits.updates` on every array:

``decor``
    on-chip ``ahmad`` decorrelation, 40-64-10, chip SGD step 0.2, η = 1e-3, circuit
    ``benchmarks/chip_study_devices/ideal-reference.toml`` (the ``ideal`` circuit with a
    per-node digital diagonal reference: the lateral devices hold only ``Ã``'s off-diagonal
    part; docs/chip.md, "Diagonal reference");
``decor-noref``
    the same on the ``ideal`` circuit, whose lateral array holds all of ``Ã`` (the former
    study's circuit, kept for the comparison);
``decor-reram``
    the ``decor`` task on ReRAM's own circuit, ``benchmarks/chip_study_devices/reram-decor.toml``
    (forward headroom 3 with 75-step mixed-precision counts, lateral reference range 0.5; its
    ideal reference runs the same circuit file with ideal devices);
``decor-split``
    the ``decor`` task with the algorithm named on the forward arrays only and mixed
    precision on the lateral arrays (a circuit file derived from ``decor``'s with each table's
    ``update`` key; :func:`split_circuit`): which kind of array an algorithm fails on;
``shared``
    no decorrelation, 40-64-64-10, SGD step 0.1, circuit ``ideal``: the task on which aihwkit
    0.9.2's figures were measured (/work/shared/notes/analog-training.md), quoted beside ours.

Each cell (task, rule, device, update algorithm) runs for ``--seeds`` seeds; the references
are the software network trained identically (``digital``: SGD, linear-form decorrelator, same
initial weights and data order) and the ``ideal`` device preset. Cells run in ``--workers``
processes; each finished run is appended to ``OUT.jsonl`` at once (progress visible with
``tail -f``; ``--resume`` skips the runs already there), and at the end ``OUT.json``,
``OUT.csv`` (:func:`summarise`: per cell mean and min–max over seeds, ratios to the ideal
run) and ``OUT.png`` are written. The runs are listed in order of priority (:func:`plan`):
tasks and rules as given, then seed by seed::

    .venv/bin/python benchmarks/chip_study.py --resume          # the documented run
    .venv/bin/python benchmarks/chip_study.py --replot          # redraw from OUT.jsonl
    .venv/bin/python benchmarks/chip_study.py --epochs 1 --seeds 1 --devices ideal --out /tmp/s
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import signal
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "docs" / "assets"
#: the lateral circuit with a per-node digital diagonal reference (docs/chip.md, "Diagonal
#: reference"): PCM 0.95 and ECRAM 0.97 of the ideal run against 0.77 and 0.92 without it
REFERENCE_CIRCUIT = "benchmarks/chip_study_devices/ideal-reference.toml"
#: ReRAM's circuit for the decorrelation task (docs/chip.md, "ReRAM on the decorrelation task"):
#: forward headroom 3 with 75-step mixed-precision counts, lateral reference range 0.5
RERAM_CIRCUIT = "benchmarks/chip_study_devices/reram-decor.toml"
TASKS = {
    "decor": dict(decorrelation="ahmad", hidden=(64,), lr=0.2, circuit=REFERENCE_CIRCUIT),
    "decor-noref": dict(decorrelation="ahmad", hidden=(64,), lr=0.2, circuit="ideal"),
    "shared": dict(decorrelation="none", hidden=(64, 64), lr=0.1, circuit="ideal"),
    "decor-reram": dict(decorrelation="ahmad", hidden=(64,), lr=0.2, circuit=RERAM_CIRCUIT),
    "decor-split": dict(decorrelation="ahmad", hidden=(64,), lr=0.2, circuit=REFERENCE_CIRCUIT,
                        lateral_update="mixed-precision"),
}
UPDATES = "sgd,mixed-precision,tiki-taka,ttv2,chopped-ttv2,agad"
#: aihwkit 0.9.2 on the shared task with BP (final train accuracy; analog-training.md)
AIHWKIT = {
    "digital": {"sgd": 0.51}, "ideal": {"sgd": 0.42},
    "pcm": {"sgd": 0.13, "mixed-precision": 0.375},
    "reram": {"sgd": 0.24, "mixed-precision": 0.25, "ttv2": 0.22, "chopped-ttv2": 0.27,
              "agad": 0.30},
    "ecram": {"sgd": 0.35, "mixed-precision": 0.41},
}


def split_circuit(source: Path, forward: str, lateral: str, folder: Path,
                  lateral_keys: dict | None = None) -> Path:
    """A copy of the circuit file ``source`` in ``folder`` whose ``[forward]`` table sets
    ``update = forward`` and ``[lateral]`` table ``update = lateral`` (any ``update`` key of
    the source's tables is replaced), and ``[lateral]`` each of ``lateral_keys`` (numbers;
    replacing the source's)."""
    extra = dict(lateral_keys or {})
    out, table = [], None
    for line in source.read_text().splitlines():
        stripped = line.strip()
        key = stripped.split("=")[0].strip()
        if stripped.startswith("["):
            table = stripped.strip("[]").strip()
        elif table in ("forward", "lateral") and key == "update":
            continue
        elif table == "lateral" and key in extra:
            continue
        out.append(line)
        if stripped in ("[forward]", "[lateral]"):
            out.append(f'update = "{forward if table == "forward" else lateral}"')
        if stripped == "[lateral]":
            out.extend(f"{k} = {float(v)!r}" for k, v in extra.items())
    tag = "".join(f"-{k}-{v:g}" for k, v in extra.items())
    path = folder / f"{source.stem}-{forward}-forward-{lateral}-lateral{tag}.toml"
    path.write_text("\n".join(out) + "\n")
    return path


class RunTimeLimit(Exception):
    """A run's wall-clock limit (``--run-limit-s``) passed."""


def _time_limit(signum, frame):
    raise RunTimeLimit


def build_trainer(task: str, rule: str, device: str, update: str, seed: int, epochs: int,
                  lateral_keys: dict | None = None):
    """The trainer of one cell of the study (``device`` ``digital``: the software network);
    ``lateral_keys`` adds keys to the ``[lateral]`` table of the task's circuit file."""
    from neurodecorr.data import load_dataset
    from neurodecorr.learning.chip_trainer import ChipOptions, ChipTrainer, SGDTrainer
    from neurodecorr.learning.config import TrainConfig

    spec = TASKS[task]
    config = TrainConfig(dataset="mnist1d", algorithm=rule, decorrelation=spec["decorrelation"],
                         hidden=spec["hidden"], epochs=epochs, batch_size=64, lr=spec["lr"],
                         decor_lr=1e-3, seed=seed)
    data = load_dataset("mnist1d")
    if device == "digital":
        return SGDTrainer(config, data)
    circuit = spec["circuit"]
    if circuit.endswith(".toml"):
        circuit = str(ROOT / circuit)
    split = spec.get("lateral_update") and device != "ideal"  # the ideal reference as decor's
    if split or lateral_keys:
        if not circuit.endswith(".toml"):
            raise ValueError(f"lateral_keys: task {task}'s circuit is not a file")
        lateral = spec["lateral_update"] if split else update
        with tempfile.TemporaryDirectory(prefix="chip_study_") as folder:
            circuit = str(split_circuit(Path(circuit), update, lateral, Path(folder),
                                        lateral_keys))
            return ChipTrainer(config, data, ChipOptions(
                circuit=circuit, device=device, seed=seed, lr=spec["lr"]))
    return ChipTrainer(config, data, ChipOptions(
        circuit=circuit, device=device, seed=seed, lr=spec["lr"], update=update))


def one_run(task: str, rule: str, device: str, update: str, seed: int, epochs: int,
            limit_s: float = 0.0) -> dict:
    """Train one cell for one seed; a physical failure (a lateral circuit that stops) is a
    result, recorded with the epoch it happened in, and so is a run stopped by its wall-clock
    limit ``limit_s`` (0: none; a SIGALRM in the worker process)."""
    from neurodecorr.errors import NeurodecorrError
    from neurodecorr.learning.chip_trainer import ChipTrainer

    spec = TASKS[task]
    start = time.perf_counter()
    trainer = build_trainer(task, rule, device, update, seed, epochs)
    history, failure = [], None
    if limit_s > 0:
        signal.signal(signal.SIGALRM, _time_limit)
        signal.setitimer(signal.ITIMER_REAL, limit_s)
    try:
        for _ in range(epochs):
            try:
                history.append(trainer.train_epoch())
            except NeurodecorrError as exc:
                failure = f"epoch {len(history) + 1}: {exc}"
                break
    except RunTimeLimit:
        failure = (f"epoch {len(history) + 1}: stopped by the study's time limit of "
                   f"{limit_s:g} s (run-limit-s)")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    out = {"task": task, "rule": rule, "device": device, "update": update, "seed": seed,
           "epochs": epochs, "circuit": spec["circuit"] if device != "digital" else None,
           "train_acc": [h["train_acc"] for h in history],
           "test_acc": [h["test_acc"] for h in history], "failure": failure,
           "wall_s": time.perf_counter() - start}
    if isinstance(trainer, ChipTrainer):
        per = trainer.costs()["per_training_sample"]
        out["pulses_per_train_sample"] = per.get("device_pulses", 0.0)
        out["node_updates_per_train_sample"] = per.get("integration_steps", 0.0)
        out["gain_register"] = [layer.get("gain_register") for layer in trainer.chip.describe()]
        out["lateral_responses"] = [layer.lateral.responses for layer in trainer.chip.layers
                                    if layer.lateral is not None]
    return out


def from_reference_log(path: Path) -> list[dict]:
    """The decorrelation runs of ``benchmarks/chip_lateral_reference.py``'s log that are cells
    of the ``decor`` task with FA (circuit ``ideal-reference.toml``, one device on every array,
    10 epochs) and completed, as study runs (a stopped run's message is not in that log); the
    label names the source. Pulse counts were not recorded there. Taken only after a re-run
    here reproduced such runs bit for bit (docs/chip.md)."""
    runs = []
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if (Path(r["circuit"]).name != Path(REFERENCE_CIRCUIT).name
                or r["lateral_device"] != r["forward_device"] or r["final_train_acc"] is None):
            continue
        runs.append({"task": "decor", "rule": "fa", "device": r["forward_device"],
                     "update": r["update"], "seed": r["seed"], "epochs": 10,
                     "circuit": REFERENCE_CIRCUIT, "train_acc": r["train_acc"],
                     "test_acc": r["test_acc"],
                     "failure": None,
                     "wall_s": None, "gain_register": r["gain_register"],
                     "source": f"{path.name}: {r['label']}"})
    return runs


def plan(args) -> list[tuple]:
    """Every run of the study, (task, rule, device, update, seed, epochs), in the order of
    priority: tasks and rules as given, then seed by seed (every cell's seed 0 before any
    seed 1), the references first, then devices and algorithms as given."""
    runs = []
    for task in args.tasks.split(","):
        for rule in args.rules.split(","):
            for seed in range(args.seeds):
                runs.append((task, rule, "digital", "sgd", seed, args.epochs))
                runs.append((task, rule, "ideal", "sgd", seed, args.epochs))
                for device in args.devices.split(","):
                    for update in args.updates.split(","):
                        runs.append((task, rule, device, update, seed, args.epochs))
    return runs


def key(r) -> tuple:
    return (r["task"], r["rule"], r["device"], r["update"], r["seed"], r["epochs"]) if isinstance(
        r, dict) else tuple(r)


def append_run(fh, run: dict) -> None:
    """Append one finished run to the study's log as one JSON line, flushed at once."""
    fh.write(json.dumps(run) + "\n")
    fh.flush()


def read_log(path: Path) -> list[dict]:
    """The runs of a log written by :func:`append_run`, in the order they finished."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def final_train_acc(run: dict) -> float:
    """A run's final train accuracy; NaN for a run that stopped (it has no final epoch)."""
    return run["train_acc"][-1] if run["train_acc"] and not run["failure"] else np.nan


def summarise(results: list[dict]) -> list[dict]:
    """One row per cell (task, rule, device, update, epochs) over its seeds.

    ``train_acc_mean``/``_min``/``_max`` are the mean, minimum and maximum of the final train
    accuracy over the seeds that completed (``completed`` of ``seeds``; a stopped run has no
    final accuracy). ``vs_ideal`` is the cell's mean over the ``ideal`` device run's mean on
    the same seeds (same task and rule; same seed: same initial weights and data order),
    ``vs_ideal_min``/``_max`` the extremes of the per-seed ratios ``acc(seed) /
    acc_ideal(seed)``; ``vs_digital`` likewise against the software run's mean. ``aihwkit`` is
    aihwkit 0.9.2's figure where it has one (shared task, BP, 10 epochs)."""
    cells: dict[tuple, list[dict]] = {}
    for r in results:
        cells.setdefault((r["task"], r["rule"], r["device"], r["update"], r["epochs"]),
                         []).append(r)
    per_seed = {(r["task"], r["rule"], r["device"], r["epochs"], r["seed"]): final_train_acc(r)
                for r in results if r["device"] in ("ideal", "digital") and r["update"] == "sgd"}
    rows = []
    for (task, rule, device, update, epochs), runs in sorted(cells.items()):
        runs = sorted(runs, key=lambda r: r["seed"])
        finals = np.array([final_train_acc(r) for r in runs])
        ok = finals[np.isfinite(finals)]
        tests = [r["test_acc"][-1] for r in runs if r["test_acc"] and not r["failure"]]
        ratios = np.array([final_train_acc(r) / per_seed.get(
            (task, rule, "ideal", epochs, r["seed"]), np.nan) for r in runs])
        ratios = ratios[np.isfinite(ratios)]
        circuits = sorted({str(r.get("circuit")) for r in runs})
        rows.append({"task": task, "rule": rule, "device": device, "update": update,
                     "epochs": epochs, "circuit": ",".join(circuits),
                     "seeds": len(runs), "seed_list": " ".join(str(r["seed"]) for r in runs),
                     "completed": int(ok.size), "failed": sum(bool(r["failure"]) for r in runs),
                     "train_acc_mean": float(ok.mean()) if ok.size else np.nan,
                     "train_acc_min": float(ok.min()) if ok.size else np.nan,
                     "train_acc_max": float(ok.max()) if ok.size else np.nan,
                     "test_acc_mean": float(np.mean(tests)) if tests else np.nan,
                     "vs_ideal_min": float(ratios.min()) if ratios.size else np.nan,
                     "vs_ideal_max": float(ratios.max()) if ratios.size else np.nan,
                     # NaN where no run of the cell recorded it (runs taken from another log)
                     "pulses_per_train_sample": float(np.nanmean(
                         [r.get("pulses_per_train_sample", np.nan) for r in runs] + [np.nan])
                         if any("pulses_per_train_sample" in r for r in runs) else np.nan),
                     "aihwkit": (AIHWKIT.get(device, {}).get(update)
                                 if (task, rule, epochs) == ("shared", "bp", 10) else None),
                     "first_failure": next((r["failure"] for r in runs if r["failure"]), "")})
        for name in ("ideal", "digital"):  # the reference's mean over the same seeds
            mine = [(final_train_acc(r), per_seed.get((task, rule, name, epochs, r["seed"]),
                                                      np.nan)) for r in runs]
            mine = np.array([m for m in mine if np.isfinite(m[0]) and np.isfinite(m[1])])
            rows[-1][f"vs_{name}"] = (float(mine[:, 0].mean() / mine[:, 1].mean())
                                      if mine.size else np.nan)
    return rows


def best_per_device(rows: list[dict], task: str, rule: str) -> dict[str, dict]:
    """The cell with the highest mean final train accuracy per device among the cells whose
    every seed completed (a cell with a stopped seed is never "best"); devices whose every
    cell has a stopped seed get their highest cell, flagged by its ``failed`` count."""
    best: dict[str, dict] = {}
    for r in rows:
        if (r["task"], r["rule"]) != (task, rule):
            continue
        score = (r["failed"] == 0, r["train_acc_mean"] if np.isfinite(r["train_acc_mean"])
                 else -1.0)
        have = best.get(r["device"])
        if have is None or score > have[0]:
            best[r["device"]] = (score, r)
    return {d: r for d, (_, r) in best.items()}


COLOURS = {"digital": "k", "ideal": "0.45", "pcm": "C0", "reram": "C3", "ecram": "C2"}
TITLES = {"decor": "on-chip decorrelation (node reference), 40-64-10",
          "decor-noref": "on-chip decorrelation (no reference), 40-64-10",
          "shared": "no decorrelation, 40-64-64-10 (aihwkit's task)",
          "decor-reram": "on-chip decorrelation, ReRAM's circuit, 40-64-10",
          "decor-split": "on-chip decorrelation, lateral arrays mixed precision, 40-64-10"}


def _envelope(ax, runs: list[dict], colour, label: str, alpha: float, **style) -> int:
    """Train accuracy (%) per epoch of ``runs``: their mean as a line, their min–max as a
    band (a stopped run counts up to its last epoch); returns the number of epochs drawn."""
    n = max(len(r["train_acc"]) for r in runs)
    if n:
        acc = np.full((len(runs), n), np.nan)
        for i, r in enumerate(runs):
            acc[i, :len(r["train_acc"])] = 100 * np.asarray(r["train_acc"])
        ep = np.arange(1, n + 1)
        ax.plot(ep, np.nanmean(acc, axis=0), color=colour, label=label, marker="o", ms=2.5,
                **style)
        ax.fill_between(ep, np.nanmin(acc, axis=0), np.nanmax(acc, axis=0), color=colour,
                        alpha=alpha, lw=0)
    return n


def _curves(ax, results: list[dict], rows: list[dict], task: str, rule: str) -> None:
    """Train accuracy per epoch of the best algorithm per device: mean over seeds, min–max
    envelope; references dashed; aihwkit's best per device as a marker after the last epoch."""
    for device, b in best_per_device(rows, task, rule).items():
        runs = [r for r in results if (r["task"], r["rule"], r["device"], r["update"],
                                       r["epochs"]) == (task, rule, device, b["update"],
                                                        b["epochs"])]
        style = dict(ls="--") if device in ("digital", "ideal") else {}
        label = device if device in ("digital", "ideal") else f"{device}: {b['update']}"
        label += f" ({len(runs)} seed{'s' if len(runs) > 1 else ''}"
        label += f", {b['failed']} stopped)" if b["failed"] else ")"
        n = _envelope(ax, runs, COLOURS.get(device), label, 0.18, **style)
        if task == "shared" and rule == "bp":
            ref = max(AIHWKIT.get(device, {}).values(), default=None)
            if ref is not None:
                ax.plot(n + 0.4, 100 * ref, marker="<", ms=8, color=COLOURS.get(device),
                        clip_on=False, ls="none")
    ax.set_xlabel("epoch")
    ax.set_ylabel("train accuracy (%)")
    ax.grid(alpha=0.3)
    if task == "decor":  # ReRAM on its own circuit, dotted beside the shared circuit's runs
        own = [r for r in results if (r["task"], r["rule"], r["device"]) == (
            "decor-reram", rule, "reram") and r["train_acc"]]
        best = best_per_device(rows, "decor-reram", rule).get("reram")
        own = [r for r in own if best and r["update"] == best["update"]]
        if own:
            _envelope(ax, own, COLOURS["reram"],
                      f"reram, its own circuit: {best['update']} ({len(own)} seeds)", 0.12,
                      ls=":")
    ax.legend(fontsize=6.5, loc="upper left")
    if task == "shared" and rule == "bp":
        ax.text(0.98, 0.02, "◄ aihwkit 0.9.2, best algorithm\n   per device (same task)",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=7)


def _bars(ax, rows: list[dict], task: str, rule: str, updates: list[str]) -> None:
    """Final train accuracy of every cell: mean over seeds, min–max whiskers; a cross where a
    seed stopped; the ideal run's mean dashed; aihwkit's figure as a black diamond."""
    devices = [d for d in ("pcm", "ecram", "reram")
               if any(r["device"] == d for r in rows)]
    width = 0.8 / max(len(updates), 1)
    full = max(r["epochs"] for r in rows if (r["task"], r["rule"]) == (task, rule))
    for r in rows:
        if (r["task"], r["rule"], r["epochs"]) != (task, rule, full) or r["device"] not in devices:
            continue
        x = devices.index(r["device"]) + (updates.index(r["update"]) - (len(updates) - 1) / 2
                                          ) * width
        colour = f"C{updates.index(r['update']) + 4}"
        if np.isfinite(r["train_acc_mean"]):
            ax.bar(x, 100 * r["train_acc_mean"], width, color=colour, alpha=0.85)
            ax.errorbar(x, 100 * r["train_acc_mean"],
                        yerr=[[100 * (r["train_acc_mean"] - r["train_acc_min"])],
                              [100 * (r["train_acc_max"] - r["train_acc_mean"])]],
                        color="k", lw=0.8, capsize=1.5)
        if r["failed"]:
            ax.plot(x, 2, marker="x", color="C3", ms=5)
        if r["aihwkit"] is not None:
            ax.plot(x, 100 * r["aihwkit"], marker="D", color="k", ms=4)
    for device, style in (("ideal", "--"), ("digital", ":")):
        ref = [r for r in rows if (r["task"], r["rule"], r["device"], r["epochs"]) == (
            task, rule, device, full)]
        if ref and np.isfinite(ref[0]["train_acc_mean"]):
            ax.axhline(100 * ref[0]["train_acc_mean"], color="0.3", ls=style, lw=0.9)
    ax.set_xticks(range(len(devices)), devices)
    ax.set_ylabel("final train accuracy (%)")
    ax.grid(alpha=0.3, axis="y")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=f"C{i + 4}", label=u, alpha=0.85) for i, u in enumerate(updates)]
    handles += [Line2D([], [], color="0.3", ls="--", label="ideal device"),
                Line2D([], [], color="0.3", ls=":", label="digital"),
                Line2D([], [], color="C3", marker="x", ls="none", label="a seed stopped")]
    if (task, rule) == ("shared", "bp"):
        handles.append(Line2D([], [], color="k", marker="D", ms=4, ls="none",
                              label="aihwkit 0.9.2"))
    ax.legend(handles=handles, fontsize=6, ncol=4, loc="upper left")


def figure_png(results: list[dict], rows: list[dict]) -> bytes:
    """Per task and rule (columns: FA, BP), two panels: the best algorithm per device per epoch
    (mean, min–max envelope over seeds) and every cell's final train accuracy (bars: mean,
    whiskers: min–max; ``x``: a seed stopped; ``--``: ideal device, ``:``: digital; ◆ aihwkit
    0.9.2 on the shared task with BP). ReRAM on its own circuit (``decor-reram``) is dotted in
    the decorrelation task's curves; ``decor-noref`` (the former circuit) is in the tables
    only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = [t for t in ("decor", "shared") if any(r["task"] == t for r in results)]
    rules = [r for r in ("fa", "bp") if any(x["rule"] == r for x in results)]
    updates = [u for u in UPDATES.split(",") if any(r["update"] == u for r in rows
                                                    if r["device"] not in ("ideal", "digital"))]
    fig, axes = plt.subplots(2 * len(tasks), len(rules), squeeze=False,
                             figsize=(5.6 * len(rules), 3.9 * 2 * len(tasks)))
    for i, task in enumerate(tasks):
        for j, rule in enumerate(rules):
            top, bottom = axes[2 * i, j], axes[2 * i + 1, j]
            if not any((r["task"], r["rule"]) == (task, rule) for r in rows):
                top.set_visible(False)
                bottom.set_visible(False)
                continue
            _curves(top, results, rows, task, rule)
            _bars(bottom, rows, task, rule, updates)
            top.set_title(f"{rule.upper()}, {TITLES[task]}: best algorithm per device",
                          fontsize=8.5)
            bottom.set_title(f"{rule.upper()}, {TITLES[task]}: every algorithm, final epoch",
                             fontsize=8.5)
            top.set_ylim(0, 80)
            bottom.set_ylim(0, 80)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return buf.getvalue()


def _pct(r: dict) -> str:
    if not np.isfinite(r["train_acc_mean"]):
        return "–"
    if r["completed"] == 1:
        return f"{100 * r['train_acc_mean']:.1f}"
    return (f"{100 * r['train_acc_mean']:.1f} ({100 * r['train_acc_min']:.1f}–"
            f"{100 * r['train_acc_max']:.1f})")


def markdown(rows: list[dict]) -> str:
    """The docs' tables, one per task and rule: per cell the final train accuracy (mean and
    min–max over the seeds that completed), its ratio to the ideal device run (of the means;
    per seed, min–max), the seeds, stopped runs, pulses, aihwkit's figure (shared, BP)."""
    out = []
    order = {"digital": 0, "ideal": 1, "pcm": 2, "ecram": 3, "reram": 4}
    updates = UPDATES.split(",")
    for task in ("decor", "decor-split", "decor-reram", "decor-noref", "shared"):
        for rule in ("fa", "bp"):
            mine = sorted((r for r in rows if (r["task"], r["rule"]) == (task, rule)),
                          key=lambda r: (order.get(r["device"], 9), r["epochs"],
                                         updates.index(r["update"])
                                         if r["update"] in updates else 9))
            if not mine:
                continue
            shared = (task, rule) == ("shared", "bp")
            out.append(f"**{task}, {rule.upper()}**\n")
            out.append("| device | update | seeds | train % (min–max) | ÷ ideal "
                       "| test % | pulses | stopped |"
                       + (" aihwkit |" if shared else ""))
            out.append("|---" * (9 if shared else 8) + "|")
            for r in mine:
                ratio = "–" if not np.isfinite(r["vs_ideal"]) else (
                    f"{r['vs_ideal']:.2f}" + (f" ({r['vs_ideal_min']:.2f}–{r['vs_ideal_max']:.2f})"
                                             if r["completed"] > 1 else ""))
                stopped = (f"{r['failed']}/{r['seeds']} ({r['first_failure'].split(':')[0]})"
                           if r["failed"] else "")
                test = "–" if not np.isfinite(r["test_acc_mean"]) else \
                    f"{100 * r['test_acc_mean']:.1f}"
                pulses = r["pulses_per_train_sample"]
                pulses = "–" if not np.isfinite(pulses) or r["device"] == "digital" else \
                    f"{pulses:.3g}"
                line = (f"| {r['device']} | {r['update']} | {r['seed_list']} | {_pct(r)} | "
                        f"{ratio} | {test} | {pulses} | {stopped} |")
                if shared:
                    line += f" {100 * r['aihwkit']:.1f} |" if r["aihwkit"] is not None else " |"
                out.append(line)
            out.append("")
    return "\n".join(out)


def write_final(out: Path, results: list[dict], command: str) -> list[dict]:
    from neurodecorr.io import json_bytes, write_outputs

    rows = summarise(results)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows([{k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()}
                      for r in rows])
    write_outputs({
        str(out.with_suffix(".json")): json_bytes({"command": command, "tasks": TASKS,
                                                   "aihwkit_shared_bp": AIHWKIT,
                                                   "results": results, "table": rows}),
        str(out.with_suffix(".csv")): buf.getvalue().encode(),
        str(out.with_suffix(".png")): figure_png(results, rows),
        str(out.with_suffix(".md")): markdown(rows).encode(),
    })
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", default="decor,shared")
    p.add_argument("--rules", default="fa,bp")
    p.add_argument("--devices", default="pcm,ecram,reram")
    p.add_argument("--updates", default=UPDATES)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--run-limit-s", type=float, default=0.0,
                   help="Stop a run after this many seconds of wall time and record it as "
                        "stopped (0: no limit).")
    p.add_argument("--out", default=str(ASSETS / "chip_study"))
    p.add_argument("--resume", action="store_true", help="Skip the runs already in OUT.jsonl.")
    p.add_argument("--take-reference-runs", metavar="JSONL",
                   help="Append the decor-task runs of chip_lateral_reference.py's log to "
                        "OUT.jsonl (those not there yet) before planning.")
    p.add_argument("--replot", action="store_true",
                   help="Write OUT.json, .csv and .png from OUT.jsonl without training.")
    args = p.parse_args(argv)
    out = Path(args.out)
    log = out.with_suffix(".jsonl")
    command = "benchmarks/chip_study.py " + " ".join(argv or sys.argv[1:])
    done = read_log(log) if (args.resume or args.replot) and log.exists() else []
    if not (args.resume or args.replot):  # a fresh study: empty the log before anything
        log.parent.mkdir(parents=True, exist_ok=True)  # goes into it
        log.write_text("")
    if args.take_reference_runs:
        have = {key(r) for r in done}
        taken = [r for r in from_reference_log(Path(args.take_reference_runs))
                 if key(r) not in have]
        with log.open("a") as fh:
            for r in taken:
                append_run(fh, r)
        done += taken
        print(f"{len(taken)} runs taken from {args.take_reference_runs}", flush=True)
    if not args.replot:
        have = {key(r) for r in done}
        todo = [r for r in plan(args) if key(r) not in have]
        print(f"{len(todo)} runs, {args.workers} workers -> {log}", flush=True)
        start = time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool, log.open("a") as fh:
            futures = {pool.submit(one_run, *r, args.run_limit_s): r for r in todo}
            for i, fut in enumerate(as_completed(futures), 1):
                r = fut.result()
                done.append(r)
                append_run(fh, r)
                final = f"{100 * r['train_acc'][-1]:.1f} %" if r["train_acc"] else "-"
                print(f"[{i}/{len(todo)} {time.perf_counter() - start:6.0f} s] {r['task']} "
                      f"{r['rule']} {r['device']} {r['update']} seed {r['seed']}: {final}"
                      f"{' stopped ' + r['failure'][:60] if r['failure'] else ''} "
                      f"({r['wall_s']:.0f} s)", flush=True)
    rows = write_final(out, done, command)
    print(markdown(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
