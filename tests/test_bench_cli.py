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
    (case,) = result["cases"]
    assert {"name", "device", "n", "batch", "rel_error"} <= set(case)
    assert case["n"] == 8 and case["rel_error"] < 1e-10
    assert "synthetic-decorrelation" in capsys.readouterr().out


@pytest.mark.parametrize("body,match", [
    ("[[case]]\nkind = 'warp'\n", "kind must be one of"),
    ("[[case]]\nkind = 'decorrelation'\nn = 'eight'\n", "'n' must be int"),
    ("[[case]]\nkind = 'decorrelation'\nbogus = 1\n", "unknown key 'bogus'"),
    ("[scenario]\nname = 'x'\n", "no \\[\\[case\\]\\] tables"),
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
