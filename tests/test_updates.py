"""Update algorithms of an analogue array (circuits/updates.py): mixed precision in closed form,
the transfer algorithms on a quadratic problem, determinism, validation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from neurodecorr.circuits.description import load_circuit
from neurodecorr.circuits.updates import ALGORITHM_DEFAULTS, UPDATES, UpdateConfig, make_array
from neurodecorr.devices import load_device
from neurodecorr.errors import NeurodecorrError

DW = 0.01  # device step (normalised units); weight scale 1, so the granularity is DW


def _device(model="constant_step", up_down=0.0, dw=DW, **pulsed):
    d = load_device("ideal")
    return dataclasses.replace(d, pulsed=dataclasses.replace(
        d.pulsed, model=model, up_down=up_down, dw_min_norm=dw, **pulsed))


SYMMETRIC = _device()
# soft bounds, up steps 1.4 dw and down steps 0.6 dw: a zero-mean update drives every device
# to its symmetry point w = 0.4 (of the range ±1), not to 0
ASYMMETRIC = _device("soft_bounds", 0.4)


def test_mixed_precision_delivers_the_accumulated_update_to_one_granularity(rng):
    """Nandakumar 2020: every device is pulsed by whole steps ε and the digital χ keeps the
    remainder, so W − W0 + χ is the accumulated update Σ ΔW exactly and |χ| < ε: each device
    holds the accumulated update to within one granularity."""
    W0 = rng.uniform(-0.3, 0.3, (5, 7))
    arr = make_array(SYMMETRIC, W0, np.random.default_rng(1), 0.0, 1.0,
                     UpdateConfig("mixed-precision"))
    start = arr.effective_weights(0.0)  # W0 as programmed
    total = np.zeros_like(W0)
    for _ in range(40):
        x, d = rng.standard_normal((3, 7)), rng.standard_normal((3, 5))
        arr.update(x, d, 0.004, 0.0)
        total += 0.004 * d.T @ x
        W = arr.effective_weights(0.0)
        assert np.all(np.abs(arr.chi) < DW)
        steps = (W - start) / DW
        np.testing.assert_allclose(steps, np.round(steps), atol=1e-9)  # whole pulses only
        assert np.all(np.abs(W - start - total) < DW)
        np.testing.assert_allclose(W - start + arr.chi, total, atol=1e-9)
    assert np.abs(total).max() > 5 * DW  # several pulses were delivered


def test_a_count_larger_than_one_kernel_call_is_delivered_exactly_in_bounded_batches(
        rng, monkeypatch):
    """Counts of hundreds of pulses per device (a transfer after a runaway update) go to the
    crossbar in batches of at most ``MAX_WRITE_ENTRIES`` entries of ``x``, in order: every
    device still moves by exactly its count of steps (closed form, constant-step device away
    from its bounds), and no kernel call sees more rounds than the bound allows."""
    from neurodecorr.circuits import updates

    W0 = rng.uniform(-0.2, 0.2, (4, 6))
    counts = rng.integers(-40, 41, (4, 6)).astype(float)
    counts[1] = 0.0  # a row owed nothing sends nothing
    monkeypatch.setattr(updates, "MAX_WRITE_ENTRIES", 7 * 6)  # 7 rounds per call
    arr = make_array(SYMMETRIC, W0, np.random.default_rng(1), 0.0, 1.0,
                     UpdateConfig("mixed-precision"))
    start = arr.effective_weights(0.0)
    calls = []
    write = arr.crossbar.write_batch
    monkeypatch.setattr(arr.crossbar, "write_batch",
                        lambda xs, ds, lr, t: (calls.append(len(xs)), write(xs, ds, lr, t)))
    updates.pulse_counts(arr.crossbar, counts, 0.0)
    np.testing.assert_allclose((arr.effective_weights(0.0) - start) / DW, counts, atol=1e-9)
    assert max(calls) <= 7 and sum(calls) == int(np.abs(counts).max(axis=1).sum())


def test_granularity_steps_sets_the_pulses_of_one_count(rng):
    """``granularity_steps = 3``: every device moves by whole multiples of 3 steps, χ keeps a
    remainder below 3 steps, and W − W0 + χ is the accumulated update (closed form); on an
    array of weight scale 2 the count is still 3 steps, not 3 weight-scale-1 steps."""
    W0 = rng.uniform(-0.3, 0.3, (5, 7))
    for scale in (1.0, 2.0):
        step = DW * scale
        arr = make_array(SYMMETRIC, W0, np.random.default_rng(1), 0.0, scale,
                         UpdateConfig("mixed-precision", granularity_steps=3))
        assert arr.steps_per_count == 3 and arr.epsilon == pytest.approx(3 * step)
        start = arr.effective_weights(0.0)
        total = np.zeros_like(W0)
        for _ in range(40):
            x, d = rng.standard_normal((3, 7)), rng.standard_normal((3, 5))
            arr.update(x, d, 0.01 * scale, 0.0)
            total += 0.01 * scale * d.T @ x
            counts = (arr.effective_weights(0.0) - start) / (3 * step)
            np.testing.assert_allclose(counts, np.round(counts), atol=1e-9)
            assert np.all(np.abs(arr.chi) < 3 * step)
            np.testing.assert_allclose(arr.effective_weights(0.0) - start + arr.chi, total,
                                       atol=1e-9)
        assert np.abs(total).max() > 10 * step
    with pytest.raises(NeurodecorrError, match="granularity_steps: give either"):
        UpdateConfig("mixed-precision", granularity=0.02, granularity_steps=3)


def test_reram_decor_circuit_pulses_counts_of_its_write_noise():
    """``benchmarks/chip_study_devices/reram-decor.toml`` (docs/chip.md, ReRAM on the
    decorrelation task): its forward arrays pulse counts of 75 steps, ReRAM's write noise in
    steps, on arrays of any weight scale; its lateral arrays keep the σ_c2c² default."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    circuit = load_circuit(root / "benchmarks" / "chip_study_devices" / "reram-decor.toml")
    reram = load_device("reram")
    assert circuit.forward.weight_headroom == 3.0 and circuit.lateral.reference_range == 0.5
    assert circuit.forward.granularity_steps == round(reram.pulsed.write_noise_rel)
    for scale in (0.3, 0.6):
        fwd = make_array(reram, np.zeros((4, 5)), np.random.default_rng(0), 0.0, scale,
                         circuit.forward.update_config())
        lat = make_array(reram, np.zeros((4, 4)), np.random.default_rng(0), 0.0, scale,
                         circuit.lateral.update_config())
        assert fwd.steps_per_count == 75 and lat.steps_per_count == 25
        assert fwd.epsilon == pytest.approx(75 * reram.pulsed.dw_min_norm * fwd.crossbar.scale)


