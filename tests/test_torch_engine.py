"""The torch engine against the numpy engine (float64, same seed, same data order)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from neurodecorr.data.base import Dataset  # noqa: E402
from neurodecorr.learning import TrainConfig, Trainer  # noqa: E402
from neurodecorr.torch.engine import TorchOptions, TorchTrainer  # noqa: E402
from tests.conftest import correlated_data  # noqa: E402


@pytest.fixture(scope="module")
def toy():
    rng = np.random.default_rng(7)
    X = correlated_data(rng, 96, 10)
    w = rng.standard_normal((10, 3))
    y = np.argmax(X @ w, 1)
    return Dataset("toy", X[:64], y[:64], X[64:], y[64:], 3)


@pytest.mark.parametrize("algorithm", ["bp", "fa", "signfa", "dfa", "np", "anp"])
@pytest.mark.parametrize("decorrelation", ["none", "ahmad", "dbp"])
def test_float64_torch_engine_gives_the_numpy_engines_weights(toy, algorithm, decorrelation):
    cfg = TrainConfig(dataset="synthetic", algorithm=algorithm, decorrelation=decorrelation,
                      hidden=(12, 8), epochs=2, batch_size=8, decor_lr=5e-3,
                      decor_batch_fraction=0.5, sigma=1e-2)   # 2 epochs × 8 batches
    # batch 8: hidden layers (12, 8 outputs) form X̄, the 3-class output layer uses W M
    ref = Trainer(cfg, toy)
    ref_hist = ref.fit()
    eng = TorchTrainer(cfg, toy, TorchOptions(device="cpu", dtype="float64"))
    hist = eng.fit()
    weights, biases, Ms = eng.numpy_state()
    for i, layer in enumerate(ref.network.layers):
        np.testing.assert_allclose(weights[i], layer.weight, rtol=0, atol=1e-6)
        np.testing.assert_allclose(biases[i], layer.bias, rtol=0, atol=1e-6)
        if decorrelation != "none":
            np.testing.assert_allclose(Ms[i], layer.decorrelation, rtol=0, atol=1e-6)
    for a, b in zip(hist, ref_hist, strict=True):
        assert a["train_acc"] == b["train_acc"]
        assert a["train_loss"] == pytest.approx(b["train_loss"], abs=1e-9)


def test_float32_engine_repeats_itself_and_follows_float64(toy):
    cfg = TrainConfig(dataset="synthetic", algorithm="fa", decorrelation="ahmad", hidden=(12,),
                      epochs=2, batch_size=16)
    a = TorchTrainer(cfg, toy, TorchOptions(device="cpu")).fit()
    b = TorchTrainer(cfg, toy, TorchOptions(device="cpu")).fit()
    c = TorchTrainer(cfg, toy, TorchOptions(device="cpu", dtype="float64")).fit()
    assert [r["train_loss"] for r in a] == [r["train_loss"] for r in b]
    # float32 round-off (≈ 6e-8 relative) over 8 Adam steps stays far below 1e-3
    assert a[-1]["train_loss"] == pytest.approx(c[-1]["train_loss"], rel=1e-3)


def test_unstable_eta_is_shrunk_and_counted_like_the_numpy_engine(toy):
    cfg = TrainConfig(dataset="synthetic", decorrelation="ahmad", hidden=(12,), epochs=1,
                      batch_size=16, decor_lr=0.5)
    row = TorchTrainer(cfg, toy, TorchOptions(device="cpu", dtype="float64")).fit()[0]
    assert row["decor_eta_shrunk"] == Trainer(cfg, toy).fit()[0]["decor_eta_shrunk"] > 0


@pytest.fixture(scope="module")
def digits():
    from neurodecorr.data import load_dataset

    return load_dataset("digits")


@pytest.mark.parametrize("algorithm", ["bp", "fa", "signfa", "dfa", "np", "anp"])
@pytest.mark.parametrize("decorrelation", ["none", "ahmad"])
def test_conv_network_trains_with_every_rule_and_repeats_with_its_seed(digits, algorithm,
                                                                       decorrelation):
    cfg = TrainConfig(dataset="digits", algorithm=algorithm, decorrelation=decorrelation,
                      hidden=(16,), epochs=2, batch_size=32, decor_lr=1e-4,
                      decor_batch_fraction=0.25, sigma=1e-2)
    options = TorchOptions(device="cpu", conv=(4,))
    a = TorchTrainer(cfg, digits, options)
    initial_loss = a.evaluate(digits.x_train, digits.y_train)[1]
    history = a.fit()
    assert [row["train_loss"] for row in TorchTrainer(cfg, digits, options).fit()] == \
        [row["train_loss"] for row in history]
    M = a.layers[0].M
    if decorrelation == "none":
        assert M is None
    else:
        assert M.shape == (9, 9) and not torch.equal(M, torch.eye(9))  # the patch decorrelator
    assert history[-1]["train_loss"] < initial_loss - 0.02
    # chance is 0.1; over 1437 training images its s.e. is 0.008, so 0.15 is learning
    assert history[-1]["train_acc"] > 0.15


@pytest.mark.parametrize("algorithm", ["bp", "fa", "np"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_checkpoint_resume_repeats_the_uninterrupted_run_exactly(toy, tmp_path, algorithm,
                                                                  dtype):
    from neurodecorr.learning.checkpoint import resume_trainer, save_checkpoint

    cfg = TrainConfig(dataset="synthetic", algorithm=algorithm, decorrelation="ahmad",
                      hidden=(12, 8), epochs=2, batch_size=8, decor_lr=5e-3,
                      decor_batch_fraction=0.5, decor_centre=True, sigma=1e-2, seed=3)
    options = TorchOptions(device="cpu", dtype=dtype)
    whole = TorchTrainer(cfg, toy, options)
    whole.fit()
    first = TorchTrainer(replace(cfg, epochs=1), toy, options)
    first.fit()
    path = tmp_path / "ck.npz"
    save_checkpoint(first, path)  # the numpy engine's typed checkpoint, through its writer
    resumed = TorchTrainer(cfg, toy, options, start=resume_trainer(path, cfg, toy))
    assert resumed.epoch == 1
    resumed.fit()
    assert resumed.history == whole.history
    for got, want in zip(resumed.numpy_state(), whole.numpy_state(), strict=True):
        for a, b in zip(got, want, strict=True):
            np.testing.assert_array_equal(a, b)
    # the moments Adam continues from are the uninterrupted run's
    for p, q in zip(resumed.net.parameters(), whole.net.parameters(), strict=True):
        np.testing.assert_array_equal(resumed.optimizer.state[p]["exp_avg_sq"].numpy(),
                                      whole.optimizer.state[q]["exp_avg_sq"].numpy())
