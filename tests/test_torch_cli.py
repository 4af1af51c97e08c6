"""``train --engine torch`` and ``--diagnostics`` through the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("torch")

from neurodecorr.cli import main  # noqa: E402

BASE = ["train", "--dataset", "digits", "--hidden", "16", "--batch-size", "64", "--no-progress",
        "--epochs", "2"]


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_diagnostics_are_in_the_json_and_plotted(tmp_path, engine):
    out, png = tmp_path / "run.json", tmp_path / "diag.png"
    rc = main([*BASE, "--engine", engine, "--algorithm", "fa", "--decorrelation", "ahmad",
               "--decor-lr", "1e-4", "--json", str(out), "--diagnostics-plot", str(png)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["engine"]["name"] == engine
    for row in doc["history"]:
        hidden, top = row["diagnostics"]
        assert {"cos_bp", "natural_alignment", "invariant_mean", "invariant_drift"} <= set(hidden)
        assert "invariant_drift" not in top
        assert top["cos_bp"] == pytest.approx(1.0, abs=1e-5)  # FA's top layer gets δ exactly
        assert -1 <= hidden["cos_bp"] <= 1 and -1 <= hidden["natural_alignment"] <= 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_two_engines_report_the_same_diagnostics_in_float64(tmp_path):
    docs = []
    for engine in ("numpy", "torch"):  # the numpy engine is always float64
        out = tmp_path / f"{engine}.json"
        dtype = ["--dtype", "float64"] if engine == "torch" else []
        assert main([*BASE, "--engine", engine, *dtype, "--algorithm", "signfa",
                     "--decorrelation", "ahmad", "--decor-lr", "1e-4", "--diagnostics",
                     "--json", str(out)]) == 0
        docs.append(json.loads(out.read_text()))
    for a, b in zip(docs[0]["history"], docs[1]["history"], strict=True):
        for da, db in zip(a["diagnostics"], b["diagnostics"], strict=True):
            for key in da:
                assert da[key] == pytest.approx(db[key], abs=1e-6)


def test_conv_network_trains_on_image_data(tmp_path):
    out = tmp_path / "run.json"
    assert main([*BASE, "--engine", "torch", "--conv", "4", "--algorithm", "dfa",
                 "--decorrelation", "ahmad", "--decor-lr", "1e-4", "--json", str(out)]) == 0
    doc = json.loads(out.read_text())
    assert doc["sizes"] == [64, 4, 16, 10]
    assert doc["history"][-1]["train_acc"] > 0.2  # chance is 0.1


@pytest.mark.parametrize("extra, message", [
    (["--conv", "8"], "--conv: needs --engine torch"),
    (["--dtype", "float64"], "--dtype: needs --engine torch"),
    (["--torch-device", "cpu"], "--torch-device: needs --engine torch"),
    (["--engine", "numpy", "--dtype", "float32", "--decor-forward-demean"],
     "--dtype, --decor-forward-demean: need --engine torch"),
    (["--engine", "torch", "--conv", "8", "--dataset", "mnist1d"], "needs image data"),
    (["--engine", "torch", "--device", "pcm"], "need the numpy engine"),
    (["--engine", "torch", "--conv", "4", "--checkpoint", "ck.npz"], "not a Network"),
    (["--engine", "torch", "--decor-forward-demean", "--checkpoint", "ck.npz"],
     "forward demeaning"),
    (["--engine", "torch", "--dtype", "float16"], "--dtype"),
])
def test_engine_option_errors_are_one_line(tmp_path, monkeypatch, capsys, extra, message):
    monkeypatch.chdir(tmp_path)
    assert main([*BASE, *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_torch_defaults_are_no_error_on_the_numpy_engine(tmp_path):
    # the refusal is of options given, not of their defaults (--dtype float32, --torch-device
    # auto): a plain numpy run trains
    out = tmp_path / "run.json"
    assert main([*BASE, "--epochs", "1", "--json", str(out)]) == 0
    assert len(json.loads(out.read_text())["history"]) == 1


@pytest.mark.parametrize("engine", ["numpy", "torch"])
def test_every_epoch_with_a_shrunk_eta_prints_one_warning_with_the_count(tmp_path, capsys,
                                                                         engine):
    out = tmp_path / "run.json"
    assert main([*BASE, "--engine", engine, "--decorrelation", "ahmad", "--decor-lr", "0.5",
                 "--json", str(out)]) == 0
    shrunk = [row["decor_eta_shrunk"] for row in json.loads(out.read_text())["history"]]
    assert shrunk[0] > 0
    warnings = [line for line in capsys.readouterr().err.splitlines()
                if line.startswith("warning:")]
    assert warnings == [f"warning: epoch {e}: η of the decorrelators shrunk in {n} steps "
                        f"(η·<|x|²> reached 1; those steps ran with η = 0.5/<|x|²>); a smaller "
                        f"--decor-lr avoids it" for e, n in enumerate(shrunk, 1) if n > 0]
    # a stable η: no warning
    assert main([*BASE, "--epochs", "1", "--engine", engine, "--decorrelation", "ahmad",
                 "--decor-lr", "1e-5"]) == 0
    assert "warning:" not in capsys.readouterr().err


def test_asking_for_cuda_without_a_gpu_is_a_one_line_error(capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present")
    assert main([*BASE, "--engine", "torch", "--torch-device", "cuda"]) == 2
    assert "--torch-device: cuda asked for" in capsys.readouterr().err


def test_checkpoint_and_resume_through_the_cli_repeat_the_uninterrupted_run(tmp_path):
    run = [*BASE[:-2], "--engine", "torch", "--dtype", "float64", "--algorithm", "fa",
           "--decorrelation", "ahmad", "--decor-lr", "1e-4", "--decor-batch-fraction", "0.25",
           "--epochs"]
    whole, part = tmp_path / "whole.json", tmp_path / "part.json"
    ck, net_whole, net_part = tmp_path / "ck.npz", tmp_path / "w.npz", tmp_path / "p.npz"
    assert main([*run, "2", "--json", str(whole), "--save-network", str(net_whole)]) == 0
    assert main([*run, "1", "--checkpoint", str(ck)]) == 0
    assert main([*run, "2", "--checkpoint", str(ck), "--resume", "--json", str(part),
                 "--save-network", str(net_part)]) == 0
    assert json.loads(part.read_text())["history"] == json.loads(whole.read_text())["history"]
    from neurodecorr.core.network import Network

    for a, b in zip(Network.load(net_whole).layers, Network.load(net_part).layers, strict=True):
        np.testing.assert_array_equal(a.weight, b.weight)
        np.testing.assert_array_equal(a.decorrelation, b.decorrelation)
