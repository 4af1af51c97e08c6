"""Short, deterministic trainings: learning happens, seeds repeat, resumption is exact."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from neurodecorr.core.network import Network
from neurodecorr.data import load_dataset
from neurodecorr.data.synthetic import load_synthetic
from neurodecorr.errors import NeurodecorrError
from neurodecorr.learning import TrainConfig, Trainer, parse_hidden, resume_trainer
from neurodecorr.learning.checkpoint import read_checkpoint, save_checkpoint
from neurodecorr.learning.trainer import HISTORY_KEYS


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def _strip_wall(history):
    return list(history)


@pytest.mark.parametrize("algorithm", ["bp", "fa", "signfa", "dfa", "np", "anp"])
def test_every_rule_learns_above_chance_and_repeats_with_its_seed(digits, algorithm):
    cfg = TrainConfig(dataset="digits", algorithm=algorithm, decorrelation="ahmad",
                      hidden=(32,), epochs=2, batch_size=32, decor_lr=1e-4)
    a = Trainer(cfg, digits).fit()
    b = Trainer(cfg, digits).fit()
    assert _strip_wall(a) == _strip_wall(b)
    assert [set(row) for row in a] == [set(HISTORY_KEYS)] * 2
    # chance is 10 %; 360 test images put 3 s.e. of a chance classifier at about 4.7 %
    assert a[-1]["test_acc"] > 0.25


def test_backprop_on_digits_reaches_a_low_training_loss(digits):
    cfg = TrainConfig(dataset="digits", hidden=(64,), epochs=5, batch_size=32)
    hist = Trainer(cfg, digits).fit()
    assert hist[-1]["train_loss"] < 0.5 * hist[0]["train_loss"]
    assert hist[-1]["test_acc"] > 0.9


def test_decorrelation_whitens_the_first_layer_input_during_training():
    data = load_synthetic(n_features=16, n_train=2000, decay=2.0, seed=0)
    cfg = TrainConfig(dataset="synthetic", decorrelation="ahmad", hidden=(16,), epochs=3,
                      decor_lr=5e-3, batch_size=32)
    tr = Trainer(cfg, data)
    tr.fit()
    xbar = tr.network.decorrelate(0, data.x_train)
    corr = np.corrcoef(data.x_train.T)
    corr_bar = np.corrcoef(xbar.T)
    off = ~np.eye(16, dtype=bool)
    assert np.sqrt(np.mean(corr_bar[off] ** 2)) < 0.5 * np.sqrt(np.mean(corr[off] ** 2))


@pytest.mark.parametrize("algorithm,decorrelation", [("bp", "ahmad"), ("fa", "dbp"),
                                                     ("anp", "copi")])
def test_resuming_repeats_the_uninterrupted_run_exactly(tmp_path, digits, algorithm,
                                                        decorrelation):
    cfg = TrainConfig(dataset="digits", algorithm=algorithm, decorrelation=decorrelation,
                      decor_centre=True, hidden=(16, 16), epochs=4, batch_size=64,
                      decor_lr=1e-4, seed=7)
    full = Trainer(cfg, digits)
    full.fit()
    path = tmp_path / "ck.npz"
    half = Trainer(TrainConfig(**{**cfg.__dict__, "epochs": 2}), digits)
    half.fit(after_epoch=lambda t: save_checkpoint(t, path))
    resumed = resume_trainer(path, cfg, digits)
    assert resumed.epoch == 2
    resumed.fit()
    assert _strip_wall(resumed.history) == _strip_wall(full.history)
    for a, b in zip(resumed.parameters, full.parameters, strict=True):
        np.testing.assert_array_equal(a, b)
    for la, lb in zip(resumed.network.layers, full.network.layers, strict=True):
        np.testing.assert_array_equal(la.decorrelation, lb.decorrelation)


def test_checkpoint_is_a_loadable_network_with_a_versioned_state(tmp_path, digits):
    cfg = TrainConfig(dataset="digits", decorrelation="ahmad", hidden=(16,), epochs=1,
                      decor_lr=1e-4)
    tr = Trainer(cfg, digits)
    tr.fit()
    path = tmp_path / "ck.npz"
    save_checkpoint(tr, path)
    net = Network.load(path)
    np.testing.assert_allclose(net.forward(digits.x_test), tr.forward(digits.x_test).logits,
                               rtol=1e-12, atol=1e-12)
    assert net.layers[0].decorrelation is not None
    _, header, state, _ = read_checkpoint(path)
    assert state["schema_version"] == 2 and state["epoch"] == 1
    assert header.train_config == cfg and header.dataset == "digits"
    assert header.sizes == (64, 16, 10) and header.decorrelated == (True, True)
    with np.load(path, allow_pickle=False) as z:
        assert json.loads(str(z["checkpoint"]))["train_config"] == cfg.to_dict()
    assert not list(tmp_path.glob(".*tmp"))


def test_resume_refuses_other_settings_and_foreign_files(tmp_path, digits):
    cfg = TrainConfig(dataset="digits", hidden=(8,), epochs=1)
    tr = Trainer(cfg, digits)
    tr.fit()
    path = tmp_path / "ck.npz"
    save_checkpoint(tr, path)
    with pytest.raises(NeurodecorrError, match=r"different settings: lr"):
        resume_trainer(path, TrainConfig(dataset="digits", hidden=(8,), lr=1e-2), digits)
    plain = tmp_path / "net.npz"
    tr.network.save(plain)
    with pytest.raises(NeurodecorrError, match="not a training checkpoint"):
        resume_trainer(plain, cfg, digits)


def test_config_validation_and_hidden_parsing():
    assert parse_hidden("4x256") == (256,) * 4
    assert parse_hidden("128,64") == (128, 64)
    assert parse_hidden("0") == ()
    with pytest.raises(NeurodecorrError, match="hidden"):
        parse_hidden("4y2")
    with pytest.raises(NeurodecorrError, match="algorithm"):
        TrainConfig(algorithm="hebb")
    with pytest.raises(NeurodecorrError, match="eta"):
        TrainConfig(decorrelation="ahmad", decor_lr=-1)


@pytest.mark.parametrize("change,match", [
    ({"epochs": 1.5}, "epochs: expected an integer"),
    ({"lr": float("nan")}, "lr: expected a finite number"),
    ({"hidden": 5}, "hidden: expected a sequence of integers"),
    ({"decor_centre": 1}, "decor_centre: expected true or false"),
    ({"dataset": "imagenet"}, "dataset: must be one of .*; got 'imagenet'"),
    # checked even without decorrelation: a config is valid or not whatever else it says
    ({"decor_batch_fraction": 3.0}, r"decor_batch_fraction \(the decorrelators' batch_fraction"),
    ({"decor_kappa": -0.5}, "decor_kappa"),
    ({"batch_size": 0}, "batch_size: must be >= 1, got 0"),
])
def test_train_config_validates_on_construction_however_it_is_made(change, match):
    config = TrainConfig()
    assert TrainConfig.from_dict(config.to_dict()) == config
    with pytest.raises(NeurodecorrError, match=match):
        replace(config, **change)


def test_an_unstable_decorrelation_rate_is_shrunk_per_step_not_aborted(digits):
    cfg = TrainConfig(dataset="digits", decorrelation="ahmad", hidden=(32,), epochs=2,
                      batch_size=32, decor_lr=0.5)
    trainer = Trainer(cfg, digits)
    history = trainer.fit()
    # standardised digits have <|x|^2> ≈ 61 (64 features, a few constant): every step at
    # eta = 0.5 breaks eta·<|x|^2> < 1 on layer 0, so each of its steps is shrunk
    n_batches = -(-len(digits.x_train) // cfg.batch_size)
    assert all(row["decor_eta_shrunk"] >= n_batches for row in history)
    assert all(np.all(np.isfinite(layer.decorrelation)) for layer in trainer.network.layers)
    assert history[-1]["test_acc"] > 0.25


def test_stable_eta_keeps_a_safe_rate_and_shrinks_an_unsafe_one():
    from neurodecorr.core.linear import SAFE_FRACTION, stable_eta

    assert stable_eta(1e-3, 10.0) == 1e-3
    assert stable_eta(0.5, 10.0) * 10.0 == pytest.approx(SAFE_FRACTION)
