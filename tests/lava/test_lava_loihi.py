"""The loihi mapping in Loihi 2's integer widths, and its bit-true emulation.

The integer operations are checked against exact Python integer arithmetic; the exported
parameters against Loihi 2's ranges; Lava's fixed-point run against the numpy emulation to the
last bit; and the emulation (fast enough for 200 samples) against the reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from neurodecorr.lava import fixed
from neurodecorr.lava.emulate import emulate
from neurodecorr.lava.export import export_network, prediction_stages


def _trunc_shift(p: int, s: int) -> int:
    """``p / 2^s`` rounded toward zero, in exact Python integers."""
    q = abs(p) >> s
    return q if p >= 0 else -q


def test_integer_operations_match_exact_integer_arithmetic():
    rng = np.random.default_rng(7)
    v = rng.integers(-(2**23), 2**23, 2000)
    m = rng.integers(0, 2**12, 2000)
    s = 12
    got = fixed.mul_shift(v, m, s)
    want = [max(-(2**23), min(2**23 - 1, _trunc_shift(int(a) * int(b), s)))
            for a, b in zip(v, m, strict=True)]
    assert np.array_equal(got, want)
    # the decay of Lava's bit-accurate LIF: v·(4096 − d) >> 12 toward zero
    assert np.array_equal(fixed.decay(v, m), [_trunc_shift(int(a) * (4096 - int(b)), 12)
                                              for a, b in zip(v, m, strict=True)])
    assert fixed.decay(np.array([-5]), np.array([2048]))[0] == -2  # toward zero, not -3
    x = rng.integers(-(2**40), 2**40, 2000)
    assert np.array_equal(fixed.shift_floor(x, -11), [int(a) // 2**11 for a in x])
    # the recurrent Dense's shift (-8) and the neuron's rest (rec_shift) compose exactly
    assert np.array_equal(fixed.shift_floor(fixed.shift_floor(x, -8), -3),
                          fixed.shift_floor(x, -11))
    assert np.array_equal(fixed.saturate(x), np.clip(x, -(2**23), 2**23 - 1))


@pytest.fixture(scope="module")
def fixed_loihi(trained, mnist1d):
    net, _ = trained
    return export_network(net, "fixed", "loihi", calibration=mnist1d.x_train)


def test_loihi_export_is_the_default_and_fits_loihi_widths(trained, mnist1d, fixed_loihi):
    net, _ = trained
    assert export_network(net, "float").mapping == "loihi"
    lo, hi = fixed.WEIGHT_EXP_RANGE
    for la in fixed_loihi.layers:
        dense = {"dense": [("weight", "weight_exp")],
                 "integrator": [("weight_in", "weight_in_exp"), ("weight_rec", "weight_rec_exp")]
                 }.get(la["type"], [])
        for w, e in dense:
            assert lo <= la[e] <= hi
            assert np.all(np.abs(la[w]) <= 254) and np.all(la[w] % 2 == 0) or w == "weight_in"
            assert fixed.dense_bound(la[w], la[e]) < 2.0**31
        if la["type"] == "lateral":
            assert la["gain"].max() < 4096 and la["gain_shift"] >= 0 and not la["decorrelate"]
            assert np.all(np.abs(la["bias"]) < 2**23)
        if la["type"] == "integrator":
            assert la["decay"].max() < 4096 and la["rec_shift"] >= 0
    # the lateral mantissas fill their range in every row whose A_ii/4 floor does not bind
    for layer, la in zip(net.layers, [x for x in fixed_loihi.layers if x["type"] == "integrator"],
                         strict=True):
        A = layer.lateral
        off = np.abs(A - np.diag(np.diag(A))).max(axis=1)
        free = off > np.diag(A) / 4
        assert np.all(np.abs(la["weight_rec"]).max(axis=1)[free] == 254)


@pytest.mark.parametrize("mapping, samples", [("loihi", 3), ("layer", 6)])
def test_lava_equals_the_emulation_to_the_last_bit(trained, mnist1d, fixed_loihi, mapping,
                                                   samples):
    from neurodecorr.lava.graph import run_export

    net, _ = trained
    export = fixed_loihi if mapping == "loihi" else export_network(
        net, "fixed", "layer", calibration=mnist1d.x_train)
    X = mnist1d.x_test[100:100 + samples]
    lava = run_export(export, X).outputs * 2.0**export.out_frac_bits
    assert np.array_equal(lava, np.round(lava))
    assert np.array_equal(lava.astype(np.int64), emulate(export, X))


def test_loihi_mapping_200_samples_against_reference(trained, mnist1d, fixed_loihi):
    """The emulation (equal to Lava, above) over 200 samples: agreement, and the RMS error
    within the first-order prediction from the bit widths (2000 logit errors)."""
    from neurodecorr.lava.evaluate import reference_logits
    from neurodecorr.lava.fixed import predict_error

    net, _ = trained
    X = mnist1d.x_test[:200]
    out = emulate(fixed_loihi, X) * 2.0**-fixed_loihi.out_frac_bits
    ref = reference_logits(net, X)
    assert np.mean(out.argmax(1) == ref.argmax(1)) >= 0.97
    rms = np.sqrt(np.mean((out - ref) ** 2))
    pred = np.sqrt(np.mean(predict_error(prediction_stages(net, fixed_loihi), X) ** 2))
    assert 2 / 3 < rms / pred < 3 / 2
