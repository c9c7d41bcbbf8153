"""A workpool that speaks the JSON Lines adapter protocol, with one bug (CAN-1).

It is ``BROKEN["canceled-still-starts"]`` of ``tests/broken_adapters.py`` (seed profile): a
cancel of pending work is recorded as ``canceled``, but the work stays queued and starts later.
Run it as ``python tests/broken_programs/canceled_still_starts.py``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.broken_adapters import serve_broken

if __name__ == "__main__":
    sys.exit(serve_broken("canceled-still-starts"))
