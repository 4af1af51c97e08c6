"""The worked examples of docs/examples run, and what they print and draw is right.

Each example's ``main(out_dir)`` returns the numbers it drew; they are checked here against
closed forms (the matrix exponential, ``numpy.linalg.solve``), the device preset's published
drift range and the network's own forward pass.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from scipy.linalg import expm

EXAMPLES = Path(__file__).resolve().parents[1] / "docs" / "examples"


def _example(name: str):
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _is_png(path: Path) -> bool:
    return path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_every_example_is_on_the_examples_page():
    page = (EXAMPLES.parent / "examples.md").read_text()
    for script in EXAMPLES.glob("*.py"):
        assert f"examples/{script.name}" in page, script.name


def test_lateral_transient_follows_the_closed_form(tmp_path):
    ex = _example("lateral_transient")
    r = ex.main(tmp_path)
    assert _is_png(tmp_path / "transient.png")
    A, X, t = r["A"], r["X"], r["times_s"]
    # τ dx̄/dt = x − A x̄ from x̄ = 0:  x̄(t) = (I − exp(−A t/τ)) A⁻¹ x
    fixed = np.linalg.solve(A, X.T).T
    exact = np.array([fixed - (expm(-A * tk / ex.TAU_S) @ fixed.T).T for tk in t])
    # RK4 at h = τ/40: global error O((h λ_max)^4) ~ 1e-7 of the state
    np.testing.assert_allclose(r["ideal"], exact, rtol=0, atol=1e-6 * np.abs(fixed).max())
    residual = np.linalg.norm(X - exact @ A.T, axis=2) / np.linalg.norm(X, axis=1)
    np.testing.assert_allclose(r["residual_ideal"], residual, rtol=1e-5, atol=1e-9)
    # PCM settles, around its noisy reads, to the fixed point of the matrix it really holds,
    # which is far from the one it was asked to hold
    held = np.linalg.solve(r["pcm_matrix"], X.T).T
    late = r["pcm"][-30:].mean(axis=0)
    far = np.linalg.norm(held - fixed)
    assert far > 0.05 * np.linalg.norm(fixed)
    assert np.linalg.norm(late - held) < 0.1 * far


@pytest.mark.slow
def test_chip_drift_weights_shrink_within_the_preset_range(tmp_path):
    ex = _example("chip_drift")
    r = ex.main(tmp_path)
    assert _is_png(tmp_path / "drift.png")
    ideal, pcm = r["ideal"]["ages"], r["pcm"]["ages"]
    n_test = 360
    # trained well above chance (10 classes): 5 binomial standard deviations
    for rows in (ideal, pcm):
        assert rows[0]["test_acc"] > 0.1 + 5 * np.sqrt(0.1 * 0.9 / n_test)
    # ideal devices do not drift: the same chip at every age
    assert {row["test_acc"] for row in ideal} == {ideal[0]["test_acc"]}
    assert all(row["weight_ratio_median"] == 1.0 for row in ideal)
    # PCM: G(t) = G(t_0) (t/t_0)^-nu with the preset's nu range (Nandakumar 2019)
    ages = np.array([row["age_s"] for row in pcm])
    low, high = ex.drift_envelope(ages, r["pcm"]["trained_at_s"])
    ratio = np.array([row["weight_ratio_median"] for row in pcm])
    assert np.all(np.diff(ratio) < 0)
    assert np.all((low <= ratio) & (ratio <= high)), (low, ratio, high)


@pytest.mark.slow
def test_lava_export_matches_the_network(tmp_path):
    from neurodecorr.lava import lava_available

    if not lava_available():
        pytest.skip("lava-nc is not installed")
    r = _example("lava_export").main(tmp_path)
    assert (tmp_path / "network-float.h5").is_file() and (tmp_path / "network-fixed.h5").is_file()
    # floating point: exact but for the lateral dynamics, settled to a contraction of
    # export_network's tol = 1e-9 per sample
    assert r["float"]["rel_err"] < 1e-8
    assert r["float"]["accuracy"] == r["reference_acc"]
    # fixed point: the rounding error is what the bit widths predict (first order)
    fixed = r["fixed"]
    assert 2 / 3 < fixed["rms_err"] / fixed["predicted_rms_err"] < 3 / 2
    assert fixed["argmax_agreement"] >= 0.95
