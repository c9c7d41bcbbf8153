"""Helpers shared by the test modules."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import Phase as HypothesisPhase

from refmodel import World

Event = tuple[int, str, str | None]


def events(world: World, *kinds: str) -> list[Event]:
    """The trace as ``(time, kind, id)``, without the world/pool creation events, optionally
    only the given kinds."""
    skip = {"world_started", "pool_created"}
    return [
        (e.time, e.kind, e.id)
        for e in world.trace
        if e.kind not in skip and (not kinds or e.kind in kinds)
    ]


BROKEN_SETTINGS = settings(
    max_examples=150,
    stateful_step_count=40,
    derandomize=True,
    database=None,
    deadline=None,
    report_multiple_bugs=False,
    phases=[HypothesisPhase.explicit, HypothesisPhase.generate],
    suppress_health_check=list(HealthCheck),
)
"""Settings for running a state machine against a broken engine: deterministic, and fast."""


def failure_of(run: Callable[[], None]) -> str:
    """The message of the exception ``run`` raises; fails the test if it raises none."""
    try:
        run()
    except Exception as error:
        return f"{type(error).__name__}: {error}"
    pytest.fail("the broken engine passed every check")
