"""``neurodecorr train``: outputs, resumption, and one-line errors with exit status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from neurodecorr.cli import main
from neurodecorr.core.network import Network

BASE = ["train", "--dataset", "digits", "--hidden", "16", "--batch-size", "64", "--no-progress"]


def test_train_writes_history_plot_and_checkpoint(tmp_path):
    out, png, ck = tmp_path / "run.json", tmp_path / "run.png", tmp_path / "ck.npz"
    rc = main([*BASE, "--algorithm", "fa", "--decorrelation", "ahmad", "--decor-lr", "1e-4",
               "--epochs", "2", "--json", str(out), "--plot", str(png), "--checkpoint", str(ck)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["config"]["algorithm"] == "fa" and doc["config"]["hidden"] == [16]
    assert [row["epoch"] for row in doc["history"]] == [1, 2]
    for row in doc["history"]:
        assert set(row) == {"epoch", "train_acc", "test_acc", "train_loss", "decor_eta_shrunk"}
        assert 0 <= row["train_acc"] <= 1 and 0 <= row["test_acc"] <= 1
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert Network.load(ck).sizes == [64, 16, 10]


def test_resumed_cli_run_repeats_the_uninterrupted_history(tmp_path):
    full, part = tmp_path / "full.json", tmp_path / "part.json"
    ck = tmp_path / "ck.npz"
    args = [*BASE, "--algorithm", "np", "--decorrelation", "copi", "--decor-lr", "1e-4",
            "--seed", "3"]
    assert main([*args, "--epochs", "3", "--json", str(full)]) == 0
    assert main([*args, "--epochs", "1", "--checkpoint", str(ck)]) == 0
    assert main([*args, "--epochs", "3", "--checkpoint", str(ck), "--resume",
                 "--json", str(part)]) == 0
    # no wall time in any output: the resumed run writes the very bytes of the uninterrupted one
    assert part.read_bytes() == full.read_bytes()


@pytest.mark.parametrize("extra,message", [
    (["--dataset", "cifar10"], "--data-dir: cifar10 is never downloaded"),
    (["--dataset", "cifar100", "--data-dir", "/nonexistent/cifar"], "no such folder"),
    (["--data-dir", "/tmp"], "--data-dir: applies only to cifar10, cifar100"),
    (["--resume"], "--resume needs --checkpoint"),
    (["--hidden", "3xq"], "hidden: cannot parse"),
    (["--lr", "-1"], "lr: must be > 0"),
])
def test_user_errors_are_one_line_exit_2(tmp_path, capsys, extra, message):
    out = tmp_path / "run.json"
    rc = main([*BASE, "--epochs", "1", "--json", str(out), *extra])
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not out.exists()


def test_missing_output_folder_is_refused_before_training(tmp_path, capsys):
    rc = main([*BASE, "--epochs", "50", "--json", str(tmp_path / "no" / "run.json")])
    assert rc == 2
    assert "--json: output folder does not exist" in capsys.readouterr().err


def test_resume_with_changed_settings_names_the_field(tmp_path, capsys):
    ck = tmp_path / "ck.npz"
    assert main([*BASE, "--epochs", "1", "--checkpoint", str(ck)]) == 0
    before = ck.read_bytes()
    rc = main([*BASE, "--epochs", "2", "--seed", "5", "--checkpoint", str(ck), "--resume"])
    assert rc == 2
    assert "seed (checkpoint 0, now 5)" in capsys.readouterr().err
    assert ck.read_bytes() == before


def test_cli_trained_network_reproduces_its_reported_test_accuracy(tmp_path):
    from neurodecorr.data import load_dataset

    out, ck = tmp_path / "run.json", tmp_path / "ck.npz"
    assert main([*BASE, "--epochs", "2", "--json", str(out), "--checkpoint", str(ck)]) == 0
    data = load_dataset("digits")
    pred = np.argmax(Network.load(ck).forward(data.x_test), axis=1)
    acc = json.loads(out.read_text())["history"][-1]["test_acc"]
    assert np.mean(pred == data.y_test) == pytest.approx(acc, abs=1e-12)


def test_off_a_terminal_every_epoch_prints_a_line_and_updates_the_json(tmp_path, capsys,
                                                                        monkeypatch):
    """A run killed in its third epoch leaves the first two epochs in its JSON history, and
    its log shows one line per finished epoch (stderr is not a terminal under pytest)."""
    from neurodecorr.learning.trainer import Trainer

    real_epoch = Trainer.train_epoch

    def epoch_then_crash(self, callbacks=None):
        if self.epoch == 2:
            raise KeyboardInterrupt
        return real_epoch(self, callbacks)

    monkeypatch.setattr(Trainer, "train_epoch", epoch_then_crash)
    out = tmp_path / "run.json"
    assert main([*BASE[:-1], "--epochs", "5", "--json", str(out)]) == 130
    doc = json.loads(out.read_text())
    assert [row["epoch"] for row in doc["history"]] == [1, 2]
    assert doc["versions"]["numpy"] == np.__version__
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("epoch ")]
    assert [ln.split(":")[0] for ln in lines] == ["epoch 1/5", "epoch 2/5"]
    for line, row in zip(lines, doc["history"], strict=True):
        assert f"test {100 * row['test_acc']:.1f}%" in line
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.fixture(scope="module")
def contradicting_checkpoint(tmp_path_factory):
    """A real ``train --checkpoint`` file whose header, rewritten by the checkpoint module's own
    reader and writer, claims a hidden width of 99 over arrays of width 16."""
    from dataclasses import replace

    from neurodecorr.learning.checkpoint import read_checkpoint, write_checkpoint

    ck = tmp_path_factory.mktemp("contradict") / "ck.npz"
    assert main([*BASE, "--epochs", "1", "--checkpoint", str(ck)]) == 0
    network, header, state, arrays = read_checkpoint(ck)
    write_checkpoint(ck, network, replace(header, sizes=(64, 99, 10)), state, arrays)
    return ck


@pytest.mark.parametrize("command", [
    [*BASE, "--epochs", "2", "--resume", "--checkpoint"],
    ["export-lava", "--out", "{tmp}/bundle"],
    ["evaluate", "--device", "ideal", "--times", "1"],
    ["evaluate", "--dataset", "digits", "--device", "ideal", "--times", "1"],
], ids=["train-resume", "export-lava", "evaluate", "evaluate-dataset"])
def test_a_header_that_contradicts_the_arrays_is_refused_by_every_reader(
        contradicting_checkpoint, command, tmp_path, capsys):
    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    args = (args + [str(contradicting_checkpoint)] if args[0] == "train"
            else [args[0], str(contradicting_checkpoint), *args[1:]])
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"neurodecorr: error: {contradicting_checkpoint}: checkpoint "
                                f"header describes layers (64, 99, 10) ('leaky_relu', "
                                f"'identity') but the file holds [64, 16, 10]"], err
    assert not (tmp_path / "bundle").exists()
