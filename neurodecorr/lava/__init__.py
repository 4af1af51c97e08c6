"""The Lava bridge: run neurodecorr networks in Intel's Lava (lava-nc 0.10.0) simulation.

Nothing here imports Lava until a run needs it (:func:`neurodecorr.lava.compat.import_lava`
applies the one Python 3.11 fix first). Export a network with :func:`export_network`, save and
load it with :func:`save_export` / :func:`load_export`, run it with :func:`run_export`, and
compare with the reference with :func:`evaluate`.
"""

from neurodecorr.lava.compat import import_lava, lava_available
from neurodecorr.lava.export import LavaExport, export_network

__all__ = ["LavaExport", "export_network", "import_lava", "lava_available"]
