"""train --save-network and neurodecorr evaluate: a trained network deployed on a chip."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurodecorr.cli import main
from neurodecorr.core.network import Network
from neurodecorr.data import load_dataset

TRAIN = ["train", "--dataset", "digits", "--hidden", "8", "--epochs", "1", "--batch-size", "32",
         "--no-progress"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("net") / "net.npz"
    assert main([*TRAIN, "--decorrelation", "ahmad", "--device", "ecram",
                 "--update", "mixed-precision", "--save-network", str(path)]) == 0
    return path


def test_ideal_chip_scores_what_the_saved_network_computes(saved, tmp_path):
    """On ideal devices the deployed chip is the network: its accuracy is the numpy forward
    pass's (core Network.forward) at every time."""
    out = tmp_path / "e.json"
    assert main(["evaluate", str(saved), "--dataset", "digits", "--device", "ideal",
                 "--times", "1,1e6", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["results"]
    data = load_dataset("digits")
    logits = Network.load(saved).forward(data.x_test)
    want = float(np.mean(np.argmax(logits, axis=1) == data.y_test))
    assert [r["t_s"] for r in rows] == [1.0, 1e6]
    assert all(r["accuracy"] == pytest.approx(want, abs=1.5 / len(data.y_test)) for r in rows)


@pytest.fixture(scope="module")
def saved_plain(tmp_path_factory):
    """A software-trained network without decorrelation (PCM programming noise can make a
    learned lateral matrix unstable at deployment: a one-line refusal, not this test's point)."""
    path = tmp_path_factory.mktemp("net") / "plain.npz"
    assert main([*TRAIN, "--save-network", str(path)]) == 0
    return path


def test_pcm_evaluation_is_deterministic_for_a_seed(saved_plain, tmp_path):
    saved = saved_plain
    outs = []
    for name in ("a", "b"):
        out = tmp_path / f"{name}.json"
        assert main(["evaluate", str(saved), "--dataset", "digits", "--device", "pcm",
                     "--times", "1,3.15e7", "--drift-compensation", "global", "--headroom", "2",
                     "--json", str(out)]) == 0
        outs.append(out.read_bytes())
    assert outs[0] == outs[1]


@pytest.mark.parametrize(("extra", "message"), [
    (["--times", "1,x"], "--times"),
    (["--times", "-1"], "--times"),
    (["--headroom", "0"], "--headroom"),
    (["--dataset", "mnist1d"], "inputs"),
])
def test_evaluate_errors_are_one_line(saved, capsys, extra, message):
    assert main(["evaluate", str(saved), "--dataset", "digits", "--device", "ideal",
                 *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_a_saved_chip_network_exports_to_lava(saved, tmp_path):
    """The network a chip run saves is a network file export-lava reads; it records its data
    set, so a fixed-point export needs no --dataset."""
    out = tmp_path / "lava"
    assert main(["export-lava", str(saved), "--out", str(out), "--precision", "fixed"]) == 0
    assert json.loads((out / "manifest.json").read_text())["dataset"] == "digits"


def test_evaluate_defaults_to_the_data_set_the_network_was_trained_on(saved, tmp_path, capsys):
    named, recorded = tmp_path / "named.json", tmp_path / "recorded.json"
    argv = ["evaluate", str(saved), "--device", "pcm", "--times", "1,3600"]
    assert main([*argv, "--dataset", "digits", "--json", str(named)]) == 0
    assert main([*argv, "--json", str(recorded)]) == 0
    a, b = json.loads(named.read_text()), json.loads(recorded.read_text())
    assert b["dataset"] == "digits" and a["results"] == b["results"]
    # a network built in code records no data set: the user is asked to name one
    plain = tmp_path / "code.npz"
    Network.dense([64, 8, 10], np.random.default_rng(0)).save(plain)
    capsys.readouterr()
    assert main(["evaluate", str(plain), "--device", "ideal"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "records no data set" in err


def test_evaluate_deploys_on_the_hardware_the_network_records(saved, tmp_path):
    """A chip-trained network records its circuit and devices (here the default circuit of
    ``train --device ecram``); ``evaluate`` deploys on them unless ``--circuit``/``--device``
    replace them, and the default run equals the one that names them explicitly."""
    def run(name, *extra):
        out = tmp_path / f"{name}.json"
        assert main(["evaluate", str(saved), "--times", "1,3600", "--json", str(out),
                     *extra]) == 0
        return json.loads(out.read_text())

    default = run("default")
    assert default["hardware"] == {"circuit": ["node-reference"], "lateral_device": ["ecram"],
                                   "forward_device": ["ecram"]}
    named = run("named", "--circuit", "node-reference", "--device", "ecram")
    assert named["results"] == default["results"]
    assert run("device", "--device", "pcm")["hardware"]["circuit"] == ["node-reference"]
    assert run("circuit", "--circuit", "ideal")["hardware"] == {
        "circuit": ["ideal"], "lateral_device": ["ecram"], "forward_device": ["ecram"]}


@pytest.mark.parametrize("circuit", ["ideal", "node-reference"])
def test_a_decorrelating_network_trained_on_pcm_evaluates_on_pcm(tmp_path, circuit):
    """Deployment of a network whose lateral matrices were learned on PCM: the fresh PCM
    lateral arrays settle and the deployed chip scores above chance by more than six binomial
    standard deviations of the test set's size at 1 s — and after a year of drift with the
    diagonal in the nodes' digital reference (``node-reference``)."""
    net, out = tmp_path / "pcm.npz", tmp_path / "e.json"
    assert main([*TRAIN, "--hidden", "16", "--decorrelation", "ahmad", "--device", "pcm",
                 "--save-network", str(net)]) == 0
    assert main(["evaluate", str(net), "--circuit", circuit, "--times", "1,3.15e7",
                 "--drift-compensation", "global", "--json", str(out)]) == 0
    rows = json.loads(out.read_text())["results"]
    chance = 0.1 + 6 * np.sqrt(0.1 * 0.9 / len(load_dataset("digits").y_test))
    assert rows[0]["accuracy"] > chance
    if circuit == "node-reference":
        assert rows[1]["accuracy"] > chance


def test_a_matrix_the_devices_cannot_hold_is_refused_in_one_line_for_deployment(tmp_path,
                                                                                 capsys):
    """``A`` with an eigenvalue of 0.002: PCM programming noise moves it across the axis
    (-0.034 with this seed). The refusal names the time, the layer and the
    eigenvalue, gives deployment's options (not training's ``--decor-lr``) and writes no JSON."""
    import dataclasses

    net = Network.dense([64, 8, 10], np.random.default_rng(0))
    A = np.eye(64)
    A[0, 0] = 0.002
    net.layers[0] = dataclasses.replace(net.layers[0], decorrelation=np.linalg.inv(A))
    path, out = tmp_path / "fragile.npz", tmp_path / "e.json"
    net.save(path)
    capsys.readouterr()
    assert main(["evaluate", str(path), "--dataset", "digits", "--device", "pcm", "--times",
                 "1", "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "deployment at t = 1 s: the lateral circuit of layer 0 failed" in err
    assert "--circuit node-reference" in err and "--decor-lr" not in err
    assert not out.exists()
    # on a chip that already keeps the diagonal digital, that advice is not given
    assert main(["evaluate", str(path), "--dataset", "digits", "--device", "pcm", "--times",
                 "1", "--circuit", "node-reference"]) == 2
    err = capsys.readouterr().err
    assert "deployment at t = 1 s" in err and "--circuit node-reference" not in err


def test_a_relative_circuit_path_is_recorded_so_that_evaluate_runs_from_anywhere(tmp_path,
                                                                                monkeypatch,
                                                                                capsys):
    from neurodecorr.circuits.description import CIRCUIT_DIR

    train_dir, elsewhere = tmp_path / "train", tmp_path / "elsewhere"
    train_dir.mkdir()
    elsewhere.mkdir()
    (train_dir / "mine.toml").write_text((CIRCUIT_DIR / "node-reference.toml").read_text())
    monkeypatch.chdir(train_dir)
    assert main([*TRAIN, "--decorrelation", "ahmad", "--circuit", "mine.toml", "--device",
                 "ecram", "--save-network", "net.npz"]) == 0
    monkeypatch.chdir(elsewhere)
    out = elsewhere / "e.json"
    assert main(["evaluate", str(train_dir / "net.npz"), "--times", "1", "--json",
                 str(out)]) == 0
    assert json.loads(out.read_text())["hardware"]["circuit"] == [str(train_dir / "mine.toml")]
    # the recorded file gone: one line naming the hardware the network records
    (train_dir / "mine.toml").unlink()
    capsys.readouterr()
    assert main(["evaluate", str(train_dir / "net.npz"), "--times", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "the hardware the network records" in err and "replace it with --circuit" in err
