"""The trace checker: validate a trace that an implementation recorded on its own (DESIGN §7;
rule CHK-1).

Theory of operation. A trace is JSON Lines in the format of ``specs/trace.schema.json``. The
checker reads it once and keeps only what the rules need: per pool its options, its running
count and its waiting items in start order; per work item its lifecycle state, eligibility,
start and finish instants and terminal outcome. Each event is checked against the rules when it
is read: a start against PAR-1, ORD-1 and ORD-2, every transition against the lifecycle table of
LIF-1 (``refmodel.workpool.lifecycle.TRANSITIONS``, which also tells the cancel rules CAN-1,
CAN-2 and CAN-6 apart), an ``on_complete`` against ONC-1 and ONC-3, and so on. Rules about what
must have happened *by* some instant are deadlines: WC-1 (a free slot is used while work waits),
TMO-1 (a running attempt times out), TTL-1 (a result is evicted), ONC-1 (a declared onComplete
is called). They are settled whenever the trace's clock moves on: once an event of instant
``t1`` is read, every instant before ``t1`` is settled (all its events were recorded), so
anything still owed at such an instant is a violation. The last instant of a trace is not
assumed settled unless the caller says up to when the trace is complete
(:attr:`CheckOptions.end_ms`). Every structure is a queue in time order and each event costs
O(1) amortised time, so a trace of any length streams through in bounded work per event.

The checker is the model's rules seen from outside; it never runs the model. Real
implementations add latency, and the bounds of ``specs/workpool.md`` §8 (``start_lag_ms``,
``completion_lag_ms``, ``eviction_slack_ms``, ``timeout_slack_ms``) relax the timing of the
rules they name and nothing else. The model's own traces pass with every bound at 0.
``specs/checker.md`` lists the rules checked, the options and the exit codes of
``python -m refmodel check``.

Two facts a trace does not carry are read from optional fields of ``enqueued`` when present:
``retry`` (the item's retry behaviour ``{maxAttempts, initialBackoffMs, base}``, ``true`` for the
pool's default, ``null`` or ``false`` for none) and ``onComplete`` (the name of its onComplete
mutation, or ``null``). Without ``retry``, an action is assumed to retry as the pool's
``defaultRetryBehavior`` says (:attr:`CheckOptions.assume_pool_retry`). Without ``onComplete``
the checker cannot know that a call is owed, and checks only that calls come at most once and
only for finished work.

Reading is the costly part, so lines are read in chunks: one regular expression takes a whole
chunk apart when every line has the form the model writes (``TraceEvent.to_line``); any other
chunk is read line by line with the JSON parser. Both accept exactly the events of the schema;
a line that is not one makes the trace unreadable (:class:`TraceUnreadable`, naming the line).
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, NoReturn

import attrs

from refmodel.constants import retry_delay_bounds
from refmodel.errors import InvalidArgument
from refmodel.trace import KINDS, TRACE_VERSION
from refmodel.workpool.lifecycle import ACTIVE, TERMINAL, TRANSITIONS, Lifecycle, State
from refmodel.workpool.options import PROFILES

PENDING = State.PENDING
RUNNING = State.RUNNING
RETRYING = State.RETRYING
CANCELING = State.CANCELING
CANCELED = State.CANCELED

RULES: dict[str, str] = {
    "PAR-1": "a start never makes a pool run more than its maxParallelism",
    "ORD-1": "starts follow (eligibility time, enqueue order), up to start_lag_ms",
    "ORD-2": "no start before the item's runAt",
    "WC-1": "no free slot beside eligible waiting work for longer than start_lag_ms",
    "TMO-1": "seed: timed_out at start + timeout (+ timeout_slack_ms); nothing outlives it",
    "TTL-1": "seed: evicted at finish + ttl (+ eviction_slack_ms), never before",
    "LIF-1": "each item's events are a path of the lifecycle table of the profile",
    "CAN-1": "canceled waiting work never starts; a cancel of waiting work is not ignored",
    "CAN-2": "seed: a cancel of running work ends it at the cancel",
    "CAN-3": "cancel_ignored names the state of finished work",
    "CAN-6": "current: a canceled running attempt runs on, and is never retried",
    "RTY-2": "retry delays within [floor(0.5*b), floor(1.5*b)]; no restart before retryAt",
    "RTY-3": "work waiting to retry holds no slot",
    "RTY-4": "attempt numbers never exceed maxAttempts",
    "ONC-1": "onComplete at most once, only for finished work (exactly once when declared)",
    "ONC-3": "the onComplete result matches the terminal event",
    "CFG-3": "a pool is created once",
}
"""The rules the checker checks, with what it checks of each."""

_TARGET_OF_EVENT: dict[str, State] = {row.event: row.target for row in TRANSITIONS}
"""The state each transition event records a move into, read from the lifecycle table's rows
(each row names its event)."""

_TIMEOUT_FIELD = {
    "action": "actionTimeoutMs",
    "mutation": "mutationTimeoutMs",
    "query": "mutationTimeoutMs",
    "unknown": "unknownTimeoutMs",
}
"""The pool option that holds the timeout of each kind of work (seed profile)."""


class TraceUnreadable(InvalidArgument):
    """The trace cannot be checked: a file cannot be read, a line is not JSON or not an event
    of ``specs/trace.schema.json``, events are out of order, or there are none. The message
    names the line."""


# Values -------------------------------------------------------------------------------------


def _non_negative(instance: Any, attribute: Any, value: Any) -> None:
    if type(value) is not int:
        raise InvalidArgument(
            f"{attribute.name} must be an int number of ms, got {value!r} "
            f"({type(value).__name__})"
        )
    if value < 0:
        raise InvalidArgument(f"{attribute.name} must be >= 0, got {value}")


def _optional_non_negative(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None:
        _non_negative(instance, attribute, value)


def _profile_or_none(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and value not in PROFILES:
        raise InvalidArgument(f"profile must be one of {list(PROFILES)}, got {value!r}")


def _parallelisms(instance: Any, attribute: Any, value: Any) -> None:
    for pool, limit in value.items():
        if type(pool) is not str or type(limit) is not int or limit < 0:
            raise InvalidArgument(
                f"max_parallelism must map pool names to ints >= 0, got {pool!r}: {limit!r}"
            )


@attrs.frozen(kw_only=True)
class CheckOptions:
    """What the checker assumes beyond the trace.

    Attributes:
        profile: the semantics profile; ``None`` takes the trace's ``world_started`` (else
            ``seed``). Given, it overrides the trace.
        start_lag_ms: L of spec §8: a start may come up to L ms after the instant WC-1 gives,
            and starts may leave FIFO order only among items eligible for less than L ms.
        completion_lag_ms: C of spec §8: a terminal event may be recorded up to C ms late, so
            a running attempt may outlive its timeout by C ms; a declared onComplete is owed
            within C ms of the terminal event.
        eviction_slack_ms: V of spec §8: eviction in ``[finish + ttl, finish + ttl + V]``.
        timeout_slack_ms: T of spec §8: ``timed_out`` in ``[start + timeout, ... + T]``.
        max_parallelism: per pool name, a ``maxParallelism`` that overrides the trace's
            ``pool_created`` (later ``config_updated`` events still apply).
        end_ms: the trace holds every event up to and including this instant; ``None``: the
            last event's instant may be incomplete, so only earlier instants are settled.
        assume_pool_retry: without an ``enqueued`` ``retry`` field, take the pool's
            ``defaultRetryBehavior`` for an action (and no retries for other work), for RTY-2
            and RTY-4; ``False`` skips those checks for such items.
        max_violations: keep at most this many violations (all are counted).

    Raises:
        InvalidArgument: a value out of its bounds, named with the value.
    """

    profile: str | None = attrs.field(default=None, validator=_profile_or_none)
    start_lag_ms: int = attrs.field(default=0, validator=_non_negative)
    completion_lag_ms: int = attrs.field(default=0, validator=_non_negative)
    eviction_slack_ms: int = attrs.field(default=0, validator=_non_negative)
    timeout_slack_ms: int = attrs.field(default=0, validator=_non_negative)
    max_parallelism: Mapping[str, int] = attrs.field(factory=dict, validator=_parallelisms)
    end_ms: int | None = attrs.field(default=None, validator=_optional_non_negative)
    assume_pool_retry: bool = True
    max_violations: int = attrs.field(default=1000, validator=_non_negative)


@attrs.frozen
class EventRef:
    """One event of the trace: its line number (from 1) and its ``seq`` (always equal, since
    the schema makes ``seq`` count the events from 1, one a line)."""

    line: int
    seq: int

    def __str__(self) -> str:
        return f"line {self.line} (seq {self.seq})"


@attrs.frozen(kw_only=True)
class Violation:
    """A broken rule: its ID, what happened, and the events involved (in trace order)."""

    rule: str
    message: str
    events: tuple[EventRef, ...]

    def __str__(self) -> str:
        where = ", ".join(str(event) for event in self.events)
        return f"{self.rule}: {self.message} [{where}]"


@attrs.frozen(kw_only=True)
class CheckReport:
    """What the checker found.

    Attributes:
        events: how many events were read.
        profile: the profile the trace was checked against.
        violations: the violations, in the order found (at most ``max_violations``).
        total: how many violations were found, kept or not.
        notes: checks that could not be made, and why (never a failure).
    """

    events: int
    profile: str
    violations: tuple[Violation, ...]
    total: int
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the trace broke no rule."""
        return self.total == 0

    def rules(self) -> list[str]:
        """The IDs of the rules broken, sorted, each once."""
        return sorted({violation.rule for violation in self.violations})

    def text(self) -> str:
        """The report as text: a summary line, then a line per violation and per note."""
        head = f"{self.events} events, profile {self.profile}: "
        if self.ok:
            head += "no violations"
        else:
            head += f"{self.total} violation{'s' if self.total != 1 else ''}"
            if self.total > len(self.violations):
                head += f" (the first {len(self.violations)} shown)"
        lines = [head, *(str(violation) for violation in self.violations)]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


