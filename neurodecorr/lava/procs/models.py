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
from neurodecorr.lava.fixed_learning import (
    OFFSET,
    FixedLearningPlan,
    gain_code,
    neuron_step,
    power,
    y_code,
)
from neurodecorr.lava.procs.process import GainRegister, Integrator, LateralLayer, LearningNeuron


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


class _FixedNeuronPorts:
    """Ports and state shared by the integer integrator and learning neuron (same names as
    their processes: inputs, graded output, powers for the gain register, learning traces)."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=24)
    a_rec: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=24)
    gain_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=7)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=24)
    s_out_px: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=24)
    s_out_pv: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=24)
    s_out_y1: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=7)
    s_out_y2: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=7)
    s_out_y3: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=7)
    s_out_bap: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, bool)
    v: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)


@implements(proc=Integrator, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyIntegratorFloat(PyLoihiProcessModel, _Recorder):
    """``v ← v − d∘v + a_in + a_rec``; sends ``v``, the traces ``y2 = −a_rec/α · y2_scale`` and
    ``y3 = γ · y3_scale`` (the gain register's ``γ``), and its powers ``(a_in/α)²`` and ``v²``."""

    a_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    a_rec: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    gain_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    s_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_px: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    s_out_pv: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
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
        a_in = self.a_in.recv()
        gamma = self.gain_in.recv()
        self.v = self.v - self.decay * self.v + a_in + a_rec
        zeros = np.zeros_like(self.v)
        self.s_out.send(self.v)
        self.s_out_px.send(np.square(a_in / p["alpha"]))
        self.s_out_pv.send(np.square(self.v))
        self.s_out_y1.send(zeros)
        self.s_out_y2.send(-a_rec / p["alpha"] * p["y2_scale"])
        self.s_out_y3.send(gamma * p["y3_scale"])
        self.s_out_bap.send(zeros.astype(bool))
        self._record(self.v)


@implements(proc=Integrator, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyIntegratorFixed(_FixedNeuronPorts, PyLoihiProcessModel, _Recorder):
    """Integer integrator ``v ← sat(decay(v, d) + sat(a_in + ⌊a_rec · 2^−rec_shift⌋))``.

    ``decay`` rounds toward zero like Lava's LIF; the recurrent ``Dense`` applies at most the
    8-bit shift Loihi allows and the neuron the rest (``rec_shift``): both floor, so together
    they are one flooring shift. No learning traces (fixed-point learning is not modelled).
    """

    decay: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=12)
    record: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=24)

    def run_spk(self) -> None:
        rec = shift_floor(self.a_rec.recv(), -self.proc_params["rec_shift"])
        a = saturate(self.a_in.recv().astype(np.int64) + rec)
        self.v = saturate(decay(self.v, self.decay) + a)
        self.s_out.send(self.v)
        self._record(self.v)


@implements(proc=LearningNeuron, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyLearningNeuronFixed(_FixedNeuronPorts, PyLoihiProcessModel):
    """Integer learning neuron; one step is ``neurodecorr.lava.fixed_learning.neuron_step``."""


    def run_spk(self) -> None:
        plan = FixedLearningPlan(**self.proc_params["plan"])
        x = self.a_in.recv().astype(np.int64)
        r = self.a_rec.recv().astype(np.int64)
        y3 = self.gain_in.recv().astype(np.int64) + OFFSET
        phase = self.time_step % plan.T
        self.v, payload = neuron_step(phase, self.v, x, r, plan)
        zeros = np.zeros_like(self.v)
        y2 = y_code(r, plan) + OFFSET if phase == 0 else zeros + OFFSET
        self.s_out.send(payload)
        self.s_out_px.send(power(x, plan))
        self.s_out_pv.send(power(self.v, plan))
        self.s_out_y1.send(zeros)
        self.s_out_y2.send(y2)
        self.s_out_y3.send(y3)
        self.s_out_bap.send(zeros.astype(bool))


@implements(proc=GainRegister, protocol=LoihiProtocol)
@requires(CPU)
@tag("fixed_pt")
class PyGainRegisterFixed(PyLoihiProcessModel):
    """Sends the gain code it holds, then computes the next from the layer's power sums."""

    px_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=24)
    pv_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, np.int64, precision=24)
    gain_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, np.int64, precision=7)
    gamma: np.ndarray = LavaPyType(np.ndarray, np.int64, precision=7)

    def run_spk(self) -> None:
        plan = FixedLearningPlan(**self.proc_params["plan"])
        self.gain_out.send(np.full(self.proc_params["shape"], self.gamma[0], dtype=np.int64))
        p_x = int(self.px_in.recv().astype(np.int64).sum())
        p_xbar = int(self.pv_in.recv().astype(np.int64).sum())
        self.gamma = np.array([gain_code(p_x, p_xbar, plan)], dtype=np.int64)


@implements(proc=GainRegister, protocol=LoihiProtocol)
@requires(CPU)
@tag("floating_pt")
class PyGainRegisterFloat(PyLoihiProcessModel):
    """``γ = 1 − 1/g``, ``g = ‖x‖ / (‖x̄‖ (1 − η‖x̄‖²))`` from the layer's power sums; sends the
    value it holds, then computes the next (one step late, like ``Dense``)."""

    px_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    pv_in: PyInPort = LavaPyType(PyInPort.VEC_DENSE, float)
    gain_out: PyOutPort = LavaPyType(PyOutPort.VEC_DENSE, float)
    gamma: np.ndarray = LavaPyType(np.ndarray, float)

    def run_spk(self) -> None:
        self.gain_out.send(np.full(self.proc_params["shape"], self.gamma[0]))
        p_x = float(self.px_in.recv().sum())
        p_xbar = float(self.pv_in.recv().sum())
        eta = self.proc_params["plan"]["eta"]
        inv_gain = np.sqrt(p_xbar / p_x) * (1.0 - eta * p_xbar) if p_x > 0 else 1.0
        self.gamma = np.array([1.0 - inv_gain])


#: process -> model, per precision tag (pinned: discovery would execute unrelated modules)
MODELS = {
    "floating_pt": {LateralLayer: PyLateralLayerFloat, Integrator: PyIntegratorFloat,
                    GainRegister: PyGainRegisterFloat},
    "fixed_pt": {LateralLayer: PyLateralLayerFixed, Integrator: PyIntegratorFixed,
                 LearningNeuron: PyLearningNeuronFixed, GainRegister: PyGainRegisterFixed},
}
