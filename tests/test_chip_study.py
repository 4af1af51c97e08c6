"""benchmarks/chip_study.py's aggregation: a synthetic log written by the script's own writer,
summarised, against numpy on the same numbers (the benchmark's training is never run here)."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "chip_study.py"

EPOCHS = 4


@pytest.fixture
def study(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    return importlib.import_module("chip_study")


def synthetic_runs(rng: np.random.Generator) -> list[dict]:
    """Three seeds of a reference and two device cells; one device seed stops in epoch 2."""
    runs = []
    for device, update in (("ideal", "sgd"), ("digital", "sgd"), ("pcm", "mixed-precision"),
                           ("reram", "agad")):
        for seed in range(3):
            acc = np.sort(rng.uniform(0.1, 0.7, EPOCHS)).tolist()
            failure = None
            if (device, seed) == ("reram", 1):
                acc, failure = acc[:1], "epoch 2: the lateral matrix of layer 1 lost stability"
            runs.append({"task": "decor", "rule": "fa", "device": device, "update": update,
                         "seed": seed, "epochs": EPOCHS, "circuit": "ideal",
                         "train_acc": acc, "test_acc": [a - 0.05 for a in acc],
                         "failure": failure, "wall_s": 1.0, "pulses_per_train_sample": 3.0})
    return runs


def test_cells_over_seeds_match_numpy_on_the_written_log(tmp_path, study):
    runs = synthetic_runs(np.random.default_rng(15))
    log = tmp_path / "study.jsonl"
    with log.open("a") as fh:
        for run in runs[::-1]:  # finished out of order
            study.append_run(fh, run)
    rows = {(r["device"], r["update"]): r for r in study.summarise(study.read_log(log))}
    ideal = {r["seed"]: r["train_acc"][-1] for r in runs if r["device"] == "ideal"}
    for (device, update), row in rows.items():
        mine = [r for r in runs if (r["device"], r["update"]) == (device, update)]
        finals = np.array([r["train_acc"][-1] for r in mine if not r["failure"]])
        ratios = np.array([r["train_acc"][-1] / ideal[r["seed"]] for r in mine
                           if not r["failure"]])
        assert row["seeds"] == 3 and row["completed"] == finals.size
        assert row["failed"] == 3 - finals.size
        assert row["train_acc_mean"] == pytest.approx(np.mean(finals), rel=1e-12)
        assert row["train_acc_min"] == np.min(finals)
        assert row["train_acc_max"] == np.max(finals)
        assert row["vs_ideal_min"] == pytest.approx(np.min(ratios), rel=1e-12)
        assert row["vs_ideal_max"] == pytest.approx(np.max(ratios), rel=1e-12)
        same = np.array([ideal[r["seed"]] for r in mine if not r["failure"]])
        assert row["vs_ideal"] == pytest.approx(np.mean(finals) / np.mean(same), rel=1e-12)
    # the stopped seed is excluded from the statistics and named
    assert rows[("reram", "agad")]["completed"] == 2
    assert rows[("reram", "agad")]["first_failure"].startswith("epoch 2")


def test_a_cell_with_a_stopped_seed_is_never_the_best_algorithm(study):
    runs = synthetic_runs(np.random.default_rng(3))
    for r in runs:  # make the cell with a stopped seed the highest on its completed seeds
        if r["device"] == "reram":
            r["device"] = "pcm"
            if r["train_acc"]:
                r["train_acc"][-1] = 0.99
    best = study.best_per_device(study.summarise(runs), "decor", "fa")
    assert best["pcm"]["update"] == "mixed-precision"
    assert best["ideal"]["update"] == "sgd"


@pytest.mark.parametrize("source", ["ideal-reference.toml", "reram-decor.toml"])
def test_a_split_circuit_changes_only_the_update_of_each_table(tmp_path, study, source):
    """``split_circuit``: the derived file, read by the circuit loader, names the forward and
    lateral algorithms asked for and equals the source in every other field (an update key
    the source already had is replaced, not doubled)."""
    from dataclasses import asdict

    from neurodecorr.circuits.description import load_circuit

    original = SCRIPT.parent / "chip_study_devices" / source
    derived = study.split_circuit(original, "agad", "mixed-precision", tmp_path)
    before, after = asdict(load_circuit(str(original))), asdict(load_circuit(str(derived)))
    assert after["forward"]["update"] == "agad"
    assert after["lateral"]["update"] == "mixed-precision"
    for table in ("forward", "lateral"):
        before[table].pop("update"), after[table].pop("update")
    before.pop("path"), after.pop("path")
    assert after == before
    assert derived.read_text().count("update =") == 2


def test_a_split_circuit_sets_the_lateral_keys_asked_for(tmp_path, study):
    """``lateral_keys`` reach the loaded ``[lateral]`` table and change nothing else."""
    from dataclasses import asdict

    from neurodecorr.circuits.description import load_circuit

    original = SCRIPT.parent / "chip_study_devices" / "ideal-reference.toml"
    plain = study.split_circuit(original, "agad", "mixed-precision", tmp_path)
    folded = study.split_circuit(original, "agad", "mixed-precision", tmp_path,
                                 {"gain_fold": 2, "reference_range": 0.5})
    before, after = asdict(load_circuit(str(plain))), asdict(load_circuit(str(folded)))
    assert (after["lateral"]["gain_fold"], after["lateral"]["reference_range"]) == (2.0, 0.5)
    assert before["lateral"]["gain_fold"] == 0.0
    for key in ("gain_fold", "reference_range"):
        before["lateral"].pop(key), after["lateral"].pop(key)
    before.pop("path"), after.pop("path")
    assert after == before
    assert folded.read_text().count("reference_range =") == 1