# What the checker keeps -------------------------------------------------------------------------


class _Retry:
    """A retry behaviour: at most ``max_attempts`` attempts; retry k waits about
    ``initial_ms * base**(k-1)``."""

    __slots__ = ("base", "initial_ms", "max_attempts")

    def __init__(self, max_attempts: int, initial_ms: int, base: float) -> None:
        self.max_attempts = max_attempts
        self.initial_ms = initial_ms
        self.base = base


_NO_RETRY = _Retry(1, 0, 1)
"""The behaviour of work that is never retried."""


class _Unknown:
    """The type of :data:`_UNKNOWN`."""

    def __repr__(self) -> str:
        return "unknown"


_UNKNOWN = _Unknown()
"""A fact the trace does not tell."""


class _Item:
    """What the checker keeps of one work item.

    ``order`` is its enqueue order ``q`` in its current wait (a retry waits again, with a new
    order), or 0 when it is not waiting; ``eligible`` is when that wait may end (a ``runAt``
    in the past is clamped to the enqueue instant, as ENQ-4 says). ``outcome`` is
    ``(result kind, value)`` of its terminal event, as an onComplete must report it. The
    ``*_seq`` fields name the events that a violation points at. ``retry`` is the behaviour
    it retries by, ``None`` if not known.

    The class attributes are defaults, so that an enqueue sets only what differs.
    """

    state: State = PENDING
    attempts = 0
    order = 0
    eligible = 0
    start_seq = 0
    started_at = 0
    finished_at = 0
    finished_seq = 0
    cancel_at = -1
    outcome: tuple[str, Any] | None = None
    on_complete: str | _Unknown | None = _UNKNOWN
    on_complete_seq = 0  # The seq of its on_complete event, once called.
    stopped_by_cancel = False

    def __init__(
        self, work_id: str, pool: _Pool, kind: str, seq: int, retry: _Retry | None
    ) -> None:
        self.id = work_id
        self.pool = pool
        self.kind = kind
        self.enqueued_seq = seq
        self.wait_seq = seq
        self.last_seq = seq
        self.retry = retry


class _MinQueue:
    """Entries ``(key, tiebreak, item)`` by least key, for keys that come almost in order.

    Entries pushed in key order go to a deque, the others to a heap; the least entry is the
    lesser of the two heads. ``tiebreak`` (a trace ``seq`` or an enqueue order) is unique and
    grows, so entries never compare items, and an entry whose key is not below the deque's
    tail keeps the deque sorted. Stale entries are the caller's to pop.
    """

    __slots__ = ("heap", "run")

    def __init__(self) -> None:
        self.run: deque[tuple[int, int, _Item]] = deque()
        self.heap: list[tuple[int, int, _Item]] = []

    def push(self, key: int, tiebreak: int, item: _Item) -> None:
        run = self.run
        if not run or key >= run[-1][0]:
            run.append((key, tiebreak, item))
        else:
            heapq.heappush(self.heap, (key, tiebreak, item))

    def head(self) -> tuple[int, int, _Item] | None:
        run = self.run
        heap = self.heap
        if heap and (not run or heap[0] < run[0]):
            return heap[0]
        return run[0] if run else None

    def pop(self) -> None:
        run = self.run
        heap = self.heap
        if heap and (not run or heap[0] < run[0]):
            heapq.heappop(heap)
        else:
            run.popleft()


class _Pool:
    """What the checker keeps of one pool.

    ``limit`` is its ``maxParallelism`` (``None``: not known, so PAR-1 and WC-1 are not
    checked), ``running`` the items holding a slot, ``free_since`` the instant since which a
    slot has been free (when one is). ``waiting`` holds the waiting items by ``(eligible,
    order)``. ``timeouts_due`` and ``evictions`` hold deadlines by instant.
    """

    def __init__(self, name: str, limit: int | None) -> None:
        self.name = name
        self.limit = limit
        self.config_seq = 0
        self.timeouts: dict[str, int] = {}
        self.ttl: int | _Unknown | None = _UNKNOWN  # None: results are kept forever.
        self.default_retry: _Retry | None = None
        self.running = 0
        self.retrying = 0
        self.free_since = 0
        self.free_seq = 0
        self.next_order = 0
        self.waiting = _MinQueue()
        self.waiting_count = 0
        self.unused_reported: tuple[int, int] | None = None
        self.timeouts_due: dict[str, _MinQueue] = {}
        self.evictions = _MinQueue()

    def first_waiting(self) -> _Item | None:
        """The waiting item with the least key; stale entries on the way are dropped (an
        entry is stale once its item's ``order`` is no longer the entry's)."""
        run = self.waiting.run
        heap = self.waiting.heap
        while heap or run:
            if heap and (not run or heap[0] < run[0]):
                if heap[0][2].order == heap[0][1]:
                    return heap[0][2]
                heapq.heappop(heap)
            else:
                if run[0][2].order == run[0][1]:
                    return run[0][2]
                run.popleft()
        return None


