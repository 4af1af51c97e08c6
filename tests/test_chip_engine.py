"""The fast chip engine: the rank-1 factorisation, the kernel path of a whole training run
against the numpy reference path, determinism, and the ``chip`` bench case."""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pytest

from neurodecorr.circuits.chip import rank1_terms
from neurodecorr.cli import main
from neurodecorr.data import load_dataset
from neurodecorr.devices import crossbar
from neurodecorr.learning import ChipOptions, ChipTrainer, TrainConfig


@pytest.mark.parametrize("shape", [(64, 41), (64, 65), (10, 65), (7, 7), (1, 5), (5, 1)])
def test_rank1_terms_are_the_singular_terms(shape):
    rng = np.random.default_rng(0)
    G = rng.normal(size=(30, shape[0])).T @ rng.normal(size=(30, shape[1]))
    xs, ds = rank1_terms(G)
    np.testing.assert_allclose(ds.T @ xs, G, rtol=0, atol=1e-12 * np.abs(G).max())
    s = np.linalg.norm(xs, axis=1) * np.linalg.norm(ds, axis=1)
    expected = np.linalg.svd(G, compute_uv=False)
    np.testing.assert_allclose(s, expected[:len(s)], rtol=1e-9)
    assert len(s) == np.linalg.matrix_rank(G)
    # orthogonal terms on both sides (an SVD), largest first
    for side in (xs, ds):
        gram = side @ side.T
        off = gram - np.diag(np.diag(gram))
        assert np.abs(off).max() <= 1e-9 * np.abs(gram).max()
    assert np.all(np.diff(s) <= 1e-9 * s[0])


def test_rank1_terms_drop_dead_units_and_empty_updates():
    rng = np.random.default_rng(1)
    G = rng.normal(size=(6, 9))
    G[[1, 4]] = 0.0  # two output units with no error signal
    G[:, 2] = 0.0  # an input that never fired
    xs, ds = rank1_terms(G)
    assert len(xs) == 4
    np.testing.assert_allclose(ds.T @ xs, G, atol=1e-13)
    assert len(rank1_terms(np.zeros((3, 4)))[0]) == 0


def _trainer(device: str, seed: int = 0) -> ChipTrainer:
    data = load_dataset("mnist1d")
    config = TrainConfig(dataset="mnist1d", algorithm="bp", hidden=(16, 12), batch_size=32,
                         lr=0.1, epochs=1, seed=seed)
    return ChipTrainer(config, data, ChipOptions(device=device, lr=0.5, seed=seed))


def _train(trainer: ChipTrainer, batches: int = 3) -> list[np.ndarray]:
    X, y = trainer.dataset.x_train, trainer.dataset.y_train
    for k in range(batches):
        trainer.train_batch(X[32 * k:32 * (k + 1)], y[32 * k:32 * (k + 1)])
    return [p.copy() for p in trainer.parameters]


@pytest.mark.parametrize("device", ["reram", "pcm", "ideal"])
def test_training_on_the_kernel_is_training_on_the_numpy_reference(device, monkeypatch):
    fast = _train(_trainer(device))
    monkeypatch.setattr(crossbar, "DEFAULT_ENGINE", "numpy")
    reference_trainer = _trainer(device)
    assert reference_trainer.chip.layers[0].forward.crossbar.engine == "numpy"
    reference = _train(reference_trainer)
    pulses = reference_trainer.chip.totals()["device_pulses"]
    assert pulses > 0
    for a, b in zip(fast, reference, strict=True):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-10)


def test_a_chip_run_is_deterministic_for_its_seed():
    first, again, other = (_train(_trainer("reram", seed)) for seed in (3, 3, 4))
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(first, other, strict=True))


CHIP_CASE = """
[scenario]
name = "chip"
description = "test"

[[case]]
name = "chip-reram"
kind = "chip"
device = "reram"
hidden = "8"
batch = 16
batches = 1
repeats = 1

[[case]]
name = "chip-ideal-decorrelated"
kind = "chip"
device = "ideal"
hidden = "8"
batch = 16
batches = 1
repeats = 1
decorrelation = "ahmad"
"""


def test_bench_chip_case_reports_the_overhead(tmp_path):
    spec = tmp_path / "chip.toml"
    spec.write_text(CHIP_CASE)
    out = tmp_path / "r.json"
    assert main(["bench", "--scenario", str(spec), "--json", str(out)]) == 0
    cases = json.loads(out.read_text())["cases"]
    assert [case["decorrelation"] for case in cases] == ["none", "ahmad"]
    for case in cases:
        assert {"name", "kind", "device", "n", "batch", "wall_s"} <= set(case)
        assert case["sizes"] == [40, 8, 10] and case["batch"] == 16
        for key in ("chip_overhead", "chip_samples_per_s", "software_samples_per_s"):
            assert math.isfinite(case[key]) and case[key] > 0
        assert case["chip_overhead"] == pytest.approx(
            case["software_samples_per_s"] / case["chip_samples_per_s"], rel=1e-12)


@pytest.mark.parametrize("body,match", [
    ("device = 'nonesuch'", "nonesuch"),
    ("hidden = 'wide'", "hidden"),
    ("update = 'adam'", "'update' must be one of"),
    ("algorithm = 'hebb'", "'algorithm' must be one of"),
    ("clock = 'sundial'", "'clock' must be one of"),
    ("batches = 0", "'batches' must be at least 1"),
    ("dataset = 'imagenet'", "'dataset' must be one of"),
    ("lr = -1.0", "'lr' must be positive"),
    ("decorrelation = 'copi'", "'decorrelation' must be none or ahmad"),
])
def test_bad_chip_cases_exit_2(tmp_path, capsys, body, match):
    spec = tmp_path / "bad.toml"
    spec.write_text(f"[[case]]\nkind = 'chip'\n{body}\n")
    assert main(["bench", "--scenario", str(spec)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert re.search(match, err), err


def test_numba_cache_falls_back_to_a_temporary_directory(monkeypatch, tmp_path):
    """Neither the package directory nor the user's cache writable: numba is pointed at the
    temporary directory instead of refusing to import the kernels."""
    import numba
    from numba.core import caching

    from neurodecorr import numba_cache

    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    monkeypatch.setattr(numba_cache.tempfile, "gettempdir", lambda: str(tmp_path))
    numba_cache.ensure_cache_dir(numba_cache.__file__)
    assert numba.config.CACHE_DIR == ""  # the package directory is writable here
    for locator in (caching.InTreeCacheLocator, caching.UserWideCacheLocator):
        monkeypatch.setattr(locator, "from_function", classmethod(lambda cls, f, p: None))
    numba_cache.ensure_cache_dir(numba_cache.__file__)
    assert numba.config.CACHE_DIR.startswith(str(tmp_path / "neurodecorr-numba-"))
    monkeypatch.setattr(numba.config, "CACHE_DIR", "/given")
    numba_cache.ensure_cache_dir(numba_cache.__file__)
    assert numba.config.CACHE_DIR == "/given"
