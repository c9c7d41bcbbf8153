"""The runtime: how the world runs actions, mutations and queries on the virtual clock.

Theory of operation. Running a function is a :class:`Run`. An action's handler is an
``async def`` coroutine that the runtime drives itself, without asyncio (rule EXE-1: what it
returns is its result, what it raises its error): it calls
``coroutine.send`` and gets back the *request* the action awaited (:class:`Sleep`,
:class:`Call`, or a pool's wait for a result). A request either answers at once, and the
runtime sends the answer straight back in, or it leaves the run suspended until a clock event
or another run's completion resumes it. A mutation's handler runs at its start against a
:class:`~refmodel.engine.store.Transaction`; its writes and its other effects (enqueues, scheduled
functions) are buffered and applied when it commits ``duration_ms`` later, unless it conflicts
(rule OCC-2). A query runs at once on a read-only transaction. A mutation is a transaction:
all of its writes and effects apply at its commit, or none do (rule EXE-2).

When a run ends, its owner's ``on_done(run)`` is called with the outcome stored on the run. A
run can be *abandoned* (timeouts and seed-profile cancels, rules TMO-2 and CAN-2): its
coroutine is closed, its commit discarded, its buffered effects aborted, and ``on_done`` is
never called.

A declared action (:class:`~refmodel.engine.functions.Declared`) needs no coroutine: at its
start the runtime asks its plan for the attempt's duration and ending, and schedules its end
where a coroutine's wake-up from ``await ctx.sleep(duration)`` would be.

What user code raises becomes the run's error message. What the *model* raises is not user
data: an exception raised from inside refmodel's own code that is not one of its deliberate
errors propagates to whoever drives the simulation (rule EXE-4).

The runtime knows nothing of pools: their runs are ordinary runs whose ``token`` is the pool's
own record, and the plain scheduler reaches contexts through the small :class:`Scheduling`
interface it implements.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Generator
from typing import Any, Protocol

from refmodel.engine.clock import Clock, Phase
from refmodel.engine.functions import (
    Declared,
    Ending,
    FunctionDef,
    FunctionKind,
    FunctionRef,
    Registry,
    check_ending,
)
from refmodel.engine.store import Store, Transaction
from refmodel.engine.tracer import Tracer
from refmodel.errors import (
    ConflictError,
    InvalidType,
    NonRetryableError,
    NotInAction,
    RefmodelError,
)
from refmodel.values import MAX_TIME_MS, check_args, check_time, copy_json, short

_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # refmodel/
_RESUME = int(Phase.RESUME)


class ModelFault(RefmodelError, AssertionError):
    """Base of the errors the model raises about itself: a bug of the model, never a user
    error (rule EXE-4). :class:`~refmodel.workpool.lifecycle.IllegalTransition` is one."""


class Scheduling(Protocol):
    """What a context needs of the plain scheduler (``ctx.scheduler``)."""

    def run_after(self, ctx: Any, delay_ms: int, fn: FunctionRef | str, args: Any = None) -> str:
        """Schedule ``fn`` ``delay_ms`` from now; return its id."""
        ...

    def run_at(self, ctx: Any, time: int, fn: FunctionRef | str, args: Any = None) -> str:
        """Schedule ``fn`` at virtual ``time``; return its id."""
        ...

    def cancel(self, ctx: Any, scheduled_id: str) -> None:
        """Cancel a pending scheduled function."""
        ...


class CallFailed(RefmodelError):
    """Raised inside an action when a function it ran (``ctx.run_mutation``,
    ``ctx.run_query``, ``ctx.run_action``) threw; the message is that function's error."""


class RunState(enum.Enum):
    """Where a run is: still going, ended (with an outcome), or abandoned."""

    ACTIVE = "active"
    DONE = "done"
    ABANDONED = "abandoned"


