"""How many inputs each fuzz test tries, and the tally of what happened to them.

``REFMODEL_FUZZ_EXAMPLES`` sets the Hypothesis examples per fuzz test (CI's default is small;
``tox -e fuzz`` sets a long budget). ``REFMODEL_FUZZ_REPORT=FILE`` writes, when the session
ends, one JSON object per front door: inputs tried, typed rejections, accepted, and untyped
exceptions (which a fuzz test also fails on at once).
"""

from __future__ import annotations

import atexit
import json
import os
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings

FUZZ_EXAMPLES = int(os.environ.get("REFMODEL_FUZZ_EXAMPLES", "300"))
"""Examples per fuzz test: 300 in CI, set by ``tox -e fuzz`` for the long run."""

OUTCOMES = ("typed_rejection", "accepted", "untyped_exception")

_TALLY: dict[str, Counter[str]] = {}


def fuzz_settings(**overrides: Any) -> settings:
    """Hypothesis settings for a fuzz test: the budget above, no deadline, derandomised in
    CI (so a CI run is reproducible) and random in the long run."""
    long_run = "REFMODEL_FUZZ_EXAMPLES" in os.environ
    chosen: dict[str, Any] = {
        "max_examples": FUZZ_EXAMPLES,
        "deadline": None,
        "derandomize": not long_run,
        "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
    }
    chosen.update(overrides)
    return settings(**chosen)


def tally(door: str, outcome: str) -> None:
    """Counts one input tried at ``door`` with ``outcome`` (one of :data:`OUTCOMES`)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown fuzz outcome {outcome!r}: choose one of {OUTCOMES}")
    _TALLY.setdefault(door, Counter())[outcome] += 1


def counts() -> dict[str, dict[str, int]]:
    """The tally so far: per door, inputs tried and each outcome."""
    return {
        door: {"inputs": sum(c.values()), **{o: c[o] for o in OUTCOMES}}
        for door, c in sorted(_TALLY.items())
    }


def _write_report() -> None:
    path = os.environ.get("REFMODEL_FUZZ_REPORT")
    if path:
        with open(path, "w", encoding="utf-8") as out:
            json.dump(counts(), out, indent=2, sort_keys=True)
            out.write("\n")


atexit.register(_write_report)
