"""Workpools: named pools that run actions, mutations and queries with bounded parallelism.

Theory of operation. A :class:`Workpool` owns the work items it issued ids for. Each item is a
:class:`WorkRecord` whose ``state`` follows the lifecycle table
(``refmodel.workpool.lifecycle``) of the world's profile; this module is the only place that
changes it, always through :meth:`~refmodel.workpool.lifecycle.Lifecycle.advance`. Waiting items
(``pending``, or ``retrying`` after a failed attempt) sit in a
:class:`~refmodel.engine.startqueue.StartQueue` and start, FIFO by eligibility, into at most
``max_parallelism`` slots (rules PAR-1, ORD-1, WC-1). A started attempt is a
:class:`~refmodel.engine.runtime.Run`; its end comes back through :meth:`Workpool._on_done`,
which frees the slot and decides: success, failure, or a retry after a jittered backoff drawn
from the world's RNG (rules RTY-1 to RTY-4). At the terminal state the item's ``on_complete``
mutation is called, exactly once (rule ONC-1). Timeouts and TTL evictions (seed profile) are
:class:`~refmodel.engine.clock.TimerQueue` deadlines (rules TMO-1, TTL-1); in the current
profile a finished item is forgotten at once.

The pool remembers, in one byte per id, every id it ever issued and the kind of work behind it,
so that it can tell a forgotten id from one it never issued (rules STS-3, STS-4, CAN-4) while
the records themselves are dropped and memory stays bounded.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

from refmodel.constants import RUN_AT_FALLBACK_MS, RUN_AT_TOO_FAR_MS, RUN_AT_TOO_OLD_MS
from refmodel.engine.clock import Phase, TimerQueue
from refmodel.engine.functions import FunctionDef, FunctionKind, FunctionRef
from refmodel.engine.runtime import PENDING as REQUEST_PENDING
from refmodel.engine.runtime import (
    ActionCtx,
    Ctx,
    MutationCtx,
    Request,
    Run,
    RunState,
    Runtime,
    check_ctx,
    require_action,
)
from refmodel.engine.startqueue import StartQueue
from refmodel.errors import (
    InvalidArgument,
    PollTimeout,
    UnknownWorkId,
    WorkEvicted,
    WorkFailed,
)
from refmodel.values import (
    article,
    check_args,
    check_int,
    check_time,
    copy_json,
    fresh,
    parse_number,
)
from refmodel.workpool.lifecycle import (
    ACTIVE,
    CANCELED,
    PENDING,
    RETRYING,
    RUNNING,
    SUCCEEDED,
    TERMINAL,
    WAITING,
    Lifecycle,
    State,
    Trigger,
)
from refmodel.workpool.options import PoolOptions, RetryBehavior, as_retry_behavior, update_options
from refmodel.workpool.status import (
    SEED_EVICTED,
    CurrentStatus,
    PoolStatistics,
    SeedStatus,
    WorkInfo,
    current_status,
    seed_status,
)

if TYPE_CHECKING:
    from refmodel.workpool.poolctx import PoolCtx
    from refmodel.world import World

WorkId: TypeAlias = str
"""A work id, ``"<pool>/<n>"``."""



class WorkKind(enum.Enum):
    """How work entered the pool; in the seed profile it selects the timeout (rule CFG-2)."""

    ACTION = "action"
    MUTATION = "mutation"
    QUERY = "query"
    UNKNOWN = "unknown"
    """Enqueued through ``pool.ctx(ctx).scheduler`` (rule CTX-2)."""

    __hash__ = object.__hash__


# One byte per issued id: the kind's code, or a mark for ids that never became work.
_KIND_CODE = {WorkKind.ACTION: 1, WorkKind.MUTATION: 2, WorkKind.UNKNOWN: 3, WorkKind.QUERY: 4}
_CODE_KIND = {code: kind for kind, code in _KIND_CODE.items()}
_UNCOMMITTED = 8  # Or-ed in while the enqueuing mutation has not committed.
_ABORTED = 0  # The enqueuing mutation never committed.
_FUNCTION_KIND = {
    WorkKind.ACTION: FunctionKind.ACTION,
    WorkKind.MUTATION: FunctionKind.MUTATION,
    WorkKind.QUERY: FunctionKind.QUERY,
    WorkKind.UNKNOWN: None,
}


class WorkRecord:
    """One work item of a pool. Only :class:`Workpool` changes it.

    ``outcome`` is the return value once SUCCEEDED and the error message once FAILED,
    CANCELED or TIMED_OUT; ``state`` says which. ``attempts`` counts the attempts that ended.
    """

    __slots__ = (
        "args",
        "attempts",
        "context",
        "eligible_at",
        "enqueued_at",
        "fdef",
        "finished_at",
        "kind",
        "n",
        "on_complete",
        "order",
        "outcome",
        "retry",
        "run",
        "started_at",
        "state",
        "waiters",
    )

    def __init__(
        self,
        n: int,
        plan: _Plan,
        now: int,
        at: int,
        order: int,
    ) -> None:
        self.n = n
        self.order = order
        self.fdef = plan.fdef
        self.args = plan.args
        self.kind = plan.kind
        self.retry = plan.retry
        self.on_complete = plan.on_complete
        self.context = plan.context
        self.state: State = PENDING
        self.attempts = 0
        self.enqueued_at = now
        self.eligible_at = at
        self.started_at = -1
        self.finished_at = -1
        self.outcome: Any = None
        self.run: Run | None = None
        self.waiters: list[_Waiter] | None = None


class _Plan:
    """A validated enqueue, not yet applied (so that a batch is all or nothing)."""

    __slots__ = ("args", "context", "fdef", "kind", "on_complete", "retry", "run_at")

    def __init__(
        self,
        fdef: FunctionDef,
        args: dict[str, Any],
        kind: WorkKind,
        retry: RetryBehavior | None,
        on_complete: FunctionDef | None,
        context: Any,
        run_at: int | None,
    ) -> None:
        self.fdef = fdef
        self.args = args
        self.kind = kind
        self.retry = retry
        self.on_complete = on_complete
        self.context = context
        self.run_at = run_at


class Workpool:
    """A named pool. Create it with ``world.pool(name, ...)``."""

    def __init__(self, world: World, name: str, options: PoolOptions) -> None:
        self.world = world
        self.name = name
        self.options = options
        self.profile = options.profile
        self._lifecycle = Lifecycle(options.profile)
        self._advance = self._lifecycle.advance
        self._runtime: Runtime = world.runtime
        self._clock = world.clock
        self._records: dict[int, WorkRecord] = {}
        self._issued = bytearray()
        self._running = 0
        self._waiting = 0
        self._inserted = 0  # Enqueue order: the order in which work became real (ORD-1).
        self._queue: StartQueue[WorkRecord] = StartQueue(
            world.clock, _is_waiting, self._has_room, self._start
        )
        self._timeouts: TimerQueue[Run] = TimerQueue(world.clock, Phase.TIMER, self._on_timeout)
        self._evictions: TimerQueue[WorkRecord] = TimerQueue(
            world.clock, Phase.EVICT, self._on_evict
        )
        self._prefix = name + "/"
        # Copies of options read on every start, kept in step by _reconfigure.
        self._limit = options.max_parallelism
        self._timeout_ms = {kind: options.timeout_for(kind.value) for kind in WorkKind}

    def __repr__(self) -> str:
        return (
            f"<Workpool {self.name!r} profile={self.profile} "
            f"max_parallelism={self.options.max_parallelism}>"
        )

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
        ):  # The common call, kept short.
            check_ctx(ctx, "enqueue")
            fdef = self.world.registry.resolve(fn, FunctionKind.ACTION)
            if type(args) is dict:
                stored = copy_json(args, "args")
            else:
                stored = check_args({} if args is None else args)
            behavior = self._default_retry(WorkKind.ACTION)
            plan = _Plan(fdef, stored, WorkKind.ACTION, behavior, None, None, None)
            return self._apply(ctx, plan)
        plan = self._plan(ctx, fn, args, WorkKind.ACTION, retry, on_complete, context, run_at,
                          run_after)
        return self._apply(ctx, plan)

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
        plan = self._plan(ctx, fn, args, WorkKind.MUTATION, None, on_complete, context, run_at,
                          run_after)
        return self._apply(ctx, plan)

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
        """Enqueue a query; like :meth:`enqueue_mutation`."""
        plan = self._plan(ctx, fn, args, WorkKind.QUERY, None, on_complete, context, run_at,
                          run_after)
        return self._apply(ctx, plan)

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
        plan = self._plan(ctx, fn, args, WorkKind.UNKNOWN, None, None, None, run_at, None)
        if plan.fdef.ref.kind is FunctionKind.QUERY:
            raise InvalidArgument(
                f"{plan.fdef.ref.name!r} is a query: a scheduler runs actions and mutations only"
            )
        return self._apply(ctx, plan)

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
                f"unknown option {unknown[0]!r} for {article(kind.value)} batch: allowed are "
                f"{sorted(allowed)}"
            )
        if isinstance(args_list, str | bytes | dict) or not isinstance(args_list, Sequence):
            raise InvalidArgument(
                f"args_list must be a list of args dicts, got {type(args_list).__name__}"
            )
        if not args_list:  # Nothing to enqueue, but the call itself must still be valid.
            self._plan(ctx, fn, {}, kind, options.get("retry"), options.get("on_complete"),
                       options.get("context"), options.get("run_at"), options.get("run_after"))
            return []
        plans = [
            self._plan(
                ctx, fn, args, kind, options.get("retry"), options.get("on_complete"),
                options.get("context"), options.get("run_at"), options.get("run_after"),
                where=f"args_list[{i}]",
            )
            for i, args in enumerate(args_list)
        ]
        return [self._apply(ctx, plan) for plan in plans]

    def _default_retry(self, kind: WorkKind) -> RetryBehavior | None:
        if kind is WorkKind.ACTION and self.options.retry_actions_by_default:
            return self.options.default_retry_behavior
        return None

    def _plan(
        self,
        ctx: Ctx,
        fn: FunctionRef | str,
        args: Any,
        kind: WorkKind,
        retry: Any,
        on_complete: Any,
        context: Any,
        run_at: Any,
        run_after: Any,
        where: str = "args",
    ) -> _Plan:
        """Validate one enqueue completely, changing nothing."""
        check_ctx(ctx, "enqueue")
        fdef = self.world.registry.resolve(fn, _FUNCTION_KIND[kind])
        stored = check_args({} if args is None else args, where)
        if retry is None:
            behavior = self._default_retry(kind)
        elif kind is not WorkKind.ACTION:
            raise InvalidArgument(f"retry applies to actions only, not to {kind.value}s")
        elif retry is True:
            behavior = self.options.default_retry_behavior
        elif retry is False:
            behavior = None
        else:
            behavior = as_retry_behavior(retry, "retry")
        callback = None
        if on_complete is not None:
            callback = self.world.registry.resolve(on_complete, FunctionKind.MUTATION)
        stored_context = None if context is None else copy_json(context, "context")
        if run_at is not None and run_after is not None:
            raise InvalidArgument(
                f"give run_at or run_after, not both (got run_at={run_at!r}, "
                f"run_after={run_after!r})"
            )
        requested = None
        if run_at is not None:
            requested = check_time(run_at, "run_at")
        elif run_after is not None:
            requested = self._clock.now + check_time(run_after, "run_after")
        return _Plan(fdef, stored, kind, behavior, callback, stored_context, requested)

    def _apply(self, ctx: Ctx, plan: _Plan) -> WorkId:
        """Issue the id of a validated enqueue and insert it now, or at commit."""
        issued = self._issued
        issued.append(_KIND_CODE[plan.kind])
        n = len(issued)
        if type(ctx) is MutationCtx:
            issued[n - 1] |= _UNCOMMITTED
            ctx.defer(lambda: self._insert(n, plan), lambda: self._abort(n))
        else:
            self._insert(n, plan)
        return self._prefix + str(n)

    def _insert(self, n: int, plan: _Plan) -> None:
        self._issued[n - 1] &= ~_UNCOMMITTED
        now = self._clock.now
        at = self._eligibility(plan.run_at, now)
        self._inserted += 1
        record = WorkRecord(n, plan, now, at, self._inserted)
        self._records[n] = record
        self._waiting += 1
        world = self.world
        world._busy += 1
        if world._tracing:
            data: dict[str, Any] = {"fn": plan.fdef.ref.name, "kind": plan.kind.value, "runAt": at}
            if plan.run_at is not None and plan.run_at != at:
                data["requestedRunAt"] = plan.run_at
            # What a trace checker needs to judge retries and onComplete on its own.
            data["retry"] = None if plan.retry is None else plan.retry.to_json()
            data["onComplete"] = None if plan.on_complete is None else plan.on_complete.ref.name
            world._emit("enqueued", self.name, self._prefix + str(n), data)
        self._queue.add(record)

    def _eligibility(self, requested: int | None, now: int) -> int:
        """When work asked to run at ``requested`` becomes eligible (rules ENQ-4, ENQ-6)."""
        if requested is None or requested <= now:
            too_old = requested is not None and requested < now - RUN_AT_TOO_OLD_MS
            if too_old and self.profile == "current":
                self._warn("scheduled time is too old, defaulting to now")
            return now
        if self.profile == "current" and requested > now + RUN_AT_TOO_FAR_MS:
            self._warn("scheduled time is too far in the future, defaulting to 1 year from now")
            return now + RUN_AT_FALLBACK_MS
        return requested

    def _abort(self, n: int) -> None:
        self._issued[n - 1] = _ABORTED

    def _warn(self, message: str) -> None:
        if self.world._tracing:
            self.world._emit("warning", self.name, None, {"message": message})

    # Running -------------------------------------------------------------------------------

    def _has_room(self) -> bool:
        return self._running < self._limit

    def _start(self, record: WorkRecord) -> None:
        record.state = self._advance(record.state, Trigger.START)
        now = self._clock.now
        record.started_at = now
        self._running += 1
        self._waiting -= 1
        run = Run(record.fdef, record.args, self._on_done, record)
        record.run = run
        world = self.world
        if world._tracing:
            world._emit(
                "started",
                self.name,
                self._prefix + str(record.n),
                {"attempt": record.attempts + 1, "lagMs": now - record.eligible_at},
            )
        timeout = self._timeout_ms[record.kind]
        if timeout is not None:
            self._timeouts.add(now + timeout, run)
        self._runtime.launch(run)

    def _on_done(self, run: Run) -> None:
        record: WorkRecord = run.token
        self._end_attempt(record)
        if run.ok:
            data = None  # Trace data is built only when someone reads the trace.
            if self.world._tracing:
                data = {"attempt": record.attempts, "result": fresh(run.value)}
            self._terminal(record, Trigger.SUCCEED, run.value, "succeeded", data)
        elif (
            not run.non_retryable
            and record.retry is not None
            and record.attempts < record.retry.max_attempts
        ):
            self._retry(record, run.error or "")
        else:
            data = {"attempt": record.attempts, "error": run.error}
            self._terminal(record, Trigger.FAIL, run.error, "failed", data)
        timeouts = self._timeouts
        if len(timeouts) > 2 * self._running + 64:
            # Deadlines of attempts that already ended are harmless (the timer checks), so
            # they are dropped in bulk, only to keep memory bounded.
            timeouts.drop_front_while(_run_over)

    def _end_attempt(self, record: WorkRecord) -> None:
        """The running attempt ended (whichever way): count it and free its slot now."""
        record.attempts += 1
        record.run = None
        self._running -= 1
        self._queue.kick(self._clock.now)

    def _retry(self, record: WorkRecord, error: str) -> None:
        """A failed attempt that its retry behaviour retries (rules RTY-1 to RTY-3)."""
        record.state = self._advance(record.state, Trigger.RETRY)
        if record.state is CANCELED:  # Canceled while running: no retry (rule CAN-6).
            data = {"attempt": record.attempts, "wasRunning": True, "error": error}
            self._finish_terminal(record, "Canceled", "canceled", data)
            return
        behavior = record.retry
        assert behavior is not None
        world = self.world
        work_id = self._prefix + str(record.n)
        jitter = 0.5 + world.draw(f"retry jitter {work_id} attempt {record.attempts}")
        delay = behavior.delay_ms(record.attempts, jitter)
        now = self._clock.now
        record.eligible_at = now + delay
        self._inserted += 1
        record.order = self._inserted
        self._waiting += 1
        if world._tracing:
            world._emit(
                "retrying",
                self.name,
                work_id,
                {"attempt": record.attempts, "error": error, "delayMs": delay,
                 "retryAt": now + delay},
            )
        self._queue.add(record)

    def _on_timeout(self, run: Run) -> None:
        record: WorkRecord = run.token
        if run.state is not RunState.ACTIVE or record.run is not run:
            return  # It ended before its deadline.
        self._runtime.abandon(run)
        self._end_attempt(record)
        timeout = self.options.timeout_for(record.kind.value)
        data = {"attempt": record.attempts, "timeoutMs": timeout}
        self._terminal(record, Trigger.TIMEOUT, "Timeout", "timed_out", data)

    def _terminal(
        self,
        record: WorkRecord,
        trigger: Trigger,
        outcome: Any,
        event: str,
        data: dict[str, Any] | None,
    ) -> None:
        """Move ``record`` to a terminal state and do what follows from it."""
        record.state = self._advance(record.state, trigger)
        self._finish_terminal(record, outcome, event, data)

    def _finish_terminal(
        self, record: WorkRecord, outcome: Any, event: str, data: dict[str, Any] | None
    ) -> None:
        now = self._clock.now
        record.finished_at = now
        record.outcome = outcome
        record.args = _NO_ARGS  # What is kept is only what status can show.
        world = self.world
        world._busy -= 1
        if world._tracing:
            assert data is not None
            world._emit(event, self.name, self._prefix + str(record.n), data)
        if record.on_complete is not None:
            world._busy += 1  # Idle only once the callback has run.
            work_id = self._prefix + str(record.n)
            payload = (record.on_complete, work_id, record.context, _result_json(record))
            self._clock.schedule(now, int(Phase.RESUME), self._call_on_complete, payload)
        ttl = self.options.ttl_ms
        if ttl is None:
            del self._records[record.n]  # The current component deletes finished work.
        elif ttl != math.inf:
            self._evictions.add(now + int(ttl), record)
        if record.waiters:
            self._notify(record)

    def _call_on_complete(self, payload: tuple[FunctionDef, str, Any, dict[str, Any]]) -> None:
        """Call a finished item's ``on_complete`` mutation (rule ONC-1)."""
        fdef, work_id, context, result = payload
        world = self.world
        if world._tracing:
            data = {"fn": fdef.ref.name, "context": fresh(context), "result": fresh(result)}
            world._emit("on_complete", self.name, work_id, data)
        python_result = {"kind": result["kind"]}
        if result["kind"] == "success":
            python_result["return_value"] = result["returnValue"]
        elif result["kind"] == "failed":
            python_result["error"] = result["error"]
        args = {"work_id": work_id, "context": context, "result": python_result}
        self._runtime.launch_call(fdef, args, _on_complete_done(world), None)

    def _on_evict(self, record: WorkRecord) -> None:
        if record.state not in TERMINAL:
            return
        record.state = self._advance(record.state, Trigger.EVICT)
        del self._records[record.n]
        world = self.world
        if world._tracing:
            world._emit("evicted", self.name, self._prefix + str(record.n), {})

    # Cancel --------------------------------------------------------------------------------

    def cancel(self, ctx: Ctx, work_id: str) -> None:
        """Cancel work this pool issued (rules CAN-1 to CAN-3, CAN-5, CAN-6).

        Waiting work (pending or between attempts) never (re)starts and ends canceled at this
        instant. Running work: the seed profile abandons the attempt and ends it canceled now;
        the current profile lets it run, reports its real result and never retries it.
        Finished work is left as it is. From a mutation, the cancel happens at its commit.

        Raises:
            UnknownWorkId: the pool did not issue ``work_id``; nothing changed.
        """
        check_ctx(ctx, "cancel")
        n = self._number(work_id)
        if type(ctx) is MutationCtx:
            ctx.defer(lambda: self._cancel(n), lambda: None)
        else:
            self._cancel(n)

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
            raise InvalidArgument(f"limit must be >= 1, got {limit}")
        if type(ctx) is MutationCtx:
            ctx.defer(self._cancel_all, lambda: None)
        else:
            self._cancel_all()

    def _cancel_all(self) -> None:
        for n in sorted(self._records, reverse=True):
            record = self._records.get(n)
            if record is not None and (record.state in WAITING or record.state is RUNNING):
                self._cancel(n)

    def _cancel(self, n: int) -> None:
        record = self._records.get(n)
        state = None if record is None else record.state
        world = self.world
        if record is not None and state in WAITING:
            self._waiting -= 1
            data = {"attempt": record.attempts, "wasRunning": False}
            self._terminal(record, Trigger.CANCEL, "Canceled", "canceled", data)
        elif record is not None and state is RUNNING:
            if self.profile == "seed":
                run = record.run
                assert run is not None
                self._runtime.abandon(run)
                self._end_attempt(record)
                data = {"attempt": record.attempts, "wasRunning": True}
                self._terminal(record, Trigger.CANCEL, "Canceled", "canceled", data)
            else:
                record.state = self._advance(state, Trigger.CANCEL)
                if world._tracing:
                    world._emit(
                        "cancel_requested",
                        self.name,
                        self._prefix + str(n),
                        {"attempt": record.attempts + 1},
                    )
        elif world._tracing:
            if state is None:  # No longer held: evicted (seed) or forgotten (current).
                shown = "evicted" if self.profile == "seed" else "finished"
            else:
                shown = state.value
            world._emit("cancel_ignored", self.name, self._prefix + str(n), {"state": shown})

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
        world = self.world
        if world._tracing:
            world._emit("config_updated", self.name, None, updated.to_json())
        for message in warnings:
            self._warn(message)
        self._queue.kick(self._clock.now)

    # Reading -------------------------------------------------------------------------------

    def status(self, work_id: str) -> SeedStatus | CurrentStatus:
        """The status in the world's profile: :meth:`seed_status` or :meth:`current_status`.

        Raises:
            UnknownWorkId: the pool did not issue ``work_id``.
        """
        if self.profile == "seed":
            return self.seed_status(work_id)
        return self.current_status(work_id)

    def seed_status(self, work_id: str) -> SeedStatus:
        """The seed API's view (rules STS-1 to STS-4); ``evicted`` once no longer held."""
        record = self._records.get(self._number(work_id))
        if record is None:
            return SEED_EVICTED
        return seed_status(record.state, record.outcome)

    def current_status(self, work_id: str) -> CurrentStatus:
        """The current API's view (rule STS-5): pending / running with previous attempts,
        or finished."""
        record = self._records.get(self._number(work_id))
        if record is None or record.state in TERMINAL:
            return current_status(None, 0)
        return current_status(record.state, record.attempts)

    def try_result(self, work_id: str) -> Any:
        """The return value of finished work, or ``None`` while it is not finished (RES-1).

        Raises:
            WorkFailed: the work ended with an error (the message is the stored error).
            WorkEvicted: the result is no longer held (rule TTL-2).
            UnknownWorkId: the pool did not issue ``work_id``.
        """
        n = self._number(work_id)
        record = self._records.get(n)
        if record is None:
            raise self._evicted_error(n)
        if record.state not in TERMINAL:
            return None
        value, exc = _result_of(record)
        if exc is not None:
            raise exc
        return value

    def poll_result(self, ctx: ActionCtx, work_id: str, timeout_ms: int) -> Request:
        """Await this inside an action to wait for the work's result (rules RES-2, RES-3).

        It resumes at the instant the work finishes, returning its value or raising
        :class:`WorkFailed`; if the work has not finished ``timeout_ms`` after the call, it
        raises :class:`PollTimeout` (``"Timeout waiting for result of work <id>"``).

        Raises:
            NotInAction: ``ctx`` is not an action's context.
            UnknownWorkId: the pool did not issue ``work_id``.
        """
        require_action(ctx, "poll_result")
        n = self._number(work_id)
        check_time(timeout_ms, "timeout_ms")
        return _WaitResult(self, n, timeout_ms)

    def info(self, work_id: str) -> WorkInfo:
        """A snapshot of the work item behind ``work_id`` (it must still be held).

        Raises:
            UnknownWorkId: not issued here. WorkEvicted: no longer held.
        """
        n = self._number(work_id)
        record = self._records.get(n)
        if record is None:
            raise self._evicted_error(n)
        return WorkInfo(
            id=self._prefix + str(n),
            fn=record.fdef.ref.name,
            kind=record.kind.value,
            state=record.state,
            attempts=record.attempts,
            enqueued_at=record.enqueued_at,
            eligible_at=record.eligible_at,
            started_at=None if record.started_at < 0 else record.started_at,
            finished_at=None if record.finished_at < 0 else record.finished_at,
            outcome=record.outcome,
        )

    def work_ids(self) -> list[WorkId]:
        """The ids of every item the pool still holds, in enqueue order."""
        return [self._prefix + str(n) for n in self._records]

    def pending_ids(self) -> list[WorkId]:
        """The ids of waiting items (pending or between attempts) in the order they start."""
        return [self._prefix + str(r.n) for r in self._queue.waiting()]

    def running_ids(self) -> list[WorkId]:
        """The ids of items with a running attempt, in start order."""
        running = [r for r in self._records.values() if r.state in ACTIVE]
        running.sort(key=lambda r: (r.started_at, r.n))
        return [self._prefix + str(r.n) for r in running]

    def statistics(self) -> PoolStatistics:
        """A snapshot of the pool's counters."""
        return PoolStatistics(
            name=self.name,
            max_parallelism=self.options.max_parallelism,
            running=self._running,
            pending=self._waiting,
            issued=len(self._issued),
            retained=len(self._records) - self._running - self._waiting,
        )

    def kind_of(self, work_id: str) -> WorkKind:
        """The kind of work behind an id this pool issued (known even once forgotten)."""
        return _CODE_KIND[self._issued[self._number(work_id) - 1]]

    def ctx(self, ctx: ActionCtx) -> PoolCtx:
        """A context like ``ctx`` whose calls and schedules run in this pool (rules CTX-1..3)."""
        from refmodel.workpool.poolctx import PoolCtx

        return PoolCtx(self, require_action(ctx, "pool.ctx"))

    # Ids -----------------------------------------------------------------------------------

    def _number(self, work_id: Any) -> int:
        """The number behind a work id this pool issued and that became work."""
        prefix = self._prefix
        if type(work_id) is not str:
            raise UnknownWorkId(
                f"a work id is a str like {prefix}1, got {work_id!r} ({type(work_id).__name__})"
            )
        n_or_none = parse_number(work_id[len(prefix):]) if work_id.startswith(prefix) else None
        if n_or_none is None:
            raise UnknownWorkId(f"{work_id!r} was not issued by pool {self.name!r}")
        n = n_or_none
        issued = len(self._issued)
        if not 1 <= n <= issued:
            upto = f"up to {prefix}{issued}" if issued else "none yet"
            raise UnknownWorkId(
                f"unknown work id {work_id!r}: pool {self.name!r} has issued ids {upto}"
            )
        code = self._issued[n - 1]
        if code == _ABORTED:
            raise UnknownWorkId(
                f"unknown work id {work_id!r}: the mutation that enqueued it did not commit"
            )
        if code & _UNCOMMITTED:
            raise UnknownWorkId(
                f"unknown work id {work_id!r}: the mutation that enqueues it has not committed yet"
            )
        return n

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

    # Waiting for results -------------------------------------------------------------------

    def _notify(self, record: WorkRecord) -> None:
        waiters = record.waiters or []
        record.waiters = None
        value, exc = _result_of(record)
        for waiter in waiters:
            if waiter.waiting:
                waiter.waiting = False
                self._runtime.resume(waiter.run, value, exc)

    def _poll_deadline(self, waiter: _Waiter) -> None:
        if not waiter.waiting:
            return
        waiter.waiting = False
        record = self._records.get(waiter.n)
        if record is not None and record.waiters:
            record.waiters.remove(waiter)
        message = f"Timeout waiting for result of work {self._prefix}{waiter.n}"
        self._runtime.resume(waiter.run, None, PollTimeout(message))


