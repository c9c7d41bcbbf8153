""""Why is it waiting?": a short, exact answer about one work item, from the model's state.

Theory of operation. :func:`explain` reads a work item's lifecycle state through the pools'
public introspection (``info``, ``pending_ids``, ``running_ids``, ``statistics``,
``options``) and, where the world keeps its trace, the item's own events (when an attempt
failed, the recorded jitter draw, when a cancel was asked for, when a pool was paused).
Every lifecycle state has an answer (``specs/lifecycle.md``):

- ``pending`` / ``retrying``: why it has not started: not eligible yet (``run_at``, or the
  retry's backoff), the pool is paused (``max_parallelism`` 0), the pool is full (its place
  in line, and who runs), or a slot is free and it starts in this instant's start phase;
- ``running`` / ``canceling``: which attempt, since when, and its timeout deadline;
- ``succeeded`` / ``failed`` / ``canceled`` / ``timed_out``: when, with what, why a failure
  was not retried, how long its result is kept, and its ``onComplete``;
- evicted (seed) or forgotten (current): when it finished and why status no longer shows it.

What will happen next is not in the state: an action's next wake-up does not say when it
ends. A caller that can play the run on (a debugging session, which replays its inputs)
passes ``future``, a function that returns the events that follow from this point; the
answer then adds when the next slot frees and when the item is expected to start or end.
Without it the answer says only what holds now, and never guesses.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from refmodel.errors import InvalidType, UnknownWorkId, WorkEvicted
from refmodel.trace import TraceEvent
from refmodel.values import short
from refmodel.workpool.lifecycle import CANCELING, PENDING, RETRYING, RUNNING, State
from refmodel.workpool.options import RetryBehavior
from refmodel.workpool.pool import Workpool
from refmodel.workpool.status import WorkInfo


class World(Protocol):
    """What an explanation reads of a world (:class:`refmodel.World` is one): its pools and
    its trace. A protocol rather than the class, so that ``World.explain`` can delegate here
    without an import circle."""

    @property
    def pools(self) -> Mapping[str, Workpool]: ...

    @property
    def memory(self) -> Any: ...

    @property
    def trace(self) -> list[TraceEvent]: ...

    @property
    def now(self) -> int: ...

Future = Callable[[], Iterable[TraceEvent]]
"""Returns the events that will follow from the current point, in trace order (lazily)."""

SHOWN_IDS = 5
"""How many running ids an answer lists before it writes "…"."""

_ENDS_ATTEMPT = {
    "succeeded": "ends",
    "failed": "fails",
    "timed_out": "times out",
    "retrying": "fails and will retry",
}


def ms(time: float) -> str:
    """A virtual time or duration as people read it: ``4,000 ms``."""
    return f"{time:,.0f} ms"


def ordinal(n: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``21st``..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def pool_of(world: World, work_id: Any) -> Workpool:
    """The pool that issued ``work_id`` (``"<pool>/<n>"``).

    Raises:
        UnknownWorkId: ``work_id`` is not a str naming a pool of this world.
    """
    if type(work_id) is not str or "/" not in work_id:
        raise InvalidType(f"a work id is a str like pool/1, got {short(work_id)}")
    name = work_id.partition("/")[0]
    pool = world.pools.get(name)
    if pool is None:
        known = ", ".join(sorted(world.pools)) or "none"
        raise UnknownWorkId(f"{short(work_id)} names no pool of this world (pools: {known})")
    return pool


def explain(world: World, work_id: str, *, future: Future | None = None) -> str:
    """Why the work item ``work_id`` is where it is, in one line.

    Args:
        world: the world that holds it.
        work_id: an id a pool of ``world`` issued.
        future: optional; returns the events that follow from this point (see the module
            doc). With it, the answer adds when the next slot frees and when the item is
            expected to start or end.

    Returns:
        ``"<state>: <reason>"``, e.g. ``"pending: pool `scrapes` is full (5/5 running:
        scrapes/1, …), 3rd in line; the next slot frees at 1,000 ms (scrapes/1 ends);
        expected start 2,000 ms"``.

    Raises:
        UnknownWorkId: no pool of ``world`` issued ``work_id`` (or the mutation that
            enqueues it has not committed yet); nothing changed.
    """
    pool = pool_of(world, work_id)
    pool.kind_of(work_id)  # Raises for ids the pool did not issue.
    mine = own_events(world, work_id)
    try:
        info = pool.info(work_id)
    except WorkEvicted:
        return _gone(pool, mine)
    state = info.state
    if state is PENDING or state is RETRYING:
        return _waiting(world, pool, info, mine, future)
    if state is RUNNING or state is CANCELING:
        return _running(pool, info, mine, future)
    return _finished(pool, info, mine)


def own_events(world: World, work_id: str) -> list[TraceEvent] | None:
    """The events of ``work_id`` and the draws made for it, or ``None`` without a trace."""
    if world.memory is None:
        return None
    marker = f" {work_id} "
    return [
        e for e in world.trace
        if e.id == work_id or (e.kind == "rng" and marker in f" {e.data.get('purpose')} ")
    ]


def _last(events: Sequence[TraceEvent] | None, *kinds: str) -> TraceEvent | None:
    for event in reversed(events or ()):
        if event.kind in kinds:
            return event
    return None


def _ids(ids: Sequence[str]) -> str:
    shown = ", ".join(ids[:SHOWN_IDS])
    return shown + (", …" if len(ids) > SHOWN_IDS else "")


# Waiting ----------------------------------------------------------------------------------


def _waiting(
    world: World,
    pool: Workpool,
    info: WorkInfo,
    mine: list[TraceEvent] | None,
    future: Future | None,
) -> str:
    now = world.now
    stats = pool.statistics()
    line = pool.pending_ids()
    place = line.index(info.id)
    parts: list[str] = []
    head = "pending"
    if info.state is RETRYING:
        head = "retrying"
        parts.append(_retry_reason(info, mine))
    elif info.eligible_at > now:
        parts.append(f"not eligible until {ms(info.eligible_at)} (its run_at)")
    starts_now = False
    if info.eligible_at <= now:
        running = pool.running_ids()
        free = stats.max_parallelism - stats.running
        if stats.max_parallelism == 0:
            head = "paused" if info.state is PENDING else head
            parts.append(f"max_parallelism is 0 since {ms(_paused_since(world, pool))}"
                         f"{'' if place == 0 else f', {ordinal(place + 1)} in line'}")
        elif free <= 0:
            parts.append(
                f"pool `{pool.name}` is full ({stats.running}/{stats.max_parallelism} running: "
                f"{_ids(running)}), {ordinal(place + 1)} in line"
            )
        elif place < free:
            starts_now = True
            parts.append(
                f"a slot is free ({stats.running}/{stats.max_parallelism} running) and it is "
                f"{ordinal(place + 1)} in line: it starts at {ms(now)}, in this instant's start "
                "phase"
            )
        else:
            parts.append(
                f"pool `{pool.name}` has {free} free slot(s) and {place} item(s) ahead "
                f"({_ids(line[:place])}): {ordinal(place + 1)} in line"
            )
    if future is not None and not starts_now:
        parts.extend(_foresee_start(future(), pool.name, info.id, set(pool.running_ids())))
    return f"{head}: " + "; ".join(parts)


def _retry_reason(info: WorkInfo, mine: list[TraceEvent] | None) -> str:
    retrying = _last(mine, "retrying")
    if retrying is None:  # No trace kept: only the state is known.
        return f"attempt {info.attempts} failed; retry due at {ms(info.eligible_at)}"
    attempt = int(retrying.data["attempt"])
    text = (
        f"attempt {attempt} failed at {ms(retrying.time)} ({json.dumps(retrying.data['error'])})"
        f"; retry due at {ms(info.eligible_at)}"
    )
    enqueued = _last(mine, "enqueued")
    behavior = enqueued.data.get("retry") if enqueued is not None else None
    draw = _last([e for e in mine or () if e.kind == "rng"
                  and str(e.data.get("purpose", "")).endswith(f" attempt {attempt}")], "rng")
    if isinstance(behavior, Mapping) and draw is not None:
        backoff = RetryBehavior(
            max_attempts=int(behavior["maxAttempts"]),
            initial_backoff_ms=int(behavior["initialBackoffMs"]),
            base=behavior["base"],
        ).backoff_ms(attempt)
        jitter = 0.5 + float(draw.data["value"])
        text += f" (backoff {ms(backoff)} × jitter {jitter:.2f})"
    return text


def _paused_since(world: World, pool: Workpool) -> int:
    """When the pool's limit last became 0 (0 ms without a trace)."""
    if world.memory is None:
        return 0
    since: int | None = None
    for event in world.trace:
        if event.pool == pool.name and event.kind in ("pool_created", "config_updated"):
            if event.data.get("maxParallelism") != 0:
                since = None
            elif since is None:
                since = event.time
    return since or 0


