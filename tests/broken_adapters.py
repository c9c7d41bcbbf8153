"""Deliberately broken workpools, as adapters, to prove that the trace checker catches them.

Each class below is a :class:`~refmodel.adapter.ModelAdapter` with exactly one bug. Its
``reset`` builds the model's world as usual and then patches that world's own objects: it
replaces bound methods on the :class:`~refmodel.workpool.pool.Workpool` instances, or swaps a pool's
start queue or timer queue for a subclass. Nothing under ``refmodel/`` is edited and no class
is patched, so broken and sound worlds can live side by side. Like ``tests/broken.py``, the
patches reach into private names: they are test doubles of the engine's internals, and a
refactoring of those internals may need them rewritten.

:data:`BROKEN` maps a name to ``(factory, rule, profile)``: how to make the adapter, the rule
ID whose violation the checker must report for it, and the profile its bug shows in.
``tests/broken_scenarios.py`` has a scenario that exposes each one, under the same name.
:data:`PROGRAMS` names the ones also served as programs that speak the JSON Lines adapter
protocol (``python tests/broken_programs/<name>.py``), for :class:`SubprocessAdapter`.
"""

from __future__ import annotations

import heapq
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from refmodel.adapter import Adapter, ModelAdapter, serve
from refmodel.engine.clock import Phase, TimerQueue
from refmodel.engine.startqueue import StartQueue
from refmodel.workpool.lifecycle import State
from refmodel.workpool.pool import Workpool, WorkRecord
from refmodel.world import World

WAITING_STATES = (State.PENDING, State.RETRYING)


def _waiting(record: WorkRecord) -> bool:
    return record.state in WAITING_STATES


class BrokenAdapter(ModelAdapter):
    """The model with one bug, put into each new world's pools by :meth:`patch`."""

    def reset(self, scenario: Mapping[str, Any]) -> None:
        super().reset(scenario)
        world = self._require()
        for pool in world.pools.values():
            self.patch(world, pool)

    def patch(self, world: World, pool: Workpool) -> None:
        """Break ``pool`` (a pool of ``world``, just created)."""
        raise NotImplementedError


class TwoSlotsFreed(BrokenAdapter):
    """PAR-1: when two attempts end at the same instant, the second frees two slots."""

    def patch(self, world: World, pool: Workpool) -> None:
        original = pool._end_attempt
        last_end = [-1]

        def end_attempt(record: WorkRecord) -> None:
            original(record)
            if last_end[0] == world.now:
                pool._running -= 1
            last_end[0] = world.now

        pool._end_attempt = end_attempt  # type: ignore[method-assign]


class _EarlyQueue(StartQueue[WorkRecord]):
    """A start queue that lets work with a future ``run_at`` start 10 ms early."""

    def add(self, item: WorkRecord) -> None:
        now = self._clock.now
        if item.eligible_at > now:
            item.eligible_at = max(now, item.eligible_at - 10)
        super().add(item)


class StartsBeforeRunAt(BrokenAdapter):
    """ORD-2: work enqueued with a ``runAt`` starts up to 10 ms before it."""

    def patch(self, world: World, pool: Workpool) -> None:
        pool._queue = _EarlyQueue(world.clock, _waiting, pool._has_room, pool._start)


class _LifoQueue(StartQueue[WorkRecord]):
    """A start queue that hands out the most recently queued eligible item first."""

    def _pop(self) -> WorkRecord | None:
        now = self._clock.now
        while True:
            if self._delayed and self._delayed[0][0] <= now:
                self._ready.append(heapq.heappop(self._delayed)[2])
                continue
            if not self._ready:
                return None
            item = self._ready.pop()
            if self._is_live(item):
                return item


class Lifo(BrokenAdapter):
    """ORD-1: eligible work starts last-in first-out."""

    def patch(self, world: World, pool: Workpool) -> None:
        pool._queue = _LifoQueue(world.clock, _waiting, pool._has_room, pool._start)


