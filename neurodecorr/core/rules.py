"""Decorrelation rules and their settings.

Each rule defines the matrix ``G`` in the left-multiplied update ``M ← g (I − η G) M``:

``ahmad`` (Ahmad 2024, arXiv 2407.10780, §3)
    ``G = C = ⟨x̄ x̄ᵀ⟩`` (full matrix, diagonal kept) and a scalar gain
    ``g = sqrt(⟨‖x‖²⟩ / ⟨‖(I − ηC) x̄‖²⟩)`` that keeps the layer's power.
``copi`` (Ahmad, Schrader & van Gerven 2023, COPI)
    ``G = C ∘ (1 − I)`` (off-diagonal only), no gain.
``dbp`` (Dalm et al. 2024, decorrelated backpropagation)
    ``G = (1 − κ) C_off + κ diag(⟨x̄²⟩ − 1)``, no gain; κ pulls each variance towards 1.
"""

from __future__ import annotations

from dataclasses import asdict

from neurodecorr.core.checked import Checked, setting

RULES = ("ahmad", "copi", "dbp")


class DecorrelationConfig(Checked):
    """Settings of one layer's decorrelator.

    Attributes
    ----------
    rule : str
        ``ahmad``, ``copi`` or ``dbp``.
    eta : float
        Learning rate η of the decorrelating matrix.
    kappa : float
        κ of ``dbp`` (ignored by the other rules), in [0, 1].
    batch_fraction : float
        Fraction of each batch used to estimate ``C`` and the gain (the first
        ``max(1, round(f·N))`` rows), in (0, 1]. The author's code uses 0.1.
    centre : bool
        Estimate ``C`` from inputs centred by a running mean (momentum ``momentum``).
    momentum : float
        Momentum of the running mean, in (0, 1].
    """

    rule: str = setting("ahmad", one_of=RULES)
    eta: float = setting(1e-3, within="(0, inf)")
    kappa: float = setting(0.5, within="[0, 1]")
    batch_fraction: float = setting(1.0, within="(0, 1]")
    centre: bool = False
    momentum: float = setting(0.1, within="(0, 1]")

    @property
    def uses_gain(self) -> bool:
        """Only ``ahmad`` rescales by the power-preserving gain."""
        return self.rule == "ahmad"

    def to_dict(self) -> dict:
        return asdict(self)
