"""Deliberately broken engines, to prove that the state machine catches what it claims to.

Each function here is a context manager that breaks exactly one rule of ``specs/workpool.md``
while it is active; no file under ``refmodel/`` is touched. ``tests/test_state_machine.py`` runs
``WorkpoolMachine`` (or the DET-1 property) inside each one and asserts that it fails with a
message that names the broken rule, in the spirit of Hypothesis' own tests that run machines
which must fail.

Most broken engines are *profiles*: a built-in profile with one part replaced (a lifecycle row,
the slot policy, the eligibility, the status view, ...), installed under the built-in name by
:func:`profiles_changed` so that every world made meanwhile with ``profile="seed"`` or
``"current"`` simulates it. That is the seam a profile of one's own uses, and it proves that a
third semantics needs no edit of the engine. The others break what no profile decides (the
start queue's order, a timeout's deadline, the runtime's commits, the API's id checks) by
patching the model from the outside (``unittest.mock.patch.object``); those patches are test
doubles of the engine's internals, and a refactoring of those internals may need them
rewritten. Patch before the world is built: pools bind their effects when they are created.
"""

from __future__ import annotations

import contextlib
import heapq
import random
from collections.abc import Callable, Iterator
from typing import Any
from unittest.mock import patch

import attrs

from refmodel.engine.clock import Clock
from refmodel.engine.runtime import Run, RunState, Runtime
from refmodel.engine.startqueue import StartQueue
from refmodel.errors import UnknownWorkId, WorkEvicted
from refmodel.workpool.enqueue import Eligibility
from refmodel.workpool.items import WorkRecord
from refmodel.workpool.lifecycle import Lifecycle, State, Transition, Trigger
from refmodel.workpool.options import PoolOptions
from refmodel.workpool.pool import Workpool
from refmodel.workpool.poolctx import PoolScheduler
from refmodel.workpool.profiles import BUILT_IN, Profile
from refmodel.workpool.results import Waiters
from refmodel.workpool.retention import Retention
from refmodel.workpool.slots import Gate, SlotPolicy
from refmodel.workpool.status import SEED_VIEW, CurrentStatus, SeedStatus, SeedView

Breakage = Callable[[], contextlib.AbstractContextManager[None]]


# The profile seam ---------------------------------------------------------------------------


@contextlib.contextmanager
def profiles_changed(change: Callable[[Profile], Profile]) -> Iterator[None]:
    """Install, under each built-in profile's name, that profile as ``change`` makes it: worlds
    made meanwhile with ``profile="seed"`` or ``"current"`` simulate the broken profile."""
    changed = {name: change(profile) for name, profile in BUILT_IN.items()}
    with patch.dict(BUILT_IN, changed):
        yield


def with_rows(profile: Profile, *rows: Transition) -> Profile:
    """``profile`` with ``rows`` in place of its rows for the same state and trigger; a row
    whose target is ``None``-like is not possible, so :func:`without_row` removes one."""
    replaced = {(row.source, row.trigger) for row in rows}
    kept = [r for r in profile.lifecycle.rows if (r.source, r.trigger) not in replaced]
    return profile.evolve(lifecycle=Lifecycle(profile.name, [*kept, *rows]))


def without_row(profile: Profile, source: State, trigger: Trigger) -> Profile:
    """``profile`` without its row for ``trigger`` in ``source``."""
    kept = [r for r in profile.lifecycle.rows if (r.source, r.trigger) != (source, trigger)]
    return profile.evolve(lifecycle=Lifecycle(profile.name, kept))


class _CountingGate:
    """A gate that counts the pool's running attempts and lets ``room(running, limit)``
    decide."""

    def __init__(self, pool: Workpool, room: Callable[[int, int], bool]) -> None:
        self._pool = pool
        self._room = room
        self._running = 0

    def has_room(self) -> bool:
        return self._room(self._running, self._pool.options.max_parallelism)

    def started(self, n: int) -> None:
        self._running += 1

    def ended(self, n: int) -> None:
        self._running -= 1


@attrs.frozen
class RoomRule(SlotPolicy):
    """A slot policy that lets ``room(running, max_parallelism)`` decide."""

    room: Callable[[int, int], bool]

    def gate(self, pool: Any, wake: Callable[[], None]) -> Gate | None:
        return _CountingGate(pool, self.room)