# The checker ------------------------------------------------------------------------------------

Handler = Callable[..., None]
"""A handler of one kind of event: ``(t, seq, pool, id, data)``."""


class Checker:
    """A one-pass checker: :meth:`feed` it lines (in as many calls as you like), then
    :meth:`finish`. :func:`check` does both."""

    def __init__(self, options: CheckOptions | None = None) -> None:
        self.options = options or CheckOptions()
        self.profile = self.options.profile or "seed"
        self._seed = self.profile == "seed"
        self._table = _table(self.profile)
        self._items: dict[str, _Item] = {}
        self._gone: dict[str, int] = {}  # Forgotten ids -> the seq of their on_complete, or 0.
        self._pools: dict[str, _Pool] = {}
        self._owed_on_complete: deque[tuple[int, int, _Item]] = deque()
        self._violations: list[Violation] = []
        self._total = 0
        self._notes: list[str] = []
        self._now = -1
        self._line = 0
        self._running_slack = max(self.options.timeout_slack_ms, self.options.completion_lag_ms)
        self._next_due: float = math.inf  # No deadline falls before this (see _advance).
        self._handlers: dict[str, Handler] = {
            "world_started": self._world_started,
            "pool_created": self._pool_created,
            "config_updated": self._config_updated,
            "enqueued": self._enqueued,
            "started": self._started,
            "succeeded": self._succeeded,
            "failed": self._failed,
            "retrying": self._retrying,
            "canceled": self._canceled,
            "cancel_requested": self._cancel_requested,
            "timed_out": self._timed_out,
            "evicted": self._evicted,
            "cancel_ignored": self._cancel_ignored,
            "on_complete": self._on_complete,
        }

    # Reading ------------------------------------------------------------------------------

    def feed(self, lines: Iterable[str]) -> None:
        """Read and check lines of a trace, from where the last call stopped.

        Raises:
            TraceUnreadable: a line is not JSON, not an event of the schema, or out of
                order; the events before it were checked.
        """
        source = iter(lines)
        while True:
            chunk = list(itertools.islice(source, CHUNK_LINES))
            if not chunk:
                return
            if not self._feed_fast(chunk):
                for line in chunk:
                    self._take(*_parse_line(self._line + 1, line))

    def _feed_fast(self, chunk: list[str]) -> bool:
        """Check a chunk whose every line has the form the model writes; else return False
        having read nothing.

        ``_FAST`` matches one line of that form, anchored at both ends, so a chunk of n lines
        (n newlines) with n matches has one match a line. It accepts a subset of JSON (no
        escapes, no empty strings, integers as digits) and takes the ``data`` of ``started``,
        ``enqueued`` and ``succeeded`` apart; any other ``data`` is parsed as JSON and
        checked like the full parser's. This loop is :meth:`_take` inlined, for speed.
        """
        text = "".join(chunk) if chunk[0].endswith("\n") else "\n".join(chunk)
        if not text.endswith("\n"):
            text += "\n"
        if text.count("\n") != len(chunk):
            return False
        rows = _FAST.findall(text)
        if len(rows) != len(chunk):
            return False
        first = self._line + 1
        number = first - 1
        now = self._now
        handlers = self._handlers
        for t_text, seq, kind, pool, work_id, attempt, lag, fn, of_kind, run_at, done, result, \
                other in rows:
            number += 1
            if attempt and kind == "started" and attempt != "0":
                data: dict[str, Any] = {"attempt": int(attempt), "lagMs": int(lag)}
            elif fn and kind == "enqueued":
                data = {"fn": fn, "kind": of_kind, "runAt": int(run_at)}
            elif done and kind == "succeeded":
                data = {"attempt": int(done), "result": _literal(result)}
            elif other == "{}" and kind in _EMPTY_DATA_KINDS:
                data = {}
            else:
                data = _other_data(number, chunk[number - first], kind, other)
            if int(seq) != number:
                _bad_seq(number, int(seq))
            t = int(t_text)
            if t != now:
                if t < now:
                    raise _unreadable(number, f"t goes back from {now} to {t} ms")
                if now >= 0:
                    self._advance(now, t)
                now = self._now = t
            handler = handlers.get(kind)
            if handler is not None:
                if not (pool and work_id) and kind in _WORK_KINDS:
                    _check_names(number, kind, pool or None, work_id or None)
                handler(t, number, pool or None, work_id or None, data)
        self._line = number
        return True

    def _take(
        self,
        number: int,
        t: int,
        seq: int,
        kind: str,
        pool: str | None,
        work_id: str | None,
        data: dict[str, Any],
    ) -> None:
        """Check one parsed and validated event: its place in the trace, then the rules."""
        if seq != number:
            _bad_seq(number, seq)
        now = self._now
        if t != now:
            if t < now:
                raise _unreadable(number, f"t goes back from {now} to {t} ms")
            if now >= 0:
                self._advance(now, t)
            self._now = t
        self._line = number
        handler = self._handlers.get(kind)
        if handler is not None:
            handler(t, seq, pool, work_id, data)

    def finish(self) -> CheckReport:
        """Settle the deadlines up to ``options.end_ms`` and return the report.

        Raises:
            TraceUnreadable: there was no event, or ``end_ms`` is before the last one.
        """
        if self._line == 0:
            raise TraceUnreadable("the trace is empty: no events")
        end = self.options.end_ms
        if end is not None:
            if end < self._now:
                raise TraceUnreadable(
                    f"end_ms is {end} ms, but the trace has events up to {self._now} ms"
                )
            self._advance(self._now, end + 1)
        return CheckReport(
            events=self._line,
            profile=self.profile,
            violations=tuple(self._violations),
            total=self._total,
            notes=tuple(self._notes),
        )

    # Reporting ----------------------------------------------------------------------------

    def _violation(self, rule: str, message: str, *seqs: int) -> None:
        self._total += 1
        if len(self._violations) < self.options.max_violations:
            refs = tuple(EventRef(seq, seq) for seq in sorted(set(seqs)) if seq > 0)
            self._violations.append(Violation(rule=rule, message=message, events=refs))

    def _note(self, note: str) -> None:
        if note not in self._notes:
            self._notes.append(note)

    # World and pools ----------------------------------------------------------------------

    def _world_started(
        self, t: int, seq: int, pool: str | None, work_id: str | None, data: dict[str, Any]
    ) -> None:
        if seq != 1:
            raise _unreadable(seq, "world_started must be the first event (one world a trace)")
        version = data.get("traceVersion")
        if version != TRACE_VERSION:
            raise _unreadable(
                seq, f"traceVersion is {version!r}; this checker reads version {TRACE_VERSION}"
            )
        profile = data.get("profile")
        if self.options.profile is None and profile in PROFILES:
            self.profile = str(profile)
            self._seed = self.profile == "seed"
            self._table = _table(self.profile)

    def _pool(self, name: str) -> _Pool:
        """The pool named ``name``, made on first mention if no ``pool_created`` made it."""
        pool = self._pools.get(name)
        if pool is None:
            pool = self._pools[name] = _Pool(name, self.options.max_parallelism.get(name))
            if pool.limit is None:
                self._note(f"pool {name!r} has no pool_created event and no max_parallelism "
                           "option: PAR-1 and WC-1 are not checked for it")
        return pool

    def _pool_created(
        self, t: int, seq: int, name: str | None, work_id: str | None, data: dict[str, Any]
    ) -> None:
        if name is None:
            self._note(f"line {seq}: a pool_created event names no pool; it is ignored")
            return
        pool = self._pools.get(name)
        if pool is not None and pool.config_seq:
            self._violation("CFG-3", f"pool {name!r} is created twice", pool.config_seq, seq)
            return
        if pool is None:  # (Else events named it before it was created; they stand.)
            pool = self._pools[name] = _Pool(name, None)
        pool.config_seq = seq
        self._configure(pool, t, seq, data)
        override = self.options.max_parallelism.get(name)
        if override is not None:
            pool.limit = override
        for kind, field in _TIMEOUT_FIELD.items():
            value = data.get(field)
            if type(value) is int and value >= 1:
                pool.timeouts[kind] = value
        if "ttl" in data:
            ttl = data["ttl"]
            pool.ttl = ttl if ttl is None or (type(ttl) is int and ttl >= 1) else _UNKNOWN
        pool.default_retry = _retry_of(data.get("defaultRetryBehavior"))

    def _configure(self, pool: _Pool, t: int, seq: int, data: dict[str, Any]) -> None:
        limit = data.get("maxParallelism")
        if type(limit) is not int or limit < 0:
            return
        was_free = pool.limit is not None and pool.running < pool.limit
        pool.limit = limit
        if not was_free and pool.running < limit:
            pool.free_since = t
            pool.free_seq = seq

    def _config_updated(
        self, t: int, seq: int, name: str | None, work_id: str | None, data: dict[str, Any]
    ) -> None:
        if name is None:
            self._note(f"line {seq}: a config_updated event names no pool; it is ignored")
            return
        pool = self._pool(name)
        pool.config_seq = seq
        self._configure(pool, t, seq, data)

    # The lifecycle ------------------------------------------------------------------------

    def _item(self, kind: str, seq: int, name: str | None, work_id: str | None) -> _Item | None:
        """The item an event is about; ``None`` (reported) if there is none to follow."""
        item = self._items.get(work_id) if work_id is not None else None
        if item is None:
            if work_id is not None and work_id in self._gone:
                self._violation(
                    "LIF-1", f"{work_id}: {kind} after it was evicted (or, in the current "
                    "profile, finished and called its onComplete)", seq
                )
            else:
                self._violation("LIF-1", f"{work_id}: {kind} of an item never enqueued", seq)
            return None
        if name != item.pool.name:
            self._violation(
                "LIF-1", f"{work_id}: {kind} names pool {name!r}, but it was enqueued in "
                f"{item.pool.name!r}", item.enqueued_seq, seq
            )
        return item

    def _move(self, item: _Item, kind: str, t: int, seq: int) -> State:
        """Follow ``item`` into the state that a ``kind`` event records, checking that the
        lifecycle table has that transition (LIF-1), and keep its pool's counts. Returns the
        state it left."""
        source = item.state
        target = self._table[source].get(kind)
        if target is None:
            target = self._illegal(item, kind, seq)
        item.state = target
        item.last_seq = seq
        pool = item.pool
        if source is RUNNING or source is CANCELING:
            if target is not RUNNING and target is not CANCELING:
                pool.running -= 1
                if pool.running + 1 == pool.limit:  # The pool was full; a slot is free now.
                    pool.free_since = t
                    pool.free_seq = seq
        elif target is RUNNING or target is CANCELING:
            pool.running += 1
        if (source is PENDING or source is RETRYING) and target is not source:
            if item.order:
                pool.waiting_count -= 1
                item.order = 0
            if source is RETRYING:
                pool.retrying -= 1
        return source

    def _illegal(self, item: _Item, kind: str, seq: int) -> State:
        """Report a transition the table does not have, under the most specific rule it
        breaks; return the state the event says the item is in now."""
        source = item.state
        target = _TARGET_OF_EVENT[kind]
        where = (item.last_seq, seq)
        if source is CANCELED and kind == "started" and not item.stopped_by_cancel:
            self._violation("CAN-1", f"{item.id} starts after it was canceled while waiting",
                            *where)
        elif self._seed and kind == "cancel_requested":
            self._violation(
                "CAN-2", f"{item.id}: cancel_requested in the seed profile, where a cancel of "
                "running work ends it at once (canceled, wasRunning true)", *where
            )
            return source
        elif self._seed and source is CANCELED and item.stopped_by_cancel:
            self._violation(
                "CAN-2", f"{item.id}: {kind} after its running attempt was canceled: the "
                "attempt ran on", *where
            )
        elif not self._seed and source is RUNNING and kind == "canceled":
            self._violation(
                "CAN-6", f"{item.id}: running work is canceled at once, but in the current "
                "profile a cancel lets the running attempt finish (cancel_requested)", *where
            )
        elif not self._seed and source is CANCELING and kind in ("retrying", "started"):
            self._violation(
                "CAN-6", f"{item.id}: {kind} after cancel_requested: canceled work is never "
                "retried", *where
            )
        else:
            self._violation(
                "LIF-1", f"{item.id}: {kind} in state {source.value} is not a transition of "
                f"the {self.profile} lifecycle", *where
            )
        return target

    def _end_attempt(self, item: _Item, kind: str, seq: int, data: dict[str, Any]) -> None:
        """Count the attempt that ended; check the attempt number its event gives."""
        item.attempts += 1
        attempt = data.get("attempt", item.attempts)
        if attempt != item.attempts:
            self._violation(
                "LIF-1", f"{item.id}: {kind} of attempt {attempt}, but attempt {item.attempts} "
                "was running", item.start_seq, seq
            )

    def _finished(self, item: _Item, t: int, seq: int, outcome: tuple[str, Any]) -> None:
        """The item became terminal at ``t``: its eviction and onComplete are owed."""
        item.finished_at = t
        item.finished_seq = seq
        item.outcome = outcome
        if self._seed:
            ttl = item.pool.ttl
            if type(ttl) is int:
                deadline = t + ttl + self.options.eviction_slack_ms
                item.pool.evictions.push(deadline, seq, item)
                if deadline < self._next_due:
                    self._next_due = deadline
        if type(item.on_complete) is str and not item.on_complete_seq:
            deadline = t + self.options.completion_lag_ms
            self._owed_on_complete.append((deadline, seq, item))
            if deadline < self._next_due:
                self._next_due = deadline

    def _wait(self, item: _Item, pool: _Pool, eligible: int) -> None:
        """``item`` waits to start from ``eligible`` on; it takes the next enqueue order."""
        if item.order:  # It was waiting already (a retrying event off the table).
            pool.waiting_count -= 1
        pool.next_order += 1
        item.order = order = pool.next_order
        item.eligible = eligible
        pool.waiting_count += 1
        pool.waiting.push(eligible, order, item)

    # Work events --------------------------------------------------------------------------

    def _enqueued(
        self, t: int, seq: int, name: str, work_id: str, data: dict[str, Any]
    ) -> None:
        if work_id in self._items or work_id in self._gone:
            first = self._items[work_id].enqueued_seq if work_id in self._items else 0
            self._violation("LIF-1", f"{work_id} is enqueued twice", first, seq)
            return
        pool = self._pools.get(name) or self._pool(name)
        kind = data["kind"]
        if "retry" in data:
            retry = _declared_retry(data["retry"], pool)
        elif not self.options.assume_pool_retry:
            retry = None
        elif kind == "action":
            retry = pool.default_retry
        else:
            retry = _NO_RETRY
        item = self._items[work_id] = _Item(work_id, pool, kind, seq, retry)
        run_at = data["runAt"]
        self._wait(item, pool, run_at if run_at > t else t)
        if "onComplete" in data:
            callback = data["onComplete"]
            item.on_complete = callback if type(callback) is str else None

    def _started(
        self, t: int, seq: int, name: str, work_id: str, data: dict[str, Any]
    ) -> None:
        item = self._items.get(work_id)
        if item is None or item.pool.name != name:
            item = self._item("started", seq, name, work_id)
            if item is None:
                return
        pool = item.pool
        if item.order:  # It waits, with a known eligibility: check when and in what order.
            if t < item.eligible:
                rule, what = ("RTY-2", "retryAt") if item.state is RETRYING else ("ORD-2", "runAt")
                self._violation(rule, f"{work_id} starts at {t} ms, before its {what} "
                                      f"{item.eligible} ms", item.wait_seq, seq)
            first = pool.first_waiting()
            if (
                first is not item
                and first is not None
                and first.eligible <= t - self.options.start_lag_ms
            ):
                self._violation(
                    "ORD-1", f"{work_id} (eligible at {item.eligible} ms) starts at {t} ms "
                    f"before {first.id}, which was eligible at {first.eligible} ms and comes "
                    "first in (eligibility time, enqueue order)", first.wait_seq, item.wait_seq,
                    seq
                )
        limit = pool.limit
        if limit is not None and pool.running >= limit and item.state not in ACTIVE:
            self._violation(
                "PAR-1", f"{work_id} starts while {pool.running} items run in pool "
                f"{pool.name!r} (maxParallelism {limit})", pool.config_seq, seq
            )
        self._move(item, "started", t, seq)
        pool.unused_reported = None
        attempt = data["attempt"]
        if attempt != item.attempts + 1:
            self._violation("LIF-1", f"{work_id} starts attempt {attempt}, but "
                                     f"{item.attempts} attempts ended before", seq)
        retry = item.retry
        if retry is not None and attempt > retry.max_attempts:
            self._violation("RTY-4", f"{work_id} starts attempt {attempt} of at most "
                                     f"{retry.max_attempts}", item.enqueued_seq, seq)
        item.started_at = t
        item.start_seq = seq
        if self._seed:
            timeout = pool.timeouts.get(item.kind)
            if timeout is not None:
                due = pool.timeouts_due.get(item.kind)
                if due is None:
                    due = pool.timeouts_due[item.kind] = _MinQueue()
                deadline = t + timeout + self._running_slack
                due.push(deadline, seq, item)
                if deadline < self._next_due:
                    self._next_due = deadline

    def _succeeded(
        self, t: int, seq: int, name: str, work_id: str, data: dict[str, Any]
    ) -> None:
        self._ended("succeeded", t, seq, name, work_id, data, ("success", data["result"]))

    def _failed(
        self, t: int, seq: int, name: str, work_id: str, data: dict[str, Any]
    ) -> None:
        self._ended("failed", t, seq, name, work_id, data, ("failed", data["error"]))

    def _ended(
        self,
        kind: str,
        t: int,
        seq: int,
        name: str,
        work_id: str,
        data: dict[str, Any],
        outcome: tuple[str, Any],
    ) -> None:
        item = self._items.get(work_id)
        if item is None or item.pool.name != name:
            item = self._item(kind, seq, name, work_id)
            if item is None:
                return
        source = self._move(item, kind, t, seq)
        if source is RUNNING or source is CANCELING:
            self._end_attempt(item, kind, seq, data)
        self._finished(item, t, seq, outcome)

    def _retrying(
        self, t: int, seq: int, name: str, work_id: str, data: dict[str, Any]
    ) -> None:
        item = self._item("retrying", seq, name, work_id)
        if item is None:
            return
        pool = item.pool
        source = self._move(item, "retrying", t, seq)
        if source is RUNNING or source is CANCELING:
            self._end_attempt(item, "retrying", seq, data)
        if source is not RETRYING:
            pool.retrying += 1
        item.wait_seq = seq
        retry = item.retry
        if retry is None:
            self._note(f"{work_id} and maybe others retry by a behaviour the trace does not "
                       "give: RTY-2 delays and RTY-4 are not checked for them")
        elif item.attempts >= retry.max_attempts:
            self._violation("RTY-4", f"{work_id} is retried after attempt {item.attempts}, but "
                                     f"it may make at most {retry.max_attempts}",
                            item.enqueued_seq, seq)
        delay = data.get("delayMs")
        retry_at = data.get("retryAt")
        if type(delay) is int and type(retry_at) is int and retry_at != t + delay:
            self._violation("RTY-2", f"{work_id}: retryAt {retry_at} ms is not the retrying "
                                     f"instant {t} ms + delayMs {delay}", seq)
        if type(delay) is int and retry is not None and retry.max_attempts > item.attempts:
            bounds = _jitter_bounds(retry, item.attempts)
            if bounds is not None and not bounds[0] <= delay <= bounds[1]:
                self._violation(
                    "RTY-2", f"{work_id}: retry {item.attempts} waits {delay} ms, outside "
                    f"[{bounds[0]}, {bounds[1]}] (backoff {retry.initial_ms} ms x "
                    f"{retry.base!r}^{item.attempts - 1}, jitter 0.5 to 1.5)",
                    item.enqueued_seq, seq
                )
        if type(retry_at) is int:
            eligible: int | None = retry_at
        elif type(delay) is int:
            eligible = t + delay
        else:
            eligible = None
            self._note("a retrying event has neither retryAt nor delayMs: restarts after it "
                       "are not checked against ORD-1, RTY-2 and WC-1")
        if eligible is not None:
            self._wait(item, pool, eligible if eligible > t else t)

    def _canceled(
        self, t: int, seq: int, name: str, work_id: str, data: dict[str, Any]
    ) -> None:
        item = self._item("canceled", seq, name, work_id)
        if item is None:
            return
        source = item.state
        if source is CANCELING and item.cancel_at == t and "error" not in data:
            self._violation(
                "CAN-6", f"{work_id} is canceled at the instant of its cancel_requested, with no "
                "failed attempt: the running attempt was stopped", item.last_seq, seq
            )
        was_running = data["wasRunning"]
        self._move(item, "canceled", t, seq)
        if source is RUNNING or source is CANCELING:
            self._end_attempt(item, "canceled", seq, data)
            item.stopped_by_cancel = source is RUNNING
            if not was_running:
                self._violation("LIF-1", f"{work_id} is canceled with wasRunning false, but it "
                                         "was running", item.start_seq, seq)
        elif (source is PENDING or source is RETRYING) and was_running:
            self._violation("LIF-1", f"{work_id} is canceled with wasRunning true, but it was "
                                     f"{source.value}", seq)
        self._finished(item, t, seq, ("canceled", None))

    def _cancel_requested(
        self, t: int, seq: int, name: str, work_id: str, data: dict[str, Any]
    ) -> None:
        item = self._item("cancel_requested", seq, name, work_id)
        if item is not None:
            self._move(item, "cancel_requested", t, seq)
            item.cancel_at = t

    def _timed_out(
        self, t: int, seq: int, name: str, work_id: str, data: dict[str, Any]
    ) -> None:
        item = self._item("timed_out", seq, name, work_id)
        if item is None:
            return
        source = self._move(item, "timed_out", t, seq)
        if source is not RUNNING and source is not CANCELING:
            return
        self._end_attempt(item, "timed_out", seq, data)
        self._finished(item, t, seq, ("failed", "Timeout"))
        timeout = item.pool.timeouts.get(item.kind)
        if timeout is None:
            return
        due = item.started_at + timeout
        if data["timeoutMs"] != timeout:
            self._violation(
                "TMO-1", f"{work_id} times out with timeoutMs {data['timeoutMs']}, but the "
                f"pool's timeout for {item.kind} work is {timeout}", item.pool.config_seq, seq
            )
        if t < due:
            self._violation("TMO-1", f"{work_id} times out at {t} ms, before started + timeout "
                                     f"= {due} ms", item.start_seq, seq)
        elif due + self.options.timeout_slack_ms < t <= due + self._running_slack:
            self._violation(
                "TMO-1", f"{work_id} times out at {t} ms, after started + timeout = {due} ms "
                f"(+ {self.options.timeout_slack_ms} ms slack)", item.start_seq, seq
            )

    def _evicted(
        self, t: int, seq: int, name: str, work_id: str, data: dict[str, Any]
    ) -> None:
        item = self._items.get(work_id)
        if item is None or item.pool.name != name:
            item = self._item("evicted", seq, name, work_id)
            if item is None:
                return
        source = self._move(item, "evicted", t, seq)
        del self._items[work_id]
        self._gone[work_id] = item.on_complete_seq
        if source not in TERMINAL:
            return
        ttl = item.pool.ttl
        if ttl is None:
            self._violation("TTL-1", f"{work_id} is evicted, but pool {name!r} keeps results "
                                     "forever (ttl null)", item.pool.config_seq, seq)
        elif type(ttl) is int and t < item.finished_at + ttl:
            self._violation("TTL-1", f"{work_id} is evicted at {t} ms, before finished + ttl = "
                                     f"{item.finished_at + ttl} ms", item.finished_seq, seq)

    def _cancel_ignored(
        self, t: int, seq: int, name: str, work_id: str, data: dict[str, Any]
    ) -> None:
        said = data.get("state")
        if work_id in self._gone:
            expected = "evicted" if self._seed else "finished"
            if said is not None and said != expected:
                self._violation("CAN-3", f"cancel_ignored of {work_id}, which is {expected}, says "
                                         f"state {said!r}", seq)
            return
        item = self._item("cancel_ignored", seq, name, work_id)
        if item is None:
            return
        state = item.state
        if state is PENDING or state is RETRYING:
            self._violation("CAN-1", f"a cancel of {state.value} {work_id} was ignored: waiting "
                                     "work is canceled at once", item.last_seq, seq)
        elif state is RUNNING and self._seed:
            self._violation("CAN-2", f"a cancel of running {work_id} was ignored: in the seed "
                                     "profile it ends the attempt at once", item.last_seq, seq)
        elif state is RUNNING:
            self._violation("CAN-6", f"a cancel of running {work_id} was ignored: it must be "
                                     "recorded (cancel_requested) so that no retry follows",
                            item.last_seq, seq)
        else:
            expected = state.value if self._seed or state not in TERMINAL else "finished"
            if said is not None and said != expected:
                self._violation("CAN-3", f"cancel_ignored of {work_id}, which is {expected}, "
                                         f"says state {said!r}", item.last_seq, seq)

    def _on_complete(
        self, t: int, seq: int, name: str | None, work_id: str | None, data: dict[str, Any]
    ) -> None:
        if work_id is not None and work_id in self._gone:
            if self._gone[work_id]:
                self._violation("ONC-1", f"onComplete of {work_id} is called twice",
                                self._gone[work_id], seq)
            else:
                self._gone[work_id] = seq
            return
        item = self._item("on_complete", seq, name, work_id)
        if item is None:
            return
        if item.on_complete_seq:
            self._violation("ONC-1", f"onComplete of {item.id} is called twice",
                            item.on_complete_seq, seq)
            return
        item.on_complete_seq = seq
        if item.state not in TERMINAL:
            self._violation("ONC-1", f"onComplete of {item.id} is called while it is "
                                     f"{item.state.value}, before its terminal event",
                            item.last_seq, seq)
            return
        declared = item.on_complete
        if declared is None:
            self._violation("ONC-1", f"onComplete of {item.id} is called, but it was enqueued "
                                     "without one", item.enqueued_seq, seq)
        elif type(declared) is str and data.get("fn") != declared:
            self._violation("ONC-1", f"onComplete of {item.id} calls {data.get('fn')!r}, but "
                                     f"it was enqueued with {declared!r}", item.enqueued_seq, seq)
        problem = _result_mismatch(item.outcome, data.get("result"))
        if problem is not None:
            self._violation("ONC-3", f"onComplete of {item.id} {problem}", item.finished_seq, seq)
        if not self._seed:  # Nothing more may happen to it: keep only its id.
            del self._items[item.id]
            self._gone[item.id] = seq

    # Deadlines ----------------------------------------------------------------------------

    def _advance(self, t0: int, t1: int) -> None:
        """The instants ``t0`` to ``t1 - 1`` are settled: report what was owed by then."""
        for pool in self._pools.values():
            limit = pool.limit
            if pool.waiting_count and limit is not None and pool.running < limit:
                self._unused_slot(pool, t0, t1)
        if t1 > self._next_due:
            self._settle(t1)

    def _unused_slot(self, pool: _Pool, t0: int, t1: int) -> None:
        """WC-1 (and RTY-3): a free slot beside eligible waiting work past the start lag."""
        first = pool.first_waiting()
        if first is None:
            return
        lag = self.options.start_lag_ms
        since = max(first.eligible, pool.free_since)
        at = max(t0, since + lag)
        if at >= t1 or pool.unused_reported == (first.order, since):
            return
        pool.unused_reported = (first.order, since)
        free = (pool.limit or 0) - pool.running
        if pool.retrying > 0 and free <= pool.retrying:
            self._violation(
                "RTY-3", f"pool {pool.name!r} has {free} free slot(s) at {at} ms while "
                f"{first.id} waits (eligible since {first.eligible} ms) and {pool.retrying} "
                "item(s) wait to retry: a retrying item must not hold a slot",
                pool.free_seq, first.wait_seq
            )
        else:
            self._violation(
                "WC-1", f"pool {pool.name!r} has {free} free slot(s) since {pool.free_since} ms "
                f"while {first.id} waits (eligible since {first.eligible} ms); still at {at} ms "
                f"(start lag allowed: {lag} ms)", pool.free_seq, first.wait_seq
            )

    def _settle(self, t1: int) -> None:
        """Report each deadline before ``t1`` that was missed; note the next one."""
        next_due = math.inf
        for pool in self._pools.values():
            for kind, timeouts in pool.timeouts_due.items():
                next_due = min(next_due, self._timeouts(pool, kind, timeouts, t1))
            next_due = min(next_due, self._evictions(pool, t1))
        owed = self._owed_on_complete
        while owed and owed[0][0] < t1:
            deadline, seq, item = owed.popleft()
            if not item.on_complete_seq:
                self._violation(
                    "ONC-1", f"{item.id} finished at {item.finished_at} ms with onComplete "
                    f"{item.on_complete!r}, which is not called by {deadline} ms",
                    item.enqueued_seq, seq
                )
        if owed:
            next_due = min(next_due, owed[0][0])
        self._next_due = next_due

    def _timeouts(self, pool: _Pool, kind: str, due: _MinQueue, t1: int) -> float:
        """Report the attempts still running after their timeout; return the next one."""
        while True:
            head = due.head()
            if head is None:
                return math.inf
            deadline, seq, item = head
            if item.start_seq != seq or item.state not in ACTIVE:
                due.pop()  # That attempt ended.
                continue
            if deadline >= t1:
                return deadline
            due.pop()
            self._violation(
                "TMO-1", f"{item.id} started at {item.started_at} ms is still running at "
                f"{deadline} ms, past started + timeout ({pool.timeouts[kind]} ms) + "
                f"{self._running_slack} ms slack", seq
            )

    def _evictions(self, pool: _Pool, t1: int) -> float:
        """Report the results still held after their ttl; return the next deadline."""
        due = pool.evictions
        while True:
            head = due.head()
            if head is None:
                return math.inf
            deadline, seq, item = head
            if item.state not in TERMINAL:
                due.pop()  # Evicted (or gone on, which was reported).
                continue
            if deadline >= t1:
                return deadline
            due.pop()
            self._violation(
                "TTL-1", f"{item.id} finished at {item.finished_at} ms is not evicted by "
                f"{deadline} ms (ttl {pool.ttl} ms + {self.options.eviction_slack_ms} ms "
                "slack)", seq
            )


