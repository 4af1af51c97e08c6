"""Cost accounting of a chip: events counted on every array and integrator, and their energy.

Events (totals; divide by the number of samples for per-sample figures):

``crossbar_reads``
    Vector reads of one tile: each read of one input vector through an array of shape
    ``(out, in)`` split into ``ceil(out/T)·ceil(in/T)`` tiles of ``T = tile_size`` rows and
    columns (one tile when ``tile_size = 0``).
``macs``
    Multiply-accumulates performed by the devices (``out·in`` per vector read).
``dac_conversions``, ``adc_conversions``
    Values passing through the input DACs (``in`` per vector read) and output ADCs (``out``
    per vector read), whether or not the periphery quantises them.
``integration_steps``
    Node updates of the lateral integrators: steps × samples × nodes, summed over settles.
``device_pulses``, ``line_pulses``, ``pulse_slots``, ``writes``
    Programming pulses that reached a device, row/column line pulses fired, time slots of the
    stochastic pulse trains, and rank-1 writes (from the crossbar counters).
``buffer_reads``, ``buffer_writes``, ``digital_macs``
    Digital work of the update algorithms (:mod:`neurodecorr.circuits.updates`): elements of
    the accumulators ``χ`` and ``H`` read and written, multiply-accumulates of the digital
    outer products and of the lateral gain control's power sums.

Energy: ``crossbar_read_J · crossbar_reads + integration_step_J · integration_steps +
dac_conversion_J · dac_conversions + adc_conversion_J · adc_conversions +
pulse_J · device_pulses + buffer_access_J · (buffer_reads + buffer_writes) +
digital_mac_J · digital_macs`` with each layer's ``[energy]`` table.
"""

from __future__ import annotations

import math

EVENTS = ("crossbar_reads", "macs", "dac_conversions", "adc_conversions", "integration_steps",
          "device_pulses", "line_pulses", "pulse_slots", "writes", "buffer_reads",
          "buffer_writes", "digital_macs")


def tiles(shape: tuple[int, int], tile_size: int) -> int:
    """Number of ``tile_size × tile_size`` tiles an ``(out, in)`` array occupies."""
    if tile_size <= 0:
        return 1
    return math.ceil(shape[0] / tile_size) * math.ceil(shape[1] / tile_size)


def array_events(crossbar, tile_size: int) -> dict[str, float]:
    """The events of one crossbar from its counters (see the module docstring)."""
    c = crossbar.counters
    out_n, in_n = crossbar.shape
    v = c["read_vectors"]
    return {
        "crossbar_reads": float(v * tiles(crossbar.shape, tile_size)),
        "macs": float(c["macs"]),
        "dac_conversions": float(v * in_n),
        "adc_conversions": float(v * out_n),
        "integration_steps": 0.0,
        "device_pulses": float(c["device_pulses"]),
        "line_pulses": float(c["line_pulses"]),
        "pulse_slots": float(c["pulse_slots"]),
        "writes": float(c["writes"]),
        "buffer_reads": float(c.get("buffer_reads", 0)),
        "buffer_writes": float(c.get("buffer_writes", 0)),
        "digital_macs": float(c.get("digital_macs", 0)),
    }


def energy_of(events: dict[str, float], energy) -> float:
    """Joules of ``events`` under one circuit's ``[energy]`` table."""
    return (energy.crossbar_read_J * events["crossbar_reads"]
            + energy.integration_step_J * events["integration_steps"]
            + energy.dac_conversion_J * events["dac_conversions"]
            + energy.adc_conversion_J * events["adc_conversions"]
            + energy.pulse_J * events["device_pulses"]
            + energy.buffer_access_J * (events["buffer_reads"] + events["buffer_writes"])
            + energy.digital_mac_J * events["digital_macs"])


def per_sample(totals: dict[str, float], samples: int) -> dict[str, float]:
    """Totals divided by ``samples`` (the ``samples`` entry itself is dropped)."""
    n = max(int(samples), 1)
    return {k: v / n for k, v in totals.items() if k != "samples"}


def difference(after: dict[str, float], before: dict[str, float]) -> dict[str, float]:
    return {k: after[k] - before.get(k, 0.0) for k in after}
