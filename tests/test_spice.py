"""The SPICE export against ngspice, the closed forms and the ODE simulator.

ngspice is the producer of every raw file read here and the simulator of every netlist written;
the truths are closed forms (RC charging, ``(A + Λ)⁻¹ x``, the matrix exponential of the
circuit's linear equation, the finite-gain offset) and the simulator's own settle.
"""

from __future__ import annotations

import json
import os
import subprocess

import numpy as np
import pytest
from scipy.linalg import expm

from neurodecorr.circuits.description import load_circuit
from neurodecorr.circuits.lateral import LateralArray
from neurodecorr.cli import main
from neurodecorr.core.network import Hardware, Layer, Network
from neurodecorr.devices import load_device
from neurodecorr.errors import NeurodecorrError
from neurodecorr.spice import (
    draw_from_matrix,
    draw_from_network,
    find_ngspice,
    read_raw,
    run_ngspice,
    spice_check,
    write_netlist,
)
from neurodecorr.spice.check import finite_gain_offset, settling_time
from neurodecorr.spice.ngspice import INSTALL_HINT

needs_ngspice = pytest.mark.skipif(find_ngspice() is None,
                                   reason=f"ngspice is not on PATH; {INSTALL_HINT}")

V_UNIT = 0.25


def _circuit_file(tmp_path, *, mismatch=0.0, rail_V=0.0, device="ideal", pole_Hz=0.0,
                  gain=1.0e4, name="test"):
    path = tmp_path / f"{name}.toml"
    path.write_text(f"""name = "{name}"
[lateral]
R_ohm = 1.0e6
C_F = 1.0e-12
mismatch_sigma_rel = {mismatch}
opamp_gain = {gain}
opamp_pole_Hz = {pole_Hz}
rail_V = {rail_V}
volts_per_unit = {V_UNIT}
device = "{device}"
settle_tol = 1.0e-4
""")
    return load_circuit(str(path))


def _problem(n: int, seed: int):
    rng = np.random.default_rng(seed)
    A = np.eye(n) + 0.3 / np.sqrt(n) * rng.standard_normal((n, n))
    x = rng.standard_normal(n)
    return A, x


# -- the raw file reader, through ngspice itself ---------------------------------------------

RC_NETLIST = """* RC charging: v(out) = 1 - exp(-t/RC), RC = 1 us
.options reltol=1e-7
V1 in 0 DC 1
R1 in out 1e6
C1 out 0 1e-12
.tran 1e-8 5e-6 0 1e-8 uic
.end
"""


@needs_ngspice
@pytest.mark.parametrize("ascii_raw", ["0", "1"])
def test_raw_file_of_ngspice_reads_as_rc_charging(tmp_path, ascii_raw):
    (tmp_path / "rc.cir").write_text(RC_NETLIST)
    env = dict(os.environ, SPICE_ASCIIRAWFILE=ascii_raw)
    subprocess.run([find_ngspice(), "-b", "-r", "rc.raw", "rc.cir"], cwd=tmp_path, env=env,
                   capture_output=True, check=True)
    data = (tmp_path / "rc.raw").read_bytes()
    assert (b"Values:" in data) == (ascii_raw == "1")
    v = read_raw(data)
    t = v["time"]
    assert t[-1] == pytest.approx(5e-6) and t.size > 400
    np.testing.assert_allclose(v["v(out)"], 1 - np.exp(-t / 1e-6), atol=1e-5)


def test_truncated_raw_file_is_refused():
    header = (b"Title: x\nPlotname: Transient Analysis\nFlags: real\nNo. Variables: 2\n"
              b"No. Points: 3\nVariables:\n\t0\ttime\ttime\n\t1\tv(a)\tvoltage\nBinary:\n")
    with pytest.raises(NeurodecorrError, match="truncated"):
        read_raw(header + np.zeros(5).tobytes())
    with pytest.raises(NeurodecorrError, match="not an ngspice raw file"):
        read_raw(b"hello\n")


# -- the drawn circuit is the simulator's ----------------------------------------------------

def test_drawn_components_are_the_lateral_arrays(tmp_path):
    config = _circuit_file(tmp_path, mismatch=0.02, device="pcm")
    A, x = _problem(6, 1)
    c = draw_from_matrix(config, A, x, seed=7)
    array = LateralArray(config.lateral, A, load_device("pcm"), np.random.default_rng(7))
    np.testing.assert_allclose(c.tau_s, array.tau_i_s, rtol=1e-15)
    # the conductance pairs hold the matrix the simulator's circuit integrates at t = 0: the
    # programmed conductances with the device model's slow state then (PCM: the 1/f state at
    # its clock t0), without per-read noise
    np.testing.assert_allclose(c.matrix, array.crossbar.read_weights(0.0), rtol=1e-12,
                               atol=1e-14)
    assert not np.allclose(c.matrix, A, atol=1e-3)  # programming noise is in it
    # a different seed draws a different chip
    other = draw_from_matrix(config, A, x, seed=8)
    assert not np.allclose(other.tau_s, c.tau_s)


