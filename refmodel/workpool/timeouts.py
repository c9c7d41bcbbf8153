"""Timeouts: a running attempt that outlives its kind's timeout ends ``timed_out`` (rules TMO-1,
TMO-2; profile seed).

Theory of operation. When an attempt starts at ``s``, its deadline is ``s + timeout`` for the
kind of its work (``action_timeout_ms``, ``mutation_timeout_ms`` for mutations and queries,
``unknown_timeout_ms``). Deadlines sit in a :class:`~refmodel.engine.clock.TimerQueue`, which
keeps one entry armed in the clock's TIMER phase; at the deadline the pool applies the
lifecycle's ``timeout`` row, which abandons the attempt (its later effects never happen, rule
TMO-2) and frees its slot. An attempt that ends in the same instant, earlier in the instant's
phase order (a completion is RESUME), wins; a stale deadline does nothing.

A profile without timeouts (the current one) has none of these options, and nothing is armed.
"""

from __future__ import annotations

from collections.abc import Callable

from refmodel.engine.clock import Clock, Phase, TimerQueue
from refmodel.engine.runtime import Run, RunState
from refmodel.workpool.items import WorkKind
from refmodel.workpool.options import PoolOptions


class Timeouts:
    """The deadlines of one pool's running attempts.

    Args:
        clock: the world's clock.
        options: the pool's options (timeouts cannot change at runtime).
        on_timeout: called with a run whose deadline came; it checks that the run is the
            item's running attempt still.
    """

    __slots__ = ("_clock", "_ms", "_on_timeout", "_queue", "enabled", "queued")

    def __init__(
        self, clock: Clock, options: PoolOptions, on_timeout: Callable[[Run], None]
    ) -> None:
        self._clock = clock
        self._on_timeout = on_timeout
        self._queue: TimerQueue[Run] = TimerQueue(clock, Phase.TIMER, self._due)
        self._ms = {kind: options.timeout_for(kind.value) for kind in _KINDS}
        self.enabled = any(ms is not None for ms in self._ms.values())
        """Whether any kind of work has a timeout."""
        self.queued = 0
        """How many deadlines are queued, stale ones included (the queue's length, kept here
        so that the pool reads it without a call)."""

    def timeout_of(self, kind: WorkKind) -> int | None:
        """The timeout of work of ``kind`` in ms, or ``None``."""
        return self._ms[kind]

    def arm(self, run: Run, kind: WorkKind) -> None:
        """``run`` starts now: give it its deadline (TMO-1)."""
        ms = self._ms[kind]
        if ms is not None:
            self._queue.add(self._clock.now + ms, run)
            self.queued += 1

    def _due(self, run: Run) -> None:
        self.queued -= 1
        self._on_timeout(run)

    def tidy(self) -> None:
        """Drop, in bulk, the deadlines of attempts that already ended. They are harmless (the
        timer checks), but they take memory; the pool calls this once :attr:`queued` outgrows
        its running attempts."""
        queue = self._queue
        queue.drop_front_while(_run_over)
        self.queued = len(queue)


_KINDS = tuple(WorkKind)


def _run_over(run: Run) -> bool:
    return run.state is not RunState.ACTIVE