class Run:
    """One execution of one function.

    Attributes:
        fdef: the function.
        args: its arguments (the run's own copy).
        attempt: which attempt this is, from 1 (what a pool's retries count).
        state: ACTIVE, DONE or ABANDONED.
        ok: after DONE, whether it returned (``True``) or threw.
        value: after a successful DONE, the return value (a private JSON-like copy).
        error: after a failed DONE, the error message.
        non_retryable: after a failed DONE, whether it threw :class:`NonRetryableError`.
        token: whatever the owner attached (a pool's work record, a parent run, ...).
    """

    # The fields a run starts with are its class's (a run sets only what it changes: a run is
    # made per attempt, and most never use most of these).
    state: RunState = RunState.ACTIVE
    ok: bool = False
    value: Any = None
    error: str | None = None
    non_retryable: bool = False
    coro: Any = None
    ending: Ending | None = None
    txn: Transaction | None = None
    effects: list[tuple[Callable[[], None], Callable[[], None]]] | None = None
    waiting_on: Any = None

    def __init__(
        self,
        fdef: FunctionDef,
        args: dict[str, Any],
        on_done: Callable[[Run], None],
        token: Any,
        attempt: int = 1,
    ) -> None:
        self.fdef = fdef
        self.args = args
        self.on_done = on_done
        self.token = token
        self.attempt = attempt


class _Pending:
    """The answer of a request that suspends the run."""


PENDING = _Pending()


class Request:
    """Something an action awaits. Subclasses answer through :meth:`handle`."""

    __slots__ = ()

    def __await__(self) -> Generator[Request, Any, Any]:
        return (yield self)

    def handle(self, runtime: Runtime, run: Run) -> Any:
        """Answer now with ``(value, exception)``, or return :data:`PENDING` and arrange for
        :meth:`Runtime.resume` to be called later."""
        raise NotImplementedError


class Sleep(Request):
    """``await ctx.sleep(ms)``: resume ``ms`` later."""

    __slots__ = ("ms",)

    def __init__(self, ms: int) -> None:
        self.ms = ms

    def handle(self, runtime: Runtime, run: Run) -> Any:
        clock = runtime.clock
        clock.schedule(clock.now + self.ms, _RESUME, runtime._wake, run)
        return PENDING


class Call(Request):
    """``await ctx.run_mutation/run_query/run_action(...)``: run a function to its end."""

    __slots__ = ("args", "fdef")

    def __init__(self, fdef: FunctionDef, args: dict[str, Any]) -> None:
        self.fdef = fdef
        self.args = args

    def handle(self, runtime: Runtime, run: Run) -> Any:
        child = runtime.launch_call(self.fdef, self.args, on_done=runtime._child_done, token=run)
        if child.state is RunState.DONE:
            return _answer(child)
        run.waiting_on = child
        return PENDING


def _answer(child: Run) -> tuple[Any, BaseException | None]:
    if child.ok:
        return child.value, None
    if child.non_retryable:
        return None, NonRetryableError(child.error or "")
    return None, CallFailed(child.error or "")


def error_message(exc: BaseException) -> str:
    """The error message stored for an exception: ``str(exc)``, or its class name if empty."""
    text = str(exc)
    return text if text else type(exc).__name__


def raised_by_model(exc: BaseException) -> bool:
    """Whether ``exc`` is a bug of the model rather than something user code raised.

    Deliberate refmodel errors (bad input, results, conflicts) are user-visible; anything else
    whose innermost frame is refmodel's own code, and any :class:`ModelFault` (such as an
    illegal lifecycle transition), is a model bug (rule EXE-4). Modules of refmodel that host
    user functions (the examples, the declarative scenarios) set
    ``__refmodel_user_code__ = True`` and count as user code.
    """
    if isinstance(exc, ModelFault):
        return True
    if isinstance(exc, RefmodelError):
        return False
    tb = exc.__traceback__
    last = None
    while tb is not None:
        last = tb
        tb = tb.tb_next
    if last is None:
        return False
    frame = last.tb_frame
    if frame.f_globals.get("__refmodel_user_code__"):
        return False  # Modules that play user functions (examples, scenarios) mark themselves.
    return frame.f_code.co_filename.startswith(_PACKAGE_DIR)


