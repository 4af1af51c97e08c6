"""Lava processes and their models. Importing this package imports Lava.

Lava's model discovery executes every module in a Process's folder, so this package holds
nothing but the processes (:mod:`.process`) and their CPU models (:mod:`.models`); importing
it runs :func:`neurodecorr.lava.compat.import_lava` first (the Python 3.11 fix).
"""

from neurodecorr.lava.compat import import_lava

import_lava()
