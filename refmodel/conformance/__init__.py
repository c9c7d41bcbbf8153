"""Conformance: fill fixtures from the model, consume them against any implementation (DESIGN §7).

Theory of operation. A *fixture* is a scenario (``refmodel.scenario``) plus the observations
an implementation must make when it plays it, computed by the model. The kit is split along
its steps, one module each:

1. :mod:`~refmodel.conformance.play`: :func:`play` drives an adapter through a scenario and
   returns a :class:`Recording`; :func:`observe` turns it into observations per work item,
   keyed by the scenario's ``ref``.
2. :mod:`~refmodel.conformance.expect`: :func:`make_fixture` (``fill``) plays the scenario on
   the model and writes the expected observations, as bounds and sets wherever an
   implementation may legitimately differ.
3. :mod:`~refmodel.conformance.verdicts`: :func:`check_recording` compares a recording with a
   fixture and gives one :class:`Verdict` per (fixture, rule).
4. :mod:`~refmodel.conformance.files`: the :class:`Fixture` value and the fixture files.
5. :mod:`~refmodel.conformance.run`: :func:`run_conformance` plays a set of fixtures and
   returns a :class:`Report`.
6. :mod:`~refmodel.conformance.explore`: :func:`explore` generates scenarios with Hypothesis,
   compares the adapter with the model, and writes a shrunk divergence as a fixture and a
   pytest file; :mod:`~refmodel.conformance.coverage` counts which rules a run exercised.
7. :mod:`~refmodel.conformance.commands`: ``fill`` and ``conformance`` on the command line.
"""

from __future__ import annotations

from refmodel.conformance.commands import conformance_command, fill_command
from refmodel.conformance.expect import (
    STABILITY_SEEDS,
    build_fixtures,
    expectations,
    fill,
    fixture_features,
    jitter_divergence,
    make_fixture,
)
from refmodel.conformance.explore import Divergent, explore, scenario_strategy, write_divergence
from refmodel.conformance.files import (
    FIXTURE_VERSION,
    LATENCIES,
    LEVELS,
    PROFILE_FEATURE,
    ConformanceError,
    Fixture,
    JitterDependent,
    fixture_from_json,
    index_text,
    load_fixture,
    load_fixtures,
)
from refmodel.conformance.play import (
    SETTLE_MAX_WINDOWS,
    SETTLE_WINDOW_MS,
    Recording,
    observe,
    play,
)
from refmodel.conformance.run import Report, checked_handshake, open_adapter, run_conformance
from refmodel.conformance.verdicts import (
    Divergence,
    Verdict,
    check_recording,
    divergences,
    latency_of,
)

__all__ = [
    "FIXTURE_VERSION",
    "LATENCIES",
    "LEVELS",
    "PROFILE_FEATURE",
    "SETTLE_MAX_WINDOWS",
    "SETTLE_WINDOW_MS",
    "STABILITY_SEEDS",
    "ConformanceError",
    "Divergence",
    "Divergent",
    "Fixture",
    "JitterDependent",
    "Recording",
    "Report",
    "Verdict",
    "build_fixtures",
    "check_recording",
    "checked_handshake",
    "conformance_command",
    "divergences",
    "expectations",
    "explore",
    "fill",
    "fill_command",
    "fixture_features",
    "fixture_from_json",
    "index_text",
    "jitter_divergence",
    "latency_of",
    "load_fixture",
    "load_fixtures",
    "make_fixture",
    "observe",
    "open_adapter",
    "play",
    "run_conformance",
    "scenario_strategy",
    "write_divergence",
]
