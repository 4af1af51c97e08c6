"""Circuit descriptions: validation and the physics of the derived parameters."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from neurodecorr.circuits.description import (
    BOLTZMANN_J_PER_K,
    list_circuits,
    load_circuit,
)
from neurodecorr.cli import main
from neurodecorr.errors import NeurodecorrError


def test_shipped_circuits_load():
    assert {"ideal", "rc-opamp"} <= set(list_circuits())
    ideal, real = load_circuit("ideal").lateral, load_circuit("rc-opamp").lateral
    assert (ideal.noise_std, ideal.leak, ideal.rail) == (0.0, 0.0, None)
    assert real.noise_std > 0 and real.leak > 0 and real.rail == real.rail_V / real.volts_per_unit


def test_thermal_noise_is_kT_over_C():
    """Resistor noise alone: e_n/(2√τ) = sqrt(4kTR/(4RC)) = sqrt(kT/C), in volts."""
    lat = load_circuit("rc-opamp").lateral
    e_n = np.sqrt(4 * BOLTZMANN_J_PER_K * lat.temperature_K * lat.R_ohm)
    assert lat.noise_density_V_per_rtHz == pytest.approx(
        np.sqrt(e_n**2 + lat.opamp_noise_V_per_rtHz**2))
    resistor_only = e_n / (2 * np.sqrt(lat.tau_s))
    assert resistor_only == pytest.approx(np.sqrt(BOLTZMANN_J_PER_K * lat.temperature_K / lat.C_F))
    assert lat.noise_std * lat.volts_per_unit == pytest.approx(
        lat.noise_density_V_per_rtHz / (2 * np.sqrt(lat.tau_s)))


def test_mismatch_spread_matches_its_parameter(rng):
    lat = load_circuit("rc-opamp").lateral
    n = 200_000
    tau = lat.node_tau_s(n, rng)
    rel = tau / lat.tau_s
    s = lat.mismatch_sigma_rel
    # product of two independent 1 + sN(0,1) factors: mean 1, variance 2s² + s⁴
    sd = np.sqrt(2 * s**2 + s**4)
    assert rel.mean() == pytest.approx(1.0, abs=5 * sd / np.sqrt(n))
    assert rel.std() == pytest.approx(sd, rel=5 / np.sqrt(2 * n) + 0.01)


@pytest.mark.parametrize("body,match", [
    ("[lateral]\nR_ohm = -1.0\n", "R_ohm: must be > 0"),
    ("[lateral]\nC_F = 'big'\n", "C_F: expected a number"),
    ("[lateral]\nfoo = 1\n", "foo: unknown key"),
    ("[wires]\n", "unknown key 'wires'"),
    ("[activation]\nkind = 'tanh'\n", "kind: must be one of"),
    ("[energy]\npulse_J = -1e-12\n", "pulse_J: must be >= 0"),
    ("[lateral\n", "malformed TOML"),
    ("[lateral]\nweight_headroom = 0.0\n", "weight_headroom: must be > 0"),
    ("[lateral]\nsettle_tol = 1.5\n", "settle_tol: must lie in"),
    ("[lateral]\nsettle_tol = 0.0\n", "needs a settle_window_s"),
    ("[forward]\nweight_headroom = -2.0\n", "weight_headroom: must be > 0"),
    ("[lateral]\ndevice = 'no-such-device'\n", r"\[lateral\] device"),
    ("[forward]\ndevice = 'nope.toml'\n", r"\[forward\] device"),
])
def test_bad_files_name_the_file_and_key(tmp_path, body, match):
    p = tmp_path / "bad.toml"
    p.write_text(body)
    with pytest.raises(NeurodecorrError, match=match) as err:
        load_circuit(str(p))
    assert str(p) in str(err.value)


def test_unknown_name_lists_shipped(capsys):
    assert main(["circuits", "show", "no-such-circuit"]) == 2
    assert "ideal" in capsys.readouterr().err
    assert main(["circuits", "list"]) == 0


def test_device_path_is_relative_to_the_circuit_file(tmp_path):
    from neurodecorr.devices import PRESET_DIR

    (tmp_path / "mine.toml").write_text((PRESET_DIR / "ecram.toml").read_text())
    p = tmp_path / "c.toml"
    p.write_text("[forward]\ndevice = 'mine.toml'\n")
    c = load_circuit(str(p))
    assert c.forward.device == str(tmp_path / "mine.toml")


@pytest.mark.parametrize("change,match", [
    (lambda c: {"lateral": replace(c.lateral, R_ohm=-1.0)}, r"\[lateral\] R_ohm: must be > 0"),
    (lambda c: {"lateral": replace(c.lateral, settle_tol=float("nan"))},
     r"\[lateral\] settle_tol: expected a finite number"),
    (lambda c: {"activation": replace(c.activation, kind="tanh")}, r"\[activation\] kind"),
    (lambda c: {"forward": replace(c.forward, tile_size=-2)}, r"\[forward\] tile_size"),
    (lambda c: {"energy": c.lateral}, r"\[energy\]: expected a EnergyModel"),
    (lambda c: {"name": ""}, "name: must not be empty"),
])
def test_configs_validate_on_construction_not_only_from_toml(change, match):
    """A config built in code (``dataclasses.replace`` of a shipped one) is checked like a file."""
    config = load_circuit("rc-opamp")
    assert replace(config) == config
    with pytest.raises(NeurodecorrError, match=match):
        replace(config, **change(config))