class Runtime:
    """Starts, drives, commits and abandons runs for one world.

    Attributes:
        clock, tracer, store, registry: the world's.
        scheduler: the plain scheduler that contexts expose as ``ctx.scheduler`` (set by the
            world once it is made).
    """

    def __init__(self, clock: Clock, tracer: Tracer, store: Store, registry: Registry) -> None:
        self.clock = clock
        self.tracer = tracer
        self.store = store
        self.registry = registry
        self.scheduler: Scheduling | None = None
        self._calls = 0
        self.handling = 0
        """How many handlers (user code) are running now, nested: while it is not 0, the
        world refuses driver calls (rule CLK-6)."""

    # Launching -----------------------------------------------------------------------------

    def launch(self, run: Run) -> None:
        """Start ``run`` now. ``on_done`` may be called before this returns."""
        fdef = run.fdef
        kind = fdef.ref.kind
        if kind is FunctionKind.ACTION:
            declared = fdef.declared
            if declared is None:
                self._start_action(run)
            else:
                self._start_declared(run, declared)
        elif kind is FunctionKind.MUTATION:
            self._start_mutation(run)
        else:
            self._run_query(run)

    def launch_call(
        self, fdef: FunctionDef, args: dict[str, Any], on_done: Callable[[Run], None], token: Any
    ) -> Run:
        """Start a function call that belongs to no pool, traced as ``call_*`` events."""
        self._calls += 1
        call_id = f"call/{self._calls}"
        tracer = self.tracer
        name = fdef.ref.name
        if tracer.tracing:
            tracer.emit("call_started", None, call_id, {"fn": name, "kind": fdef.ref.kind.value})

        def done(run: Run) -> None:
            if tracer.tracing:
                if run.ok:
                    tracer.emit("call_succeeded", None, call_id, {"fn": name, "result": run.value})
                else:
                    tracer.emit("call_failed", None, call_id, {"fn": name, "error": run.error})
            on_done(run)

        run = Run(fdef, args, done, token)
        self.launch(run)
        return run

    def abandon(self, run: Run) -> None:
        """Stop ``run`` for good: no later effect, no ``on_done`` (rules TMO-2, CAN-2)."""
        if run.state is not RunState.ACTIVE:
            return
        run.state = RunState.ABANDONED
        self._discard(run)
        coro = run.coro
        if coro is not None:
            # close() runs the action's finally blocks: what they raise, or an action that
            # catches GeneratorExit and awaits again (RuntimeError), is the user's; the
            # attempt is stopped all the same.
            try:
                coro.close()
            except Exception as exc:
                if raised_by_model(exc):
                    raise

    def _fail(self, run: Run, exc: BaseException) -> None:
        run.non_retryable = isinstance(exc, NonRetryableError)
        self._finish(run, False, None, error_message(exc))

    def _finish(self, run: Run, ok: bool, value: Any, error: str | None) -> None:
        run.state = RunState.DONE
        run.coro = None  # Finished: let the coroutine and its frame go.
        run.ok = ok
        run.value = value
        run.error = error
        run.on_done(run)

    # Declared actions ----------------------------------------------------------------------

    def _start_declared(self, run: Run, declared: Declared) -> None:
        """Plan a declared action's attempt: its end comes ``duration`` ms from now, where a
        coroutine's wake-up from ``await ctx.sleep(duration)`` would."""
        duration = declared.duration_ms
        ending = declared.ending
        try:
            if callable(duration):
                self.handling += 1
                try:
                    duration = duration(run.args, run.attempt)
                finally:
                    self.handling -= 1
                if type(duration) is not int or duration < 0 or duration > MAX_TIME_MS:
                    check_time(duration, "duration_ms")
            if not isinstance(ending, Ending):
                self.handling += 1
                try:
                    chosen = ending(run.args, run.attempt)
                finally:
                    self.handling -= 1
                ending = check_ending(chosen, "ending")
        except Exception as exc:  # Like an action that raises before its first await.
            if raised_by_model(exc):
                raise
            self._fail(run, exc)
            return
        run.ending = ending
        clock = self.clock
        if duration == 0:
            self._end_declared(run)
        else:
            clock.schedule(clock.now + duration, _RESUME, self._end_declared, run)

    def _end_declared(self, run: Run) -> None:
        """a declared action's attempt ends"""
        ending = run.ending
        if run.state is not RunState.ACTIVE or ending is None:
            return  # Abandoned before its end.
        kind = ending.kind
        if kind == "returns":
            value = ending.value
            if value is None:  # The common end, kept short: _finish, written out.
                run.state = RunState.DONE
                run.ok = True
                run.on_done(run)
                return
            try:
                value = copy_json(value, "return value")
            except InvalidType as bad:
                self._finish(run, False, None, error_message(bad))
                return
            self._finish(run, True, value, None)
        elif kind == "throws":
            run.non_retryable = not ending.retryable
            self._finish(run, False, None, ending.value)
        # "hangs": nothing ends it but a timeout or a cancel.

    # Actions -------------------------------------------------------------------------------

    def _start_action(self, run: Run) -> None:
        ctx = ActionCtx(self, run)
        handler = run.fdef.handler
        assert handler is not None  # Only declared actions have none.
        try:
            run.coro = handler(ctx, run.args)
        except Exception as exc:  # Raised before the first await.
            if raised_by_model(exc):
                raise
            self._fail(run, exc)
            return
        self._advance(run, None, None)

    def _wake(self, run: Run) -> None:
        """an action wakes from ctx.sleep"""
        if run.state is RunState.ACTIVE:
            self._advance(run, None, None)

    def resume(self, run: Run, value: Any, exc: BaseException | None) -> None:
        """Continue a suspended action with an answer (or an exception to raise in it)."""
        if run.state is RunState.ACTIVE:
            self._advance(run, value, exc)

    def _advance(self, run: Run, value: Any, exc: BaseException | None) -> None:
        coro = run.coro
        while True:
            self.handling += 1
            try:
                try:
                    request = coro.send(value) if exc is None else coro.throw(exc)
                finally:
                    self.handling -= 1
            except StopIteration as stop:
                result = stop.value
                if result is not None:
                    try:
                        result = copy_json(result, "return value")
                    except InvalidType as bad:
                        self._finish(run, False, None, error_message(bad))
                        return
                self._finish(run, True, result, None)
                return
            except Exception as raised:
                if raised_by_model(raised):
                    raise
                self._fail(run, raised)
                return
            if type(request) is Sleep:  # The common case, kept off the generic path.
                clock = self.clock
                clock.schedule(clock.now + request.ms, _RESUME, self._wake, run)
                return
            if isinstance(request, Request):
                answer = request.handle(self, run)
                if answer is PENDING:
                    return
                value, exc = answer
            else:
                value, exc = None, InvalidType(
                    "an action may only await what refmodel gives it (ctx.sleep, ctx.run_*, "
                    f"pool.poll_result, ...); it awaited {short(request)}"
                )

    def _child_done(self, child: Run) -> None:
        parent: Run = child.token
        if parent.waiting_on is child:
            parent.waiting_on = None
            value, exc = _answer(child)
            self.resume(parent, value, exc)

    # Mutations and queries -----------------------------------------------------------------

    def _start_mutation(self, run: Run) -> None:
        txn = self.store.begin(self.clock.now)
        run.txn = txn
        ctx = MutationCtx(self, run, txn)
        handler = run.fdef.handler
        assert handler is not None
        self.handling += 1
        try:
            try:
                result = handler(ctx, run.args)
            finally:
                self.handling -= 1
            if result is not None:
                result = copy_json(result, "return value")
        except Exception as exc:
            if raised_by_model(exc):
                raise
            # A mutation's outcome is known at its end, whichever it is: a failing mutation
            # also holds its slot for its whole duration.
            self._discard(run)
            run.error = error_message(exc)
            run.non_retryable = isinstance(exc, NonRetryableError)
            self._end_mutation(run, self._fail_mutation)
            return
        run.value = result
        self._end_mutation(run, self._commit)

    def _end_mutation(self, run: Run, end: Callable[[Run], None]) -> None:
        duration = run.fdef.duration_ms
        if duration == 0:
            end(run)
        else:
            clock = self.clock
            clock.schedule(clock.now + duration, _RESUME, end, run)

    def _fail_mutation(self, run: Run) -> None:
        """a failing mutation ends"""
        if run.state is RunState.ACTIVE:
            self._finish(run, False, None, run.error)

    def _commit(self, run: Run) -> None:
        """a mutation commits (or conflicts)"""
        if run.state is not RunState.ACTIVE:
            return  # Abandoned while it ran: its commit never happens (rule TMO-2).
        txn = run.txn
        assert txn is not None
        tracer = self.tracer
        clash = txn.conflict()
        if clash is not None:
            if tracer.tracing:
                tracer.emit("conflict", None, None, {"fn": run.fdef.ref.name, "doc": clash})
            self._discard(run)
            message = (
                f"OCC conflict: {short(clash)}, read by mutation {short(run.fdef.ref.name)}, was "
                "written by another commit while it ran"
            )
            self._finish(run, False, None, error_message(ConflictError(message)))
            return
        txn.commit()
        effects = run.effects or []
        run.effects = None
        for apply, _ in effects:
            apply()
        if tracer.tracing and (txn.writes or effects):
            tracer.emit("committed", None, None, {"fn": run.fdef.ref.name, "writes": txn.writes})
        self._finish(run, True, run.value, None)

    def _discard(self, run: Run) -> None:
        effects = run.effects
        if effects:
            run.effects = None
            for _, abort in effects:
                abort()

    def _run_query(self, run: Run) -> None:
        txn = self.store.begin(self.clock.now, read_only=True)
        ctx = QueryCtx(self, txn)
        handler = run.fdef.handler
        assert handler is not None
        self.handling += 1
        try:
            try:
                result = handler(ctx, run.args)
            finally:
                self.handling -= 1
            if result is not None:
                result = copy_json(result, "return value")
        except Exception as exc:
            if raised_by_model(exc):
                raise
            self._fail(run, exc)
            return
        self._finish(run, True, result, None)


