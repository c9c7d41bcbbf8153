"""Workpools: named pools that run actions, mutations and queries with bounded parallelism.

Theory of operation. A :class:`Workpool` owns the work items it issued ids for
(:mod:`refmodel.workpool.items`). Each item's state follows the lifecycle table of the world's
profile, and this module is the only place that changes it: :meth:`Workpool._apply` looks up
the row for the item's state and a trigger, moves the item to the row's target, and carries
out the row's effect (:class:`~refmodel.workpool.lifecycle.Effect`). Every decision that
differs between semantics is the profile's (:mod:`refmodel.workpool.profiles`); the pool never
asks which profile it runs.

The life of an item, and the module that owns each part:

- enqueue (:mod:`~refmodel.workpool.enqueue`): a validated plan becomes a pending item, at once
  or when the enqueuing mutation commits; it waits in a
  :class:`~refmodel.engine.startqueue.StartQueue` until it is eligible and a slot is free.
- start (:mod:`~refmodel.workpool.slots`): a START row launches an attempt as a
  :class:`~refmodel.engine.runtime.Run`, with its timeout armed
  (:mod:`~refmodel.workpool.timeouts`).
- end of an attempt: :meth:`Workpool._on_done` frees the slot first, then triggers ``succeed``,
  ``retry`` or ``fail`` (the profile's retry policy, :mod:`~refmodel.workpool.retries`).
- finish: the FINISH effect records the outcome, calls onComplete
  (:mod:`~refmodel.workpool.completion`), keeps the result for the ttl or forgets it
  (:mod:`~refmodel.workpool.retention`), and wakes pollers (:mod:`~refmodel.workpool.results`).
- cancel (:mod:`~refmodel.workpool.cancel`) and timeouts are triggers like the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from refmodel.constants import CTX_POLL_TIMEOUT_MS
from refmodel.engine.clock import Clock
from refmodel.engine.deployment import Deployment
from refmodel.engine.functions import FunctionKind, FunctionRef
from refmodel.engine.runtime import (
    ActionCtx,
    Ctx,
    MutationCtx,
    Request,
    Run,
    check_ctx,
    require_action,
)
from refmodel.engine.startqueue import StartQueue
from refmodel.errors import InvalidArgument, WorkEvicted
from refmodel.values import article, check_int, check_time, fresh, short
from refmodel.workpool.cancel import Cancels
from refmodel.workpool.completion import OnCompleteCalls
from refmodel.workpool.enqueue import Planner
from refmodel.workpool.items import (
    WorkId,
    WorkItems,
    WorkKind,
    WorkRecord,
    WorkSpec,
    unpack_args,
)
from refmodel.workpool.lifecycle import (
    ACTIVE,
    CANCELED,
    FAILED,
    PENDING,
    RETRYING,
    SUCCEEDED,
    TERMINAL,
    WAITING,
    Effect,
    State,
    Trigger,
)
from refmodel.workpool.options import PoolOptions, RetryBehavior, update_options
from refmodel.workpool.poolctx import PoolCtx
from refmodel.workpool.profiles import Profile
from refmodel.workpool.results import Waiters, WaitResult, result_of
from refmodel.workpool.retention import Retention
from refmodel.workpool.status import (
    CURRENT_VIEW,
    SEED_VIEW,
    CurrentStatus,
    PoolStatistics,
    SeedStatus,
    WorkInfo,
)
from refmodel.workpool.timeouts import Timeouts

__all__ = ["WorkId", "WorkKind", "WorkRecord", "Workpool"]

_START = Trigger.START
_SUCCEED = Trigger.SUCCEED
_FAIL = Trigger.FAIL
_RETRY = Trigger.RETRY
_TIMEOUT = Trigger.TIMEOUT
_EVICT = Trigger.EVICT

_OUTCOME_OF_TARGET = {CANCELED: "Canceled", State.TIMED_OUT: "Timeout"}
"""The stored outcome (the seed status' error) of items that end without a result of theirs."""


class Workpool:
    """A named pool. Create it with ``world.pool(name, ...)``.

    Attributes:
        world: the world it belongs to.
        name: its name.
        options: its options (``update_config`` replaces them).
        profile: the world's semantics profile.
    """

    def __init__(
        self, world: Deployment, name: str, options: PoolOptions, profile: Profile
    ) -> None:
        self.world = world
        self.name = name
        self.options = options
        self.profile = profile
        self._clock: Clock = world.clock
        self._tracer = world.tracer
        self._runtime = world.runtime
        self._draw = world.draw
        self._items = WorkItems(name)
        self._prefix = name + "/"
        self._running = 0
        self._waiting = 0
        self._limit = options.max_parallelism
        self._lifecycle = profile.lifecycle
        self._status = profile.status
        self._retries = profile.retries
        self._eligibility = profile.eligibility
        self._completion = profile.completion
        default = options.default_retry_behavior
        self._planner = Planner(
            world.registry, world.clock, default if options.retry_actions_by_default else None,
            default,
        )
        self._table = profile.lifecycle.table
        self._effects = self._bind_effects()
        self._gate = profile.slots.gate(self, self._wake)
        self._queue: StartQueue[WorkRecord] = StartQueue(
            world.clock, _is_waiting, self._has_room, self._start
        )
        self._timeouts = Timeouts(world.clock, options, self._on_timeout)
        self._retention = Retention(world.clock, options.ttl_ms, self._on_evict, self._forget)
        self._on_complete = OnCompleteCalls(world.clock, world.tracer, world.runtime, name)
        self._waiters = Waiters(world.runtime, self._items.id_of)
        self._cancels = Cancels(
            self._items, profile.lifecycle, self._apply, self._cancel_ignored,
            profile.status.forgotten_state,
        )

    def __repr__(self) -> str:
        return (
            f"<Workpool {self.name!r} profile={self.profile.name} "
            f"max_parallelism={self.options.max_parallelism}>"
        )

    def _bind_effects(self) -> dict[Effect, Callable[[WorkRecord, State, str, Any], None]]:
        """The method that carries out each effect of a row."""
        return {
            Effect.LAUNCH: self._launch,
            Effect.WAIT: self._wait_to_retry,
            Effect.FINISH: self._finish,
            Effect.ABANDON: self._abandon,
            Effect.NOTE: self._note,
            Effect.FORGET: self._evicted,
        }

    # Enqueueing ----------------------------------------------------------------------------

    def enqueue_action(
        self,
        ctx: Ctx,
        fn: FunctionRef | str,
        args: Any = None,
        *,
        retry: bool | RetryBehavior | dict[str, Any] | None = None,
        on_complete: FunctionRef | str | None = None,
        context: Any = None,
        run_at: int | None = None,
        run_after: int | None = None,
    ) -> WorkId:
        """Enqueue an action (rule ENQ-1).

        Args:
            ctx: ``world.client``, or the ctx of the action or mutation enqueuing. From a
                mutation, the work appears when the mutation commits (rule ENQ-3).
            fn: the action (a reference or its registered name).
            args: a JSON-like dict (default ``{}``), stored by value (rule ENQ-2).
            retry: ``True`` (the pool's default behaviour), ``False`` (no retries), a
                :class:`RetryBehavior` (or a dict of its fields), or ``None`` (retry iff the
                pool's ``retry_actions_by_default``) (rule RTY-1).
            on_complete: a mutation called once with ``{work_id, context, result}`` when the
                work reaches its terminal state (rule ONC-1).
            context: a JSON-like value passed to ``on_complete``.
            run_at: the virtual time from which the work may start (rule ENQ-4).
            run_after: ms from now from which the work may start; not with ``run_at``.

        Returns:
            The new work id, ``"<pool>/<n>"``.

        Raises:
            InvalidType, InvalidArgument, UnknownFunction: bad input; nothing changed.
        """
        if (
            retry is None
            and on_complete is None
            and context is None
            and run_at is None
            and run_after is None
        ):
            spec, payload = self._planner.plain_action(ctx, fn, args)
            return self._issue(ctx, spec, payload, None)
        plan = self._planner.plan(
            ctx, fn, args, WorkKind.ACTION, retry, on_complete, context, run_at, run_after
        )
        return self._issue(ctx, plan.spec, plan.payload, plan.run_at)

    def enqueue_mutation(
        self,
        ctx: Ctx,
        fn: FunctionRef | str,
        args: Any = None,
        *,
        on_complete: FunctionRef | str | None = None,
        context: Any = None,
        run_at: int | None = None,
        run_after: int | None = None,
    ) -> WorkId:
        """Enqueue a mutation; like :meth:`enqueue_action`, never retried."""
        plan = self._planner.plan(
            ctx, fn, args, WorkKind.MUTATION, None, on_complete, context, run_at, run_after
        )
        return self._issue(ctx, plan.spec, plan.payload, plan.run_at)

    def enqueue_query(
        self,
        ctx: Ctx,
        fn: FunctionRef | str,
        args: Any = None,
        *,
        on_complete: FunctionRef | str | None = None,
        context: Any = None,
        run_at: int | None = None,
        run_after: int | None = None,
    ) -> WorkId:
        """Enqueue a query; like :meth:`enqueue_mutation` (rule ENQ-7)."""
        plan = self._planner.plan(
            ctx, fn, args, WorkKind.QUERY, None, on_complete, context, run_at, run_after
        )
        return self._issue(ctx, plan.spec, plan.payload, plan.run_at)

    def enqueue_action_batch(
        self, ctx: Ctx, fn: FunctionRef | str, args_list: Sequence[Any], **options: Any
    ) -> list[WorkId]:
        """Enqueue one action per args in ``args_list``; ids come back in input order.

        Every item is validated before any is enqueued: a bad one rejects the whole batch
        and nothing changes (rule ENQ-5). ``options`` are those of :meth:`enqueue_action`.
        """
        return self._batch(ctx, fn, args_list, WorkKind.ACTION, options)

    def enqueue_mutation_batch(
        self, ctx: Ctx, fn: FunctionRef | str, args_list: Sequence[Any], **options: Any
    ) -> list[WorkId]:
        """Enqueue one mutation per args; see :meth:`enqueue_action_batch`."""
        return self._batch(ctx, fn, args_list, WorkKind.MUTATION, options)

    def enqueue_query_batch(
        self, ctx: Ctx, fn: FunctionRef | str, args_list: Sequence[Any], **options: Any
    ) -> list[WorkId]:
        """Enqueue one query per args; see :meth:`enqueue_action_batch`."""
        return self._batch(ctx, fn, args_list, WorkKind.QUERY, options)

    def enqueue_unknown(self, ctx: Ctx, fn: FunctionRef | str, args: Any, run_at: int) -> WorkId:
        """Enqueue any function, eligible at ``run_at`` (clamped to now if earlier; ENQ-4).

        This is what ``pool.ctx(ctx).scheduler`` uses; its ids are the only ones that
        ``pool.ctx(ctx).scheduler.cancel`` accepts (rule CAN-4).
        """
        plan = self._planner.plan(ctx, fn, args, WorkKind.UNKNOWN, None, None, None, run_at, None)
        if plan.spec.fdef.ref.kind is FunctionKind.QUERY:
            raise InvalidArgument(
                f"{short(plan.spec.fdef.ref.name)} is a query: a scheduler runs actions and "
                "mutations only"
            )
        return self._issue(ctx, plan.spec, plan.payload, plan.run_at)

    def _batch(
        self,
        ctx: Ctx,
        fn: FunctionRef | str,
        args_list: Sequence[Any],
        kind: WorkKind,
        options: dict[str, Any],
    ) -> list[WorkId]:
        allowed = {"on_complete", "context", "run_at", "run_after"}
        if kind is WorkKind.ACTION:
            allowed.add("retry")
        unknown = sorted(set(options) - allowed)
        if unknown:
            raise InvalidArgument(
                f"unknown option {short(unknown[0])} for {article(kind.value)} batch: allowed are "
                f"{sorted(allowed)}"
            )
        if isinstance(args_list, str | bytes | dict) or not isinstance(args_list, Sequence):
            raise InvalidArgument(
                f"args_list must be a list of args dicts, got {type(args_list).__name__}"
            )
        planner = self._planner
        get = options.get
        if not args_list:  # Nothing to enqueue, but the call itself must still be valid.
            planner.plan(ctx, fn, {}, kind, get("retry"), get("on_complete"), get("context"),
                         get("run_at"), get("run_after"))
            return []
        plans = [
            planner.plan(
                ctx, fn, args, kind, get("retry"), get("on_complete"), get("context"),
                get("run_at"), get("run_after"), where=f"args_list[{i}]",
            )
            for i, args in enumerate(args_list)
        ]
        return [self._issue(ctx, plan.spec, plan.payload, plan.run_at) for plan in plans]

    def _issue(self, ctx: Ctx, spec: WorkSpec, payload: Any, run_at: int | None) -> WorkId:
        """Issue the id of a validated enqueue and insert it now, or at commit (ENQ-3)."""
        items = self._items
        if type(ctx) is not MutationCtx:
            now = self._clock.now
            at = now if run_at is None else self._eligible_at(run_at)
            record = items.new(spec, payload, now, at)
            self._insert(record, run_at)
            return self._prefix + str(record.n)
        n = items.issue(spec.kind, committed=False)

        def commit() -> None:
            items.commit(n)
            record = WorkRecord(n, spec, payload, self._clock.now, self._eligible_at(run_at))
            items.put(record)
            self._insert(record, run_at)

        ctx.defer(commit, lambda: items.abort(n))
        return self._prefix + str(n)

    def _eligible_at(self, requested: int | None) -> int:
        """When work that asks to start at ``requested`` becomes eligible if it is enqueued now
        (rules ENQ-4, ENQ-6; the warning, if any, is logged now)."""
        now = self._clock.now
        if requested is None:
            return now
        at, warning = self._eligibility.eligible_at(requested, now)
        if warning is not None:
            self._warn(warning)
        return at

    def _insert(self, record: WorkRecord, requested: int | None) -> None:
        """The enqueue took effect: the item is pending (rule ENQ-1)."""
        spec = record.spec
        at = record.eligible_at
        n = record.n
        self._waiting += 1
        self._clock.busy += 1
        tracer = self._tracer
        if tracer.tracing:
            data: dict[str, Any] = {"fn": spec.fdef.ref.name, "kind": spec.kind.value, "runAt": at}
            if requested is not None and requested != at:
                data["requestedRunAt"] = requested
            # What a trace checker needs to judge retries and onComplete on its own.
            data["retry"] = None if spec.retry is None else spec.retry.to_json()
            data["onComplete"] = None if spec.on_complete is None else spec.on_complete.ref.name
            if spec.on_complete is not None:  # What the callback must be given (ONC-1).
                data["context"] = fresh(spec.context)
            tracer.emit("enqueued", self.name, self._prefix + str(n), data)
        self._queue.add(record)

    def _warn(self, message: str) -> None:
        if self._tracer.tracing:
            self._tracer.emit("warning", self.name, None, {"message": message})

    # The table -----------------------------------------------------------------------------

    def _apply(self, record: WorkRecord, trigger: Trigger, detail: Any = None) -> None:
        """Apply the profile's row for ``trigger`` in the record's state: move the record to
        the row's target, then carry out its effect (rule LIF-1).

        ``detail`` is what the trigger brings: the ended :class:`Run` (succeed, fail, retry),
        or the timeout in ms (timeout).

        Raises:
            IllegalTransition: the table has no such row (a bug of the model, EXE-4).
        """
        source = record.state
        row = self._table[source].get(trigger)
        if row is None:
            raise self._lifecycle.refusal(source, trigger)
        record.state = row.target
        self._effects[row.effect](record, source, row.event, detail)

    # Slots and starting --------------------------------------------------------------------

    def _has_room(self) -> bool:
        gate = self._gate
        if gate is None:
            return self._running < self._limit
        return gate.has_room()

    def _wake(self) -> None:
        self._queue.kick(self._clock.now)

    def _start(self, record: WorkRecord) -> None:
        """The start queue starts ``record`` into a free slot (rules PAR-1, ORD-1, WC-1).

        This is :meth:`_apply` with the trigger ``start``, written out: it runs once per
        attempt."""
        source = record.state
        row = self._table[source].get(_START)
        if row is None:
            raise self._lifecycle.refusal(source, _START)
        record.state = row.target
        self._effects[row.effect](record, source, row.event, None)

    def _launch(self, record: WorkRecord, source: State, event: str, detail: Any) -> None:
        """LAUNCH: take a slot and start an attempt."""
        now = self._clock.now
        record.started_at = now
        self._running += 1
        self._waiting -= 1
        spec = record.spec
        attempt = record.attempts + 1
        keys = spec.keys
        if keys is not None and len(keys) == 1:  # The usual args, unpacked here.
            args = {keys[0]: record.payload}
        else:
            args = unpack_args(keys, record.payload)
        run = Run(spec.fdef, args, self._on_done, record, attempt)
        record.attempt = run
        gate = self._gate
        if gate is not None:
            gate.started(record.n)
        tracer = self._tracer
        if tracer.tracing:
            tracer.emit(event, self.name, self._prefix + str(record.n),
                        {"attempt": attempt, "lagMs": now - record.eligible_at})
        timeouts = self._timeouts
        if timeouts.enabled:
            timeouts.arm(run, spec.kind)
        self._runtime.launch(run)

    def _end_attempt(self, record: WorkRecord) -> None:
        """The running attempt ended (whichever way): count it and free its slot now
        (rules RTY-3, WC-1)."""
        record.attempts += 1
        record.attempt = None
        self._running -= 1
        gate = self._gate
        if gate is not None:
            gate.ended(record.n)
        self._queue.kick(self._clock.now)

    def _on_done(self, run: Run) -> None:
        """An attempt ended on its own: free its slot, then succeed, retry or fail.

        The row is applied as :meth:`_apply` does, written out: this runs once per attempt."""
        record: WorkRecord = run.token
        self._end_attempt(record)
        if run.ok:
            trigger = _SUCCEED
        elif self._retries.will_retry(record.spec.retry, record.attempts, run.non_retryable):
            trigger = _RETRY
        else:
            trigger = _FAIL
        source = record.state
        row = self._table[source].get(trigger)
        if row is None:
            raise self._lifecycle.refusal(source, trigger)
        record.state = row.target
        self._effects[row.effect](record, source, row.event, run)
        timeouts = self._timeouts
        if timeouts.queued > 2 * self._running + 64:
            timeouts.tidy()

    # Effects -------------------------------------------------------------------------------

    def _wait_to_retry(self, record: WorkRecord, source: State, event: str, run: Run) -> None:
        """WAIT: the failed attempt is retried after a jittered backoff (rules RTY-2, RTY-3)."""
        behavior = record.spec.retry
        assert behavior is not None
        retries = self._retries
        work_id = self._prefix + str(record.n)
        jitter = retries.jitter(self._draw(f"retry jitter {work_id} attempt {record.attempts}"))
        delay = retries.delay_ms(behavior, record.attempts, jitter)
        now = self._clock.now
        decided = retries.decided_at(work_id, record.attempts, now)
        record.eligible_at = self._eligibility.retry_eligible_at(decided, delay)
        self._waiting += 1
        tracer = self._tracer
        if tracer.tracing:
            data = {"attempt": record.attempts, "error": run.error, "delayMs": delay,
                    "retryAt": decided + delay}
            if decided != now:  # Decided later than the failure (trace version 2).
                data["decidedAt"] = decided
            tracer.emit(event, self.name, work_id, data)
        self._queue.add(record)

    def _abandon(self, record: WorkRecord, source: State, event: str, detail: Any) -> None:
        """ABANDON: stop the running attempt now and free its slot, then finish (rules CAN-2,
        TMO-2)."""
        run = record.attempt
        assert run is not None
        self._runtime.abandon(run)
        self._end_attempt(record)
        self._finish(record, source, event, detail)

    def _note(self, record: WorkRecord, source: State, event: str, detail: Any) -> None:
        """NOTE: only the event; the attempt runs on (rule CAN-6)."""
        if self._tracer.tracing:
            self._tracer.emit(event, self.name, self._prefix + str(record.n),
                              {"attempt": record.attempts + 1})

    def _finish(self, record: WorkRecord, source: State, event: str, detail: Any) -> None:
        """FINISH: the item ended. Record its outcome, call its onComplete (rule ONC-1), keep
        or forget its result (rule TTL-1), and wake whoever polls it (rule RES-2)."""
        target = record.state
        if source in WAITING:
            self._waiting -= 1
        if target is SUCCEEDED:
            outcome = detail.value
        elif target is FAILED:
            outcome = detail.error
        else:
            outcome = _OUTCOME_OF_TARGET[target]
        now = self._clock.now
        record.finished_at = now
        record.payload = outcome  # What is kept is only what status can show.
        self._clock.busy -= 1
        tracer = self._tracer
        if tracer.tracing:
            data = _event_data(event, record, source, detail)
            tracer.emit(event, self.name, self._prefix + str(record.n), data)
        on_complete = record.spec.on_complete
        if on_complete is not None:
            result = self._completion.result(target, outcome)
            if self._completion.calls(result):
                self._on_complete.schedule(
                    on_complete, self._prefix + str(record.n), record.spec.context, result
                )
        self._retention.keep(record)
        if self._waiters.by_item:
            self._waiters.notify(record)

    def _forget(self, record: WorkRecord) -> None:
        self._items.drop(record)

    def _on_evict(self, record: WorkRecord) -> None:
        """The ttl of ``record``'s result ran out (rule TTL-1): apply the ``evict`` row, as
        :meth:`_apply` does, written out: this runs once per finished item."""
        source = record.state
        if source not in TERMINAL:
            return
        row = self._table[source].get(_EVICT)
        if row is None:
            raise self._lifecycle.refusal(source, _EVICT)
        record.state = row.target
        self._effects[row.effect](record, source, row.event, None)

    def _evicted(self, record: WorkRecord, source: State, event: str, detail: Any) -> None:
        """FORGET: the retained result is dropped (rule TTL-1)."""
        self._items.drop(record)
        if self._tracer.tracing:
            self._tracer.emit(event, self.name, self._prefix + str(record.n), {})

    def _on_timeout(self, run: Run) -> None:
        record: WorkRecord = run.token
        if record.attempt is not run:
            return  # It ended before its deadline.
        self._apply(record, _TIMEOUT, self._timeouts.timeout_of(record.spec.kind))

    # Cancel --------------------------------------------------------------------------------

    def cancel(self, ctx: Ctx, work_id: str) -> None:
        """Cancel work this pool issued (rules CAN-1 to CAN-3, CAN-5, CAN-6).

        What it does is the profile's lifecycle row (:mod:`refmodel.workpool.cancel`):
        waiting work never (re)starts and ends canceled at this instant; running work is
        abandoned and ends canceled now (seed), or runs on, reports its real result and is
        never retried (current). Finished work is left as it is. From a mutation, the cancel
        happens at its commit.

        Raises:
            UnknownWorkId: the pool did not issue ``work_id``; nothing changed.
        """
        check_ctx(ctx, "cancel")
        n = self._items.number(work_id)
        cancels = self._cancels
        if type(ctx) is MutationCtx:
            ctx.defer(lambda: cancels.cancel(n), lambda: None)
        else:
            cancels.cancel(n)

    def cancel_all(self, ctx: Ctx, *, limit: int | None = None) -> None:
        """Cancel every unfinished item enqueued up to now, newest first (rule CAN-7).

        Args:
            limit: the page size the real component cancels in (default 64). The ideal model
                cancels every item at this instant, so it changes nothing observable.

        Raises:
            InvalidType, InvalidArgument: a bad ctx or limit; nothing changed.
        """
        check_ctx(ctx, "cancel_all")
        if limit is not None and check_int(limit, "limit") < 1:
            raise InvalidArgument(f"limit must be >= 1, got {short(limit)}")
        if type(ctx) is MutationCtx:
            ctx.defer(self._cancels.cancel_all, lambda: None)
        else:
            self._cancels.cancel_all()

    def _cancel_ignored(self, n: int, shown: str) -> None:
        if self._tracer.tracing:
            self._tracer.emit("cancel_ignored", self.name, self._prefix + str(n), {"state": shown})

    # Configuration -------------------------------------------------------------------------

    def update_config(self, ctx: Ctx | None = None, **changes: Any) -> None:
        """Change ``max_parallelism`` and/or ``log_level`` at runtime (rule CFG-5).

        Lowering ``max_parallelism`` stops nothing that runs; no new attempt starts until
        fewer than the new limit run. In the current profile 0 pauses starts. From a
        mutation, the change happens at its commit.

        Raises:
            InvalidType, InvalidArgument: an unknown field or a bad value; nothing changed.
        """
        if ctx is not None:
            check_ctx(ctx, "update_config")
        update_options(self.options, changes)  # Validate now: a bad call changes nothing.
        if type(ctx) is MutationCtx:
            # Applied to the options as they are at commit: only the given fields change.
            ctx.defer(lambda: self._reconfigure(changes), lambda: None)
        else:
            self._reconfigure(changes)

    def _reconfigure(self, changes: dict[str, Any]) -> None:
        updated, warnings = update_options(self.options, changes)
        self.options = updated
        self._limit = updated.max_parallelism
        if self._tracer.tracing:
            self._tracer.emit("config_updated", self.name, None, updated.to_json())
        for message in warnings:
            self._warn(message)
        self._queue.kick(self._clock.now)

    # Reading -------------------------------------------------------------------------------

    def status(self, work_id: str) -> SeedStatus | CurrentStatus:
        """The status in the profile's view: the seed view (:meth:`seed_status`) or the
        current one (:meth:`current_status`).

        Raises:
            UnknownWorkId: the pool did not issue ``work_id``.
        """
        record = self._items.get(self._items.number(work_id))
        if record is None:
            return self._status.of(None, 0, None)
        return self._status.of(record.state, record.attempts, record.outcome)

    def seed_status(self, work_id: str) -> SeedStatus:
        """The seed API's view (rules STS-1 to STS-4); ``evicted`` once no longer held."""
        record = self._items.get(self._items.number(work_id))
        if record is None:
            status = SEED_VIEW.of(None, 0, None)
        else:
            status = SEED_VIEW.of(record.state, record.attempts, record.outcome)
        assert isinstance(status, SeedStatus)
        return status

    def current_status(self, work_id: str) -> CurrentStatus:
        """The current API's view (rule STS-5): pending / running with previous attempts,
        or finished."""
        record = self._items.get(self._items.number(work_id))
        if record is None:
            status = CURRENT_VIEW.of(None, 0, None)
        else:
            status = CURRENT_VIEW.of(record.state, record.attempts, None)
        assert isinstance(status, CurrentStatus)
        return status

    def try_result(self, work_id: str) -> Any:
        """The return value of finished work, or ``None`` while it is not finished (RES-1).

        Raises:
            WorkFailed: the work ended with an error (the message is the stored error).
            WorkEvicted: the result is no longer held (rule TTL-2).
            UnknownWorkId: the pool did not issue ``work_id``.
        """
        n = self._items.number(work_id)
        record = self._items.get(n)
        if record is None:
            raise self._evicted_error(n)
        if record.state not in TERMINAL:
            return None
        value, exc = result_of(record)
        if exc is not None:
            raise exc
        return value

    def poll_result(
        self, ctx: ActionCtx, work_id: str, timeout_ms: int = CTX_POLL_TIMEOUT_MS
    ) -> Request:
        """Await this inside an action to wait for the work's result (rules RES-2, RES-3).

        It resumes at the instant the work finishes, returning its value or raising
        :class:`WorkFailed`; if the work has not finished ``timeout_ms`` after the call
        (default 30,000 ms, as ``pool.ctx(ctx)`` waits; the seed's README shows
        ``pollResult(id)`` without one), it raises :class:`PollTimeout`
        (``"Timeout waiting for result of work <id>"``).

        Raises:
            NotInAction: ``ctx`` is not an action's context.
            UnknownWorkId: the pool did not issue ``work_id``.
        """
        require_action(ctx, "poll_result")
        n = self._items.number(work_id)
        check_time(timeout_ms, "timeout_ms")
        return WaitResult(n, timeout_ms, self._items.get, self._evicted_error, self._waiters)

    def info(self, work_id: str) -> WorkInfo:
        """A snapshot of the work item behind ``work_id`` (it must still be held).

        Raises:
            UnknownWorkId: not issued here. WorkEvicted: no longer held.
        """
        n = self._items.number(work_id)
        record = self._items.get(n)
        if record is None:
            raise self._evicted_error(n)
        return WorkInfo(
            id=self._prefix + str(n),
            fn=record.spec.fdef.ref.name,
            kind=record.spec.kind.value,
            state=record.state,
            attempts=record.attempts,
            enqueued_at=record.enqueued_at,
            eligible_at=record.eligible_at,
            started_at=None if record.started_at < 0 else record.started_at,
            finished_at=None if record.finished_at < 0 else record.finished_at,
            outcome=fresh(record.outcome),
        )

    def work_ids(self) -> list[WorkId]:
        """The ids of every item the pool still holds, in enqueue order."""
        return [self._prefix + str(r.n) for r in self._items.records()]

    def pending_ids(self) -> list[WorkId]:
        """The ids of waiting items (pending or between attempts) in the order they start."""
        return [self._prefix + str(r.n) for r in self._queue.waiting()]

    def running_ids(self) -> list[WorkId]:
        """The ids of items with a running attempt, in start order."""
        running = [r for r in self._items.records() if r.state in ACTIVE]
        running.sort(key=lambda r: (r.started_at, r.n))
        return [self._prefix + str(r.n) for r in running]

    def statistics(self) -> PoolStatistics:
        """A snapshot of the pool's counters."""
        return PoolStatistics(
            name=self.name,
            max_parallelism=self.options.max_parallelism,
            running=self._running,
            pending=self._waiting,
            issued=self._items.issued,
            retained=self._items.held - self._running - self._waiting,
        )

    def kind_of(self, work_id: str) -> WorkKind:
        """The kind of work behind an id this pool issued (known even once forgotten)."""
        return self._items.kind_of(self._items.number(work_id))

    def ctx(self, ctx: ActionCtx) -> PoolCtx:
        """A context like ``ctx`` whose calls and schedules run in this pool (rules CTX-1..3)."""
        return PoolCtx(self, require_action(ctx, "pool.ctx"))

    def _evicted_error(self, n: int) -> WorkEvicted:
        if self.options.ttl_ms is None:
            return WorkEvicted(
                f"work {self._prefix}{n} has finished and the current profile keeps no "
                "results: use on_complete to receive them"
            )
        return WorkEvicted(
            f"the result of work {self._prefix}{n} was evicted {self.options.ttl_ms} ms after "
            "it finished (the pool's ttl_ms)"
        )


def _is_waiting(record: WorkRecord) -> bool:
    return record.state is PENDING or record.state is RETRYING


def _event_data(event: str, record: WorkRecord, source: State, detail: Any) -> dict[str, Any]:
    """The data of a terminal event (section 6 of the spec)."""
    attempt = record.attempts
    if event == "succeeded":
        value: Any = detail.value
        return {"attempt": attempt, "result": value if value is None else fresh(value)}
    if event == "failed":
        if detail.non_retryable:  # Why it was not retried (RTY-4).
            return {"attempt": attempt, "error": detail.error, "nonRetryable": True}
        return {"attempt": attempt, "error": detail.error}
    if event == "timed_out":
        return {"attempt": attempt, "timeoutMs": detail}
    data: dict[str, Any] = {"attempt": attempt, "wasRunning": source in ACTIVE}
    if isinstance(detail, Run) and not detail.ok:
        data["error"] = detail.error  # A failure that would have been retried (CAN-6).
    return data