_NO_ARGS: dict[str, Any] = {}


def _is_waiting(record: WorkRecord) -> bool:
    return record.state is PENDING or record.state is RETRYING


def _run_over(run: Run) -> bool:
    return run.state is not RunState.ACTIVE


def _result_of(record: WorkRecord) -> tuple[Any, BaseException | None]:
    if record.state is SUCCEEDED:
        return fresh(record.outcome), None
    return None, WorkFailed(record.outcome)


def _result_json(record: WorkRecord) -> dict[str, Any]:
    """The terminal result as the component's ``vResult`` JSON (rule ONC-2)."""
    if record.state is SUCCEEDED:
        return {"kind": "success", "returnValue": fresh(record.outcome)}
    if record.state is CANCELED:
        return {"kind": "canceled"}
    return {"kind": "failed", "error": record.outcome}


def _on_complete_done(world: World) -> Any:
    def done(run: Run) -> None:
        world._busy -= 1

    return done


class _Waiter:
    __slots__ = ("n", "run", "waiting")

    def __init__(self, run: Run, n: int) -> None:
        self.run = run
        self.n = n
        self.waiting = True


class _WaitResult(Request):
    """``await pool.poll_result(ctx, id, timeout_ms)``."""

    __slots__ = ("_n", "_pool", "_timeout_ms")

    def __init__(self, pool: Workpool, n: int, timeout_ms: int) -> None:
        self._pool = pool
        self._n = n
        self._timeout_ms = timeout_ms

    def handle(self, runtime: Runtime, run: Run) -> Any:
        pool = self._pool
        record = pool._records.get(self._n)
        if record is None:
            return None, pool._evicted_error(self._n)
        if record.state in TERMINAL:
            return _result_of(record)
        waiter = _Waiter(run, self._n)
        if record.waiters is None:
            record.waiters = []
        record.waiters.append(waiter)
        clock = runtime.clock
        clock.schedule(clock.now + self._timeout_ms, int(Phase.TIMER), pool._poll_deadline, waiter)
        return REQUEST_PENDING
