"""A workpool that speaks the JSON Lines adapter protocol, with one bug (ORD-1).

It is ``BROKEN["lifo"]`` of ``tests/broken_adapters.py`` (seed profile): eligible work starts
last-in first-out. Run it as ``python tests/broken_programs/lifo.py``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.broken_adapters import serve_broken

if __name__ == "__main__":
    sys.exit(serve_broken("lifo"))
