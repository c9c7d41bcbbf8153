"""``python -m refmodel``: see :mod:`refmodel.cli`."""

import sys

from refmodel.cli import main

sys.exit(main())