def _quadratic(algorithm, device, steps=1500, seed=0, lr=0.05):
    """Least squares ½‖W x − W* x‖² with Gaussian x: SGD steps d = (W* − W) x, read through
    the array. Returns max |W − W*| at the end."""
    rng = np.random.default_rng(seed)
    target = rng.uniform(-0.4, 0.4, (3, 4))
    arr = make_array(device, np.zeros((3, 4)), np.random.default_rng([seed, 1]), 0.0, 1.0,
                     UpdateConfig(algorithm, transfer_columns=1))
    for _ in range(steps):
        x = rng.standard_normal(4)
        d = target @ x - arr.matvec(x, 0.0)
        arr.update(x[None], d[None], lr, 0.0)
    return float(np.abs(arr.effective_weights(0.0) - target).max())


@pytest.mark.parametrize("algorithm", ["sgd", "mixed-precision", "tiki-taka", "ttv2"])
@pytest.mark.parametrize("device", [SYMMETRIC, ASYMMETRIC], ids=["symmetric", "asymmetric"])
def test_algorithms_reach_the_optimum_of_a_quadratic(algorithm, device):
    """The known optimum W* to within 3 device steps, on a symmetric device and on one whose
    symmetry point sits at 0.4 (the offset the transfer algorithms correct)."""
    assert _quadratic(algorithm, device) < 3 * DW


@pytest.mark.parametrize("algorithm", ["chopped-ttv2", "agad"])
@pytest.mark.parametrize("device", [SYMMETRIC, ASYMMETRIC], ids=["symmetric", "asymmetric"])
def test_chopped_algorithms_reach_the_optimum_of_a_quadratic(algorithm, device):
    """As above, at aihwkit's chopped-preset defaults (auto_scale, auto_granularity 1000, at
    most one pulse per transfer). ``C`` is a low-pass of ``A`` over ``g = 1000`` samples: per
    read of a column ``H`` gains ``lr·P/(δ g)·|A_ij| ≤ 0.2·4/(0.01·1000) = 0.08`` (``|A| ≤ 1``,
    ``P = 4`` samples per sweep), so ``C`` moves at most one step per 50 samples and the
    optimum, up to 40 steps away, needs at least 2000; lr 0.2 and 8000 steps (the SGD step
    scales the transfer only: auto_scale fixes the rate into ``A``)."""
    assert _quadratic(algorithm, device, steps=8000, lr=0.2) < 3 * DW