def check(lines: Iterable[str], *, options: CheckOptions | None = None) -> CheckReport:
    """Check a trace given as its lines (JSON Lines; each line may end in a newline).

    Returns:
        The report; ``report.ok`` says whether the trace broke no rule.

    Raises:
        TraceUnreadable: a line is not JSON or not an event of ``specs/trace.schema.json``,
            events are out of order, or there is none.
    """
    checker = Checker(options)
    checker.feed(lines)
    return checker.finish()


def check_file(path: str, options: CheckOptions | None = None) -> CheckReport:
    """Check the trace in the file at ``path``.

    Raises:
        TraceUnreadable: the file cannot be read, or the trace is unreadable; the message
            starts with the path.
    """
    try:
        return check(_lines_of(path), options=options)
    except TraceUnreadable as error:
        raise TraceUnreadable(f"{path}: {error}") from None


def _lines_of(path: str) -> Iterator[str]:
    """The lines of a UTF-8 text file, read as they are needed."""
    try:
        stream = open(path, "rb")  # noqa: SIM115 - closed below; read lazily
    except OSError as error:
        raise TraceUnreadable(f"cannot read the file: {error.strerror or error}") from None
    with stream:
        number = 0
        try:
            for raw in stream:
                number += 1
                yield raw.decode("utf-8")
        except UnicodeDecodeError:
            raise _unreadable(number, "not UTF-8 text") from None
        except OSError as error:
            raise TraceUnreadable(f"cannot read the file: {error.strerror or error}") from None