REFERENCE_DEVICE = """kind = "device"
name = "reference-scheme"
periphery = "periphery-ideal"
[mapping]
scheme = "reference"
g_min_uS = 2.0
g_max_uS = 30.0
[programming]
noise_poly_uS = [0.3]
"""


@needs_ngspice
def test_reference_scheme_pairs_each_device_with_its_rows_reference(tmp_path):
    (tmp_path / "ref.toml").write_text(REFERENCE_DEVICE)
    A, x = _problem(5, 9)
    config = _circuit_file(tmp_path, mismatch=0.02, device=str(tmp_path / "ref.toml"))
    c = draw_from_matrix(config, A, x, seed=2)
    array = LateralArray(config.lateral, A, load_device(str(tmp_path / "ref.toml")),
                         np.random.default_rng(2))
    np.testing.assert_allclose(c.matrix, array.crossbar.read_weights(0.0), rtol=1e-12,
                               atol=1e-14)
    # every weight has both devices conducting (the reference sits mid-range)
    assert np.all(c.G_pos_S > 0) and np.all(c.G_neg_S > 0)
    check = spice_check(c)
    assert check.settled_error <= 1e-3 and check.transient_error <= 1e-2
    assert check.fixed_point_error <= 1e-5


def test_finite_gain_offset_is_the_difference_of_the_two_fixed_points():
    from neurodecorr.spice.circuit import SpiceCircuit

    n = 7
    rng = np.random.default_rng(3)
    A, x = _problem(n, 3)
    R = 1e6 * (1 + 0.05 * rng.standard_normal(n))
    G_pos = np.maximum(A, 0) / R[:, None]
    G_neg = np.maximum(-A, 0) / R[:, None]
    c = SpiceCircuit(R_ohm=R, C_F=np.full(n, 1e-12), G_pos_S=G_pos, G_neg_S=G_neg, x=x,
                     opamp_gain=300.0, opamp_pole_Hz=0.0, rail_V=0.0, volts_per_unit=V_UNIT,
                     model_leak=1 / 300.0, t_stop_s=1e-5)
    beta = 1 + np.abs(A).sum(axis=1) * R / R  # R_i Σ_j |A_ij|/R_i
    np.testing.assert_allclose(c.noise_gain, beta, rtol=1e-12)
    model = np.linalg.solve(A + np.eye(n) / 300.0, x)
    circuit = np.linalg.solve(A + np.diag(beta / 300.0), x)
    np.testing.assert_allclose(finite_gain_offset(c, model), circuit - model, rtol=1e-9,
                               atol=1e-14)


def test_settling_time_of_an_exponential():
    t = np.linspace(0, 30, 30001)
    X = (1 - np.exp(-t))[:, None] * np.array([[2.0, -1.0]])
    # max_i |X_i(t) - X_i(T)| / max_i |X_i(T)| = e^-t (1 - e^-(T - t)) ~ e^-t
    assert settling_time(t, X, 1e-3) == pytest.approx(np.log(1e3), rel=1e-4)
    assert np.isnan(settling_time(t[:3000], X[:3000], 1e-6))


# -- ngspice against the closed forms and the ODE --------------------------------------------

def _clipping_rail(A, x, fraction=0.7):
    """A rail at ``fraction`` of the largest unclipped state: at least one node clips."""
    return fraction * float(np.max(np.abs(np.linalg.solve(A, x)))) * V_UNIT


@needs_ngspice
@pytest.mark.parametrize("n", [2, 3, 4, 6, 8, 12, 16])
@pytest.mark.parametrize("mismatch", [False, True])
@pytest.mark.parametrize("rails", [False, True])
def test_ngspice_agrees_with_the_ode(tmp_path, n, mismatch, rails):
    A, x = _problem(n, n)
    config = _circuit_file(tmp_path, mismatch=0.02 if mismatch else 0.0,
                           device="pcm" if mismatch else "ideal",
                           rail_V=_clipping_rail(A, x) if rails else 0.0)
    c = draw_from_matrix(config, A, x, seed=n)
    check = spice_check(c)
    assert check.settled_error <= 1e-3
    assert check.transient_error <= 1e-2
    # the finite-gain load is what separates ngspice from the simulator's own model, and the
    # closed form accounts for it
    assert check.offset_error <= 1e-3
    # settling times agree within 2 % and the ODE grid's resolution (a node reaching its rail
    # is a kink between two samples)
    grid = check.t_s[1] - check.t_s[0]
    assert abs(check.settling_time_spice_s - check.settling_time_ode_s) <= (
        0.02 * check.settling_time_ode_s + 2 * grid)
    if rails:
        assert check.clipped >= 1
        assert np.all(np.abs(check.xbar_spice[-1]) <= c.rail * (1 + 1e-4))
    else:
        assert check.clipped == 0
        np.testing.assert_allclose(check.xbar_spice[-1], np.linalg.solve(c.system_matrix, c.x),
                                   rtol=1e-5, atol=1e-6 * np.max(np.abs(c.x)))