class CanceledStillStarts(BrokenAdapter):
    """CAN-1: a cancel of pending work is recorded as ``canceled``, but the work stays queued
    and starts later."""

    def patch(self, world: World, pool: Workpool) -> None:
        original = pool._cancel

        def cancel(n: int) -> None:
            record = pool._records.get(n)
            if record is not None and record.state is State.PENDING:
                data = {"attempt": record.attempts, "wasRunning": False}
                world._emit("canceled", pool.name, f"{pool.name}/{n}", data)
                return
            original(n)

        pool._cancel = cancel  # type: ignore[method-assign]


class StopsRunningOnCancel(BrokenAdapter):
    """CAN-6 (current profile): a cancel of running work stops it at once, as the seed did,
    instead of letting the attempt finish."""

    def patch(self, world: World, pool: Workpool) -> None:
        original = pool._cancel

        def cancel(n: int) -> None:
            record = pool._records.get(n)
            if record is None or record.state is not State.RUNNING or record.run is None:
                original(n)
                return
            pool._runtime.abandon(record.run)
            pool._end_attempt(record)
            record.state = State.CANCELED
            data = {"attempt": record.attempts, "wasRunning": True}
            pool._finish_terminal(record, "Canceled", "canceled", data)

        pool._cancel = cancel  # type: ignore[method-assign]


OnCompletePayload = tuple[Any, str, Any, dict[str, Any]]


class OnCompleteTwice(BrokenAdapter):
    """ONC-1: every onComplete is called twice."""

    def patch(self, world: World, pool: Workpool) -> None:
        original = pool._call_on_complete

        def call_on_complete(payload: OnCompletePayload) -> None:
            original(payload)
            world._busy += 1  # The second call ends too.
            original(payload)

        pool._call_on_complete = call_on_complete  # type: ignore[method-assign]


class NoOnCompleteForCanceled(BrokenAdapter):
    """ONC-1: the onComplete of canceled work is never called."""

    def patch(self, world: World, pool: Workpool) -> None:
        original = pool._call_on_complete

        def call_on_complete(payload: OnCompletePayload) -> None:
            if payload[3]["kind"] == "canceled":
                world._busy -= 1
                return
            original(payload)

        pool._call_on_complete = call_on_complete  # type: ignore[method-assign]


class LostReturnValue(BrokenAdapter):
    """ONC-3: onComplete gets ``returnValue: null`` for successful work (the value is lost on
    the way, as the real component strips it from its pendingCompletion rows)."""

    def patch(self, world: World, pool: Workpool) -> None:
        original = pool._call_on_complete

        def call_on_complete(payload: OnCompletePayload) -> None:
            fdef, work_id, context, result = payload
            if result["kind"] == "success":
                result = {**result, "returnValue": None}
            original((fdef, work_id, context, result))

        pool._call_on_complete = call_on_complete  # type: ignore[method-assign]


class _EarlyTimers(TimerQueue[WorkRecord]):
    """A timer queue whose deadlines all come 1 ms early."""

    def add(self, deadline: int, item: WorkRecord) -> None:
        super().add(deadline - 1, item)


class EvictsEarly(BrokenAdapter):
    """TTL-1: results are evicted 1 ms before ``finished_at + ttl``."""

    def patch(self, world: World, pool: Workpool) -> None:
        pool._evictions = _EarlyTimers(world.clock, Phase.EVICT, pool._on_evict)


class NoTimeout(BrokenAdapter):
    """TMO-1: timeouts are not enforced (the pool forgets them, though it announced them)."""

    def patch(self, world: World, pool: Workpool) -> None:
        pool.options = attrs.evolve(
            pool.options, action_timeout_ms=None, mutation_timeout_ms=None,
            unknown_timeout_ms=None,
        )
        pool._timeout_ms = dict.fromkeys(pool._timeout_ms)  # The copy read on every start.


class RetryHoldsSlot(BrokenAdapter):
    """RTY-3: work waiting to retry keeps its slot (and reuses it when it restarts)."""

    def patch(self, world: World, pool: Workpool) -> None:
        retry = pool._retry
        start = pool._start

        def retry_holding(record: WorkRecord, error: str) -> None:
            retry(record, error)
            if record.state is State.RETRYING:
                pool._running += 1

        def start_in_held_slot(record: WorkRecord) -> None:
            if record.state is State.RETRYING:
                pool._running -= 1
            start(record)

        pool._retry = retry_holding  # type: ignore[method-assign]
        pool._queue = StartQueue(world.clock, _waiting, pool._has_room, start_in_held_slot)


