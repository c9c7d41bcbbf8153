"""Deliberately broken workpools, as adapters, to prove that the trace checker catches them.

Each class below is a :class:`~refmodel.adapter.ModelAdapter` with exactly one bug. Where a
profile decides what the bug changes (a lifecycle row, the retry policy, the completion
policy), the adapter's world simulates a broken profile (:class:`BrokenProfile`); otherwise its
``reset`` builds the model's world as usual and then patches that world's own objects: it
replaces methods on the :class:`~refmodel.workpool.pool.Workpool` instances, or swaps one of a
pool's parts (start queue, retention, timeouts, onComplete calls) for a subclass or a copy
made with other numbers. Nothing under ``refmodel/`` is edited and no class is patched, so
broken and sound worlds can live side by side. Like ``tests/broken.py``, the patches reach into
private names: they are test doubles of the engine's internals, and a refactoring of those
internals may need them rewritten.

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
from refmodel.engine.functions import FunctionDef
from refmodel.engine.startqueue import StartQueue
from refmodel.workpool.cancel import Cancels
from refmodel.workpool.completion import CompletionPolicy, OnCompleteCalls
from refmodel.workpool.enqueue import Plan, Planner
from refmodel.workpool.items import WorkKind, WorkSpec
from refmodel.workpool.lifecycle import TRANSITIONS, Effect, State, Trigger
from refmodel.workpool.options import RetryBehavior
from refmodel.workpool.pool import Workpool, WorkRecord
from refmodel.workpool.profiles import Profile
from refmodel.workpool.retention import Retention
from refmodel.workpool.retries import RetryPolicy
from refmodel.workpool.status import CurrentStatus, CurrentView, SeedStatus
from refmodel.workpool.timeouts import Timeouts
from refmodel.world import World
from tests.broken import profiles_changed, with_rows

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


def refold(pool: Workpool) -> None:
    """Bind the pool's effects again, after an effect method was replaced on the instance."""
    pool._effects = pool._bind_effects()


class BrokenProfile(ModelAdapter):
    """The model simulating a broken profile: :meth:`change` of the scenario's profile."""

    def reset(self, scenario: Mapping[str, Any]) -> None:
        with profiles_changed(self.change):
            super().reset(scenario)

    def change(self, profile: Profile) -> Profile:
        """The broken version of ``profile``."""
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


class _LeakyCancels(Cancels):
    """Cancels that trace a cancel of pending work but leave the work queued."""

    def __init__(self, world: World, pool: Workpool) -> None:
        super().__init__(
            pool._items, pool.profile.lifecycle, pool._apply, pool._cancel_ignored,
            pool.profile.status.forgotten_state,
        )
        self._world = world
        self._pool = pool

    def cancel(self, n: int) -> None:
        record = self._items.get(n)
        if record is not None and record.state is State.PENDING:
            data = {"attempt": record.attempts, "wasRunning": False}
            name = self._pool.name
            self._world.tracer.emit("canceled", name, f"{name}/{n}", data)
            return
        super().cancel(n)


class CanceledStillStarts(BrokenAdapter):
    """CAN-1: a cancel of pending work is recorded as ``canceled``, but the work stays queued
    and starts later."""

    def patch(self, world: World, pool: Workpool) -> None:
        pool._cancels = _LeakyCancels(world, pool)


class StopsRunningOnCancel(BrokenProfile):
    """CAN-6 (current profile): a cancel of running work stops it at once, as the seed did,
    instead of letting the attempt finish (the seed's row in the current table)."""

    def change(self, profile: Profile) -> Profile:
        abandon = next(
            row for row in TRANSITIONS
            if (row.source, row.trigger) == (State.RUNNING, Trigger.CANCEL)
            and row.effect is Effect.ABANDON
        )
        return with_rows(profile, abandon)


class _TwiceCalls(OnCompleteCalls):
    def schedule(self, *args: Any) -> None:
        super().schedule(*args)
        super().schedule(*args)


class OnCompleteTwice(BrokenAdapter):
    """ONC-1: every onComplete is called twice."""

    def patch(self, world: World, pool: Workpool) -> None:
        pool._on_complete = _TwiceCalls(world.clock, world.tracer, world.runtime, pool.name)


@attrs.frozen
class _NotForCanceled(CompletionPolicy):
    def calls(self, result: dict[str, Any]) -> bool:
        return bool(result["kind"] != "canceled")


class NoOnCompleteForCanceled(BrokenProfile):
    """ONC-1: the onComplete of canceled work is never called (a completion policy)."""

    def change(self, profile: Profile) -> Profile:
        return profile.evolve(completion=_NotForCanceled())


@attrs.frozen
class _LosesReturnValue(CompletionPolicy):
    def result(self, state: State, outcome: Any) -> dict[str, Any]:
        result = super().result(state, outcome)
        return {**result, "returnValue": None} if result["kind"] == "success" else result