@needs_ngspice
@pytest.mark.parametrize("n", [2, 6])
def test_ngspice_transient_is_the_matrix_exponential(tmp_path, n):
    """Without rails the circuit is τ' dx̄/dt = x − (A + Λ) x̄: x̄(t) = (I − e^{−Kt}) (A+Λ)⁻¹x."""
    A, x = _problem(n, 10 + n)
    c = draw_from_matrix(_circuit_file(tmp_path, mismatch=0.03, gain=200.0), A, x, seed=2)
    raw = run_ngspice(write_netlist(c))
    t = raw["time"]
    X = -np.stack([raw[f"v(o{k})"] for k in range(1, n + 1)], axis=1) / V_UNIT
    K = c.system_matrix / c.effective_tau_s[:, None]
    star = np.linalg.solve(c.system_matrix, c.x)
    pick = np.linspace(0, t.size - 1, 60).astype(int)
    exact = np.array([star - expm(-K * t[k]) @ star for k in pick])
    span = np.max(exact) - np.min(exact)
    assert np.max(np.abs(X[pick] - exact)) <= 1e-4 * span


@needs_ngspice
def test_op_amp_pole_is_accounted_for_to_first_order(tmp_path):
    n = 8
    A, x = _problem(n, n)
    config = _circuit_file(tmp_path, mismatch=0.02, pole_Hz=1e4,  # gain-bandwidth 100 MHz
                           rail_V=_clipping_rail(A, x))
    c = draw_from_matrix(config, A, x, seed=1)
    check = spice_check(c)
    assert check.clipped >= 1
    assert check.settled_error <= 1e-3
    assert check.transient_error <= 1e-2


# -- a layer of a network -------------------------------------------------------------------

def _network(tmp_path, hardware=None):
    rng = np.random.default_rng(5)
    A0, _ = _problem(5, 5)
    layers = [Layer(weight=rng.standard_normal((4, 5)), bias=np.zeros(4),
                    decorrelation=np.linalg.inv(A0)),
              Layer(weight=rng.standard_normal((3, 4)), bias=np.zeros(3), decorrelation=None,
                    activation="identity")]
    net = Network(layers=layers, hardware=hardware)
    net.save(tmp_path / "net.npz")
    return net, A0


def test_network_layer_is_the_chips_lateral_circuit(tmp_path):
    from neurodecorr.circuits.chip import Chip

    _circuit_file(tmp_path, mismatch=0.02, device="pcm")
    net, A0 = _network(tmp_path, Hardware.on(str(tmp_path / "test.toml")))
    x = np.linspace(-1, 1, 5)
    c = draw_from_network(net, 0, x, seed=4)
    assert c.about["device"] == "pcm"
    chip_array = Chip(net, 4).layers[0].lateral
    np.testing.assert_allclose(c.tau_s, chip_array.tau_i_s, rtol=1e-15)
    np.testing.assert_allclose(c.matrix, chip_array.crossbar.read_weights(0.0), rtol=1e-12,
                               atol=1e-14)
    assert np.std(c.tau_s) > 0  # the network's own circuit, with mismatch
    with pytest.raises(NeurodecorrError, match="no decorrelation"):
        draw_from_network(net, 1, np.ones(4), seed=4)
    with pytest.raises(NeurodecorrError, match="out of range"):
        draw_from_network(net, 2, x, seed=4)


# -- the commands ---------------------------------------------------------------------------