def _foresee_start(
    events: Iterable[TraceEvent], pool: str, work_id: str, running: set[str]
) -> list[str]:
    """The look-ahead clauses of a waiting item: the next slot that frees, and its start."""
    frees: str | None = None
    for event in events:
        if event.pool != pool or event.id is None:
            continue
        if event.id == work_id and event.kind == "started":
            found = [] if frees is None else [frees]
            return [*found, f"expected start {ms(event.time)}"]
        if event.id == work_id and event.kind == "canceled":
            return [f"it is canceled at {ms(event.time)}, before it starts"]
        if event.kind == "started":
            running.add(event.id)
        elif frees is None and event.id in running and (
            event.kind in _ENDS_ATTEMPT or (event.kind == "canceled"
                                            and event.data.get("wasRunning"))
        ):
            verb = _ENDS_ATTEMPT.get(event.kind, "is canceled")
            frees = f"the next slot frees at {ms(event.time)} ({event.id} {verb})"
    tail = [] if frees is None else [frees]
    return [*tail, "it does not start in the rest of the run"]


# Running ----------------------------------------------------------------------------------


def _running(
    pool: Workpool, info: WorkInfo, mine: list[TraceEvent] | None, future: Future | None
) -> str:
    stats = pool.statistics()
    started = info.started_at if info.started_at is not None else info.enqueued_at
    attempt = info.attempts + 1
    parts = [
        f"attempt {attempt} since {ms(started)} in pool `{pool.name}` "
        f"({stats.running}/{stats.max_parallelism} running)"
    ]
    head = "running"
    if info.state is CANCELING:
        head = "canceling"
        asked = _last(mine, "cancel_requested")
        when = "" if asked is None else f" at {ms(asked.time)}"
        parts.append(f"cancel requested{when}: the attempt runs to its end and is not retried")
    timeout = pool.options.timeout_for(info.kind)
    if timeout is not None:
        parts.append(f"it times out at {ms(started + timeout)} unless it ends first")
    if future is not None:
        for event in future():
            if event.id == info.id and (event.kind in _ENDS_ATTEMPT or event.kind == "canceled"):
                verb = _ENDS_ATTEMPT.get(event.kind, "is canceled")
                parts.append(f"it {verb} at {ms(event.time)}")
                break
        else:
            parts.append("it does not end in the rest of the run")
    return f"{head}: " + "; ".join(parts)