# Reading lines ----------------------------------------------------------------------------------

CHUNK_LINES = 4096
"""How many lines the checker reads at a time."""

_STR = r'"([^"\\\x00-\x1f]+)"'  # A non-empty JSON string with no escapes.
_INT = r"(0|[1-9][0-9]*)"  # A JSON integer >= 0.
_LITERAL = r'(null|true|false|-?(?:0|[1-9][0-9]*)|"[^"\\\x00-\x1f]*")'
_FAST = re.compile(
    r'^\{"t":' + _INT + r',"seq":' + _INT + r',"kind":"([a-z_]+)","pool":(?:' + _STR
    + r'|null),"id":(?:' + _STR + r'|null),"data":(?:'
    + r'\{"attempt":' + _INT + r',"lagMs":' + _INT + r'\}'
    + r'|\{"fn":' + _STR + r',"kind":"(action|mutation|unknown|query)","runAt":' + _INT + r'\}'
    + r'|\{"attempt":' + _INT + r',"result":' + _LITERAL + r'\}'
    + r'|(\{.*\}))\}$',
    re.MULTILINE,
)
"""One event line in the form the model writes (``TraceEvent.to_line``). Groups: t, seq,
kind, pool, id; then the data of a ``started`` (attempt, lagMs), an ``enqueued`` (fn, kind,
runAt) or a ``succeeded`` with a plain result (attempt, result), or else the data's text."""

