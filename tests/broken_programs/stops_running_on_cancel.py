"""A workpool that speaks the JSON Lines adapter protocol, with one bug (CAN-6).

It is ``BROKEN["stops-running-on-cancel"]`` of ``tests/broken_adapters.py`` (current profile): a
cancel of running work stops it at once, as the seed did, instead of letting the attempt finish.
Run it as ``python tests/broken_programs/stops_running_on_cancel.py``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.broken_adapters import serve_broken

if __name__ == "__main__":
    sys.exit(serve_broken("stops-running-on-cancel"))
