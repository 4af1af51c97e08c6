"""neurodecorr: decorrelating lateral circuits for analogue and neuromorphic chips.

Each layer's input is decorrelated, ``x̄ = M x``, with ``M`` learned by
``M ← g (I − η ⟨x̄x̄ᵀ⟩) M`` (Ahmad 2024). On a chip, ``A = M⁻¹`` is stored as conductances and
a recurrent lateral circuit settles under ``τ dx̄/dt = x − A x̄`` to ``x̄ = M x``.
"""

from neurodecorr.core.network import Hardware, Layer, Network
from neurodecorr.errors import NeurodecorrError

__version__ = "0.1.0"

__all__ = ["Hardware", "Layer", "Network", "NeurodecorrError", "__version__"]