# Finished ---------------------------------------------------------------------------------


def _finished(pool: Workpool, info: WorkInfo, mine: list[TraceEvent] | None) -> str:
    state = info.state
    finished = info.finished_at if info.finished_at is not None else 0
    parts = [_ending(state, finished, info.attempts, info.outcome, pool, info.kind, mine)]
    ttl = pool.options.ttl_ms
    if ttl is not None:
        kept = "forever (ttl_ms is infinite)" if ttl == math.inf else (
            f"until {ms(finished + ttl)} (ttl_ms {ms(ttl)})")
        parts.append(f"its result is kept {kept}")
    parts.extend(_on_complete(mine))
    return f"{state.value}: " + "; ".join(parts)


def _ending(
    state: State,
    at: int,
    attempts: int,
    outcome: Any,
    pool: Workpool,
    kind: str,
    mine: list[TraceEvent] | None,
) -> str:
    if state is State.SUCCEEDED:
        return f"at {ms(at)} on attempt {attempts}, returning {json.dumps(outcome)}"
    if state is State.TIMED_OUT:
        timeout = pool.options.timeout_for(kind)
        return (f"at {ms(at)}: attempt {attempts} ran {ms(timeout or 0)}, the pool's "
                f"{kind}_timeout_ms")
    if state is State.CANCELED:
        canceled = _last(mine, "canceled")
        if canceled is None:
            return f"at {ms(at)}"
        where = (f"while attempt {canceled.data.get('attempt')} ran"
                 if canceled.data.get("wasRunning") else "while it waited to start")
        return f"at {ms(at)} {where}"
    text = f"at {ms(at)} on attempt {attempts}: {json.dumps(outcome)}"
    enqueued = _last(mine, "enqueued")
    if enqueued is not None:
        behavior = enqueued.data.get("retry")
        if not isinstance(behavior, Mapping):
            text += "; not retried: it has no retry behaviour"
        elif attempts >= int(behavior["maxAttempts"]):
            text += f"; not retried: all {behavior['maxAttempts']} attempts are used"
        else:
            text += "; not retried: it threw a NonRetryableError"
    return text


def _on_complete(mine: list[TraceEvent] | None) -> list[str]:
    called = _last(mine, "on_complete")
    if called is not None:
        return [f"onComplete {called.data.get('fn')} was called at {ms(called.time)}"]
    enqueued = _last(mine, "enqueued")
    if enqueued is not None and enqueued.data.get("onComplete"):
        return [f"onComplete {enqueued.data['onComplete']} is called later in this instant"]
    return []


def _gone(pool: Workpool, mine: list[TraceEvent] | None) -> str:
    """Work the pool no longer holds: evicted (seed) or forgotten at once (current)."""
    ended = _last(mine, "succeeded", "failed", "canceled", "timed_out")
    if pool.options.ttl_ms is not None:
        evicted = _last(mine, "evicted")
        if ended is None or evicted is None:
            return "evicted: its result was dropped after the pool's ttl_ms (no trace kept)"
        return (f"evicted: it {ended.kind.replace('_', ' ')} at {ms(ended.time)} and its result "
                f"was dropped at {ms(evicted.time)}, ttl_ms later; status reads evicted")
    if ended is None:
        return ("finished: the current profile keeps no results, so status reads finished "
                "(no trace kept to say when)")
    parts = [f"it {ended.kind.replace('_', ' ')} at {ms(ended.time)} on attempt "
             f"{ended.data.get('attempt')}; the current profile keeps no results, so status "
             "reads finished"]
    parts.extend(_on_complete(mine))
    return "finished: " + "; ".join(parts)