class LostReturnValue(BrokenProfile):
    """ONC-3: onComplete gets ``returnValue: null`` for successful work (the value is lost on
    the way, as the real component strips it from its pendingCompletion rows)."""

    def change(self, profile: Profile) -> Profile:
        return profile.evolve(completion=_LosesReturnValue())


class EvictsEarly(BrokenAdapter):
    """TTL-1: results are evicted 1 ms before ``finished_at + ttl``."""

    def patch(self, world: World, pool: Workpool) -> None:
        ttl = pool.options.ttl_ms
        early = ttl - 1 if type(ttl) is int else ttl
        pool._retention = Retention(world.clock, early, pool._on_evict, pool._forget)


class NoTimeout(BrokenAdapter):
    """TMO-1: timeouts are not enforced (the pool forgets them, though it announced them)."""

    def patch(self, world: World, pool: Workpool) -> None:
        forgotten = attrs.evolve(
            pool.options, action_timeout_ms=None, mutation_timeout_ms=None,
            unknown_timeout_ms=None,
        )
        pool._timeouts = Timeouts(world.clock, forgotten, pool._on_timeout)


class RetryHoldsSlot(BrokenAdapter):
    """RTY-3: work waiting to retry keeps its slot (and reuses it when it restarts)."""

    def patch(self, world: World, pool: Workpool) -> None:
        wait = pool._wait_to_retry
        launch = pool._launch

        def wait_holding(record: WorkRecord, source: State, event: str, run: Any) -> None:
            wait(record, source, event, run)
            pool._running += 1

        def launch_in_held_slot(record: WorkRecord, source: State, event: str, run: Any) -> None:
            if source is State.RETRYING:
                pool._running -= 1
            launch(record, source, event, run)

        pool._wait_to_retry = wait_holding  # type: ignore[method-assign]
        pool._launch = launch_in_held_slot  # type: ignore[method-assign,assignment]
        refold(pool)


@attrs.frozen
class _ShiftedJitter(RetryPolicy):
    def jitter(self, u: float) -> float:
        return 1.5 + u


class JitterOutOfBounds(BrokenProfile):
    """RTY-2: retry jitter is drawn from [1.5, 2.5) instead of [0.5, 1.5) (a retry policy)."""

    def change(self, profile: Profile) -> Profile:
        return profile.evolve(retries=_ShiftedJitter())


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
        finish = pool._finish

        def finish_twice(record: WorkRecord, source: State, event: str, detail: Any) -> None:
            finish(record, source, event, detail)
            if event == "succeeded" and world.tracer.tracing:
                data = {"attempt": record.attempts, "result": detail.value}
                world.tracer.emit(event, pool.name, f"{pool.name}/{record.n}", data)

        pool._finish = finish_twice  # type: ignore[method-assign]
        refold(pool)


# The classes of bug the first fixtures, explore and check missed ----------------------------------


class _ContextLost(OnCompleteCalls):
    def schedule(
        self, fdef: FunctionDef, work_id: str, context: Any, result: dict[str, Any]
    ) -> None:
        super().schedule(fdef, work_id, None, result)


class WrongContext(BrokenAdapter):
    """ONC-2: onComplete is given no context (the stored context is lost)."""

    def patch(self, world: World, pool: Workpool) -> None:
        pool._on_complete = _ContextLost(world.clock, world.tracer, world.runtime, pool.name)


@attrs.frozen
class _Returned:
    """What an ended attempt gives :meth:`Workpool._finish`: its return value."""

    value: Any
    ok: bool = True
    error: str | None = None
    non_retryable: bool = False


class SharedResultBuffer(BrokenAdapter):
    """EXE-1: items that succeed at the same instant all get the first one's return value
    (one result buffer per loop iteration)."""

    def patch(self, world: World, pool: Workpool) -> None:
        finish = pool._finish
        first: list[tuple[int, Any]] = []

        def finish_shared(record: WorkRecord, source: State, event: str, detail: Any) -> None:
            if record.state is State.SUCCEEDED:
                if first and first[0][0] == world.now:
                    detail = _Returned(first[0][1])
                else:
                    first[:] = [(world.now, detail.value)]
            finish(record, source, event, detail)

        pool._finish = finish_shared  # type: ignore[method-assign]
        refold(pool)


class PauseIgnoredWhileRunning(BrokenAdapter):
    """PAR-2: a pause (maxParallelism 0) is ignored while work runs, so the freed slot is
    refilled."""

    def patch(self, world: World, pool: Workpool) -> None:
        original = pool._reconfigure

        def reconfigure(changes: dict[str, Any]) -> None:
            if changes.get("max_parallelism") == 0 and pool._running > 0:
                changes = {k: v for k, v in changes.items() if k != "max_parallelism"}
            original(changes)

        pool._reconfigure = reconfigure  # type: ignore[method-assign]


