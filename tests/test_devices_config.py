"""Device presets and TOML validation: every error names the file and the key."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import tomllib

from neurodecorr.cli import main
from neurodecorr.devices import PRESET_DIR, Crossbar, list_presets, load_device
from neurodecorr.devices.config import GROUPS
from neurodecorr.errors import NeurodecorrError

DEVICE_PRESETS = ["ideal", "pcm", "pcm-hermes", "reram", "reram-cmo", "ecram", "capacitor"]


def test_required_presets_exist_and_load():
    names = list_presets()
    for name in DEVICE_PRESETS + ["periphery-8bit", "periphery-10bit"]:
        assert name in names
    for name in list_presets("device"):
        cfg = load_device(name)
        assert cfg.name == name
        assert cfg.source


@pytest.mark.parametrize("name", sorted(p.stem for p in PRESET_DIR.glob("*.toml")))
def test_every_preset_table_has_a_source_and_units(name):
    with open(PRESET_DIR / f"{name}.toml", "rb") as fh:
        raw = tomllib.load(fh)
    assert raw.get("source")
    for key in GROUPS:
        if key in raw:
            assert raw[key].get("source"), f"{name}: [{key}] has no source"


def write(tmp_path, text, name="dev.toml"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


BASE = """
name = "mine"
source = "test"
[mapping]
g_min_uS = 0.0
g_max_uS = 10.0
source = "test"
"""


@pytest.mark.parametrize(
    ("snippet", "key", "problem"),
    [
        ("[read]\nnoise_uS = -0.1\n", "noise_uS", "must be >= 0"),
        ("[read]\nnoize_uS = 0.1\n", "noize_uS", "unknown key"),
        ("[read]\nnoise_uS = \"a lot\"\n", "noise_uS", "expected a number"),
        ("[dac]\nbits = 0\n", "bits", "must lie in [1, 32]"),
        ("[adc]\nbits = 2.5\n", "bits", "expected an integer"),
        ("[faults]\nstuck_g_min_frac = 1.5\n", "stuck_g_min_frac", "must lie in [0, 1]"),
        ("[faults]\nstuck_random_frac = -0.1\n", "stuck_random_frac", "must lie in [0, 1]"),
        ("[pulsed]\nmodel = \"linear_step\"\nexp_a = 0.3\n", "exp_a", "applies to model"),
        ("[pulsed]\nmodel = \"magic\"\n", "model", "must be one of"),
        ("[programming]\nlevels = 1\n", "levels", "levels"),
        ("colour = \"red\"\n", "colour", "unknown key"),
    ],
)
def test_invalid_values_name_file_and_key(tmp_path, snippet, key, problem):
    path = write(tmp_path, BASE + snippet)
    with pytest.raises(NeurodecorrError) as exc:
        load_device(path)
    msg = str(exc.value)
    assert path in msg and key in msg and problem in msg
    assert "\n" not in msg


def test_gmin_not_below_gmax(tmp_path):
    path = write(tmp_path, "[mapping]\ng_min_uS = 5.0\ng_max_uS = 5.0\n")
    with pytest.raises(NeurodecorrError, match=r"g_max_uS: G_min >= G_max"):
        load_device(path)


def test_malformed_toml_and_unknown_preset(tmp_path):
    path = write(tmp_path, "[mapping\ng_max_uS = 1\n")
    with pytest.raises(NeurodecorrError, match="malformed TOML") as exc:
        load_device(path)
    assert path in str(exc.value)
    with pytest.raises(NeurodecorrError, match="unknown device preset 'pmc'"):
        load_device("pmc")
    with pytest.raises(NeurodecorrError, match="periphery file, not a device"):
        load_device("periphery-8bit")


def test_user_file_with_relative_periphery_and_swap(tmp_path):
    write(tmp_path, 'kind = "periphery"\nsource = "t"\n[adc]\nbits = 6\nrange_norm = 4.0\n',
          "p.toml")
    path = write(tmp_path, 'periphery = "p.toml"\n' + BASE)
    cfg = load_device(path)
    assert cfg.adc.bits == 6 and cfg.dac is None
    assert load_device("pcm+periphery-10bit").adc.bits == 10
    assert load_device("pcm").adc.bits == 8


def test_ideal_matches_gemm_to_rounding():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(40, 30))
    x = rng.normal(size=(17, 30))
    cb = Crossbar(load_device("ideal"), w, np.random.default_rng(0))
    for t in (0.0, 1e6):
        y = cb.matvec(x, t)
        assert np.linalg.norm(y - x @ w.T) <= 1e-12 * np.linalg.norm(x @ w.T)
    y32 = cb.matvec(x.astype(np.float32), 5.0)
    assert y32.dtype == np.float32
    np.testing.assert_allclose(y32, x @ w.T, rtol=1e-4, atol=1e-4)
    ref_cfg = replace(load_device("ideal"), mapping=replace(load_device("ideal").mapping,
                                                            scheme="reference"))
    y_ref = Crossbar(ref_cfg, w, np.random.default_rng(0)).matvec(x, 0.0)
    assert np.linalg.norm(y_ref - x @ w.T) <= 1e-12 * np.linalg.norm(x @ w.T)


def test_cli_list_and_show(capsys):
    assert main(["devices", "list"]) == 0
    out = capsys.readouterr().out
    for name in DEVICE_PRESETS:
        assert name in out
    assert main(["devices", "show", "pcm"]) == 0
    out = capsys.readouterr().out
    assert "Nandakumar" in out and "g_max_uS" in out and "t0_s" in out
    assert main(["devices", "show", "periphery-8bit"]) == 0


def test_cli_errors_exit_2_one_line(capsys, tmp_path):
    assert main(["devices", "show", "nonexistent"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("neurodecorr: error:") and "nonexistent" in err and "\n" not in err
    bad = write(tmp_path, "[dac]\nbits = 0\n")
    assert main(["devices", "show", bad]) == 2
    assert "bits" in capsys.readouterr().err
