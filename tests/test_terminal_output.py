"""Listing commands in a 100-column terminal: every line fits, titles survive, --json parses."""

from __future__ import annotations

import json
import os

import pytest

from neurodecorr.bench.report import print_table
from neurodecorr.circuits.description import list_circuits, load_circuit
from neurodecorr.cli import main
from neurodecorr.devices.presets import list_presets, load_raw


@pytest.fixture(autouse=True)
def hundred_columns(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")


def _lines(capsys, argv: list[str]) -> list[str]:
    assert main(argv) == 0
    return capsys.readouterr().out.splitlines()


def test_devices_list_fits_and_names_every_preset(capsys):
    lines = _lines(capsys, ["devices", "list"])
    assert max(map(len, lines)) <= 100
    names = {line.split()[0] for line in lines if not line.startswith(" ")}
    assert names == set(list_presets())


@pytest.mark.parametrize("name", [*list_presets(), "pcm+periphery-10bit"])
def test_devices_show_fits_and_keeps_every_value(capsys, name):
    lines = _lines(capsys, ["devices", "show", name])
    assert max(map(len, lines)) <= 100
    shown = json.loads("".join(_lines(capsys, ["devices", "show", name, "--json"])))
    # every parameter of every table is on its own line, name first (folding only continues
    # long values and sources)
    keys = {line.split()[0] for line in lines if line.startswith("  ") and " = " in line}
    for table in shown["tables"].values():
        if table is not None:
            assert {k for k in table if k != "source"} <= keys


def test_devices_list_json_matches_the_files(capsys):
    rows = json.loads("".join(_lines(capsys, ["devices", "list", "--json"])))
    assert [r["name"] for r in rows] == list_presets()
    for r in rows:
        raw = load_raw(r["name"])[1]
        assert r["source"] == raw["source"] and r["description"] == raw["description"]


@pytest.mark.parametrize("name", list_circuits())
def test_circuits_show_keeps_table_titles(capsys, name):
    lines = _lines(capsys, ["circuits", "show", name])
    assert max(map(len, lines)) <= 100
    titles = {line.strip() for line in lines if line.strip().startswith("[")}
    expected = {f"[{k}]" for k, v in load_circuit(name).to_dict().items() if isinstance(v, dict)}
    assert titles == expected


def test_circuits_list_json(capsys):
    rows = json.loads("".join(_lines(capsys, ["circuits", "list", "--json"])))
    assert [r["name"] for r in rows] == list_circuits()
    for r in rows:
        c = load_circuit(r["name"])
        assert r["tau_s"] == pytest.approx(c.lateral.R_ohm * c.lateral.C_F)
    assert max(map(len, _lines(capsys, ["circuits", "list"]))) <= 100


def test_bench_table_splits_its_columns_to_fit(tmp_path, capsys):
    spec = tmp_path / "s.toml"
    spec.write_text("[[case]]\nname = 'settle-pcm'\nkind = 'settle'\nn = 8\nbatch = 4\n"
                    "device = 'pcm'\nratios = ['device_overhead', 'gemm_fraction']\n"
                    "steps = 3\nrepeats = 1\n")
    out = tmp_path / "r.json"
    lines = _lines(capsys, ["bench", "--scenario", str(spec), "--repeats", "1",
                            "--reference", "cpu", "--json", str(out)])
    assert max(map(len, lines)) <= 100
    result = json.loads(out.read_text())
    # every metric the case reports is shown, with the value the JSON holds
    text = "\n".join(lines)
    case = result["cases"][0]
    for header, key in (("rel err", "rel_error"), ("gemm frac", "gemm_fraction"),
                        ("dev overhead", "device_overhead")):
        assert header in text and f"{case[key]:.3g}" in text


@pytest.mark.parametrize("width", [60, 100, 140, 250])
def test_print_table_never_exceeds_the_width(width):
    from rich.console import Console

    case = {"name": "a-rather-long-case-name", "device": "pcm-hermes", "n": 1024, "batch": 64,
            "rel_error": 1.234e-5, "converged": True, "offdiag_corr_rms_before": 0.31,
            "offdiag_corr_rms_linear": 0.012, "offdiag_corr_rms_recurrent": 0.013,
            "samples_per_s": 12345.6, "gemm_fraction": 0.5, "speedup_vs_solve_ivp": 33.3,
            "speedup_vs_lava": 4.4, "device_overhead": 2.2, "cost_exponent": 2.01}
    with open(os.devnull, "w") as sink:
        console = Console(width=width, record=True, file=sink)
        print_table({"scenario": "s", "reference_device": "cpu", "cases": [case]}, console)
    text = console.export_text()
    assert max(map(len, text.splitlines())) <= width
    assert text.count(case["name"]) == (1 if width >= 250 else text.count("┃ case"))
    for value in ("1.23e-05", "1.23e+04", "2.01", "33.3"):
        assert value in text