class SharedSlots(BrokenAdapter):
    """WC-1: every pool's limit counts the work of all pools (one global running count)."""

    def patch(self, world: World, pool: Workpool) -> None:
        def has_room() -> bool:
            return sum(other._running for other in world.pools.values()) < pool._limit

        pool._queue = StartQueue(world.clock, _waiting, has_room, pool._start)


class _MonotoneQueue(StartQueue[WorkRecord]):
    """A start queue in which no item becomes eligible before an item queued earlier."""

    latest = 0

    def add(self, item: WorkRecord) -> None:
        self.latest = max(self.latest, item.eligible_at)
        item.eligible_at = self.latest
        super().add(item)


class RunAtBlocksLaterWork(BrokenAdapter):
    """ORD-1: an item waiting for its runAt holds back every item enqueued after it (strict
    enqueue order instead of FIFO by eligibility time)."""

    def patch(self, world: World, pool: Workpool) -> None:
        pool._queue = _MonotoneQueue(world.clock, _waiting, pool._has_room, pool._start)


class RaiseNotActedOn(BrokenAdapter):
    """WC-1: raising maxParallelism starts nothing until something else wakes the pool."""

    def patch(self, world: World, pool: Workpool) -> None:
        queue = _ForgetfulQueue(world.clock, _waiting, pool._has_room, pool._start)
        pool._queue = queue
        original = pool._reconfigure

        def reconfigure(changes: dict[str, Any]) -> None:
            queue.quiet = True
            try:
                original(changes)
            finally:
                queue.quiet = False

        pool._reconfigure = reconfigure  # type: ignore[method-assign]


class CancelsAnyPoolsId(BrokenAdapter):
    """CAN-5: a pool cancels an id another pool issued, in that pool."""

    def patch(self, world: World, pool: Workpool) -> None:
        original = pool.cancel

        def cancel(ctx: Any, work_id: str) -> None:
            for other in world.pools.values():
                if other is not pool and str(work_id).startswith(other._prefix):
                    other.cancel(ctx, work_id)
                    return
            original(ctx, work_id)

        pool.cancel = cancel  # type: ignore[method-assign]


class _RetriesEveryKind(Planner):
    """Enqueues that give mutations and queries the pool's default retry behaviour."""

    def __init__(self, pool: Workpool, world: World) -> None:
        default = pool.options.default_retry_behavior
        by_default = default if pool.options.retry_actions_by_default else None
        super().__init__(world.registry, world.clock, by_default, default)
        self.by_default = by_default

    def plan(self, ctx: Any, fn: Any, args: Any, kind: WorkKind, retry: Any,
             *rest: Any, **named: Any) -> Plan:
        plan = super().plan(ctx, fn, args, kind, retry, *rest, **named)
        if kind is not WorkKind.ACTION and retry is None and self.by_default is not None:
            spec = plan.spec
            spec = WorkSpec(spec.fdef, spec.kind, self.by_default, spec.on_complete,
                            spec.context, spec.keys)
            return Plan(spec, plan.payload, plan.run_at)
        return plan


class RetriesMutations(BrokenAdapter):
    """RTY-1: with retryActionsByDefault, mutations and queries are retried too."""

    def patch(self, world: World, pool: Workpool) -> None:
        pool._planner = _RetriesEveryKind(pool, world)


class NoMutationTimeout(BrokenAdapter):
    """TMO-1: only actions time out; mutations run past mutationTimeoutMs."""

    def patch(self, world: World, pool: Workpool) -> None:
        actions_only = attrs.evolve(pool.options, mutation_timeout_ms=None)
        pool._timeouts = Timeouts(world.clock, actions_only, pool._on_timeout)


class _DroppedCancels(Cancels):
    """Cancels that drop a cancel of pending work."""

    def cancel(self, n: int) -> None:
        record = self._items.get(n)
        if record is not None and record.state is State.PENDING:
            return
        super().cancel(n)


class DropsCancelOfPending(BrokenAdapter):
    """CAN-1: a cancel of pending work is silently dropped and the work runs (the seed
    implementation's bug)."""

    def patch(self, world: World, pool: Workpool) -> None:
        pool._cancels = _DroppedCancels(
            pool._items, pool.profile.lifecycle, pool._apply, pool._cancel_ignored,
            pool.profile.status.forgotten_state,
        )


@attrs.frozen
class _RetriesNonRetryable(RetryPolicy):
    def will_retry(
        self, behavior: RetryBehavior | None, attempts: int, non_retryable: bool
    ) -> bool:
        return super().will_retry(behavior, attempts, False)


