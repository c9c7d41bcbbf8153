"""Results: ``try_result`` and ``poll_result`` (rules RES-1 to RES-4; profile seed).

Theory of operation. A finished item's result is its return value, or its error raised as
:class:`~refmodel.errors.WorkFailed`. ``try_result`` reads it now (``None`` while unfinished).
``poll_result``, awaited inside an action, suspends the action until the item finishes, and
resumes it at that very instant with the result (rule RES-2); if the item has not finished
``timeout_ms`` after the call, the action resumes with :class:`~refmodel.errors.PollTimeout` in
the TIMER phase of that instant (rule RES-3). A result no longer held (evicted, or forgotten by
the current profile) raises :class:`~refmodel.errors.WorkEvicted` (rule TTL-2).

Waiters hang off the pool's :class:`Waiters`, by item number, so that a record needs no field
for the rare item someone polls.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from refmodel.engine.clock import Phase
from refmodel.engine.runtime import PENDING, Request, Run, Runtime
from refmodel.errors import PollTimeout, WorkEvicted, WorkFailed
from refmodel.values import fresh
from refmodel.workpool.items import WorkRecord
from refmodel.workpool.lifecycle import SUCCEEDED, TERMINAL

_TIMER = int(Phase.TIMER)


def result_of(record: WorkRecord) -> tuple[Any, BaseException | None]:
    """A finished item's result: its value, or the :class:`WorkFailed` to raise (RES-1)."""
    if record.state is SUCCEEDED:
        return fresh(record.payload), None
    return None, WorkFailed(record.payload)


class _Waiter:
    __slots__ = ("n", "run", "waiting")

    def __init__(self, run: Run, n: int) -> None:
        self.run = run
        self.n = n
        self.waiting = True


class Waiters:
    """The actions waiting in ``poll_result`` for one pool's items.

    Args:
        runtime: the world's runtime (it resumes the waiting actions).
        id_of: the work id of an item number (for the timeout's message).
    """

    __slots__ = ("_id_of", "_runtime", "by_item")

    def __init__(self, runtime: Runtime, id_of: Callable[[int], str]) -> None:
        self._runtime = runtime
        self._id_of = id_of
        self.by_item: dict[int, list[_Waiter]] = {}
        """The waiters by item number (read it, do not change it)."""

    def wait(self, run: Run, n: int, timeout_ms: int) -> None:
        """Suspend ``run`` until item ``n`` finishes or ``timeout_ms`` pass (RES-2, RES-3)."""
        waiter = _Waiter(run, n)
        self.by_item.setdefault(n, []).append(waiter)
        clock = self._runtime.clock
        clock.schedule(clock.now + timeout_ms, _TIMER, self._deadline, waiter)

    def notify(self, record: WorkRecord) -> None:
        """Item ``record`` just finished: resume whoever waits for it, with its result."""
        waiters = self.by_item.pop(record.n, None)
        if not waiters:
            return
        value, exc = result_of(record)
        for waiter in waiters:
            if waiter.waiting:
                waiter.waiting = False
                self._runtime.resume(waiter.run, value, exc)

    def _deadline(self, waiter: _Waiter) -> None:
        """a poll_result deadline falls due"""
        if not waiter.waiting:
            return
        waiter.waiting = False
        waiters = self.by_item.get(waiter.n)
        if waiters is not None:
            waiters.remove(waiter)
            if not waiters:
                del self.by_item[waiter.n]
        message = f"Timeout waiting for result of work {self._id_of(waiter.n)}"
        self._runtime.resume(waiter.run, None, PollTimeout(message))


class WaitResult(Request):
    """``await pool.poll_result(ctx, id, timeout_ms)``: what the action awaits.

    Args:
        n: the item's number.
        timeout_ms: how long to wait.
        find: the item's record, or ``None`` once it is no longer held.
        evicted: the error for an item no longer held.
        waiters: the pool's waiters.
    """

    __slots__ = ("_evicted", "_find", "_n", "_timeout_ms", "_waiters")

    def __init__(
        self,
        n: int,
        timeout_ms: int,
        find: Callable[[int], WorkRecord | None],
        evicted: Callable[[int], WorkEvicted],
        waiters: Waiters,
    ) -> None:
        self._n = n
        self._timeout_ms = timeout_ms
        self._find = find
        self._evicted = evicted
        self._waiters = waiters

    def handle(self, runtime: Runtime, run: Run) -> Any:
        """Answer at once if the item has finished (or is gone), else wait."""
        record = self._find(self._n)
        if record is None:
            return None, self._evicted(self._n)
        if record.state in TERMINAL:
            return result_of(record)
        self._waiters.wait(run, self._n, self._timeout_ms)
        return PENDING