@needs_ngspice
def test_export_spice_netlist_runs_in_ngspice(tmp_path):
    A, x = _problem(4, 2)
    np.save(tmp_path / "A.npy", A)
    np.save(tmp_path / "X.npy", np.stack([x, -x]))
    out = tmp_path / "layer.cir"
    rc = main(["export-spice", "--matrix", str(tmp_path / "A.npy"), "--input",
               str(tmp_path / "X.npy"), "--sample", "1", "--circuit", "ideal", "--seed", "3",
               "--out", str(out)])
    assert rc == 0
    text = out.read_text()
    assert text.startswith("* neurodecorr lateral layer: 4 nodes")
    assert ".tran" in text and "Bclamp" not in text  # the ideal circuit has no rails
    subprocess.run([find_ngspice(), "-b", "-r", "layer.raw", "layer.cir"], cwd=tmp_path,
                   capture_output=True, check=True)
    raw = read_raw((tmp_path / "layer.raw").read_bytes())
    xbar = -np.array([raw[f"v(o{k})"][-1] for k in range(1, 5)])  # ideal: 1 V per unit
    np.testing.assert_allclose(xbar, np.linalg.solve(A, -x), rtol=1e-6)


@needs_ngspice
def test_spice_check_command_writes_table_json_and_plot(tmp_path, capsys):
    net, A0 = _network(tmp_path)
    np.save(tmp_path / "x.npy", np.linspace(-1, 1, 5))
    js, png = tmp_path / "c.json", tmp_path / "c.png"
    rc = main(["spice-check", "--network", str(tmp_path / "net.npz"), "--layer", "0",
               "--input", str(tmp_path / "x.npy"), "--circuit", "rc-opamp",
               "--t-stop", "2e-5", "--json", str(js), "--plot", str(png)])
    assert rc == 0
    assert "settled error (finite-gain corrected)" in capsys.readouterr().out
    report = json.loads(js.read_text())
    assert report["n"] == 5 and report["t_stop_s"] == pytest.approx(2e-5)
    assert report["settled_error"] <= 1e-3 and report["transient_error"] <= 1e-2
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("args, message", [
    (["--network", "{p}/A.npy", "--matrix", "{p}/A.npy"], "exactly one of"),
    (["--matrix", "{p}/A.npy", "--layer", "0"], "--layer"),
    (["--matrix", "{p}/A.npy", "--sample", "5"], "--sample"),
    (["--matrix", "{p}/X.npy"], "--matrix"),
    (["--matrix", "{p}/A.npy", "--circuit", "nosuch"], "unknown circuit"),
    (["--matrix", "{p}/A.npy", "--ngspice", "{p}/no-ngspice"], "ngspice"),
    (["--matrix", "{p}/A.npy", "--seed", "-1"], "--seed"),
    (["--matrix", "{p}/A.npy", "--t-stop", "0"], "--t-stop"),
    (["--network", "{p}/A.npy", "--layer", "0"], "A.npy"),
    (["--matrix", "{p}/A.npy", "--plot", "{p}/c.json"], "--json"),
])
def test_spice_check_user_errors_are_one_line_and_write_nothing(tmp_path, capsys, args,
                                                                 message):
    np.save(tmp_path / "A.npy", np.eye(3))
    np.save(tmp_path / "X.npy", np.ones((2, 3)))
    js = tmp_path / "c.json"
    argv = ["spice-check", "--input", str(tmp_path / "X.npy"), "--json", str(js)]
    argv += [a.format(p=tmp_path) for a in args]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not js.exists()


@needs_ngspice
def test_low_gain_offset_needs_the_correction(tmp_path):
    """At A0 = 100 the simulator's leak model misses the conductances' load by far more than
    1e-3; the closed form removes it."""
    A, x = _problem(8, 8)
    config = _circuit_file(tmp_path, mismatch=0.02, gain=100.0, rail_V=_clipping_rail(A, x))
    check = spice_check(draw_from_matrix(config, A, x, seed=3))
    assert check.settled_error_model > 5e-3
    assert check.settled_error <= 1e-3 and check.offset_error <= 1e-3
    assert check.transient_error <= 1e-2


def test_netlist_saves_every_node_in_short_lines(tmp_path):
    A, x = _problem(40, 4)
    text = write_netlist(draw_from_matrix(_circuit_file(tmp_path), A, x, seed=0))
    saves = [ln for ln in text.splitlines() if ln.startswith(".save")]
    assert len(saves) == 3 and all(len(ln) < 200 for ln in saves)
    assert " ".join(saves).count("v(o") == 40 and "v(o40)" in saves[-1]


def test_export_spice_never_overwrites_its_input(tmp_path, capsys):
    np.save(tmp_path / "A.npy", np.eye(3))
    np.save(tmp_path / "X.npy", np.ones(3))
    before = (tmp_path / "A.npy").read_bytes()
    rc = main(["export-spice", "--matrix", str(tmp_path / "A.npy"), "--input",
               str(tmp_path / "X.npy"), "--out", str(tmp_path / "A.npy")])
    assert rc == 2 and "--matrix" in capsys.readouterr().err
    assert (tmp_path / "A.npy").read_bytes() == before