_KEYWORDS: dict[str, Any] = {"null": None, "true": True, "false": False}

_EMPTY_DATA_KINDS = frozenset(("evicted", "sched_started", "sched_canceled"))
"""Kinds whose data the schema lets be empty, and which the model writes so."""

_EVENT_KEYS = ("t", "seq", "kind", "pool", "id", "data")

_WORK_KINDS = frozenset(
    ("enqueued", "started", "succeeded", "failed", "canceled", "timed_out", "evicted",
     "cancel_ignored")
)
"""The kinds whose ``pool`` and ``id`` the schema requires to be strings."""

_ENQUEUED_KINDS = ("action", "mutation", "unknown", "query")

_DATA_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "enqueued": (("fn", "string"), ("kind", "work kind"), ("runAt", "integer")),
    "started": (("attempt", "integer >= 1"), ("lagMs", "integer >= 0")),
    "succeeded": (("result", "any"),),
    "failed": (("error", "string"),),
    "canceled": (("wasRunning", "boolean"),),
    "timed_out": (("timeoutMs", "integer >= 1"),),
}
"""Per kind, the data fields ``specs/trace.schema.json`` requires, and what each must be."""

_scan: Callable[[str, int], tuple[Any, int]] = json.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _literal(text: str) -> Any:
    """The value of a ``_LITERAL`` match."""
    if text in _KEYWORDS:
        return _KEYWORDS[text]
    if text[0] == '"':
        return text[1:-1]
    return int(text)


