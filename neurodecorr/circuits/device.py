"""Reading the lateral matrix through an analogue crossbar.

:class:`DeviceReader` programs ``A`` onto a :class:`neurodecorr.devices.Crossbar` and answers
each read of the vector field with ``Crossbar.matvec`` at the physical time
``t_program + t_age + t``: the age since programming plus the circuit time of the settle. Every
read then passes through the DACs, the devices (programming error, drift, read and 1/f noise,
faults) and the ADCs, as on the chip.

The stability check and the automatic step use the spectrum of the *effective* matrix a read
multiplies by at the start of the settle (``Crossbar.read_weights``): the conductances' weights
with drift and accumulated 1/f noise (per-read noise excluded), times the digital drift
compensation gain. That is the circuit that actually settles.
"""

from __future__ import annotations

import numpy as np


class DeviceReader:
    """``out = Crossbar.matvec(Y, t_program + t_age + t)``.

    Parameters
    ----------
    config : DeviceConfig
        Device and periphery (:func:`neurodecorr.devices.load_device`).
    A : ndarray, shape (n, n)
        The lateral matrix to program.
    rng : numpy.random.Generator
        All device randomness.
    t_age_s : float
        Time since programming at the start of the settle (s).
    t_program_s : float
        Physical time of programming (s).
    drift_compensation : {'none', 'global', 'column'}
    """

    exact = False

    def __init__(self, config, A: np.ndarray, rng: np.random.Generator, t_age_s: float = 0.0,
                 t_program_s: float = 0.0, drift_compensation: str = "none") -> None:
        from neurodecorr.devices import Crossbar

        self.crossbar = Crossbar(config, np.asarray(A, dtype=np.float64), rng,
                                 t_program_s=t_program_s, drift_compensation=drift_compensation)
        self.t0_s = float(t_program_s) + float(t_age_s)
        # noise-free devices and converters give the same answer at every read
        self.noisy = self.crossbar.noisy

    def read(self, Y: np.ndarray, t_s: float, out: np.ndarray) -> np.ndarray:
        return self.crossbar.matvec(Y, self.t0_s + t_s, out=out)

    def matrix(self, t_s: float = 0.0) -> np.ndarray:
        """The noiseless matrix a read at circuit time ``t_s`` multiplies by
        (``Crossbar.read_weights``): drift and accumulated 1/f noise of the conductances, times
        the digital drift-compensation gain of each output row, measured through the noisy
        probe reads.

        The gain matters: a compensated read multiplies by ``c`` times the drifted weights
        (c ≈ 1.5 for PCM a day after programming), so a step chosen from the drifted weights
        alone can be beyond the stability limit of the circuit that is actually integrated.
        """
        return self.crossbar.read_weights(self.t0_s + t_s)

    @property
    def counters(self) -> dict[str, int]:
        return self.crossbar.counters