# Contexts -------------------------------------------------------------------------------------


class SchedulerView:
    """``ctx.scheduler``: the plain scheduler as seen from one context."""

    __slots__ = ("_ctx", "_scheduler")

    def __init__(self, scheduler: Scheduling, ctx: Ctx) -> None:
        self._scheduler = scheduler
        self._ctx = ctx

    def run_after(self, delay_ms: int, fn: FunctionRef | str, args: Any = None) -> str:
        """Schedule ``fn`` to run ``delay_ms`` from now; return its scheduled-function id."""
        return self._scheduler.run_after(self._ctx, delay_ms, fn, args)

    def run_at(self, time: int, fn: FunctionRef | str, args: Any = None) -> str:
        """Schedule ``fn`` to run at virtual time ``time``; return its scheduled-function id."""
        return self._scheduler.run_at(self._ctx, time, fn, args)

    def cancel(self, scheduled_id: str) -> None:
        """Cancel a pending scheduled function (no effect once it started)."""
        self._scheduler.cancel(self._ctx, scheduled_id)


class _BaseCtx:
    """What every context has: the world's runtime and the current time."""

    __slots__ = ("_runtime",)

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    @property
    def now(self) -> int:
        """The current virtual time in ms (for a mutation: its start, when its handler runs)."""
        return self._runtime.clock.now


