"""What users read of work items: the projections of the one lifecycle (DESIGN §3).

- :class:`SeedStatus`, the seed API's ``status``: ``pending`` / ``inProgress`` / ``success``
  with the return value / ``error`` with the message / ``evicted`` (rules STS-1 to STS-3).
- :class:`CurrentStatus`, the current API's ``status``: ``pending`` or ``running`` with
  ``previous_attempts``, or ``finished`` (rule STS-5).
- :class:`WorkInfo` and :class:`PoolStatistics`: frozen snapshots for debugging.

Each is computed from a work item's state on demand; none is stored. The lifecycle only moves
forward, so a status only moves forward too (rule STS-2). Which view
``pool.status(id)`` gives is the profile's :class:`StatusView` (:data:`SEED_VIEW` or
:data:`CURRENT_VIEW`); both views are always available as ``pool.seed_status(id)`` and
``pool.current_status(id)``.
"""

from __future__ import annotations

from typing import Any, Protocol

import attrs

from refmodel.values import fresh
from refmodel.workpool.lifecycle import (
    CANCELING,
    PENDING,
    RETRYING,
    RUNNING,
    SUCCEEDED,
    TERMINAL,
    State,
)


@attrs.frozen(kw_only=True)
class SeedStatus:
    """The seed API's status of a work item (rule STS-1).

    ``kind`` is ``"pending"``, ``"inProgress"``, ``"success"`` (with ``result``), ``"error"``
    (with ``error``: ``"Canceled"``, ``"Timeout"`` or the thrown message) or ``"evicted"``.
    """

    kind: str
    result: Any = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The status as the seed's JSON object."""
        if self.kind == "success":
            return {"kind": "success", "result": self.result}
        if self.kind == "error":
            return {"kind": "error", "error": self.error}
        return {"kind": self.kind}


SEED_PENDING = SeedStatus(kind="pending")
SEED_IN_PROGRESS = SeedStatus(kind="inProgress")
SEED_EVICTED = SeedStatus(kind="evicted")


def seed_status(state: State, outcome: Any) -> SeedStatus:
    """The seed view of a work item that is still held (rule STS-1)."""
    if state is PENDING or state is RETRYING:
        return SEED_PENDING
    if state is RUNNING or state is CANCELING:
        return SEED_IN_PROGRESS
    if state is SUCCEEDED:
        return SeedStatus(kind="success", result=fresh(outcome))
    return SeedStatus(kind="error", error=outcome)


@attrs.frozen(kw_only=True)
class CurrentStatus:
    """The current API's status of a work item (rule STS-5).

    ``state`` is ``"pending"`` (waiting to start or to retry), ``"running"`` (an attempt is
    running, also after a cancel that does not stop it) or ``"finished"``;
    ``previous_attempts`` counts the attempts that have ended (not for ``finished``).
    """

    state: str
    previous_attempts: int = 0

    def to_json(self) -> dict[str, Any]:
        """The status in the component's JSON spelling."""
        if self.state == "finished":
            return {"state": "finished"}
        return {"state": self.state, "previousAttempts": self.previous_attempts}


CURRENT_FINISHED = CurrentStatus(state="finished")


def current_status(state: State | None, attempts: int) -> CurrentStatus:
    """The current view of a work item; ``state`` is ``None`` for one no longer held."""
    if state is PENDING or state is RETRYING:
        return CurrentStatus(state="pending", previous_attempts=attempts)
    if state is RUNNING or state is CANCELING:
        return CurrentStatus(state="running", previous_attempts=attempts)
    return CURRENT_FINISHED


class StatusView(Protocol):
    """How ``pool.status(id)`` reads in a profile (rules STS-1 to STS-5).

    """

    @property
    def api_feature(self) -> str:
        """The adapter feature that names this status API (``"seed-api"``, CNF-2)."""
        ...

    @property
    def status_rule(self) -> str:
        """The rule a status read is judged by (``"STS-1"`` or ``"STS-5"``)."""
        ...

    @property
    def shows_results(self) -> bool:
        """Whether a status shows a finished item's result or error (until evicted)."""
        ...

    @property
    def forgotten_state(self) -> str:
        """What a cancel of an item the pool no longer holds reports in its
        ``cancel_ignored`` event (``"evicted"``, ``"finished"``)."""
        ...

    def of(self, state: State | None, attempts: int, outcome: Any) -> SeedStatus | CurrentStatus:
        """The status of an item in ``state`` (``None``: no longer held) after ``attempts``
        ended attempts, with ``outcome`` (its result or error once terminal)."""
        ...


@attrs.frozen
class SeedView:
    """The seed API's view: results are shown until evicted (STS-1 to STS-3)."""

    forgotten_state: str = "evicted"
    api_feature: str = "seed-api"
    status_rule: str = "STS-1"
    shows_results: bool = True

    def of(self, state: State | None, attempts: int, outcome: Any) -> SeedStatus | CurrentStatus:
        """The seed status; ``evicted`` once the item is no longer held."""
        return SEED_EVICTED if state is None else seed_status(state, outcome)


@attrs.frozen
class CurrentView:
    """The current API's view: pending / running with previous attempts / finished (STS-5)."""

    forgotten_state: str = "finished"
    api_feature: str = "current-api"
    status_rule: str = "STS-5"
    shows_results: bool = False

    def of(self, state: State | None, attempts: int, outcome: Any) -> SeedStatus | CurrentStatus:
        """The current status; ``finished`` once terminal or no longer held."""
        if state is None or state in TERMINAL:
            return CURRENT_FINISHED
        return current_status(state, attempts)


SEED_VIEW = SeedView()
CURRENT_VIEW = CurrentView()


@attrs.frozen(kw_only=True)
class WorkInfo:
    """A read-only snapshot of one work item, for debugging and tests."""

    id: str
    fn: str
    kind: str
    state: State
    attempts: int
    enqueued_at: int
    eligible_at: int
    started_at: int | None
    finished_at: int | None
    outcome: Any


@attrs.frozen(kw_only=True)
class PoolStatistics:
    """A snapshot of a pool's counters (``pool.statistics()``)."""

    name: str
    max_parallelism: int
    running: int
    """Attempts running now (they hold slots)."""
    pending: int
    """Items waiting to start or to retry (they hold no slot)."""
    issued: int
    retained: int
    """Finished items whose result is still held (seed profile, until eviction)."""
