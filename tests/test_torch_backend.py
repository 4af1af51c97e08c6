"""The torch engine on the shared Network: its forward trace against the numpy backend's, the
Network it writes back, and its runs saved, resumed and evaluated through the numpy engine's
files."""

from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurodecorr.cli import main  # noqa: E402
from neurodecorr.core import Layer, Network, NumpyBackend  # noqa: E402
from neurodecorr.data import load_dataset  # noqa: E402
from neurodecorr.errors import NeurodecorrError  # noqa: E402
from neurodecorr.learning.checkpoint import read_checkpoint  # noqa: E402
from neurodecorr.torch.backend import TorchEngineBackend  # noqa: E402
from neurodecorr.torch.network import DecorNet  # noqa: E402


def _network(rng: np.random.Generator) -> Network:
    """7 → 6 (decorrelated) → 5 (plain) → 3 (decorrelated, linear); leaky ReLU 0.05."""
    def M(n):
        return np.eye(n) + 0.2 * rng.standard_normal((n, n)) / np.sqrt(n)

    def W(o, i):
        return rng.standard_normal((o, i)) / np.sqrt(i)

    return Network([Layer(W(6, 7), rng.standard_normal(6), M(7), "leaky_relu", 0.05),
                    Layer(W(5, 6), rng.standard_normal(5), None, "leaky_relu", 0.05),
                    Layer(W(3, 5), rng.standard_normal(3), M(5), "identity")])


@pytest.mark.parametrize("rows", [2, 40])  # 2 rows: every layer forms x̄; 40: W M is fused
def test_float64_trace_equals_numpy(rows):
    rng = np.random.default_rng(11)
    net, X = _network(rng), rng.standard_normal((rows, 7))
    noise = [rng.standard_normal((rows, n)) for n in (6, 5, 3)]
    for kwargs in ({}, {"noise": noise}):
        exact = NumpyBackend().forward(net, X, **kwargs)
        trace = TorchEngineBackend("cpu").forward(net, X, **kwargs)
        for field in ("x", "xbar", "z"):
            for got, want in zip(getattr(trace, field), getattr(exact, field), strict=True):
                np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


def test_write_to_returns_the_network_it_was_built_from():
    rng = np.random.default_rng(12)
    net = _network(rng)
    target = _network(np.random.default_rng(13))
    DecorNet.from_network(net).write_to(target)
    for a, b in zip(net.layers, target.layers, strict=True):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.bias, b.bias)
        assert (a.decorrelation is None) == (b.decorrelation is None)
        if a.decorrelation is not None:
            assert np.array_equal(a.decorrelation, b.decorrelation)


def test_a_network_the_engine_cannot_compute_is_refused():
    rng = np.random.default_rng(14)
    net = _network(rng)
    net.layers[1].negative_slope = 0.2  # two hidden slopes
    with pytest.raises(NeurodecorrError, match="one slope"):
        DecorNet.from_network(net)


BASE = ["train", "--dataset", "digits", "--hidden", "16", "--batch-size", "64", "--no-progress",
        "--algorithm", "fa", "--decorrelation", "ahmad", "--dtype", "float64"]


def test_torch_runs_save_resume_and_evaluate_through_the_numpy_files(tmp_path):
    """Two epochs at once equal one epoch, a checkpoint, and one more resumed (torch engine);
    the saved network is the engine's own and ``evaluate`` reproduces its test accuracy; a
    torch checkpoint resumes on the numpy engine too."""
    whole, ck = tmp_path / "whole.npz", tmp_path / "ck.npz"
    assert main([*BASE, "--engine", "torch", "--epochs", "2", "--save-network", str(whole),
                 "--json", str(tmp_path / "whole.json")]) == 0
    assert main([*BASE, "--engine", "torch", "--epochs", "1", "--checkpoint", str(ck)]) == 0
    saved_after_one = read_checkpoint(ck)
    assert saved_after_one[2]["epoch"] == 1 and saved_after_one[2]["adam_step"] > 0
    assert main([*BASE, "--engine", "torch", "--epochs", "2", "--checkpoint", str(ck),
                 "--resume", "--save-network", str(tmp_path / "resumed.npz")]) == 0
    a, b = Network.load(whole), Network.load(tmp_path / "resumed.npz")
    for la, lb in zip(a.layers, b.layers, strict=True):
        np.testing.assert_allclose(lb.weight, la.weight, rtol=0, atol=1e-12)
        np.testing.assert_allclose(lb.decorrelation, la.decorrelation, rtol=0, atol=1e-12)
    history = json.loads((tmp_path / "whole.json").read_text())["history"]
    data = load_dataset("digits")
    logits = NumpyBackend().forward(a, data.x_test).logits
    assert np.mean(logits.argmax(1) == data.y_test) == history[-1]["test_acc"]
    assert main(["evaluate", str(whole), "--times", "1", "--json",
                 str(tmp_path / "eval.json")]) == 0
    evaluated = json.loads((tmp_path / "eval.json").read_text())
    assert evaluated["dataset"] == "digits"  # recorded by the torch run
    # the ideal chip settles its lateral circuits to a tolerance: a sample or two may flip
    n_test = len(data.y_test)
    assert abs(evaluated["results"][0]["accuracy"] - history[-1]["test_acc"]) <= 2 / n_test
    # the same checkpoint continues on the numpy engine (same format)
    numpy_ck = tmp_path / "numpy.npz"
    numpy_ck.write_bytes(ck.read_bytes())
    numpy_base = [arg for arg in BASE if arg not in ("--dtype", "float64")]  # always float64
    assert main([*numpy_base, "--epochs", "3", "--checkpoint", str(numpy_ck), "--resume"]) == 0
    assert read_checkpoint(numpy_ck)[2]["epoch"] == 3


def test_conv_runs_refuse_network_files(tmp_path, capsys):
    assert main([*BASE, "--engine", "torch", "--conv", "4", "--epochs", "1",
                 "--save-network", str(tmp_path / "n.npz")]) == 2
    err = capsys.readouterr().err
    assert "not a Network" in err and "Traceback" not in err
