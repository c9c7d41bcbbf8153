"""A workpool that speaks the JSON Lines adapter protocol, with one bug (PAR-1).

It is ``BROKEN["two-slots-freed"]`` of ``tests/broken_adapters.py`` (seed profile): when two
attempts end at the same instant, the second frees two slots. Run it as ``python
tests/broken_programs/two_slots_freed.py``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.broken_adapters import serve_broken

if __name__ == "__main__":
    sys.exit(serve_broken("two-slots-freed"))
