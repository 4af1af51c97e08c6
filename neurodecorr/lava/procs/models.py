"""CPU models (``floating_pt`` and ``fixed_pt``) of :mod:`neurodecorr.lava.procs.process`.

Fixed-point arithmetic follows Lava's bit-accurate Loihi models (``lava/proc/lif/models.py``,
``lava/proc/dense/models.py``), with the integer operations of :mod:`neurodecorr.lava.fixed`
(shared with the bit-true emulation :mod:`neurodecorr.lava.emulate`): 24-bit state, synaptic
input accumulators and graded payloads saturated at ``[−2²³, 2²³ − 1]``; 12-bit multipliers
(gain, decay, leaky slope) as 36-bit products shifted with rounding toward zero like the LIF
decay; flooring shifts of synaptic sums like ``Dense``.
"""

from __future__ import annotations

import numpy as np
from lava.magma.core.decorator import implements, requires, tag
from lava.magma.core.model.py.model import PyLoihiProcessModel
from lava.magma.core.model.py.ports import PyInPort, PyOutPort
from lava.magma.core.model.py.type import LavaPyType
from lava.magma.core.resources import CPU
from lava.magma.core.sync.protocols.loihi_protocol import LoihiProtocol

from neurodecorr.core.network import activate
from neurodecorr.lava.fixed import activate_int, decay, mul_shift, saturate, shift_floor
from neurodecorr.lava.procs.process import Integrator, LateralLayer


class _Recorder:
    """Keeps the sent vector every ``record_period`` steps, from step ``record_phase`` on."""

    def _record(self, value: np.ndarray) -> None:
        period = self.proc_params.get("record_period", 0)
        if not period:
            return
        offset = self.time_step - self.proc_params["record_phase"]
        if offset >= 0 and offset % period == 0:
            k = offset // period
            if k < self.proc_params["n_records"]:
                self.record[:, k] = value


@implements(proc=LateralLayer, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyLateralLayerFloat(PyLoihiProcessModel, _Recorder):
    """``x = f(a + b)``, then ``n_sub`` times ``x̄ ← x̄ + αx − leak∘x̄ − lateral·x̄``."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    lateral: np.ndarray = LavaPyType(np.ndarray, float)
    leak: np.ndarray = LavaPyType(np.ndarray, float)
    bias: np.ndarray = LavaPyType(np.ndarray, float)
    gain: np.ndarray = LavaPyType(np.ndarray, float)
    xbar: np.ndarray = LavaPyType(np.ndarray, float)
    record: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        p = self.proc_params
        x = activate(self.a_in.recv() + self.bias, p["activation"], p.get("negative_slope", 0.0))
        if p["decorrelate"]:
            drive = p["alpha"] * x
            xbar = self.xbar
            for _ in range(p["n_sub"]):
                xbar = xbar + drive - self.leak * xbar - self.lateral @ xbar
            self.xbar = xbar
        else:
            self.xbar = x
        self.s_out.send(self.xbar)
        self._record(self.xbar)


@implements(proc=LateralLayer, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyLateralLayerFixed(PyLoihiProcessModel, _Recorder):
    """Integer version: ``x = f(sat((G·sat(a)) >> s) + b)`` (rounded toward zero), then
    ``n_sub`` times ``v ← sat(decay(v, leak) + x − ⌊(Q·v)·2^e⌋)`` (the gain holds the step)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=24)
    lateral: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=8)
    leak: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=12)
    bias: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    gain: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=12)
    xbar: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    record: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)

    def run_spk(self) -> None:
        p = self.proc_params
        a = saturate(self.a_in.recv().astype(np.int64))  # the 24-bit synaptic accumulator
        z = saturate(mul_shift(a, self.gain, p["gain_shift"]) + self.bias)
        x = activate_int(z, p["activation"], p.get("slope_mant", 0), p.get("slope_shift", 0))
        if p["decorrelate"]:
            v = self.xbar.astype(np.int64)
            lateral = self.lateral.astype(np.int64)
            for _ in range(p["n_sub"]):
                v = saturate(decay(v, self.leak) + x - shift_floor(lateral @ v,
                                                                   p["lateral_exp"]))
            self.xbar = v
        else:
            self.xbar = x
        self.s_out.send(self.xbar)
        self._record(self.xbar)


@implements(proc=Integrator, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyIntegratorFloat(PyLoihiProcessModel, _Recorder):
    """``v ← v − d∘v + a_in + a_rec``; sends ``v`` and the trace ``y2 = −a_rec/α · y2_scale``."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_rec: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_bap: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool)
    v: np.ndarray = LavaPyType(np.ndarray, float)
    decay: np.ndarray = LavaPyType(np.ndarray, float)
    record: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        p = self.proc_params
        a_rec = self.a_rec.recv()
        self.v = self.v - self.decay * self.v + self.a_in.recv() + a_rec
        zeros = np.zeros_like(self.v)
        self.s_out.send(self.v)
        self.s_out_y1.send(zeros)
        self.s_out_y2.send(-a_rec / p["alpha"] * p["y2_scale"])
        self.s_out_y3.send(zeros)
        self.s_out_bap.send(zeros.astype(bool))
        self._record(self.v)


@implements(proc=Integrator, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyIntegratorFixed(PyLoihiProcessModel, _Recorder):
    """Integer integrator ``v ← sat(decay(v, d) + sat(a_in + ⌊a_rec · 2^−rec_shift⌋))``.

    ``decay`` rounds toward zero like Lava's LIF; the recurrent ``Dense`` applies at most the
    8-bit shift Loihi allows and the neuron the rest (``rec_shift``): both floor, so together
    they are one flooring shift. No learning traces (fixed-point learning is not modelled).
    """

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=24)
    a_rec: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=24)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=24)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=7)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=7)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=7)
    s_out_bap: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool)
    v: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)
    decay: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=12)
    record: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)

    def run_spk(self) -> None:
        rec = shift_floor(self.a_rec.recv(), -self.proc_params["rec_shift"])
        a = saturate(self.a_in.recv().astype(np.int64) + rec)
        self.v = saturate(decay(self.v, self.decay) + a)
        self.s_out.send(self.v)
        self._record(self.v)


#: process -> model, per precision tag (pinned: discovery would execute unrelated modules)
MODELS = {
    "floating_pt": {LateralLayer: PyLateralLayerFloat, Integrator: PyIntegratorFloat},
    "fixed_pt": {LateralLayer: PyLateralLayerFixed, Integrator: PyIntegratorFixed},
}
