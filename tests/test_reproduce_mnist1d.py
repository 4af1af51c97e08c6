"""benchmarks/reproduce_mnist1d.py: its output folder, end to end on a tiny setting."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "reproduce_mnist1d.py"


@pytest.fixture
def script(monkeypatch):
    # importable by name: the worker processes unpickle the script's run function
    monkeypatch.syspath_prepend(str(SCRIPT.parent))
    return importlib.import_module("reproduce_mnist1d")


TINY = ["--rules", "bp", "--hidden", "1x8", "--epochs-bp", "1", "--lr-grid", "3e-3",
        "--decor-lr-grid", "1e-4", "--seeds", "0", "--workers", "1"]


def test_a_missing_output_folder_is_created_and_written(tmp_path, script):
    out = tmp_path / "new" / "folder"
    script.main([*TINY, "--out", str(out)])
    result = json.loads((out / "reproduction_mnist1d.json").read_text())
    assert [r["config"]["algorithm"] for r in result["runs"]] == ["bp", "bp"]
    assert "training CPU s to 50 / 90 / 99 % of peak" in (out / "reproduction_mnist1d.md"
                                                           ).read_text()
    for run in result["runs"]:
        # cumulative training seconds of both clocks, one per epoch
        cpu = [row["train_cpu_s"] for row in run["history"]]
        wall = [row["train_s"] for row in run["history"]]
        assert len(cpu) == len(wall) == 1 and cpu[0] > 0 and wall[0] > 0


def test_an_output_path_that_is_a_file_is_refused_before_any_run(tmp_path, capsys, script):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SystemExit) as exc:
        script.main([*TINY, "--out", str(blocker / "sub")])
    assert exc.value.code == 2
    assert "--out: cannot create the folder" in capsys.readouterr().err