class RetriesNonRetryable(BrokenProfile):
    """RTY-4: a NonRetryableError is retried like any error (a retry policy)."""

    def change(self, profile: Profile) -> Profile:
        return profile.evolve(retries=_RetriesNonRetryable())


@attrs.frozen
class _RunningWhileBackingOff(CurrentView):
    def of(self, state: State | None, attempts: int, outcome: Any) -> SeedStatus | CurrentStatus:
        if state is State.RETRYING:
            return CurrentStatus(state="running", previous_attempts=attempts)
        return super().of(state, attempts, outcome)


class StatusRunningDuringBackoff(BrokenProfile):
    """STS-5: work waiting to retry reads running (it is still counted as in progress; a
    status view)."""

    def change(self, profile: Profile) -> Profile:
        return profile.evolve(status=_RunningWhileBackingOff())


@attrs.frozen
class _NoBackoffEver(RetryPolicy):
    def will_retry(
        self, behavior: RetryBehavior | None, attempts: int, non_retryable: bool
    ) -> bool:
        return behavior is not None and not non_retryable

    def delay_ms(self, behavior: RetryBehavior, retry: int, jitter: float) -> int:
        return 0


class RetriesForeverWithoutBackoff(BrokenProfile):
    """CLK-5: a failed action is retried at once, forever: an attempt that fails without
    taking time keeps the clock at one instant (a livelock; a retry policy)."""

    def change(self, profile: Profile) -> Profile:
        return profile.evolve(retries=_NoBackoffEver())


class ForeignStatusReadsFinished(BrokenAdapter):
    """STS-4: the status of an id another pool issued reads finished (the current component
    under convex-test). ``declare``: the adapter declares the named deviation."""

    def __init__(self, declare: bool = False) -> None:
        super().__init__()
        self.declare = declare

    def handshake(self) -> dict[str, Any]:
        answer = super().handshake()
        if self.declare:
            answer["deviations"] = ["STS-4/foreign-id-finished"]
        return answer

    def patch(self, world: World, pool: Workpool) -> None:
        original = pool.status

        def status(work_id: str) -> Any:
            if any(other is not pool and str(work_id).startswith(other._prefix)
                   for other in world.pools.values()):
                return CurrentStatus(state="finished", previous_attempts=0)
            return original(work_id)

        pool.status = status  # type: ignore[method-assign]


class IgnoresRetryOnMutations(ModelAdapter):
    """ENQ-5: a retry option on a mutation or query enqueue is accepted and ignored (the
    current component). ``declare``: the adapter declares the named deviation."""

    def __init__(self, declare: bool = False) -> None:
        super().__init__()
        self.declare = declare

    def handshake(self) -> dict[str, Any]:
        answer = super().handshake()
        if self.declare:
            answer["deviations"] = ["ENQ-5/retry-on-mutation-ignored"]
        return answer

    def call(self, step: Mapping[str, Any]) -> dict[str, Any]:
        options = step.get("options")
        if step.get("op") in ("enqueue", "enqueueBatch") and options and "retry" in options:
            world = self._require()
            if world.registry.resolve(step["fn"]).ref.kind.value != "action":
                step = {**step, "options": {k: v for k, v in options.items() if k != "retry"}}
        return super().call(step)


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

MISSED: dict[str, tuple[Factory, str, str]] = {
    "wrong-context": (WrongContext, "ONC-2", "current"),
    "shared-result-buffer": (SharedResultBuffer, "EXE-1", "seed"),
    "pause-ignored-while-running": (PauseIgnoredWhileRunning, "PAR-2", "current"),
    "shared-slots": (SharedSlots, "WC-1", "seed"),
    "run-at-blocks-later-work": (RunAtBlocksLaterWork, "ORD-1", "seed"),
    "raise-not-acted-on": (RaiseNotActedOn, "WC-1", "current"),
    "cancels-any-pools-id": (CancelsAnyPoolsId, "CAN-5", "seed"),
    "retries-mutations": (RetriesMutations, "RTY-1", "current"),
    "no-mutation-timeout": (NoMutationTimeout, "TMO-1", "seed"),
    "drops-cancel-of-pending": (DropsCancelOfPending, "CAN-1", "seed"),
    "retries-non-retryable": (RetriesNonRetryable, "RTY-4", "current"),
    "status-running-during-backoff": (StatusRunningDuringBackoff, "STS-5", "current"),
    "retries-forever-without-backoff": (RetriesForeverWithoutBackoff, "CLK-5", "current"),
    "foreign-status-reads-finished": (ForeignStatusReadsFinished, "STS-4", "current"),
    "ignores-retry-on-mutations": (IgnoresRetryOnMutations, "ENQ-5", "current"),
}
"""The classes of bug that the first fixtures, explore and check let through, one broken
workpool each: ``name -> (factory, the rule a fixture or explore names, profile)``."""

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