class _SchedulingCtx(_BaseCtx):
    """A context that may schedule functions and enqueue work."""

    __slots__ = ()

    @property
    def scheduler(self) -> SchedulerView:
        """The plain scheduler (from a mutation, what it schedules happens at its commit)."""
        scheduler = self._runtime.scheduler
        assert scheduler is not None, "the world sets its scheduler when it is made"
        return SchedulerView(scheduler, self)  # type: ignore[arg-type]


class ClientCtx(_SchedulingCtx):
    """A client outside the deployment, acting at the current virtual time (``world.client``).

    Pool and scheduler calls made with it take effect at once.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "world.client"


class ActionCtx(_SchedulingCtx):
    """The context an action's handler receives."""

    __slots__ = ("_run",)

    def __init__(self, runtime: Runtime, run: Run) -> None:
        self._runtime = runtime
        self._run = run

    def sleep(self, ms: int) -> Sleep:
        """Await this to let ``ms`` of virtual time pass (0 to ``MAX_TIME_MS``, CLK-2)."""
        if type(ms) is not int or ms < 0 or ms > MAX_TIME_MS:
            check_time(ms, "ms")
        return Sleep(ms)

    def run_mutation(self, fn: FunctionRef | str, args: Any = None) -> Call:
        """Await this to run a mutation and get its return value (raises CallFailed)."""
        return self._call(fn, FunctionKind.MUTATION, args)

    def run_query(self, fn: FunctionRef | str, args: Any = None) -> Call:
        """Await this to run a query and get its return value (raises CallFailed)."""
        return self._call(fn, FunctionKind.QUERY, args)

    def run_action(self, fn: FunctionRef | str, args: Any = None) -> Call:
        """Await this to run an action to its end and get its return value."""
        return self._call(fn, FunctionKind.ACTION, args)

    def _call(self, fn: FunctionRef | str, kind: FunctionKind, args: Any) -> Call:
        fdef = self._runtime.registry.resolve(fn, kind)
        return Call(fdef, check_args({} if args is None else args))

    def __repr__(self) -> str:
        return f"ActionCtx({short(self._run.fdef.ref.name)})"