def test_chopped_defaults_are_aihwkits_presets_and_explicit_values_stay():
    """A 0 of transfer_lr, fast_lr, chop_prob, transfer_max_pulses is the algorithm's default;
    anything given is kept (aihwkit ChoppedTTv2ReRamESPreset, AGADReRamESPreset)."""
    c = UpdateConfig("chopped-ttv2").resolved()
    assert (c.fast_lr, c.chop_prob, c.transfer_lr, c.transfer_max_pulses) == (0.5, 0.01, 1.0, 1)
    assert UpdateConfig("agad").resolved().chop_prob == 0.02
    assert UpdateConfig("chopped-ttv2", fast_lr=0.3, chop_prob=0.2).resolved().fast_lr == 0.3
    assert UpdateConfig("ttv2").resolved() == UpdateConfig("ttv2", **ALGORITHM_DEFAULTS["ttv2"])
    assert UpdateConfig("sgd").resolved() == UpdateConfig("sgd")


def test_auto_scale_asks_fast_lr_times_bl_pulses_at_the_running_maxima():
    """aihwkit ``getPulseCountAutoLR``: the rate into ``A`` is ``fast_lr·BL·δ/(m_x m_d)``, so
    a sample at the running maxima sends ``fast_lr·BL`` pulses on average to its largest
    element, ``fast_lr·BL·|d_i x_j|/(m_x m_d)`` to the others, whatever the SGD step and the
    gradient's scale. One sample repeated N times (its maxima are then the running ones):
    the mean pulse count per device against the binomial count of the stochastic trains."""
    dw = 1e-4
    device = _device(dw=dw)
    x, d = np.array([1.5, -0.6, 0.3, 0.0]), np.array([-2.0, 1.0, 0.5])
    n, cfg = 200, UpdateConfig("chopped-ttv2", transfer_every=10 ** 6)  # no transfer, no flip
    arr = make_array(device, np.zeros((3, 4)), np.random.default_rng(2), 0.0, 1.0, cfg)
    for _ in range(n):
        arr.update(x[None], d[None], 0.37, 0.0)
    assert (arr.m_x, arr.m_d) == (1.5, 2.0)
    pulses = arr.fast.effective_weights(0.0) / dw
    kk = 0.5 * 31  # fast_lr · BL pulses expected at the maximum
    bl = np.ceil(kk)
    p = (kk / bl) * np.abs(np.outer(d, x)) / (1.5 * 2.0)  # coincidence probability per slot
    want = n * bl * p * np.sign(np.outer(d, x))
    sd = np.sqrt(n * bl * p * (1 - p))
    assert np.all(np.abs(pulses - want) <= 5 * sd + 1e-9)
    assert abs(pulses[0, 0]) > 0.9 * n * kk  # the largest element got its fast_lr·BL pulses
    # the gradient 1000× larger and another SGD step: the same pulses (same random draws)
    big = make_array(device, np.zeros((3, 4)), np.random.default_rng(2), 0.0, 1.0, cfg)
    for _ in range(n):
        big.update(x[None], 1000 * d[None], 0.05, 0.0)
    np.testing.assert_allclose(big.fast.effective_weights(0.0), pulses * dw, atol=1e-12)


def test_auto_scale_running_maxima_follow_aihwkits_update():
    """``updateAutoScale``: the first value as is, then ``m ← (1 − τ) m + τ v`` per sample with
    ``τ = (1 − auto_momentum)/K``, K the samples of the update: after a first sample of max a
    and n samples of max b, ``m = b + (a − b)(1 − τ)^n``."""
    arr = make_array(SYMMETRIC, np.zeros((3, 4)), np.random.default_rng(0), 0.0, 1.0,
                     UpdateConfig("agad", transfer_every=10 ** 6, auto_momentum=0.9))
    arr.update(np.array([[0.0, 2.0, 0.0, -1.0]]), np.array([[4.0, 0.0, 0.0]]), 0.1, 0.0)
    xs, ds = np.tile([0.5, 0.0, 0.0, 0.0], (5, 1)), np.tile([0.0, -1.0, 0.0], (5, 1))
    for _ in range(3):
        arr.update(xs, ds, 0.1, 0.0)
    tau = 0.1 / 5
    assert arr.m_x == pytest.approx(0.5 + 1.5 * (1 - tau) ** 15, rel=1e-12)
    assert arr.m_d == pytest.approx(1.0 + 3.0 * (1 - tau) ** 15, rel=1e-12)


