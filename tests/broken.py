"""Deliberately broken engines, to prove that the state machine catches what it claims to.

Each function here is a context manager that breaks exactly one rule of ``specs/workpool.md``
while it is active, by patching the model from the outside (``unittest.mock.patch.object``); no
file under ``refmodel/`` is touched. ``tests/test_state_machine.py`` runs ``WorkpoolMachine``
(or the DET-1 property) inside each one and asserts that it fails with a message that names the
broken rule, in the spirit of Hypothesis' own tests that run machines which must fail.

The patches reach into private names (``Workpool._has_room``, ``StartQueue._pop``, ...): they
are test doubles of the engine's internals, and a refactoring of those internals may need them
rewritten. Where possible a variant wraps the original method instead of copying its body, so
that it keeps working when the body changes.

Patch before the world is built: pools bind some methods (``_has_room``, ``_on_evict``) when
they are created.
"""

from __future__ import annotations

import contextlib
import heapq
import random
from collections.abc import Callable, Iterator
from typing import Any
from unittest.mock import patch

from refmodel.engine.clock import Phase, TimerQueue
from refmodel.engine.runtime import Run, RunState, Runtime
from refmodel.engine.startqueue import StartQueue
from refmodel.errors import UnknownWorkId, WorkEvicted
from refmodel.workpool.lifecycle import State
from refmodel.workpool.options import PoolOptions
from refmodel.workpool.pool import Workpool, WorkRecord
from refmodel.workpool.poolctx import PoolScheduler
from refmodel.workpool.status import SeedStatus

Breakage = Callable[[], contextlib.AbstractContextManager[None]]


@contextlib.contextmanager
def one_slot_too_many() -> Iterator[None]:
    """PAR-1: a pool runs ``max_parallelism + 1`` items at once."""

    def has_room(self: Workpool) -> bool:
        return self._running < self.options.max_parallelism + 1

    with patch.object(Workpool, "_has_room", has_room):
        yield


@contextlib.contextmanager
def lifo_start_queue() -> Iterator[None]:
    """ORD-1: the start queue hands out the most recently queued eligible item first."""

    def pop(self: StartQueue[Any]) -> Any:
        ready = self._ready
        delayed = self._delayed
        now = self._clock.now
        while True:
            if ready:
                item = ready.pop()
            elif delayed and delayed[0][0] <= now:
                item = heapq.heappop(delayed)[2]
            else:
                return None
            if self._is_live(item):
                return item

    with patch.object(StartQueue, "_pop", pop):
        yield


@contextlib.contextmanager
def starts_one_ms_early() -> Iterator[None]:
    """ORD-2: work with a future ``run_at`` becomes startable 1 ms before it."""
    original = StartQueue.add

    def add(self: StartQueue[Any], item: Any) -> None:
        if item.eligible_at > self._clock.now:
            item.eligible_at -= 1
        original(self, item)

    with patch.object(StartQueue, "add", add):
        yield


@contextlib.contextmanager
def ignores_run_at() -> Iterator[None]:
    """ORD-2: work is startable at once, whatever its ``run_at``."""
    original = StartQueue.add

    def add(self: StartQueue[Any], item: Any) -> None:
        item.eligible_at = min(item.eligible_at, self._clock.now)
        original(self, item)

    with patch.object(StartQueue, "add", add):
        yield


@contextlib.contextmanager
def cancel_of_pending_ignored() -> Iterator[None]:
    """CAN-1: ``cancel`` of pending work is silently dropped (the seed's usual outcome)."""
    original = Workpool._cancel

    def cancel(self: Workpool, n: int) -> None:
        record = self._records.get(n)
        if record is not None and record.state is State.PENDING:
            return
        original(self, n)

    with patch.object(Workpool, "_cancel", cancel):
        yield


@contextlib.contextmanager
def timeout_one_ms_late() -> Iterator[None]:
    """TMO-1: every timeout fires 1 ms after ``started_at + timeout``."""
    original = PoolOptions.timeout_for

    def timeout_for(self: PoolOptions, kind: str) -> int | None:
        timeout = original(self, kind)
        return None if timeout is None else timeout + 1

    with patch.object(PoolOptions, "timeout_for", timeout_for):
        yield


@contextlib.contextmanager
def eviction_one_ms_early() -> Iterator[None]:
    """TTL-1: results are evicted 1 ms before ``finished_at + ttl_ms``."""
    original = TimerQueue.add
    evict = int(Phase.EVICT)

    def add(self: TimerQueue[Any], deadline: int, item: Any) -> None:
        original(self, deadline - 1 if self._phase == evict else deadline, item)

    with patch.object(TimerQueue, "add", add):
        yield


