"""The Lava bridge: run neurodecorr networks in Intel's Lava (lava-nc 0.10.0) simulation.

Nothing here imports Lava until a run needs it (:func:`neurodecorr.lava.compat.import_lava`
applies the one Python 3.11 fix first). Export a network with :func:`export_network`, write and
read the exchange file with :mod:`neurodecorr.lava.exchange`, run it with
:func:`neurodecorr.lava.graph.run_export`, compare with the reference with
:func:`neurodecorr.lava.evaluate.evaluate`, learn ``A`` on chip with
:mod:`neurodecorr.lava.learning`, and time Lava with :mod:`neurodecorr.lava.speed`.
"""

from neurodecorr.lava.compat import import_lava, lava_available
from neurodecorr.lava.export import LavaExport, export_network

__all__ = ["LavaExport", "export_network", "import_lava", "lava_available"]