class JitterOutOfBounds(BrokenAdapter):
    """RTY-2: retry jitter is drawn from [1.5, 2.5) instead of [0.5, 1.5)."""

    def patch(self, world: World, pool: Workpool) -> None:
        if "draw" in vars(world):
            return  # Another pool of this world patched it already.
        draw = world.draw
        world.draw = lambda purpose: draw(purpose) + 1.0  # type: ignore[method-assign]


class _ForgetfulQueue(StartQueue[WorkRecord]):
    """A start queue that ignores kicks while ``quiet`` holds."""

    quiet = False

    def kick(self, time: int) -> None:
        if not self.quiet:
            super().kick(time)


class NoRefillAfterCompletion(BrokenAdapter):
    """WC-1: a slot freed by a completion, timeout or cancel is not refilled until something
    else (an enqueue, work coming due) wakes the pool."""

    def patch(self, world: World, pool: Workpool) -> None:
        queue = _ForgetfulQueue(world.clock, _waiting, pool._has_room, pool._start)
        pool._queue = queue
        original = pool._end_attempt

        def end_attempt(record: WorkRecord) -> None:
            queue.quiet = True
            try:
                original(record)
            finally:
                queue.quiet = False

        pool._end_attempt = end_attempt  # type: ignore[method-assign]


class SucceedsTwice(BrokenAdapter):
    """LIF-1: every success is recorded twice (as the seed's second completedWork row)."""

    def patch(self, world: World, pool: Workpool) -> None:
        original = pool._finish_terminal

        def finish_terminal(
            record: WorkRecord, outcome: Any, event: str, data: dict[str, Any] | None
        ) -> None:
            original(record, outcome, event, data)
            if event == "succeeded" and data is not None:
                world._emit(event, pool.name, f"{pool.name}/{record.n}", data)

        pool._finish_terminal = finish_terminal  # type: ignore[method-assign]


Factory = Callable[[], Adapter]

BROKEN: dict[str, tuple[Factory, str, str]] = {
    "two-slots-freed": (TwoSlotsFreed, "PAR-1", "seed"),
    "starts-before-run-at": (StartsBeforeRunAt, "ORD-2", "seed"),
    "lifo": (Lifo, "ORD-1", "seed"),
    "canceled-still-starts": (CanceledStillStarts, "CAN-1", "seed"),
    "stops-running-on-cancel": (StopsRunningOnCancel, "CAN-6", "current"),
    "on-complete-twice": (OnCompleteTwice, "ONC-1", "current"),
    "no-on-complete-for-canceled": (NoOnCompleteForCanceled, "ONC-1", "current"),
    "lost-return-value": (LostReturnValue, "ONC-3", "current"),
    "evicts-early": (EvictsEarly, "TTL-1", "seed"),
    "no-timeout": (NoTimeout, "TMO-1", "seed"),
    "retry-holds-slot": (RetryHoldsSlot, "RTY-3", "current"),
    "jitter-out-of-bounds": (JitterOutOfBounds, "RTY-2", "current"),
    "no-refill-after-completion": (NoRefillAfterCompletion, "WC-1", "seed"),
    "succeeds-twice": (SucceedsTwice, "LIF-1", "seed"),
}
"""Each broken workpool: ``name -> (factory, rule ID the checker reports, profile)``."""

PROGRAMS_DIR = Path(__file__).resolve().parent / "broken_programs"

PROGRAMS: dict[str, Path] = {
    name: PROGRAMS_DIR / f"{name.replace('-', '_')}.py"
    for name in ("lifo", "two-slots-freed", "canceled-still-starts", "stops-running-on-cancel")
}
"""The broken workpools also served as protocol programs: ``name -> program path``."""


def serve_broken(name: str) -> int:
    """Serve the broken workpool ``name`` on stdin/stdout (the JSON Lines protocol)."""
    factory = BROKEN[name][0]
    return serve(factory())


def program_command(name: str) -> str:
    """The command line that runs the program of broken workpool ``name``."""
    return f"{sys.executable} {PROGRAMS[name]}"
