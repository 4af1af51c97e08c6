"""The Lava bridge: run neurodecorr networks in Intel's Lava (lava-nc 0.10.0) simulation.

Nothing here imports Lava until a run needs it (:func:`neurodecorr.lava.compat.import_lava`
applies the one Python 3.11 fix first). Export a network with :func:`export_network` (the
``loihi`` mapping by default), write and read bundles with :mod:`neurodecorr.lava.bundle` (the
exchange file: :mod:`neurodecorr.lava.exchange`, checked by :mod:`neurodecorr.lava.schema`),
run it with :func:`neurodecorr.lava.graph.run_export` (or as a backend of the network,
:class:`LavaBackend`, whose ``forward(network, X)`` returns a trace) (in a supervised worker:
:mod:`neurodecorr.lava.supervisor`), emulate a fixed-point run bit for bit with
:mod:`neurodecorr.lava.emulate`, compare with the reference with
:mod:`neurodecorr.lava.evaluate`, learn ``A`` on chip with :mod:`neurodecorr.lava.learning`
(in fixed point through Lava's ``LearningDense``, emulated bit for bit by
:mod:`neurodecorr.lava.fixed_learning`), and time Lava with :mod:`neurodecorr.lava.speed`.
"""

from neurodecorr.lava.backend import LavaBackend
from neurodecorr.lava.compat import import_lava, lava_available
from neurodecorr.lava.export import LavaExport, export_network

__all__ = ["LavaBackend", "LavaExport", "export_network", "import_lava", "lava_available"]
