"""The plain scheduler: Convex's ``ctx.scheduler`` without a pool (rules SCH-1 to SCH-3).

A scheduled function is pending until its time, then in progress, then ``success``, ``failed``
or ``canceled`` (only a pending one can be canceled; canceling one in progress has no effect,
as in Convex). By default every due function starts at once. ``World(scheduler_concurrency=N)``
models a deployment that runs at most N scheduled functions at a time, started FIFO by (due
time, schedule order): this is how the seed's motivating problem, verification emails stuck
behind a flood of scrapes, shows up in the model. Work run by pools does not count against that
limit. From a mutation, scheduling and canceling take effect when the mutation commits.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs

from refmodel.engine.functions import FunctionDef, FunctionKind, FunctionRef
from refmodel.engine.runtime import Ctx, MutationCtx, Run, Runtime, check_ctx
from refmodel.engine.startqueue import StartQueue
from refmodel.errors import InvalidArgument, InvalidType, UnknownScheduledId
from refmodel.values import check_args, check_int, check_time, parse_number, short

_ABORTED = 0
_COMMITTED = 1
_UNCOMMITTED = 2


class SchedState(enum.Enum):
    """The states of a scheduled function, spelled as Convex spells them."""

    PENDING = "pending"
    IN_PROGRESS = "inProgress"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELED = "canceled"


_NEXT: dict[tuple[SchedState, str], SchedState] = {
    (SchedState.PENDING, "start"): SchedState.IN_PROGRESS,
    (SchedState.PENDING, "cancel"): SchedState.CANCELED,
    (SchedState.IN_PROGRESS, "succeed"): SchedState.SUCCESS,
    (SchedState.IN_PROGRESS, "fail"): SchedState.FAILED,
}
"""Every transition of a scheduled function."""


class _Scheduled:
    __slots__ = ("args", "completed_at", "eligible_at", "fdef", "n", "outcome", "state")

    def __init__(self, n: int, fdef: FunctionDef, args: dict[str, Any], due: int) -> None:
        self.n = n
        self.fdef = fdef
        self.args = args
        self.eligible_at = due
        self.state = SchedState.PENDING
        self.completed_at: int | None = None
        self.outcome: Any = None


@attrs.frozen(kw_only=True)
class ScheduledFunction:
    """A snapshot of a scheduled function (``world.scheduler.get(id)``)."""

    id: str
    name: str
    state: SchedState
    scheduled_time: int
    completed_time: int | None
    result: Any = None
    error: str | None = None


def check_concurrency(concurrency: Any) -> int | None:
    """Check a ``scheduler_concurrency``: ``None`` (no limit) or an int >= 1 (rule SCH-3)."""
    if concurrency is not None:
        check_int(concurrency, "scheduler_concurrency")
        if concurrency < 1:
            raise InvalidArgument(
                f"scheduler_concurrency must be >= 1 or None (no limit), got {concurrency}"
            )
    result: int | None = concurrency
    return result


class Scheduler:
    """The world's plain scheduler.

    Args:
        runtime: the world's runtime (it runs the functions; its clock, tracer and registry
            are the world's).
        concurrency: the most scheduled functions running at once, or ``None``.
    """

    PREFIX = "scheduled/"

    def __init__(self, runtime: Runtime, concurrency: int | None) -> None:
        self.concurrency = check_concurrency(concurrency)
        self._runtime = runtime
        self._clock = runtime.clock
        self._tracer = runtime.tracer
        self._records: dict[int, _Scheduled] = {}
        self._codes = bytearray()  # Per issued id: committed, uncommitted or aborted.
        self._running = 0
        self._queue: StartQueue[_Scheduled] = StartQueue(
            runtime.clock, _is_pending, self._has_room, self._start
        )

    def run_after(self, ctx: Ctx, delay_ms: int, fn: FunctionRef | str, args: Any = None) -> str:
        """Schedule ``fn`` ``delay_ms`` from now (negative delays are refused; rule ENQ-4)."""
        check_ctx(ctx, "scheduling")
        delay = check_time(delay_ms, "delay_ms")
        return self._schedule(ctx, self._clock.now + delay, fn, args)

    def run_at(self, ctx: Ctx, time: int, fn: FunctionRef | str, args: Any = None) -> str:
        """Schedule ``fn`` at virtual ``time``; a time in the past means now."""
        check_ctx(ctx, "scheduling")
        return self._schedule(ctx, check_time(time, "time"), fn, args)

    def _schedule(self, ctx: Ctx, time: int, fn: FunctionRef | str, args: Any) -> str:
        check_ctx(ctx, "scheduling")
        fdef = self._runtime.registry.resolve(fn)
        if fdef.ref.kind is FunctionKind.QUERY:
            raise InvalidArgument(
                f"{short(fdef.ref.name)} is a query: the scheduler runs actions and mutations only"
            )
        stored = check_args({} if args is None else args)
        codes = self._codes
        n = len(codes) + 1
        if type(ctx) is MutationCtx:
            codes.append(_UNCOMMITTED)
            ctx.defer(lambda: self._insert(n, fdef, stored, time), lambda: self._abort(n))
        else:
            codes.append(_COMMITTED)
            self._insert(n, fdef, stored, time)
        return self.PREFIX + str(n)

    def _abort(self, n: int) -> None:
        self._codes[n - 1] = _ABORTED

    def _insert(self, n: int, fdef: FunctionDef, args: dict[str, Any], time: int) -> None:
        self._codes[n - 1] = _COMMITTED
        clock = self._clock
        due = max(time, clock.now)
        record = _Scheduled(n, fdef, args, due)
        self._records[n] = record
        clock.busy += 1
        if self._tracer.tracing:
            data = {"fn": fdef.ref.name, "runAt": due}
            self._tracer.emit("scheduled", None, self.PREFIX + str(n), data)
        self._queue.add(record)

    def cancel(self, ctx: Ctx, scheduled_id: str) -> None:
        """Cancel a pending scheduled function; no effect once it started (rule SCH-2).

        Raises:
            UnknownScheduledId: the id was not issued by this scheduler; nothing changed.
        """
        check_ctx(ctx, "cancel")
        n = self._number(scheduled_id)
        if type(ctx) is MutationCtx:
            ctx.defer(lambda: self._cancel(n), lambda: None)
        else:
            self._cancel(n)

    def _cancel(self, n: int) -> None:
        record = self._records.get(n)
        if record is None or record.state is not SchedState.PENDING:
            return
        record.state = _NEXT[(record.state, "cancel")]
        clock = self._clock
        record.completed_at = clock.now
        clock.busy -= 1
        if self._tracer.tracing:
            self._tracer.emit("sched_canceled", None, self.PREFIX + str(n), {})

    def get(self, scheduled_id: str) -> ScheduledFunction:
        """A snapshot of the scheduled function ``scheduled_id``.

        Raises:
            UnknownScheduledId: not issued by this scheduler, or its mutation never committed.
        """
        n = self._number(scheduled_id)
        record = self._records[n]
        return ScheduledFunction(
            id=self.PREFIX + str(n),
            name=record.fdef.ref.name,
            state=record.state,
            scheduled_time=record.eligible_at,
            completed_time=record.completed_at,
            result=record.outcome if record.state is SchedState.SUCCESS else None,
            error=record.outcome if record.state is SchedState.FAILED else None,
        )

    def ids(self) -> list[str]:
        """Every scheduled-function id, in schedule order."""
        return [self.PREFIX + str(n) for n in self._records]

    @property
    def running(self) -> int:
        """How many scheduled functions are in progress."""
        return self._running

    def _number(self, scheduled_id: Any) -> int:
        prefix = self.PREFIX
        issued = len(self._codes)
        n = None
        if type(scheduled_id) is not str:
            raise InvalidType(
                f"a scheduled-function id is a str like {prefix}1, got {short(scheduled_id)} "
                f"({type(scheduled_id).__name__})"
            )
        if scheduled_id.startswith(prefix):
            n = parse_number(scheduled_id[len(prefix):])
        if n is None or not 1 <= n <= issued:
            raise UnknownScheduledId(
                f"{short(scheduled_id)} is not a scheduled-function id this scheduler issued "
                f"(it has issued {prefix}1 to {prefix}{issued})"
                if issued
                else f"{short(scheduled_id)} is not a scheduled-function id: none were issued yet"
            )
        code = self._codes[n - 1]
        if code == _ABORTED:
            raise UnknownScheduledId(
                f"{short(scheduled_id)} was scheduled by a mutation that did not commit"
            )
        if code == _UNCOMMITTED:
            raise UnknownScheduledId(
                f"{short(scheduled_id)} is scheduled by a mutation that has not committed yet"
            )
        return n

    def _has_room(self) -> bool:
        return self.concurrency is None or self._running < self.concurrency

    def _start(self, record: _Scheduled) -> None:
        record.state = _NEXT[(record.state, "start")]
        self._running += 1
        if self._tracer.tracing:
            self._tracer.emit("sched_started", None, self.PREFIX + str(record.n), {})
        self._runtime.launch(Run(record.fdef, record.args, self._on_done, record))

    def _on_done(self, run: Run) -> None:
        record: _Scheduled = run.token
        record.state = _NEXT[(record.state, "succeed" if run.ok else "fail")]
        clock = self._clock
        record.completed_at = clock.now
        record.outcome = run.value if run.ok else run.error
        self._running -= 1
        clock.busy -= 1
        tracer = self._tracer
        if tracer.tracing:
            sid = self.PREFIX + str(record.n)
            if run.ok:
                tracer.emit("sched_succeeded", None, sid, {"result": run.value})
            else:
                tracer.emit("sched_failed", None, sid, {"error": run.error})
        if self.concurrency is not None:
            self._queue.kick(clock.now)


def _is_pending(record: _Scheduled) -> bool:
    return record.state is SchedState.PENDING
