"""The model as an adapter program of protocol version 1: it ignores the harness's offer of
versions and answers ``protocol: 1``, as every adapter written before version 2 does.

Run it as ``python tests/broken_programs/protocol_v1_model.py [VARIANTS]``: with an argument,
it also answers protocol 2's ``featureVariants`` (which a version-1 answer may not hold).
"""

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from refmodel.adapter import ModelAdapter, serve


class VersionOne(ModelAdapter):
    def handshake(self) -> dict[str, Any]:
        answer = {**super().handshake(), "protocol": 1}
        if len(sys.argv) > 1:
            answer["featureVariants"] = json.loads(sys.argv[1])
        return answer


if __name__ == "__main__":
    sys.exit(serve(VersionOne()))
