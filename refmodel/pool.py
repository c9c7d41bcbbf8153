"""Workpools: named pools that run actions and mutations with bounded parallelism.

Theory of operation. A :class:`Workpool` owns the work items it issued ids for. Each item is a
:class:`WorkRecord` whose ``state`` follows the lifecycle table (``refmodel.lifecycle``); this
module is the only place that changes it, always through :func:`~refmodel.lifecycle.advance`.
Pending items wait in a :class:`~refmodel.backlog.StartQueue` and start, FIFO by eligibility,
into at most ``max_parallelism`` slots (rules PAR-1, ORD-1, WC-1). A started item is a
:class:`~refmodel.runtime.Run`; its end comes back through :meth:`Workpool._on_done`. Timeouts
and TTL evictions are :class:`~refmodel.clock.TimerQueue` deadlines (rules TMO-1, TTL-1).

The pool remembers, in one byte per id, every id it ever issued and the kind of work behind it,
so that it can tell an evicted id from one it never issued (rules STS-3, STS-4, CAN-4) while
the records themselves are dropped at eviction and memory stays bounded.

Everything a user reads is a projection of the record: :meth:`Workpool.status` gives the seed
API's view (:class:`SeedStatus`).
"""

from __future__ import annotations

import enum
import math
from typing import TYPE_CHECKING, Any, TypeAlias

import attrs

