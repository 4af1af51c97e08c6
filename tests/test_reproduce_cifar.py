"""benchmarks/reproduce_cifar.py end to end on small folders in the official CIFAR formats."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

pytest.importorskip("torch")

from tests.test_data_cifar import _write_binary, _write_python  # noqa: E402

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "reproduce_cifar.py"


def _script():
    spec = importlib.util.spec_from_file_location("reproduce_cifar", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _check(doc, datasets, networks, out):
    keys = {f"{d}/{n}/{r}/{v}" for d in datasets for n in networks
            for r in ("bp", "fa", "np") for v in ("none", "ahmad")}
    assert set(doc["results"]) == keys
    for key, res in doc["results"].items():
        # each variant tuned on its own grid (η only when decorrelated), on validation only
        assert len(res["selection"]) == (1 if key.endswith("/none") else 2)
        chosen = max(res["selection"], key=res["selection"].get)
        assert chosen == f"{res['lr']:g},{res['decor_lr'] or 1e-5:g}"
        s = res["summary"]
        assert len(s["test_at_best_val"]) == 2 and len(s["epochs_to_99"]) == 2
        for run in res["runs"]:
            h = run["history"]
            best = max(h, key=lambda row: row["val_acc"])
            assert best["test_acc"] in s["test_at_best_val"]
            peak = max(row["train_acc"] for row in h)
            e50 = next(row for row in h if row["train_acc"] >= 0.5 * peak)
            assert e50["epoch"] in s["epochs_to_50"]
            walls = [row["wall_total_s"] for row in h]
            assert walls == sorted(walls)
    table = (out / "reproduction_cifar.md").read_text()
    assert table.count("\n| cifar") == len(keys)
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert pngs == sorted(f"reproduction_cifar_{d}_{n}.png" for d in datasets for n in networks)


@pytest.mark.parametrize("name, networks, writer", [
    ("cifar10", ("dense", "conv"), _write_python),   # python batches
    ("cifar100", ("conv",), _write_binary),          # the binary format
])
def test_reproduction_runs_end_to_end_on_cifar_format_fixtures(tmp_path, name, networks, writer):
    folder = tmp_path / name
    folder.mkdir()
    writer(folder, name, n=10 if name == "cifar10" else 50)
    out = tmp_path / "out"
    rc = _script().main([
        f"--{name}", str(folder), "--networks", ",".join(networks), "--hidden", "1x8",
        "--conv", "4", "--conv-hidden", "1x8", "--epochs", "2", "--epochs-np", "2",
        "--batch-size", "16", "--lr-grid", "3e-3", "--decor-lr-grid", "1e-5,1e-4",
        "--seeds", "0,1", "--device", "cpu", "--out", str(out)])
    assert rc == 0
    _check(json.loads((out / "reproduction_cifar.json").read_text()), [name], networks, out)


def test_reproduction_refuses_to_run_without_a_data_folder(tmp_path):
    from neurodecorr.errors import NeurodecorrError

    with pytest.raises(NeurodecorrError, match="--cifar10"):
        _script().main(["--out", str(tmp_path)])