def _other_data(number: int, line: str, kind: str, other: str) -> dict[str, Any]:
    """The data of a line of the model's form that ``_FAST`` did not take apart: parsed and
    checked; if it is not JSON, the full parser reads the line and says where."""
    if kind not in KINDS:
        raise _unreadable(number, f"unknown kind {_describe(kind)}")
    if other == "{}":
        data: dict[str, Any] = {}
    elif other:
        try:
            data = json.loads(other)
        except (ValueError, RecursionError):
            data = _parse_line(number, line)[6]
    else:  # A started/enqueued/succeeded form under another kind, or with attempt 0.
        data = _parse_line(number, line)[6]
    _check_data(number, kind, data)
    return data


def _parse_line(
    number: int, line: str
) -> tuple[int, int, int, str, str | None, str | None, dict[str, Any]]:
    """Parse and validate one line: ``(number, t, seq, kind, pool, id, data)``.

    Raises:
        TraceUnreadable: the line is not JSON, or not an event of the schema.
    """
    try:
        event, end = _scan(line, 0)
    except (StopIteration, json.JSONDecodeError) as error:
        raise _unreadable(number, f"invalid JSON: {_why(line, error)}") from None
    except RecursionError:
        raise _unreadable(number, "JSON nested too deeply to read") from None
    rest = line[end:]
    if rest.strip():
        column = end + len(rest) - len(rest.lstrip()) + 1
        raise _unreadable(number, f"invalid JSON: extra data at column {column}")
    if type(event) is not dict:
        raise _unreadable(number, f"an event is a JSON object, got {_describe(event)}")
    for key in _EVENT_KEYS:
        if key not in event:
            raise _unreadable(number, f"the event has no {key!r}")
    for key in event:
        if key not in _EVENT_KEYS:
            raise _unreadable(
                number, f"unknown field {key!r}: an event has exactly {', '.join(_EVENT_KEYS)}"
            )
    t = _integer(event["t"])
    seq = _integer(event["seq"])
    kind = event["kind"]
    data = event["data"]
    if t is None or t < 0:
        raise _unreadable(number, f"t must be an integer >= 0, got {_describe(event['t'])}")
    if seq is None or seq < 1:
        raise _unreadable(number, f"seq must be an integer >= 1, got {_describe(event['seq'])}")
    if type(kind) is not str or kind not in KINDS:
        raise _unreadable(number, f"unknown kind {_describe(kind)}")
    if type(data) is not dict:
        raise _unreadable(number, f"data must be an object, got {_describe(data)}")
    _check_names(number, kind, event["pool"], event["id"])
    _check_data(number, kind, data)
    return number, t, seq, kind, event["pool"], event["id"], data