@contextlib.contextmanager
def evicted_reads_success() -> Iterator[None]:
    """STS-3: an evicted id reads ``{"kind": "success", "result": None}``."""
    original = Workpool.seed_status

    def seed_status(self: Workpool, work_id: str) -> SeedStatus:
        seen = original(self, work_id)
        return SeedStatus(kind="success", result=None) if seen.kind == "evicted" else seen

    with patch.object(Workpool, "seed_status", seed_status):
        yield


@contextlib.contextmanager
def no_start_after_completion() -> Iterator[None]:
    """WC-1: a slot freed by a completion, timeout or cancel is not refilled in that instant's
    START phase (the pool forgets to kick its start queue when work finishes)."""
    original_end_attempt = Workpool._end_attempt
    original_kick = StartQueue.kick
    ending = [False]

    def end_attempt(self: Workpool, record: WorkRecord) -> None:
        ending[0] = True
        try:
            original_end_attempt(self, record)
        finally:
            ending[0] = False

    def kick(self: StartQueue[Any], time: int) -> None:
        if not ending[0]:
            original_kick(self, time)

    with (
        patch.object(Workpool, "_end_attempt", end_attempt),
        patch.object(StartQueue, "kick", kick),
    ):
        yield


@contextlib.contextmanager
def cancel_swallows_foreign_ids() -> Iterator[None]:
    """CAN-5: ``pool.cancel`` of an id the pool did not issue returns quietly (as the seed)."""
    original = Workpool.cancel

    def cancel(self: Workpool, ctx: Any, work_id: str) -> None:
        with contextlib.suppress(UnknownWorkId):
            original(self, ctx, work_id)

    with patch.object(Workpool, "cancel", cancel):
        yield


@contextlib.contextmanager
def scheduler_cancel_accepts_any_id() -> Iterator[None]:
    """CAN-4: ``pool.ctx(ctx).scheduler.cancel`` is ``pool.cancel`` with no check (as the seed)."""

    def cancel(self: PoolScheduler, work_id: str) -> None:
        self._pool.cancel(self._ctx, work_id)

    with patch.object(PoolScheduler, "cancel", cancel):
        yield


@contextlib.contextmanager
def poll_never_woken() -> Iterator[None]:
    """RES-2: ``poll_result`` is not resumed when the work finishes, only at its deadline."""

    def notify(self: Workpool, record: WorkRecord) -> None:
        return None

    with patch.object(Workpool, "_notify", notify):
        yield


@contextlib.contextmanager
def try_result_of_evicted_returns_none() -> Iterator[None]:
    """RES-1: ``try_result`` of evicted work returns ``None`` (as the seed's ``undefined``)
    instead of raising WorkEvicted."""
    original = Workpool.try_result

    def try_result(self: Workpool, work_id: str) -> Any:
        try:
            return original(self, work_id)
        except WorkEvicted:
            return None

    with patch.object(Workpool, "try_result", try_result):
        yield


@contextlib.contextmanager
def evicted_twice() -> Iterator[None]:
    """LIF-1: every eviction is traced twice (``evicted -> evicted`` is not in the table)."""
    original = Workpool._on_evict

    def on_evict(self: Workpool, record: WorkRecord) -> None:
        original(self, record)
        if record.state is State.EVICTED and self.world._tracing:
            self.world._emit("evicted", self.name, f"{self.name}/{record.n}", {})

    with patch.object(Workpool, "_on_evict", on_evict):
        yield


@contextlib.contextmanager
def abandoned_mutation_commits() -> Iterator[None]:
    """TMO-2: a mutation abandoned by its timeout still applies its writes at its commit
    instant (its result is dropped)."""
    original = Runtime._commit

    def commit(self: Runtime, run: Run) -> None:
        token = run.token
        timed_out = isinstance(token, WorkRecord) and token.state is State.TIMED_OUT
        if run.state is RunState.ABANDONED and timed_out and run.txn is not None:
            run.txn.commit()
            return
        original(self, run)

    with patch.object(Runtime, "_commit", commit):
        yield


@contextlib.contextmanager
def failed_mutation_commits() -> Iterator[None]:
    """EXE-2: a mutation whose handler raised still applies its writes when it ends."""
    original = Runtime._fail_mutation

    def fail_mutation(self: Runtime, run: Run) -> None:
        if run.state is RunState.ACTIVE and run.txn is not None:
            run.txn.commit()
        original(self, run)

    with patch.object(Runtime, "_fail_mutation", fail_mutation):
        yield


@contextlib.contextmanager
def global_random_in_trace() -> Iterator[None]:
    """DET-1: every start records a draw from the global ``random`` module, not the world's
    RNG, so two runs with the same seed and calls differ."""
    original = Workpool._start

    def start(self: Workpool, record: WorkRecord) -> None:
        original(self, record)
        if self.world._tracing:
            self.world._emit("rng", None, None, {"purpose": "jitter", "value": random.random()})

    with patch.object(Workpool, "_start", start):
        yield
