"""``python -m neurodecorr`` runs the command-line interface."""

import sys

from neurodecorr.cli import main

sys.exit(main())