@pytest.mark.parametrize(("batch", "columns"), [(1, 1), (3, 0)])
def test_auto_granularity_buffer_is_a_low_pass_of_the_fast_array(batch, columns):
    """aihwkit ``getTransferLRScale`` / ``getBufferGranularity``: a read ``v`` adds
    ``c_j |lr| transfer_lr v / (δ_A g / P)`` to ``H`` (``g`` = auto_granularity, ``P`` the
    samples per sweep of the columns): one sample and one column per update (P = 4, aihwkit's
    schedule), or three samples and every column (P = 3)."""
    arr = make_array(SYMMETRIC, np.zeros((3, 4)), np.random.default_rng(0), 0.0, 1.0,
                     UpdateConfig("chopped-ttv2", transfer_columns=columns,
                                  auto_granularity=500.0, transfer_lr=0.7))
    rng = np.random.default_rng(1)
    arr.update(rng.standard_normal((batch, 4)), rng.standard_normal((batch, 3)), -0.2, 0.0)
    A = arr.fast.effective_weights(0.0)  # the chopper was +1 at the read
    P = batch * 4 / (columns or 4)
    read = slice(0, 1) if columns else slice(None)
    want = 0.2 * 0.7 * A[:, read] / (DW * 500.0 / P)
    assert np.abs(want).max() < 1  # below the threshold: nothing sent, nothing forgotten
    np.testing.assert_allclose(arr.H[:, read], want, rtol=1e-12, atol=1e-15)
    assert not arr.H[:, 1:].any() if columns else True


