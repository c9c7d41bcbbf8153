"""A deployment: one simulated Convex backend with its virtual clock, and no component in it.

Theory of operation. A :class:`Deployment` owns everything the engine changes: the
:class:`~refmodel.engine.clock.Clock` and its event queue, a seeded RNG, the function registry,
the document store, the runtime that drives functions, the plain scheduler and the
:class:`~refmodel.engine.tracer.Tracer`. Nothing is kept at module level, so any number of
deployments can live side by side (DESIGN §8). :class:`refmodel.world.World` is a deployment
with Workpool pools in it: what users create.

Time moves only here (rule CLK-1): :meth:`Deployment.step` processes the next event,
:meth:`Deployment.run_until` every event up to a time, :meth:`Deployment.run_until_idle` until
no work is pending or running anywhere, and :meth:`Deployment.run` until nothing at all is
queued (evictions included). Between steps, a driver acts at the current instant through
``client``, :meth:`Deployment.run_action`, :meth:`Deployment.run_mutation` and the pools'
methods; a driver that wants to act at a later instant without stepping there schedules the act
with :meth:`Deployment.call_at`, which runs in the CALL phase, first in its instant (rule
CLK-3).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import Any, TextIO, cast

import attrs

from refmodel.engine.clock import Clock, Phase, describe
from refmodel.engine.functions import RETURNS_NONE, FunctionKind, FunctionRef, Registry
from refmodel.engine.runtime import CallFailed, ClientCtx, Run, RunState, Runtime
from refmodel.engine.scheduler import Scheduler
from refmodel.engine.store import Store
from refmodel.engine.tracer import Tracer
from refmodel.errors import InvalidArgument, InvalidType, ReentrantCall, StepLimitExceeded
from refmodel.trace import MemoryTrace, TraceEvent, TraceSink
from refmodel.values import check_args, check_seed, check_time, fresh, short


@attrs.frozen(kw_only=True)
class Step:
    """What one :meth:`Deployment.step` did.

    Attributes:
        time: the instant of the event.
        phase: its phase.
        action: what ran (the name of the model's handler, for debugging).
        events: the trace events it produced.
    """

    time: int
    phase: Phase
    action: str
    events: tuple[TraceEvent, ...]


class CallHandle:
    """A function call a driver started with :meth:`Deployment.run_action` or
    ``run_mutation``."""

    def __init__(self, run: Run) -> None:
        self._run = run

    @property
    def done(self) -> bool:
        """Whether the call has ended (returned or thrown)."""
        return self._run.state is RunState.DONE

    @property
    def ok(self) -> bool:
        """Whether the call returned. ``False`` while it runs."""
        return self.done and self._run.ok

    @property
    def error(self) -> str | None:
        """The error message if the call threw, else ``None``."""
        return self._run.error if self.done and not self._run.ok else None

    def result(self) -> Any:
        """The return value.

        Raises:
            InvalidArgument: the call has not ended yet (run the world further).
            CallFailed: the call threw; the message is its error.
        """
        if not self.done:
            raise InvalidArgument(
                f"{short(self._run.fdef.ref.name)} has not finished yet: run the world further"
            )
        if not self._run.ok:
            raise CallFailed(self._run.error or "")
        return fresh(self._run.value)

    def __repr__(self) -> str:
        state = "running" if not self.done else ("ok" if self._run.ok else "failed")
        return f"<CallHandle {short(self._run.fdef.ref.name)} {state}>"


class Deployment:
    """A simulated Convex deployment: functions, a store, a scheduler, and a virtual clock.

    Args:
        seed: seeds the RNG (every draw that matters is in the trace; DET-2).
        epoch: the virtual time the clock starts at, in ms.
        trace: where trace events go: ``True`` keeps them in memory (``.trace``), ``False``
            turns tracing off (fastest), a :class:`MemoryTrace` (or a subclass of it) is that
            memory, a callable is called with each :class:`TraceEvent`, and a text stream
            receives JSON Lines.
        scheduler_concurrency: the most scheduled functions the plain scheduler runs at once
            (``None``: no limit).

    Attributes:
        clock, tracer, registry, store, runtime, scheduler: the parts of the engine.
        client: the context of a client outside the deployment.
        memory: the in-memory trace (``trace=True``), else ``None``.

    Raises:
        InvalidType, InvalidArgument: a bad argument; nothing is made.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        epoch: int = 0,
        trace: bool | TraceSink | Any = True,
        scheduler_concurrency: int | None = None,
    ) -> None:
        check_seed(seed)
        check_time(epoch, "epoch")
        self.seed = seed
        self.memory: MemoryTrace | None = None
        sink: TraceSink | None = None
        stream: TextIO | None = None
        if trace is True or isinstance(trace, MemoryTrace):
            self.memory = MemoryTrace() if trace is True else trace
            sink = self.memory
        elif trace is False or trace is None:
            pass
        elif hasattr(trace, "write"):
            stream = cast(TextIO, trace)
        elif callable(trace):
            sink = trace
        else:
            raise InvalidType(
                f"trace must be True, False, a callable sink or a text stream, got {short(trace)}"
            )
        self.clock = Clock(epoch)
        self.tracer = Tracer(self.clock, sink, stream)
        self._rng: random.Random | None = None  # Seeded at the first draw: most worlds never draw.
        self._next_draw: float | None = None  # Set by set_next_draw: a fork at the next draw.
        self.registry = Registry()
        self.store = Store()
        self.runtime = Runtime(self.clock, self.tracer, self.store, self.registry)
        self.scheduler = Scheduler(self.runtime, scheduler_concurrency)
        self.runtime.scheduler = self.scheduler
        self.client = ClientCtx(self.runtime)

    # Registration --------------------------------------------------------------------------

    def action(self, name: str | None = None) -> Callable[[Callable[..., Any]], FunctionRef]:
        """Decorator: register an ``async def handler(ctx, args)`` as an action."""
        return lambda handler: self.registry.register(FunctionKind.ACTION, handler, name, 0)

    def declare_action(
        self, name: str, *, duration_ms: Any = 0, ending: Any = RETURNS_NONE
    ) -> FunctionRef:
        """Register an action declared as data: no coroutine, no context, no sleep per attempt.

        Args:
            name: the function's name.
            duration_ms: how long each attempt runs: an int >= 0, or a plain function of
                ``(args, attempt)`` giving one (``attempt`` counts from 1).
            ending: how each attempt ends: an :class:`~refmodel.engine.functions.Ending`
                (``Ending.returns(value)``, ``Ending.throws(message, retryable=...)``,
                ``Ending.hangs()``), or a plain function of ``(args, attempt)`` giving one.

        It behaves exactly like ``async def f(ctx, args): await ctx.sleep(duration); ...``
        (without the sleep when the duration is 0). What the functions raise, or a bad value
        they give, fails the attempt at its start, as an action raising before its first await.

        Raises:
            InvalidType, InvalidArgument: a bad name, duration or ending; nothing is
                registered.
        """
        return self.registry.declare(name, duration_ms, ending)

    def mutation(
        self, name: str | None = None, *, duration_ms: int = 0
    ) -> Callable[[Callable[..., Any]], FunctionRef]:
        """Decorator: register a ``def handler(ctx, args)`` as a mutation that commits
        ``duration_ms`` after it starts."""
        return lambda handler: self.registry.register(
            FunctionKind.MUTATION, handler, name, duration_ms
        )

    def query(self, name: str | None = None) -> Callable[[Callable[..., Any]], FunctionRef]:
        """Decorator: register a ``def handler(ctx, args)`` as a query."""
        return lambda handler: self.registry.register(FunctionKind.QUERY, handler, name, 0)

    # Time ----------------------------------------------------------------------------------

    @property
    def now(self) -> int:
        """The current virtual time in ms."""
        return self.clock.now

    def peek(self) -> float:
        """The time of the next event, or ``math.inf`` if nothing is queued."""
        return self.clock.peek()

    @property
    def idle(self) -> bool:
        """Whether no work is pending or running and no driver call is in progress."""
        return self.clock.busy == 0

    def step(self) -> Step:
        """Process the next event and return what it did.

        Raises:
            EmptySchedule: nothing is queued; nothing changed.
            ReentrantCall: called while an event is being processed (CLK-6); nothing changed.
        """
        clock = self.clock
        self._refuse_reentry("step")
        entry = clock.pop()
        tracer = self.tracer
        collected = tracer.start_collecting()
        clock.running = True
        try:
            entry[3](entry[4])
        finally:
            clock.running = False
            tracer.stop_collecting()
        return Step(
            time=entry[0],
            phase=Phase(entry[1]),
            action=describe(entry[3]),
            events=tuple(collected),
        )

    def _refuse_reentry(self, call: str) -> None:
        """Rule CLK-6: the world is driven from outside, one call at a time."""
        if self.clock.running:
            raise ReentrantCall(
                f"world.{call}() was called while the world is processing an event (from a "
                "handler or a call_at callback): the world cannot be driven from inside "
                "itself; nothing changed. Inside a handler, use its ctx (ctx.sleep, "
                "ctx.run_mutation, ctx.scheduler)"
            )

    def next_step(self) -> tuple[int, Phase, str] | None:
        """What :meth:`step` would process next: ``(time, phase, what)``, or ``None``; ``what``
        says in words what the event does (e.g. ``"due work starts"``).

        A queued entry may have become moot (a timeout of work that already ended); stepping
        it then changes nothing and produces no events.
        """
        entry = self.clock.peek_entry()
        if entry is None:
            return None
        return entry[0], Phase(entry[1]), describe(entry[3])

    def run_until_event(
        self, match: Callable[[TraceEvent], bool], *, max_steps: int | None = None
    ) -> TraceEvent | None:
        """A breakpoint: step until an event for which ``match(event)`` is true is produced.

        The step that produced it runs to its end (an event is part of a step), so the world
        stops just after the matching transition.

        Returns:
            The first matching event, or ``None`` if the queue ran empty first.

        Raises:
            StepLimitExceeded: ``max_steps`` steps ran without a match.
        """
        if not callable(match):
            raise InvalidType(f"match must be a callable taking a TraceEvent, got {short(match)}")
        limit = self._check_max_steps(max_steps)
        self._refuse_reentry("run_until_event")
        steps = 0
        while len(self.clock):
            if steps >= limit:
                raise StepLimitExceeded(
                    f"stopped after {steps} events at {self.clock.now} ms without a match"
                )
            steps += 1
            for event in self.step().events:
                if match(event):
                    return event
        return None

    def run_until(self, time: int, *, inclusive: bool = True, max_steps: int | None = None) -> None:
        """Process every event up to ``time``, then set the clock to ``time`` (rule CLK-4).

        Args:
            time: the virtual time to reach; not before now.
            inclusive: process events *at* ``time`` too (default). With ``False``, events at
                ``time`` stay queued, so a driver acting next acts before them.
            max_steps: give up after this many events.

        Raises:
            InvalidType, InvalidArgument: a bad time or max_steps; nothing changed.
            StepLimitExceeded: ``max_steps`` events ran first; the clock is at the last one.
        """
        target = check_time(time, "time")
        if target < self.clock.now:
            raise InvalidArgument(
                f"cannot move the clock back to {target} ms: it reads {self.clock.now} ms"
            )
        if type(inclusive) is not bool:
            raise InvalidType(f"inclusive must be True or False, got {short(inclusive)}")
        limit = self._check_max_steps(max_steps)
        self._refuse_reentry("run_until")
        before = target + 1 if inclusive else target
        self.clock.run(before, False, limit, f"reaching {target} ms")
        self.clock.advance_to(target)

    def run_until_idle(self, max_steps: int | None = None) -> None:
        """Run until no work is pending or running anywhere and no driver call is in
        progress; evictions may stay queued (rule CLK-4).

        Raises:
            StepLimitExceeded: ``max_steps`` events ran first.
            ReentrantCall: called while an event is being processed (CLK-6); nothing changed.
        """
        limit = self._check_max_steps(max_steps)
        self._refuse_reentry("run_until_idle")
        self.clock.run(math.inf, True, limit, "becoming idle")

    def run(self, max_steps: int | None = None) -> None:
        """Run until nothing at all is queued, evictions included.

        Raises:
            StepLimitExceeded: ``max_steps`` events ran first.
            ReentrantCall: called while an event is being processed (CLK-6); nothing changed.
        """
        limit = self._check_max_steps(max_steps)
        self._refuse_reentry("run")
        self.clock.run(math.inf, False, limit, "draining every event")

    @staticmethod
    def _check_max_steps(max_steps: int | None) -> float:
        return math.inf if max_steps is None else check_time(max_steps, "max_steps")

    def call_at(self, time: int, callback: Callable[[], None]) -> None:
        """Run ``callback()`` at ``time``, first in that instant (CALL phase), as a driver would.

        Raises:
            InvalidType, InvalidArgument: a bad time (before now); nothing changed.
        """
        target = check_time(time, "time")
        if target < self.clock.now:
            raise InvalidArgument(
                f"cannot schedule a call at {target} ms: the clock reads {self.clock.now} ms"
            )
        if not callable(callback):
            raise InvalidType(f"callback must be callable, got {short(callback)}")

        def driver_call(_: None) -> None:
            """a driver's call_at callback"""
            callback()

        self.clock.schedule(target, int(Phase.CALL), driver_call, None)

    # Driver calls --------------------------------------------------------------------------

    def run_action(self, fn: FunctionRef | str, args: Any = None) -> CallHandle:
        """Start an action now, as a client would; run the world to see it end.

        Raises:
            ReentrantCall: called from inside a handler (CLK-6); nothing changed.
        """
        return self._call(fn, FunctionKind.ACTION, args, "run_action")

    def run_mutation(self, fn: FunctionRef | str, args: Any = None) -> CallHandle:
        """Run a mutation now; it has ended once ``duration_ms`` has passed.

        Raises:
            ReentrantCall: called from inside a handler (CLK-6); nothing changed.
        """
        return self._call(fn, FunctionKind.MUTATION, args, "run_mutation")

    def run_query(self, fn: FunctionRef | str, args: Any = None) -> Any:
        """Run a query now and return its value.

        Raises:
            CallFailed: the query threw.
            ReentrantCall: called from inside a handler (CLK-6); nothing changed.
        """
        return self._call(fn, FunctionKind.QUERY, args, "run_query").result()

    def _call(
        self, fn: FunctionRef | str, kind: FunctionKind, args: Any, call: str
    ) -> CallHandle:
        if self.runtime.handling:
            raise ReentrantCall(
                f"world.{call}() was called from inside a handler: a handler calls other "
                f"functions through its ctx (ctx.{call}), not as a client; nothing changed"
            )
        fdef = self.registry.resolve(fn, kind)
        stored = check_args({} if args is None else args)
        clock = self.clock
        clock.busy += 1

        def done(run: Run) -> None:
            clock.busy -= 1

        return CallHandle(self.runtime.launch_call(fdef, stored, done, None))

    # Trace ---------------------------------------------------------------------------------

    @property
    def trace(self) -> list[TraceEvent]:
        """The events kept in memory (``trace=True``).

        Raises:
            InvalidArgument: the world does not keep its trace in memory.
        """
        if self.memory is None:
            raise InvalidArgument("this world does not keep its trace in memory (trace=True)")
        return self.memory.events

    def trace_jsonl(self) -> str:
        """The in-memory trace as JSON Lines text."""
        if self.memory is None:
            raise InvalidArgument("this world does not keep its trace in memory (trace=True)")
        return self.memory.to_jsonl()

    def set_next_draw(self, value: float) -> None:
        """Make the next :meth:`draw` return ``value`` instead of the RNG's draw.

        This forks a run at a draw (DET-2): the RNG still advances by one draw then, so every
        later draw is the one the unforked run makes, and the ``rng`` trace event records
        ``value``. A second call before that draw replaces the first.

        Raises:
            InvalidType: ``value`` is not an int or float.
            InvalidArgument: ``value`` is not in [0, 1); nothing changed.
        """
        if type(value) not in (int, float):
            raise InvalidType(f"a draw must be a number in [0, 1), got {short(value)}")
        if not 0 <= value < 1:
            raise InvalidArgument(f"a draw must be in [0, 1), got {short(value)}")
        self._next_draw = float(value)

    def draw(self, purpose: str) -> float:
        """A uniform draw in [0, 1) from the RNG, recorded in the trace (DET-2).

        Raises:
            InvalidType, InvalidArgument: ``purpose`` is not a non-empty str; nothing changed.
        """
        if type(purpose) is not str:
            raise InvalidType(
                f"a draw's purpose must be a str, got {short(purpose)} ({type(purpose).__name__})"
            )
        if not purpose:
            raise InvalidArgument("a draw's purpose must be a non-empty str, got ''")
        rng = self._rng
        if rng is None:
            rng = self._rng = random.Random(self.seed)
        value = rng.random()
        if self._next_draw is not None:  # Set by set_next_draw: a fork at this draw.
            value, self._next_draw = self._next_draw, None
        tracer = self.tracer
        if tracer.tracing:
            tracer.emit("rng", None, None, {"purpose": purpose, "value": value})
        return value
