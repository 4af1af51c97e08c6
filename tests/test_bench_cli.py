"""``neurodecorr bench`` on a tiny scenario: the table, the JSON schema, the errors."""

from __future__ import annotations

import json
import re

import pytest

from neurodecorr.cli import main

TINY = """
[scenario]
name = "tiny"
description = "test"

[[case]]
name = "synthetic-decorrelation"
kind = "decorrelation"
data = "synthetic"
n = 8
samples = 256
batch = 32
epochs = 2
eta = 0.01

[[case]]
name = "settle-ideal-device"
kind = "settle"
n = 12
batch = 16
device = "ideal"
tol = 1e-10

[[case]]
name = "settle-pcm"
kind = "settle"
n = 12
batch = 16
device = "pcm"
age_s = 3600.0
ratios = ["device_overhead", "gemm_fraction"]
steps = 5
repeats = 1

[[case]]
name = "scaling"
kind = "scaling"
ns = [8, 16, 32]
batch = 8
steps = 3
repeats = 1
"""


def test_tiny_scenario_json_schema(tmp_path, capsys):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY)
    out = tmp_path / "r.json"
    assert main(["bench", "--scenario", str(spec), "--reference", "cpu", "--repeats", "1",
                 "--json", str(out), "--plot", str(tmp_path / "figs")]) == 0
    result = json.loads(out.read_text())
    assert result["reference_device"] == "cpu"
    assert {"python", "cpu", "gpu", "versions"} <= set(result["environment"])
    decor, ideal, pcm, scaling = result["cases"]
    for case in result["cases"]:
        assert {"name", "kind", "device", "n", "batch", "wall_s"} <= set(case)
    assert decor["n"] == 8 and decor["rel_error"] < 1e-10
    assert ideal["converged"] and ideal["rel_error"] < 1e-6
    assert len(ideal["settling_times_s"]) == 16
    # a drifted, noisy array settles somewhere else than the exact fixed point
    assert pcm["rel_error"] > 1e-3 and pcm["device_overhead"] > 0 and pcm["gemm_fraction"] > 0
    assert scaling["ns"] == [8, 16, 32] and len(scaling["seconds_per_sample"]) == 3
    assert {p.name for p in (tmp_path / "figs").iterdir()} == {
        "error_per_device.png", "cost_against_n.png", "settling_times.png"}
    assert "synthetic-decorrelation" in capsys.readouterr().out


@pytest.mark.parametrize("body,match", [
    ("[[case]]\nkind = 'warp'\n", "kind must be one of"),
    ("[[case]]\nkind = 'decorrelation'\nn = 'eight'\n", "'n' must be int"),
    ("[[case]]\nkind = 'decorrelation'\nbogus = 1\n", "unknown key 'bogus'"),
    ("[scenario]\nname = 'x'\n", "no \\[\\[case\\]\\] tables"),
    ("[[case]]\nkind = 'settle'\ndevice = 'nonesuch'\n", "nonesuch"),
    ("[[case]]\nkind = 'settle'\nratios = ['warp']\n", "unknown ratio 'warp'"),
    ("[[case]]\nkind = 'scaling'\nns = [8]\n", "at least two sizes"),
    # 8 B × 16 copies × (n² + n·batch): 1.2e3 GiB and 7.6e6 GiB, far beyond the 4 GiB limit
    ("[[case]]\nkind = 'settle'\nn = 100000\ndevice = 'ideal'\n", "n = 100000 .*1.2e\\+03 GiB"),
    ("[[case]]\nkind = 'settle'\nbatch = 1000000000000\n", "batch = 1000000000000 .*GiB"),
    ("[[case]]\nkind = 'scaling'\nns = [8, 300000]\n", "n = 300000 .*GiB"),
])
def test_bad_scenarios_exit_2(tmp_path, capsys, body, match):
    spec = tmp_path / "bad.toml"
    spec.write_text(body)
    out = tmp_path / "r.json"
    assert main(["bench", "--scenario", str(spec), "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.search(match, err), err
    assert not out.exists()


def test_unknown_scenario_name(capsys):
    assert main(["bench", "--scenario", "no-such-scenario"]) == 2
    assert "quick" in capsys.readouterr().err


def test_a_refused_case_is_recorded_and_the_others_run(tmp_path):
    """A capacitor array a day after programming has leaked to nothing: that case is refused
    (its effective matrix is singular) and reported, and the run goes on."""
    spec = tmp_path / "s.toml"
    spec.write_text("[[case]]\nname = 'leaked'\nkind = 'settle'\nn = 8\nbatch = 4\n"
                    "device = 'capacitor'\nage_s = 86400.0\n\n"
                    "[[case]]\nname = 'fine'\nkind = 'settle'\nn = 8\nbatch = 4\n")
    out = tmp_path / "r.json"
    assert main(["bench", "--scenario", str(spec), "--repeats", "1", "--json", str(out)]) == 0
    leaked, fine = json.loads(out.read_text())["cases"]
    assert "unstable" in leaked["error"]
    assert fine["converged"] and "error" not in fine


TORCH_ENGINE = """
[[case]]
name = "torch-engine"
kind = "torch_engine"
hidden = "1x16"
train_rows = 128
repeats = 1
"""


def test_torch_engine_case_reports_both_fractions_of_matmul(tmp_path):
    pytest.importorskip("torch")
    import torch

    spec = tmp_path / "t.toml"
    spec.write_text(TORCH_ENGINE)
    out = tmp_path / "r.json"
    assert main(["bench", "--scenario", str(spec), "--repeats", "1", "--json", str(out)]) == 0
    (row,) = json.loads(out.read_text())["cases"]
    assert "error" not in row
    # each fraction is the products' time over the path's, both timed in this run
    assert row["engine_fraction_of_matmul"] == pytest.approx(
        row["engine_matmul_s"] / row["engine_epoch_s"], rel=1e-12)
    assert row["reference_fraction_of_matmul"] == pytest.approx(
        row["reference_matmul_s"] / row["reference_forward_s"], rel=1e-12)
    assert row["engine_fraction_of_matmul"] > 0 and row["reference_fraction_of_matmul"] > 0
    assert row["sizes"] == [40, 16, 10] and row["train_rows"] == 128
    assert row["device"].startswith("cuda (" if torch.cuda.is_available() else "cpu")


def test_torch_engine_case_without_torch_says_why(monkeypatch):
    import sys

    from neurodecorr.bench.torch_speed import torch_engine_fractions

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    row = torch_engine_fractions("mnist1d", (16,), 64, "float32", "auto", 1, 0, 128)
    assert row["engine_fraction_of_matmul"] is None
    assert row["reference_fraction_of_matmul"] is None
    assert "torch is not installed" in row["torch"]


@pytest.mark.parametrize("scenario", ["quick", "full"])
def test_shipped_scenarios_measure_the_torch_engine(scenario):
    from neurodecorr.bench.scenario import load_scenario

    kinds = [case.kind for case in load_scenario(scenario).cases]
    assert "torch_engine" in kinds


@pytest.mark.parametrize("body, match", [
    ("device = 'tpu'", "'device' must be auto, cpu or cuda"),
    ("hidden = 'x'", "hidden"),
    ("train_rows = -1", "'train_rows' must be >= 0"),
])
def test_bad_torch_engine_cases_exit_2(tmp_path, capsys, body, match):
    spec = tmp_path / "t.toml"
    spec.write_text(f"[[case]]\nname = 'c'\nkind = 'torch_engine'\n{body}\n")
    assert main(["bench", "--scenario", str(spec)]) == 2
    assert match in capsys.readouterr().err