# PAR, ORD, WC -------------------------------------------------------------------------------


def one_slot_too_many() -> contextlib.AbstractContextManager[None]:
    """PAR-1: a pool runs ``max_parallelism + 1`` items at once (a profile's slot policy)."""
    rule = RoomRule(lambda running, limit: running < limit + 1)
    return profiles_changed(lambda profile: profile.evolve(slots=rule))


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
    """ORD-2: work with a future ``run_at`` becomes startable 1 ms before it, though its
    ``enqueued`` event announced ``run_at`` (the start queue, not the profile, errs)."""
    original = StartQueue.add

    def add(self: StartQueue[Any], item: Any) -> None:
        if item.eligible_at > self._clock.now:
            item.eligible_at -= 1
        original(self, item)

    with patch.object(StartQueue, "add", add):
        yield


@contextlib.contextmanager
def ignores_run_at() -> Iterator[None]:
    """ORD-2: work is startable at once, whatever the ``run_at`` its event announced."""
    original = StartQueue.add

    def add(self: StartQueue[Any], item: Any) -> None:
        item.eligible_at = min(item.eligible_at, self._clock.now)
        original(self, item)

    with patch.object(StartQueue, "add", add):
        yield


@attrs.frozen
class _NoRunAt(Eligibility):
    def eligible_at(self, requested: int | None, now: int) -> tuple[int, str | None]:
        return now, None


def eligibility_ignores_run_at() -> contextlib.AbstractContextManager[None]:
    """ENQ-4: a profile whose eligibility makes work eligible at once, whatever its
    ``run_at`` (and says so in its ``enqueued`` events)."""
    return profiles_changed(lambda profile: profile.evolve(eligibility=_NoRunAt()))


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


# CAN ----------------------------------------------------------------------------------------


def cancel_of_pending_ignored() -> contextlib.AbstractContextManager[None]:
    """CAN-1: ``cancel`` of pending work changes nothing (the seed's usual outcome): the
    profile's table has no row for it."""
    return profiles_changed(lambda profile: without_row(profile, State.PENDING, Trigger.CANCEL))


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


# TMO, TTL, STS, RES -------------------------------------------------------------------------


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
    original = Retention.__init__

    def init(
        self: Retention,
        clock: Clock,
        ttl_ms: int | float | None,
        evict: Callable[[WorkRecord], None],
        forget: Callable[[WorkRecord], None],
    ) -> None:
        early = ttl_ms - 1 if type(ttl_ms) is int else ttl_ms
        original(self, clock, early, evict, forget)

    with patch.object(Retention, "__init__", init):
        yield


@attrs.frozen
class _EvictedReadsSuccess(SeedView):
    def of(self, state: State | None, attempts: int, outcome: Any) -> SeedStatus | CurrentStatus:
        seen = SEED_VIEW.of(state, attempts, outcome)
        return SeedStatus(kind="success", result=None) if seen.to_json() == {
            "kind": "evicted"
        } else seen


def evicted_reads_success() -> contextlib.AbstractContextManager[None]:
    """STS-3: an evicted id reads ``{"kind": "success", "result": None}`` (a profile's status
    view)."""
    view = _EvictedReadsSuccess()
    return profiles_changed(lambda profile: profile.evolve(status=view))


@contextlib.contextmanager
def poll_never_woken() -> Iterator[None]:
    """RES-2: ``poll_result`` is not resumed when the work finishes, only at its deadline."""

    def notify(self: Waiters, record: WorkRecord) -> None:
        return None

    with patch.object(Waiters, "notify", notify):
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


# LIF, TMO-2, EXE, DET -----------------------------------------------------------------------


@contextlib.contextmanager
def evicted_twice() -> Iterator[None]:
    """LIF-1: every eviction is traced twice (``evicted -> evicted`` is not in the table)."""
    original = Workpool._evicted

    def evicted(self: Workpool, record: WorkRecord, source: State, event: str, detail: Any) -> None:
        original(self, record, source, event, detail)
        tracer = self.world.tracer
        if tracer.tracing:
            tracer.emit(event, self.name, f"{self.name}/{record.n}", {})

    with patch.object(Workpool, "_evicted", evicted):
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
        tracer = self.world.tracer
        if tracer.tracing:
            tracer.emit("rng", None, None, {"purpose": "jitter", "value": random.random()})

    with patch.object(Workpool, "_start", start):
        yield