class MutationCtx(_SchedulingCtx):
    """The context a mutation's handler receives: ``db`` and a transactional scheduler."""

    __slots__ = ("_run", "db")

    def __init__(self, runtime: Runtime, run: Run, txn: Transaction) -> None:
        self._runtime = runtime
        self._run = run
        self.db = txn

    def defer(self, apply: Callable[[], None], abort: Callable[[], None]) -> None:
        """Buffer an effect until commit: ``apply`` runs at commit, ``abort`` if it never
        commits (it threw, conflicted, or was abandoned)."""
        run = self._run
        if run.effects is None:
            run.effects = []
        run.effects.append((apply, abort))

    def __repr__(self) -> str:
        return f"MutationCtx({short(self._run.fdef.ref.name)})"


class QueryCtx(_BaseCtx):
    """The context a query's handler receives: a read-only ``db``."""

    __slots__ = ("db",)

    def __init__(self, runtime: Runtime, txn: Transaction) -> None:
        self._runtime = runtime
        self.db = txn


Ctx = ClientCtx | ActionCtx | MutationCtx


def require_action(ctx: Any, what: str) -> ActionCtx:
    """Check that ``ctx`` is an action's context, for operations that await time."""
    if not isinstance(ctx, ActionCtx):
        raise NotInAction(
            f"{what} waits for virtual time, so it needs an action's ctx (inside an async "
            f"action); got {short(ctx)}. Outside actions, run the world and read status instead."
        )
    return ctx


def check_ctx(ctx: Any, what: str) -> Ctx:
    """Check that ``ctx`` is a context that may enqueue or schedule."""
    if not isinstance(ctx, ClientCtx | ActionCtx | MutationCtx):
        raise InvalidType(
            f"{what} needs a ctx: world.client, or the ctx an action or mutation received; "
            f"got {short(ctx)}"
        )
    return ctx