def _check_names(number: int, kind: str, pool: Any, work_id: Any) -> None:
    for field, value in (("pool", pool), ("id", work_id)):
        if kind in _WORK_KINDS and type(value) is not str:
            raise _unreadable(
                number, f"{kind} events need a string {field}, got {_describe(value)}"
            )
        if value is not None and type(value) is not str:
            raise _unreadable(
                number, f"{field} must be a string or null, got {_describe(value)}"
            )


def _check_data(number: int, kind: str, data: dict[str, Any]) -> None:
    """Check the data fields the schema requires of ``kind``; integers are made plain."""
    if kind == "rng":
        purpose = data.get("purpose")
        value = data.get("value")
        if type(purpose) is not str:
            raise _unreadable(
                number, f"rng data.purpose must be a string, got {_describe(purpose)}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
            raise _unreadable(
                number, f"rng data.value must be a number in [0, 1), got {_describe(value)}"
            )
        return
    for field, what in _DATA_FIELDS.get(kind, ()):
        if field not in data:
            raise _unreadable(number, f"a {kind} event's data needs {field!r}")
        value = data[field]
        if what == "any":
            continue
        if what == "string":
            ok = type(value) is str
        elif what == "boolean":
            ok = type(value) is bool
        elif what == "work kind":
            ok = type(value) is str and value in _ENQUEUED_KINDS
        else:
            whole = _integer(value)
            low = 1 if what.endswith(">= 1") else 0 if what.endswith(">= 0") else None
            ok = whole is not None and (low is None or whole >= low)
            if ok:
                data[field] = whole
        if not ok:
            if what == "work kind":
                allowed = "one of " + ", ".join(_ENQUEUED_KINDS)
            else:
                allowed = ("an " if what[0] in "aeiou" else "a ") + what
            raise _unreadable(
                number, f"{kind} data.{field} must be {allowed}, got {_describe(value)}"
            )


def _integer(value: Any) -> int | None:
    """A JSON integer (``3`` or ``3.0``, as JSON Schema counts them) as an ``int``."""
    if type(value) is int:
        return value
    if type(value) is float and value.is_integer():
        return int(value)
    return None


def _bad_seq(number: int, seq: int) -> NoReturn:
    raise _unreadable(
        number, f"seq is {seq}, expected {number}: seq counts the events from 1, one a line"
    )


def _unreadable(number: int, problem: str) -> TraceUnreadable:
    return TraceUnreadable(f"line {number}: {problem}")


def _why(line: str, error: Exception) -> str:
    if not line.strip():
        return "empty line (each line holds one event)"
    if isinstance(error, json.JSONDecodeError):
        return f"{error.msg} at column {error.colno}"
    return "expecting a value at column 1"


def _describe(value: Any) -> str:
    return json.dumps(value)[:60]


# Rule helpers -----------------------------------------------------------------------------------


def _table(profile: str) -> dict[State, dict[str, State]]:
    """The lifecycle table of ``profile`` as ``state -> event kind -> next state``."""
    return Lifecycle(profile).events()


def _retry_of(value: Any) -> _Retry | None:
    """A retry behaviour from its JSON, or ``None`` if it is not one."""
    if type(value) is not dict:
        return None
    attempts = value.get("maxAttempts")
    initial = value.get("initialBackoffMs")
    base = value.get("base")
    if type(attempts) is not int or type(initial) is not int:
        return None
    if isinstance(base, bool) or not isinstance(base, int | float):
        return None
    return _Retry(attempts, initial, base)


def _declared_retry(value: Any, pool: _Pool) -> _Retry | None:
    """The behaviour an ``enqueued`` ``retry`` field declares (``None``: not known)."""
    if value is None or value is False:
        return _NO_RETRY
    if value is True:
        return pool.default_retry
    return _retry_of(value)


def _jitter_bounds(retry: _Retry, attempt: int) -> tuple[int, int] | None:
    """The delays RTY-2 allows before retry number ``attempt``: ``[floor(0.5*b),
    floor(1.5*b)]``, each at most the one-year clamp (``refmodel.constants``); ``None`` if the
    behaviour cannot be computed with."""
    try:
        return retry_delay_bounds(retry.initial_ms, retry.base, attempt)
    except (OverflowError, ValueError):
        return None


def _same_json(a: Any, b: Any) -> bool:
    """Equality of JSON values: ``true`` is not ``1``, but ``1`` and ``1.0`` are one number."""
    ta = type(a)
    tb = type(b)
    if ta is bool or tb is bool or a is None or b is None:
        return ta is tb and a == b
    if ta in (int, float) and tb in (int, float):
        return bool(a == b)
    if ta is not tb:
        return False
    if ta is list:
        return len(a) == len(b) and all(_same_json(x, y) for x, y in zip(a, b, strict=True))
    if ta is dict:
        return a.keys() == b.keys() and all(_same_json(a[k], b[k]) for k in a)
    return bool(a == b)


def _result_mismatch(outcome: tuple[str, Any] | None, result: Any) -> str | None:
    """What is wrong with an onComplete ``result`` for a terminal ``outcome``, if anything."""
    if outcome is None:
        return None
    kind, value = outcome
    if type(result) is not dict:
        return f"has result {_describe(result)}, not an object with a kind"
    if result.get("kind") != kind:
        return f"has result kind {result.get('kind')!r}, but the work ended {kind!r}"
    if kind == "success":
        if "returnValue" not in result:
            return "has no returnValue"
        try:
            same = _same_json(result["returnValue"], value)
            shown = "" if same else (f"has returnValue {_describe(result['returnValue'])}, but "
                                     f"the work returned {_describe(value)}")
        except RecursionError:
            return "has a returnValue nested too deeply to compare"
        if not same:
            return shown
    elif kind == "failed" and result.get("error") != value:
        return f"has error {result.get('error')!r}, but the work failed with {value!r}"
    return None