@pytest.mark.parametrize(("forget", "momentum"), [(True, 0.0), (True, 0.25), (False, 0.25)])
def test_buffer_sends_at_most_transfer_max_pulses_and_keeps_what_aihwkit_keeps(forget, momentum):
    """``readAndUpdate``: ``C`` gets ``clip(trunc(H), ±max_pulses)`` steps; then
    ``H ← momentum·H`` (``forget_buffer``) or ``H ← H − (1 − momentum)·n``. Without
    auto_granularity a read adds ``transfer_lr·v/ε``."""
    arr = make_array(SYMMETRIC, np.zeros((3, 4)), np.random.default_rng(0), 0.0, 1.0,
                     UpdateConfig("chopped-ttv2", transfer_columns=1, auto_scale=False,
                                  auto_granularity=0.0, fast_lr=1.0, transfer_lr=0.5,
                                  transfer_max_pulses=2, forget_buffer=forget,
                                  momentum=momentum))
    x, d = np.array([[1.0, 0.0, 0.0, 0.0]]), np.array([[0.2, -0.05, 0.01]])
    arr.update(x, d, 1.0, 0.0)  # A's column 0 by 20, −5 and 1 steps on average
    a0 = arr.fast.effective_weights(0.0)[:, 0]
    h = 0.5 * a0 / DW
    n = np.clip(np.trunc(h), -2, 2)
    assert np.abs(h).max() > 2  # something to clip
    np.testing.assert_allclose(arr.crossbar.effective_weights(0.0)[:, 0], n * DW, atol=1e-12)
    kept = np.where(n != 0, momentum * h if forget else h - (1 - momentum) * n, h)
    np.testing.assert_allclose(arr.H[:, 0], kept, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("algorithm", UPDATES)
def test_updates_are_deterministic_for_a_seed(algorithm):
    device = _device("soft_bounds", 0.2, c2c_rel=0.3, d2d_dw_min_rel=0.2, write_noise_rel=0.5)
    runs = []
    for _ in range(2):
        arr = make_array(device, np.full((3, 4), 0.1), np.random.default_rng(5), 0.0, 1.0,
                         # a short buffer low-pass: the chopped pair writes C within 60 updates
                         UpdateConfig(algorithm, symmetry_pulses=50, auto_granularity=10.0))
        rng = np.random.default_rng(6)
        for _ in range(60):
            arr.update(rng.standard_normal((2, 4)), rng.standard_normal((2, 3)), 0.05, 0.0)
        runs.append(arr.effective_weights(0.0))
    np.testing.assert_array_equal(runs[0], runs[1])
    assert not np.allclose(runs[0], 0.1)


def test_transfer_counts_digital_work():
    arr = make_array(SYMMETRIC, np.zeros((3, 4)), np.random.default_rng(0), 0.0, 1.0,
                     UpdateConfig("ttv2", transfer_every=2, symmetry_pulses=1,
                                  transfer_columns=1))
    arr.update(np.ones((1, 4)), np.ones((1, 3)), 0.1, 0.0)
    assert arr.counters["buffer_writes"] == 0
    arr.update(np.ones((1, 4)), np.ones((1, 3)), 0.1, 0.0)
    assert arr.counters["buffer_writes"] == 3 and arr.counters["digital_macs"] == 3


@pytest.mark.parametrize(("key", "value", "message"), [
    ("update", "adam", "update: must be one of sgd, mixed-precision"),
    ("transfer_every", 0, "transfer_every: must be >= 1"),
    ("momentum", 1.0, "momentum: must lie in [0, 1)"),
    ("chop_prob", 1.5, "chop_prob: must lie in [0, 1]"),
    ("auto_momentum", 1.0, "auto_momentum: must lie in [0, 1)"),
])
def test_circuit_update_keys_are_validated_on_construction(key, value, message):
    ideal = load_circuit("ideal")
    with pytest.raises(NeurodecorrError) as err:
        dataclasses.replace(ideal.forward, **{key: value})
    assert f"[forward] {message}" in str(err.value)


def test_circuit_file_chooses_the_update_per_array(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[forward]\nupdate = "mixed-precision"\n[lateral]\nupdate = "agad"\n'
                    'transfer_lr = 0.2\n')
    c = load_circuit(str(path))
    assert c.forward.update_config().algorithm == "mixed-precision"
    assert c.lateral.update_config() == UpdateConfig("agad", transfer_lr=0.2)
    assert c.lateral.update_config("ttv2").algorithm == "ttv2"
    path.write_text('[forward]\nupdate = "rmsprop"\n')
    with pytest.raises(NeurodecorrError, match=r"c.toml: \[forward\] update"):
        load_circuit(str(path))


@pytest.mark.parametrize(("c2c", "steps"), [(0.0, 1), (0.3, 1), (0.6, 1), (5.0, 25)])
def test_mixed_precision_default_granularity_outweighs_cycle_noise(c2c, steps):
    """By default a count is max(1, round(σ_c2c²)) device steps: n pulses carry n·δ against
    cycle noise √n·σ_c2c·δ. A constant-step device without cycle noise in the array (so that
    the delivered steps can be counted) takes the granularity of the noisy one it stands for."""
    noisy = _device(c2c_rel=c2c)
    arr = make_array(noisy, np.zeros((2, 3)), np.random.default_rng(0), 0.0, 1.0,
                     UpdateConfig("mixed-precision"))
    assert arr.steps_per_count == steps
    assert arr.epsilon == pytest.approx(steps * DW)
    quiet = make_array(SYMMETRIC, np.zeros((2, 3)), np.random.default_rng(0), 0.0, 1.0,
                       UpdateConfig("mixed-precision", granularity=steps * DW))
    x, d = np.array([[1.0, 0.5, -0.2]]), np.array([[1.0, -2.0]])
    quiet.update(x, d, 1.85 * steps * DW, 0.0)  # χ up to 3.7 ε, inside the bounds
    want = np.trunc(1.85 * d.T @ x) * steps * DW
    np.testing.assert_allclose(quiet.effective_weights(0.0), want, atol=1e-9)


def test_a_circuit_file_with_both_granularities_is_refused_at_load(tmp_path):
    """Refused when the file is read, in one line naming the file, the table and the key, not
    when training builds the arrays."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    text = (root / "benchmarks" / "chip_study_devices" / "reram-decor.toml").read_text()
    bad = tmp_path / "both.toml"
    bad.write_text(text.replace("granularity_steps = 75", "granularity_steps = 75\n"
                                "granularity = 0.01", 1))
    with pytest.raises(NeurodecorrError) as err:
        load_circuit(bad)
    message = str(err.value)
    assert "both.toml" in message and "[forward] granularity_steps: give either" in message
    assert "\n" not in message