from refmodel.backlog import StartQueue
from refmodel.clock import Phase, TimerQueue
from refmodel.errors import (
    ForeignWorkId,
    InvalidArgument,
    PollTimeout,
    UnknownWorkId,
    WorkEvicted,
    WorkFailed,
)
from refmodel.functions import FunctionDef, FunctionKind, FunctionRef
from refmodel.lifecycle import (
    CANCELED,
    EVICTED,
    FAILED,
    PENDING,
    RUNNING,
    SUCCEEDED,
    TERMINAL,
    TIMED_OUT,
    State,
    Trigger,
    advance,
)
from refmodel.runtime import (
    PENDING as REQUEST_PENDING,
)
from refmodel.runtime import (
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
from refmodel.values import (
    check_args,
    check_int,
    check_positive_ms,
    check_time,
    copy_json,
)

if TYPE_CHECKING:
    from refmodel.world import World

WorkId: TypeAlias = str
"""A work id, ``"<pool>/<n>"``."""

MAX_PARALLELISM = 300
DEFAULT_ACTION_TIMEOUT_MS = 15 * 60 * 1000
DEFAULT_MUTATION_TIMEOUT_MS = 30 * 1000
DEFAULT_UNKNOWN_TIMEOUT_MS = 15 * 60 * 1000
DEFAULT_TTL_MS = 24 * 60 * 60 * 1000
CTX_POLL_TIMEOUT_MS = 30 * 1000


class WorkKind(enum.Enum):
    """How work entered the pool; it selects the timeout (rule CFG-2)."""

    ACTION = "action"
    MUTATION = "mutation"
    UNKNOWN = "unknown"
    """Enqueued through ``pool.ctx(ctx).scheduler`` (rule CTX-2)."""


# One byte per issued id: the kind's code, or a mark for ids that never became work.
_KIND_CODE = {WorkKind.ACTION: 1, WorkKind.MUTATION: 2, WorkKind.UNKNOWN: 3}
_CODE_KIND = {code: kind for kind, code in _KIND_CODE.items()}
_UNCOMMITTED = 8  # Or-ed in while the enqueuing mutation has not committed.
_ABORTED = 0  # The enqueuing mutation never committed.


def _check_parallelism(value: Any) -> int:
    number = check_int(value, "max_parallelism")
    if number < 1:
        raise InvalidArgument(f"max_parallelism must be >= 1, got {number}")
    if number > MAX_PARALLELISM:
        raise InvalidArgument(f"max_parallelism must be <= {MAX_PARALLELISM}, got {number}")
    return number


def _action_timeout(value: Any) -> int:
    return int(check_positive_ms(value, "action_timeout_ms"))


def _mutation_timeout(value: Any) -> int:
    return int(check_positive_ms(value, "mutation_timeout_ms"))


def _unknown_timeout(value: Any) -> int:
    return int(check_positive_ms(value, "unknown_timeout_ms"))


def _ttl(value: Any) -> int | float:
    return check_positive_ms(value, "ttl_ms", allow_inf=True)


@attrs.frozen(kw_only=True)
class PoolOptions:
    """A pool's options, validated (rules CFG-1, CFG-2).

    Raises:
        InvalidType, InvalidArgument: naming the option, the value and what is allowed.
    """

    max_parallelism: int = attrs.field(converter=_check_parallelism)
    action_timeout_ms: int = attrs.field(
        default=DEFAULT_ACTION_TIMEOUT_MS, converter=_action_timeout
    )
    mutation_timeout_ms: int = attrs.field(
        default=DEFAULT_MUTATION_TIMEOUT_MS, converter=_mutation_timeout
    )
    unknown_timeout_ms: int = attrs.field(
        default=DEFAULT_UNKNOWN_TIMEOUT_MS, converter=_unknown_timeout
    )
    ttl_ms: int | float = attrs.field(default=DEFAULT_TTL_MS, converter=_ttl)

    def timeout_for(self, kind: WorkKind) -> int:
        """The timeout that applies to work of ``kind``."""
        if kind is WorkKind.ACTION:
            return self.action_timeout_ms
        if kind is WorkKind.MUTATION:
            return self.mutation_timeout_ms
        return self.unknown_timeout_ms

    def to_json(self) -> dict[str, Any]:
        """The options in their Convex (JSON) spelling; an infinite ttl reads ``null``."""
        return {
            "maxParallelism": self.max_parallelism,
            "actionTimeoutMs": self.action_timeout_ms,
            "mutationTimeoutMs": self.mutation_timeout_ms,
            "unknownTimeoutMs": self.unknown_timeout_ms,
            "ttl": None if self.ttl_ms == math.inf else self.ttl_ms,
        }


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


_STATUS_PENDING = SeedStatus(kind="pending")
_STATUS_IN_PROGRESS = SeedStatus(kind="inProgress")
_STATUS_EVICTED = SeedStatus(kind="evicted")


class WorkRecord:
    """One work item of a pool. Only :class:`Workpool` changes it.

    ``outcome`` is the return value once SUCCEEDED and the error message once FAILED,
    CANCELED or TIMED_OUT; ``state`` says which.
    """

    __slots__ = (
        "args",
        "eligible_at",
        "enqueued_at",
        "fdef",
        "finished_at",
        "kind",
        "n",
        "order",
        "outcome",
        "run",
        "started_at",
        "state",
        "waiters",
    )

    def __init__(
        self,
        n: int,
        fdef: FunctionDef,
        args: dict[str, Any],
        kind: WorkKind,
        now: int,
        at: int,
        order: int,
    ) -> None:
        self.n = n
        self.order = order
        self.fdef = fdef
        self.args = args
        self.kind = kind
        self.state: State = PENDING
        self.enqueued_at = now
        self.eligible_at = at
        self.started_at = -1
        self.finished_at = -1
        self.outcome: Any = None
        self.run: Run | None = None
        self.waiters: list[_Waiter] | None = None


@attrs.frozen(kw_only=True)
class WorkInfo:
    """A read-only snapshot of one work item, for debugging and tests."""

    id: str
    fn: str
    kind: WorkKind
    state: State
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
    pending: int
    issued: int
    retained: int
    """Finished items whose result is still held (not yet evicted)."""


class Workpool:
    """A named pool. Create it with ``world.pool(name, max_parallelism=..., ...)``."""

    def __init__(self, world: World, name: str, options: PoolOptions) -> None:
        self.world = world
        self.name = name
        self.options = options
        self._runtime: Runtime = world.runtime
        self._clock = world.clock
        self._records: dict[int, WorkRecord] = {}
        self._issued = bytearray()
        self._running = 0
        self._pending = 0
        self._inserted = 0  # Enqueue order: the order in which work became real (ORD-1).
        self._queue: StartQueue[WorkRecord] = StartQueue(
            world.clock, _is_pending, self._has_room, self._start
        )
        self._timeouts: TimerQueue[Run] = TimerQueue(world.clock, Phase.TIMER, self._on_timeout)
        self._evictions: TimerQueue[WorkRecord] = TimerQueue(
            world.clock, Phase.EVICT, self._on_evict
        )
        self._prefix = name + "/"

    def __repr__(self) -> str:
        return f"<Workpool {self.name!r} max_parallelism={self.options.max_parallelism}>"

    # Enqueueing ----------------------------------------------------------------------------

    def enqueue_action(self, ctx: Ctx, fn: FunctionRef | str, args: Any = None) -> WorkId:
        """Enqueue an action; it becomes eligible now (rule ENQ-1).

        Args:
            ctx: ``world.client``, or the ctx of the action or mutation enqueuing. From a
                mutation, the work appears when the mutation commits (rule ENQ-3).
            fn: the action (a reference or its registered name).
            args: a JSON-like dict (default ``{}``), stored by value (rule ENQ-2).

        Returns:
            The new work id, ``"<pool>/<n>"``.

        Raises:
            InvalidType, InvalidArgument, UnknownFunction: bad input; nothing changed.
        """
        return self._enqueue(ctx, fn, args, WorkKind.ACTION, FunctionKind.ACTION, None)

    def enqueue_mutation(self, ctx: Ctx, fn: FunctionRef | str, args: Any = None) -> WorkId:
        """Enqueue a mutation; like :meth:`enqueue_action`."""
        return self._enqueue(ctx, fn, args, WorkKind.MUTATION, FunctionKind.MUTATION, None)

    def enqueue_unknown(
        self, ctx: Ctx, fn: FunctionRef | str, args: Any, run_at: int
    ) -> WorkId:
        """Enqueue any function, eligible at ``run_at`` (clamped to now if earlier; ENQ-4).

        This is what ``pool.ctx(ctx).scheduler`` uses; its ids are the only ones that
        ``pool.ctx(ctx).scheduler.cancel`` accepts (rule CAN-4).
        """
        check_time(run_at, "run_at")
        return self._enqueue(ctx, fn, args, WorkKind.UNKNOWN, None, run_at)

    def _enqueue(
        self,
        ctx: Ctx,
        fn: FunctionRef | str,
        args: Any,
        kind: WorkKind,
        expected: FunctionKind | None,
        run_at: int | None,
    ) -> WorkId:
        check_ctx(ctx, "enqueue")
        fdef = self.world.registry.resolve(fn, expected)
        if type(args) is dict:
            stored = copy_json(args, "args")
        else:
            stored = check_args({} if args is None else args)
        issued = self._issued
        issued.append(_KIND_CODE[kind])
        n = len(issued)
        if type(ctx) is MutationCtx:
            issued[n - 1] |= _UNCOMMITTED
            ctx.defer(
                lambda: self._insert(n, fdef, stored, kind, run_at),
                lambda: self._abort(n),
            )
        else:
            self._insert(n, fdef, stored, kind, run_at)
        return self._prefix + str(n)

    def _insert(
        self, n: int, fdef: FunctionDef, args: dict[str, Any], kind: WorkKind, run_at: int | None
    ) -> None:
        self._issued[n - 1] &= ~_UNCOMMITTED
        now = self._clock.now
        at = now if run_at is None or run_at < now else run_at
        self._inserted += 1
        record = WorkRecord(n, fdef, args, kind, now, at, self._inserted)
        self._records[n] = record
        self._pending += 1
        world = self.world
        world._busy += 1
        if world._tracing:
            data: dict[str, Any] = {"fn": fdef.ref.name, "kind": kind.value, "runAt": at}
            if run_at is not None and run_at != at:
                data["requestedRunAt"] = run_at
            world._emit("enqueued", self.name, self._prefix + str(n), data)
        self._queue.add(record)

    def _abort(self, n: int) -> None:
        self._issued[n - 1] = _ABORTED

    # Running -------------------------------------------------------------------------------

    def _has_room(self) -> bool:
        return self._running < self.options.max_parallelism

    def _start(self, record: WorkRecord) -> None:
        record.state = advance(record.state, Trigger.START)
        now = self._clock.now
        record.started_at = now
        self._running += 1
        self._pending -= 1
        world = self.world
        run = Run(record.fdef, record.args, self._on_done, record)
        record.run = run
        if world._tracing:
            world._emit(
                "started",
                self.name,
                self._prefix + str(record.n),
                {"attempt": 1, "lagMs": now - record.eligible_at},
            )
        self._timeouts.add(now + self.options.timeout_for(record.kind), run)
        self._runtime.launch(run)

    def _on_done(self, run: Run) -> None:
        record: WorkRecord = run.token
        if run.ok:
            self._finish(record, Trigger.SUCCEED, run.value, "succeeded", {"result": run.value})
        else:
            self._finish(record, Trigger.FAIL, run.error, "failed", {"error": run.error})
        self._timeouts.drop_front_while(_run_over)

    def _on_timeout(self, run: Run) -> None:
        record: WorkRecord = run.token
        if run.state is not RunState.ACTIVE or record.run is not run:
            return  # It ended before its deadline.
        self._runtime.abandon(run)
        timeout = self.options.timeout_for(record.kind)
        self._finish(record, Trigger.TIMEOUT, "Timeout", "timed_out", {"timeoutMs": timeout})

    def _finish(
        self, record: WorkRecord, trigger: Trigger, outcome: Any, event: str, data: dict[str, Any]
    ) -> None:
        """Move ``record`` to a terminal state and do what follows from it."""
        was = record.state
        record.state = advance(was, trigger)
        now = self._clock.now
        record.finished_at = now
        record.outcome = outcome
        record.run = None  # What is kept until eviction is only what status can show.
        record.args = _NO_ARGS
        world = self.world
        world._busy -= 1
        if was is RUNNING:
            self._running -= 1
            self._queue.kick(now)
        else:
            self._pending -= 1
        if world._tracing:
            world._emit(event, self.name, self._prefix + str(record.n), data)
        ttl = self.options.ttl_ms
        if ttl != math.inf:
            self._evictions.add(now + int(ttl), record)
        if record.waiters:
            self._notify(record)

    def _on_evict(self, record: WorkRecord) -> None:
        if record.state not in TERMINAL:
            return
        record.state = advance(record.state, Trigger.EVICT)
        del self._records[record.n]
        world = self.world
        if world._tracing:
            world._emit("evicted", self.name, self._prefix + str(record.n), {})

    # Cancel --------------------------------------------------------------------------------

    def cancel(self, ctx: Ctx, work_id: str) -> None:
        """Cancel work this pool issued (rules CAN-1, CAN-2, CAN-3, CAN-5).

        Pending work never starts; running work is abandoned; both end with error
        ``"Canceled"`` at this instant. Finished or evicted work is left as it is. From a
        mutation, the cancel happens when the mutation commits.

        Raises:
            UnknownWorkId: the pool did not issue ``work_id``; nothing changed.
        """
        check_ctx(ctx, "cancel")
        n = self._number(work_id)
        if type(ctx) is MutationCtx:
            ctx.defer(lambda: self._cancel(n), lambda: None)
        else:
            self._cancel(n)

    def _cancel(self, n: int) -> None:
        record = self._records.get(n)
        state = EVICTED if record is None else record.state
        if record is not None and state is PENDING:
            self._finish(record, Trigger.CANCEL, "Canceled", "canceled", {"wasRunning": False})
        elif record is not None and state is RUNNING:
            run = record.run
            assert run is not None
            self._runtime.abandon(run)
            self._finish(record, Trigger.CANCEL, "Canceled", "canceled", {"wasRunning": True})
        elif self.world._tracing:
            self.world._emit(
                "cancel_ignored", self.name, self._prefix + str(n), {"state": state.value}
            )

    # Reading -------------------------------------------------------------------------------

    def status(self, work_id: str) -> SeedStatus:
        """The seed API's status of ``work_id`` (rules STS-1 to STS-4).

        Raises:
            UnknownWorkId: the pool did not issue ``work_id``.
        """
        record = self._records.get(self._number(work_id))
        if record is None:
            return _STATUS_EVICTED
        state = record.state
        if state is PENDING:
            return _STATUS_PENDING
        if state is RUNNING:
            return _STATUS_IN_PROGRESS
        if state is SUCCEEDED:
            return SeedStatus(kind="success", result=record.outcome)
        return SeedStatus(kind="error", error=record.outcome)

    def try_result(self, work_id: str) -> Any:
        """The return value of finished work, or ``None`` while it is not finished (RES-1).

        Raises:
            WorkFailed: the work ended with an error (the message is the stored error).
            WorkEvicted: the result was evicted (rule TTL-2).
            UnknownWorkId: the pool did not issue ``work_id``.
        """
        n = self._number(work_id)
        record = self._records.get(n)
        if record is None:
            raise self._evicted_error(n)
        return _result_of(record)[0] if record.state in TERMINAL else None

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
        """A snapshot of the work item behind ``work_id`` (it must not be evicted).

        Raises:
            UnknownWorkId: not issued here. WorkEvicted: evicted.
        """
        n = self._number(work_id)
        record = self._records.get(n)
        if record is None:
            raise self._evicted_error(n)
        return WorkInfo(
            id=self._prefix + str(n),
            fn=record.fdef.ref.name,
            kind=record.kind,
            state=record.state,
            enqueued_at=record.enqueued_at,
            eligible_at=record.eligible_at,
            started_at=None if record.started_at < 0 else record.started_at,
            finished_at=None if record.finished_at < 0 else record.finished_at,
            outcome=record.outcome,
        )

    def work_ids(self) -> list[WorkId]:
        """The ids of every item the pool still holds (not evicted), in enqueue order."""
        return [self._prefix + str(n) for n in self._records]

    def pending_ids(self) -> list[WorkId]:
        """The ids of pending items in the order they will start."""
        return [self._prefix + str(r.n) for r in self._queue.waiting()]

    def running_ids(self) -> list[WorkId]:
        """The ids of running items, in start order."""
        running = [r for r in self._records.values() if r.state is RUNNING]
        running.sort(key=lambda r: (r.started_at, r.n))
        return [self._prefix + str(r.n) for r in running]

    def statistics(self) -> PoolStatistics:
        """A snapshot of the pool's counters."""
        return PoolStatistics(
            name=self.name,
            max_parallelism=self.options.max_parallelism,
            running=self._running,
            pending=self._pending,
            issued=len(self._issued),
            retained=len(self._records) - self._running - self._pending,
        )

    def kind_of(self, work_id: str) -> WorkKind:
        """The kind of work behind an id this pool issued (known even after eviction)."""
        return _CODE_KIND[self._issued[self._number(work_id) - 1]]

    def ctx(self, ctx: ActionCtx) -> PoolCtx:
        """A context like ``ctx`` whose calls and schedules run in this pool (rules CTX-1..3)."""
        return PoolCtx(self, require_action(ctx, "pool.ctx"))

    # Ids -----------------------------------------------------------------------------------

    def _number(self, work_id: Any) -> int:
        """The number behind a work id this pool issued and that became work."""
        prefix = self._prefix
        if type(work_id) is not str:
            raise UnknownWorkId(
                f"a work id is a str like {prefix}1, got {work_id!r} ({type(work_id).__name__})"
            )
        if not work_id.startswith(prefix) or not work_id[len(prefix):].isdigit():
            raise UnknownWorkId(f"{work_id!r} was not issued by pool {self.name!r}")
        n = int(work_id[len(prefix):])
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


def _is_pending(record: WorkRecord) -> bool:
    return record.state is PENDING


def _run_over(run: Run) -> bool:
    return run.state is not RunState.ACTIVE


def _result_of(record: WorkRecord) -> tuple[Any, BaseException | None]:
    if record.state is SUCCEEDED:
        return record.outcome, None
    assert record.state in (FAILED, CANCELED, TIMED_OUT), record.state
    return None, WorkFailed(record.outcome)


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


class PoolCtx:
    """``pool.ctx(ctx)``: an action context whose work runs in the pool (seed ``ctx()``)."""

    __slots__ = ("_ctx", "_pool", "scheduler")

    def __init__(self, pool: Workpool, ctx: ActionCtx) -> None:
        self._pool = pool
        self._ctx = ctx
        self.scheduler = PoolScheduler(pool, ctx)

    @property
    def now(self) -> int:
        """The current virtual time in ms."""
        return self._ctx.now

    def sleep(self, ms: int) -> Request:
        """Await this to let ``ms`` of virtual time pass (passed through)."""
        return self._ctx.sleep(ms)

    async def run_action(self, fn: FunctionRef | str, args: Any = None) -> Any:
        """Run an action in the pool and return its value (rule CTX-1).

        Raises (inside the action): WorkFailed with the stored error, or PollTimeout after
        30 000 ms.
        """
        work_id = self._pool.enqueue_action(self._ctx, fn, args)
        return await self._pool.poll_result(self._ctx, work_id, CTX_POLL_TIMEOUT_MS)

    async def run_mutation(self, fn: FunctionRef | str, args: Any = None) -> Any:
        """Run a mutation in the pool and return its value (rule CTX-1)."""
        work_id = self._pool.enqueue_mutation(self._ctx, fn, args)
        return await self._pool.poll_result(self._ctx, work_id, CTX_POLL_TIMEOUT_MS)

    def run_query(self, fn: FunctionRef | str, args: Any = None) -> Request:
        """Run a query directly, not in the pool (rule CTX-3)."""
        return self._ctx.run_query(fn, args)


class PoolScheduler:
    """``pool.ctx(ctx).scheduler``: schedules into the pool (rules CTX-2, CAN-4)."""

    __slots__ = ("_ctx", "_pool")

    def __init__(self, pool: Workpool, ctx: ActionCtx) -> None:
        self._pool = pool
        self._ctx = ctx

    def run_after(self, delay_ms: int, fn: FunctionRef | str, args: Any = None) -> WorkId:
        """Enqueue ``fn`` in the pool, eligible ``delay_ms`` from now."""
        delay = check_time(delay_ms, "delay_ms")
        return self._pool.enqueue_unknown(self._ctx, fn, args, self._ctx.now + delay)

    def run_at(self, time: int, fn: FunctionRef | str, args: Any = None) -> WorkId:
        """Enqueue ``fn`` in the pool, eligible at ``time`` (a past time means now)."""
        return self._pool.enqueue_unknown(self._ctx, fn, args, check_time(time, "time"))

    def cancel(self, work_id: str) -> None:
        """Cancel work that this scheduler issued.

        Raises:
            ForeignWorkId: ``work_id`` was not issued by ``run_after``/``run_at`` of this
                pool's ctx scheduler; nothing changed.
        """
        pool = self._pool
        try:
            kind = pool.kind_of(work_id)
        except UnknownWorkId as unknown:
            raise ForeignWorkId(
                f"{work_id!r} was not issued by the scheduler of pool {pool.name!r}: {unknown}"
            ) from None
        if kind is not WorkKind.UNKNOWN:
            raise ForeignWorkId(
                f"{work_id!r} was not issued by the scheduler of pool {pool.name!r}: "
                "ctx(...).scheduler.cancel only takes ids from ctx(...).scheduler.run_at/run_after"
            )
        pool.cancel(self._ctx, work_id)
