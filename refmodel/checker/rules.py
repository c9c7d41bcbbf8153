"""The rules, checked one event at a time (``specs/checker.md``).

The :class:`Checker` follows each item through the lifecycle table (read as data from
``refmodel.workpool.lifecycle``; the model is never run) and checks each event against the
rules when it is read. Deadlines (what must have happened *by* an instant) are settled when the
trace's clock moves on.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from refmodel.checker.reader import (
    WORK_KINDS,
    TraceUnreadable,
    bad_seq,
    describe,
    fast_loads,
    parse_line,
    unreadable,
    valid_data,
)
from refmodel.checker.report import CheckOptions, CheckReport, EventRef, Violation
from refmodel.checker.state import NO_RETRY, UNKNOWN, Item, MinQueue, Pool, Retry
from refmodel.constants import JITTER_HIGH, JITTER_LOW, retry_delay_window
from refmodel.trace import TRACE_VERSION
from refmodel.workpool.lifecycle import ACTIVE, TERMINAL, TRANSITIONS, State
from refmodel.workpool.profiles import NAMED, as_profile

PENDING = State.PENDING
RUNNING = State.RUNNING
RETRYING = State.RETRYING
CANCELING = State.CANCELING
CANCELED = State.CANCELED

RULES: dict[str, str] = {
    "PAR-1": "a start never makes a pool run more than its maxParallelism",
    "ORD-1": "starts follow (eligibility time, enqueue order), up to start_lag_ms and "
    "early_start_ms",
    "ORD-2": "no start before the item's runAt (less early_start_ms)",
    "WC-1": "no free slot beside eligible waiting work for longer than start_lag_ms "
    "(+ completion_lag_ms after an attempt ended)",
    "LIV-1": "due work starts: a retry within start_lag_ms of its due instant when a slot is "
    "free, and nothing due is left waiting at the trace's last instant",
    "TMO-1": "seed: timed_out at start + timeout (+ timeout_slack_ms); nothing outlives it",
    "TTL-1": "seed: evicted at finish + ttl (+ eviction_slack_ms), never before",
    "LIF-1": "each item's events are a path of the lifecycle table of the profile",
    "CAN-1": "canceled waiting work never starts; a cancel of waiting work is not ignored",
    "CAN-2": "seed: a cancel of running work ends it at the cancel",
    "CAN-3": "cancel_ignored names the state of finished work",
    "CAN-6": "current: a canceled running attempt runs on, and is never retried",
    "RTY-1": "only actions retry, and a retryable failure with attempts left is retried",
    "RTY-2": "retry delays within [floor(0.5*b), 1.5*b]; no restart before retryAt (less "
    "early_start_ms)",
    "RTY-3": "work waiting to retry holds no slot",
    "RTY-4": "attempt numbers never exceed maxAttempts",
    "ONC-1": "onComplete at most once, only for finished work (exactly once when declared)",
    "ONC-2": "the onComplete context is the one the item was enqueued with",
    "ONC-3": "the onComplete result matches the terminal event",
    "STS-1": "seed: a status read shows the item's state (or, within completion_lag_ms, the "
    "one before)",
    "STS-4": "a status of an id the pool did not issue is refused",
    "STS-5": "current: a status read shows the item's state (or, within completion_lag_ms, "
    "the one before)",
    "CAN-5": "a cancel of an id the pool did not issue changes nothing",
    "CFG-3": "a pool is created once",
}
"""The rules the checker checks, with what it checks of each."""

_TARGET_OF_EVENT: dict[str, State] = {row.event: row.target for row in TRANSITIONS}
"""The state each transition event records a move into, read from the lifecycle table's rows
(each row names its event)."""

READ_VERSIONS = (1, TRACE_VERSION)
"""The trace versions the checker reads: version 2 only adds fields and kinds."""

_TIMEOUT_FIELD = {
    "action": "actionTimeoutMs",
    "mutation": "mutationTimeoutMs",
    "query": "mutationTimeoutMs",
    "unknown": "unknownTimeoutMs",
}
"""The pool option that holds the timeout of each kind of work (seed profile)."""


# The checker ------------------------------------------------------------------------------------

Handler = Callable[..., None]
"""A handler of an event about a pool or the world: ``(t, seq, pool, id, data)``."""
ItemHandler = Callable[[Item, int, int, dict[str, Any]], None]
"""A handler of an event that moves a work item: ``(item, t, seq, data)``; the item exists
(:meth:`Checker.feed` looked it up and reported an event of no item)."""


class Checker:
    """A one-pass checker: :meth:`feed` it lines (in as many calls as you like), then
    :meth:`finish`. :func:`check` does both."""

    def __init__(self, options: CheckOptions | None = None) -> None:
        self.options = options or CheckOptions()
        self.profile = self.options.profile or "seed"
        self._seed = as_profile(self.profile).status.shows_results
        self._table = _table(self.profile)
        self._items: dict[str, Item] = {}
        self._gone: dict[str, int] = {}  # Forgotten ids -> the seq of their on_complete, or 0.
        self._gone_pool: dict[str, str] = {}  # Forgotten ids -> their pool.
        self._pools: dict[str, Pool] = {}
        self._owed_on_complete: deque[tuple[int, int, Item]] = deque()
        self._violations: list[Violation] = []
        self._total = 0
        self._notes: list[str] = []
        self._now = -1
        self._line = 0
        self._running_slack = max(self.options.timeout_slack_ms, self.options.completion_lag_ms)
        self._next_due: float = math.inf  # No deadline falls before this (see _advance).
        self._version = TRACE_VERSION  # Until a world_started says otherwise.
        self._early = self.options.early_start_ms
        self._completion_lag = self.options.completion_lag_ms
        self._owed_cancel: deque[tuple[int, int, Item, State]] = deque()
        # ORD-1 suspects of the current instant: (the item ahead, its order then, message,
        # events); settled when the instant ends.
        self._overtaken: list[tuple[Item, int, str, tuple[int, ...]]] = []
        self._over_limit: list[tuple[Pool, str, tuple[int, ...]]] = []
        self._handlers: dict[str, Handler] = {
            "world_started": self._world_started,
            "pool_created": self._pool_created,
            "config_updated": self._config_updated,
            "enqueued": self._enqueued,
            "cancel_ignored": self._cancel_ignored,
            "on_complete": self._on_complete,
            "status_read": self._status_read,
            "cancel_called": self._cancel_called,
        }
        self._item_handlers: dict[str, ItemHandler] = {
            "started": self._started,
            "succeeded": self._succeeded,
            "failed": self._failed,
            "retrying": self._retrying,
            "canceled": self._canceled,
            "cancel_requested": self._cancel_requested,
            "timed_out": self._timed_out,
            "evicted": self._evicted,
        }

    # Reading ------------------------------------------------------------------------------

    def feed(self, lines: Iterable[str]) -> None:
        """Read and check lines of a trace, from where the last call stopped.

        An event that moves a work item goes to its kind's item handler with the item (an
        event of no item, or naming another pool, is reported here); any other event to its
        kind's handler.

        Raises:
            TraceUnreadable: a line is not JSON, not an event of the schema, or out of
                order; the events before it were checked.
        """
        loads = fast_loads
        number = self._line
        items = self._items
        item_handlers = self._item_handlers
        handlers = self._handlers
        for line in lines:
            number += 1
            # The common case in a few type tests; anything else goes to parse_line, which
            # reads what JSON Schema reads and names what is wrong.
            try:
                event = loads(line)
                t = event["t"]
                seq = event["seq"]
                kind = event["kind"]
                pool = event["pool"]
                work_id = event["id"]
                data = event["data"]
                plain = (
                    len(event) == 6
                    and type(t) is int
                    and t >= 0
                    and type(seq) is int
                    and type(data) is dict
                    and (type(pool) is str or (pool is None and kind not in WORK_KINDS))
                    and (type(work_id) is str or (work_id is None and kind not in WORK_KINDS))
                    and (  # valid_data, with its two commonest kinds inlined.
                        ("result" in data) if kind == "succeeded" else (
                            type(data.get("attempt")) is int and data["attempt"] >= 1
                            and type(data.get("lagMs")) is int) if kind == "started"
                        else valid_data(kind, data)
                    )
                )
            except Exception:  # Not JSON, not an object, a key missing: read it again.
                plain = False
            if not plain:
                _, t, seq, kind, pool, work_id, data = parse_line(number, line)
            if seq != number:
                bad_seq(number, seq)
            now = self._now
            if t != now:
                if t < now:
                    raise unreadable(number, f"t goes back from {now} to {t} ms")
                if now >= 0:
                    self._advance(now, t)
                self._now = t
            self._line = number
            item_handler = item_handlers.get(kind)
            if item_handler is not None:
                item = items.get(work_id)
                if item is None or item.pool.name != pool:
                    item = self._item(kind, number, pool, work_id)
                    if item is None:
                        continue
                item_handler(item, t, number, data)
            else:
                handler = handlers.get(kind)
                if handler is not None:
                    handler(t, number, pool, work_id, data)

    def finish(self) -> CheckReport:
        """Settle the deadlines up to ``options.end_ms`` and return the report.

        Raises:
            TraceUnreadable: there was no event, or ``end_ms`` is before the last one.
        """
        if self._line == 0:
            raise TraceUnreadable("the trace is empty: no events")
        end = self.options.end_ms
        if end is not None and end < self._now:
            raise TraceUnreadable(
                f"end_ms is {end} ms, but the trace has events up to {self._now} ms"
            )
        if end is not None:
            self._advance(self._now, end + 1)
        else:
            self._settle_over_limit()
            self._settle_overtaken(last=True)
            # The last instant may be incomplete, so only LIV-1 judges it: work due before
            # it that its pool had room for must have started by its end.
            for pool in self._pools.values():
                limit = pool.limit
                if pool.waiting_count and limit is not None and pool.running < limit:
                    self._unused_slot(pool, self._now, self._now + 1, last=True)
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
            raise unreadable(seq, "world_started must be the first event (one world a trace)")
        version = data.get("traceVersion")
        if version not in READ_VERSIONS:
            raise unreadable(
                seq, f"traceVersion is {version!r}; this checker reads versions "
                f"{', '.join(map(str, READ_VERSIONS))}"
            )
        self._version = int(version)
        profile = data.get("profile")
        if self.options.profile is None and profile in NAMED:
            self.profile = str(profile)
            self._seed = as_profile(self.profile).status.shows_results
            self._table = _table(self.profile)
            self._early = max(self.options.early_start_ms,
                              as_profile(self.profile).eligibility.early_ms)

    def _pool(self, name: str) -> Pool:
        """The pool named ``name``, made on first mention if no ``pool_created`` made it."""
        pool = self._pools.get(name)
        if pool is None:
            pool = self._pools[name] = Pool(name, self.options.max_parallelism.get(name))
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
            pool = self._pools[name] = Pool(name, None)
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
            pool.ttl = ttl if ttl is None or (type(ttl) is int and ttl >= 1) else UNKNOWN
        pool.default_retry = _retry_of(data.get("defaultRetryBehavior"))

    def _configure(self, pool: Pool, t: int, seq: int, data: dict[str, Any]) -> None:
        limit = data.get("maxParallelism")
        if type(limit) is not int or limit < 0:
            return
        was_free = pool.limit is not None and pool.running < pool.limit
        pool.limit = limit
        if not was_free and pool.running < limit:
            pool.free_since = t
            pool.free_seq = seq
            pool.free_lag = 0

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

    def _item(self, kind: str, seq: int, name: str | None, work_id: str | None) -> Item | None:
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

    def _move(self, item: Item, kind: str, t: int, seq: int) -> State:
        """Follow ``item`` into the state that a ``kind`` event records, checking that the
        lifecycle table has that transition (LIF-1), and keep its pool's counts. Returns the
        state it left."""
        source = item.state
        target = self._table[source].get(kind)
        if target is None:
            target = self._illegal(item, kind, seq)
        item.prev_state = source
        item.moved_at = t
        item.state = target
        item.last_seq = seq
        pool = item.pool
        if source is RUNNING or source is CANCELING:
            if target is not RUNNING and target is not CANCELING:
                pool.running -= 1
                if pool.ends_at != t:
                    pool.ends_at = t
                    pool.ends_count = 0
                pool.ends_count += 1
                if pool.running + 1 == pool.limit:  # The pool was full; a slot is free now.
                    pool.free_since = t
                    pool.free_seq = seq
                    pool.free_lag = self._completion_lag
        elif target is RUNNING or target is CANCELING:
            pool.running += 1
        if (source is PENDING or source is RETRYING) and target is not source:
            if item.order:
                pool.waiting_count -= 1
                item.order = 0
            if source is RETRYING:
                pool.retrying -= 1
        return source

    def _illegal(self, item: Item, kind: str, seq: int) -> State:
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

    def _end_attempt(self, item: Item, kind: str, seq: int, data: dict[str, Any]) -> None:
        """Count the attempt that ended; check the attempt number its event gives."""
        item.attempts += 1
        attempt = data.get("attempt", item.attempts)
        if attempt != item.attempts:
            self._violation(
                "LIF-1", f"{item.id}: {kind} of attempt {attempt}, but attempt {item.attempts} "
                "was running", item.start_seq, seq
            )

    def _finished(self, item: Item, t: int, seq: int, outcome: tuple[str, Any]) -> None:
        """The item became terminal at ``t``: its eviction and onComplete are owed."""
        item.finished_at = t
        item.finished_seq = seq
        item.outcome = outcome
        if self._seed:
            ttl = item.pool.ttl
            if type(ttl) is int:
                deadline = t + ttl + self.options.eviction_slack_ms
                evictions = item.pool.evictions.run  # MinQueue.push, inlined: it is hot.
                if not evictions or deadline >= evictions[-1][0]:
                    evictions.append((deadline, seq, item))
                else:
                    item.pool.evictions.push(deadline, seq, item)
                if deadline < self._next_due:
                    self._next_due = deadline
        if type(item.on_complete) is str and not item.on_complete_seq:
            deadline = t + self.options.completion_lag_ms
            self._owed_on_complete.append((deadline, seq, item))
            if deadline < self._next_due:
                self._next_due = deadline

    def _wait(self, item: Item, pool: Pool, eligible: float) -> None:
        """``item`` waits to start from ``eligible`` on; it takes the next enqueue order."""
        item.exact = True
        if item.order:  # It was waiting already (a retrying event off the table).
            pool.waiting_count -= 1
        pool.next_order += 1
        item.order = order = pool.next_order
        item.eligible = eligible
        pool.waiting_count += 1
        waiting = pool.waiting.run  # MinQueue.push, inlined: it is hot.
        if not waiting or eligible >= waiting[-1][0]:
            waiting.append((eligible, order, item))
        else:
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
            if kind != "action" and retry is not NO_RETRY:
                self._violation("RTY-1", f"{work_id} is a {kind} enqueued with retry "
                                         f"{describe(data['retry'])}: only actions retry", seq)
                retry = NO_RETRY
        elif not self.options.assume_pool_retry:
            retry = None
        elif kind == "action":
            retry = pool.default_retry
        else:
            retry = NO_RETRY
        item = self._items[work_id] = Item(work_id, pool, kind, seq, retry)
        run_at = data["runAt"]
        self._wait(item, pool, run_at if run_at > t else t)
        if "onComplete" in data:
            callback = data["onComplete"]
            item.on_complete = callback if type(callback) is str else None
        item.context = data.get("context", UNKNOWN)

    def _started(self, item: Item, t: int, seq: int, data: dict[str, Any]) -> None:
        pool = item.pool
        if item.order and item.exact:  # It waits, with a known eligibility: when, what order.
            early = self._early
            if t < item.eligible - early:
                rule, what = ("RTY-2", "retryAt") if item.state is RETRYING else ("ORD-2", "runAt")
                allowed = f" (early start allowed: {early} ms)" if early else ""
                self._violation(rule, f"{item.id} starts at {t} ms, {_ms(item.eligible - t)} "
                                      f"before its {what} {_ms(item.eligible)}{allowed}",
                                item.wait_seq, seq)
            first = pool.first_waiting()
            if (
                first is not item
                and first is not None
                and first.exact
                and first.eligible <= t - self.options.start_lag_ms
                and item.eligible - first.eligible >= early
            ):
                # Starts of one instant may be recorded in any order: only if ``first`` has
                # not started by the end of this instant did ``item`` jump the queue.
                message = (f"{item.id} (eligible at {_ms(item.eligible)}) starts at {t} ms "
                           f"before {first.id}, which was eligible at {_ms(first.eligible)} "
                           "and comes first in (eligibility time, enqueue order)")
                self._overtaken.append((first, first.order, message,
                                        (first.wait_seq, item.wait_seq, seq)))
        limit = pool.limit
        if limit is not None and pool.running >= limit and item.state not in ACTIVE:
            # Events of one instant may be recorded in any order: only if the pool still runs
            # more than its limit at the end of this instant (no end at it made room) did
            # this start break PAR-1.
            self._over_limit.append((pool, f"{item.id} starts while {pool.running} items run "
                                           f"in pool {pool.name!r} (maxParallelism {limit})",
                                     (pool.config_seq, seq)))
        self._move(item, "started", t, seq)
        pool.unused_reported = None
        attempt = data["attempt"]
        if attempt != item.attempts + 1:
            self._violation("LIF-1", f"{item.id} starts attempt {attempt}, but "
                                     f"{item.attempts} attempts ended before", seq)
        retry = item.retry
        if retry is not None and attempt > retry.max_attempts:
            self._violation("RTY-4", f"{item.id} starts attempt {attempt} of at most "
                                     f"{retry.max_attempts}", item.enqueued_seq, seq)
        item.started_at = t
        item.start_seq = seq
        if self._seed:
            timeout = pool.timeouts.get(item.kind)
            if timeout is not None:
                due = pool.timeouts_due.get(item.kind)
                if due is None:
                    due = pool.timeouts_due[item.kind] = MinQueue()
                deadline = t + timeout + self._running_slack
                run = due.run  # MinQueue.push, inlined: it is hot.
                if not run or deadline >= run[-1][0]:
                    run.append((deadline, seq, item))
                else:
                    due.push(deadline, seq, item)
                if deadline < self._next_due:
                    self._next_due = deadline

    def _succeeded(self, item: Item, t: int, seq: int, data: dict[str, Any]) -> None:
        self._ended(item, "succeeded", t, seq, data, ("success", data["result"]))

    def _failed(self, item: Item, t: int, seq: int, data: dict[str, Any]) -> None:
        self._ended(item, "failed", t, seq, data, ("failed", data["error"]))

    def _ended(
        self, item: Item, kind: str, t: int, seq: int, data: dict[str, Any],
        outcome: tuple[str, Any],
    ) -> None:
        source = self._move(item, kind, t, seq)
        if source is RUNNING or source is CANCELING:
            self._end_attempt(item, kind, seq, data)
            retry = item.retry
            if (
                kind == "failed"
                and source is RUNNING
                and self._version >= 2
                and retry is not None
                and item.attempts < retry.max_attempts
                and data.get("nonRetryable") is not True
            ):
                self._violation(
                    "RTY-1", f"{item.id} fails after attempt {item.attempts} of at most "
                    f"{retry.max_attempts} with a retryable error {describe(data['error'])}: "
                    "it must be retried", item.enqueued_seq, seq
                )
        self._finished(item, t, seq, outcome)

    def _retrying(self, item: Item, t: int, seq: int, data: dict[str, Any]) -> None:
        pool = item.pool
        source = self._move(item, "retrying", t, seq)
        if source is RUNNING or source is CANCELING:
            self._end_attempt(item, "retrying", seq, data)
        if source is not RETRYING:
            pool.retrying += 1
        item.wait_seq = seq
        retry = item.retry
        if retry is None:
            self._note(f"{item.id} and maybe others retry by a behaviour the trace does not "
                       "give: RTY-2 delays and RTY-4 are not checked for them")
        elif item.attempts >= retry.max_attempts:
            self._violation("RTY-4", f"{item.id} is retried after attempt {item.attempts}, but "
                                     f"it may make at most {retry.max_attempts}",
                            item.enqueued_seq, seq)
        delay = _number(data.get("delayMs"))
        retry_at = _number(data.get("retryAt"))
        # Trace version 2 may say when the retry was decided: up to the completion lag after
        # the failure, or never (null) when a cancel was handled first.
        decided = data.get("decidedAt", t)
        if decided is not None and (type(decided) is not int
                                    or not t <= decided <= t + self.options.completion_lag_ms):
            self._violation("RTY-2", f"{item.id}: the retry is decided at {describe(decided)}, "
                                     f"not within completionLagMs "
                                     f"{self.options.completion_lag_ms} of the failure at {t} ms",
                            seq)
            decided = t
        anchor = t if decided is None else decided
        drawn_late = (retry_at - (anchor + delay)
                      if delay is not None and retry_at is not None else 0)
        # A declared deviation: the component's loop draws the delay later.
        if retry_at is not None and abs(drawn_late) >= 1 and not (
            "RTY-2/retry-drawn-by-loop" in self.options.deviations
            and 0 <= drawn_late <= self.options.completion_lag_ms + 1
        ):
            self._violation("RTY-2", f"{item.id}: retryAt {_ms(retry_at)} is not the "
                                     f"{'retrying' if anchor == t else 'decision'} instant "
                                     f"{anchor} ms + delayMs {delay!r}", seq)
        bounds = None
        if retry is not None and retry.max_attempts > item.attempts:
            bounds = _jitter_bounds(retry, item.attempts)
        if delay is not None and bounds is not None and not bounds[0] <= delay <= bounds[1]:
            self._violation(
                "RTY-2", f"{item.id}: retry {item.attempts} waits {delay!r} ms, outside "
                f"[{bounds[0]}, {bounds[1]:g}] (backoff {retry.initial_ms!r} ms x "  # type: ignore[union-attr]
                f"{retry.base!r}^{item.attempts - 1}, jitter {JITTER_LOW} to {JITTER_HIGH})",  # type: ignore[union-attr]
                item.enqueued_seq, seq
            )
        if retry_at is not None:
            self._wait(item, pool, retry_at if retry_at > t else t)
        elif delay is not None:
            self._wait(item, pool, t + delay)
        elif bounds is not None:
            # The latest instant it can be due: it bounds how late it may start (LIV-1), not
            # how early.
            self._wait(item, pool, t + math.ceil(bounds[1]))
            item.exact = False
            self._note("a retrying event has neither retryAt nor delayMs: its restart is judged "
                       "only against the latest instant its delay bounds allow (LIV-1)")
        else:
            self._note("a retrying event has neither retryAt nor delayMs, and its retry "
                       "behaviour is not known: its restart is not checked")

    def _canceled(self, item: Item, t: int, seq: int, data: dict[str, Any]) -> None:
        source = item.state
        if source is CANCELING and item.cancel_at == t and "error" not in data:
            self._violation(
                "CAN-6", f"{item.id} is canceled at the instant of its cancel_requested, with no "
                "failed attempt: the running attempt was stopped", item.last_seq, seq
            )
        was_running = data["wasRunning"]
        item.cancel_seen = True
        self._move(item, "canceled", t, seq)
        if source is RUNNING or source is CANCELING:
            self._end_attempt(item, "canceled", seq, data)
            item.stopped_by_cancel = source is RUNNING
            if not was_running:
                self._violation("LIF-1", f"{item.id} is canceled with wasRunning false, but it "
                                         "was running", item.start_seq, seq)
        elif (source is PENDING or source is RETRYING) and was_running:
            self._violation("LIF-1", f"{item.id} is canceled with wasRunning true, but it was "
                                     f"{source.value}", seq)
        self._finished(item, t, seq, ("canceled", None))

    def _cancel_requested(self, item: Item, t: int, seq: int, data: dict[str, Any]) -> None:
        self._move(item, "cancel_requested", t, seq)
        item.cancel_at = t
        item.cancel_seen = True

    def _timed_out(self, item: Item, t: int, seq: int, data: dict[str, Any]) -> None:
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
                "TMO-1", f"{item.id} times out with timeoutMs {data['timeoutMs']}, but the "
                f"pool's timeout for {item.kind} work is {timeout}", item.pool.config_seq, seq
            )
        if t < due:
            self._violation("TMO-1", f"{item.id} times out at {t} ms, before started + timeout "
                                     f"= {due} ms", item.start_seq, seq)
        elif due + self.options.timeout_slack_ms < t <= due + self._running_slack:
            self._violation(
                "TMO-1", f"{item.id} times out at {t} ms, after started + timeout = {due} ms "
                f"(+ {self.options.timeout_slack_ms} ms slack)", item.start_seq, seq
            )

    def _evicted(self, item: Item, t: int, seq: int, data: dict[str, Any]) -> None:
        source = self._move(item, "evicted", t, seq)
        self._forget(item, item.on_complete_seq)
        if source not in TERMINAL:
            return
        ttl = item.pool.ttl
        if ttl is None:
            self._violation("TTL-1", f"{item.id} is evicted, but pool {item.pool.name!r} keeps "
                                     "results forever (ttl null)", item.pool.config_seq, seq)
        elif type(ttl) is int and t < item.finished_at + ttl:
            self._violation("TTL-1", f"{item.id} is evicted at {t} ms, before finished + ttl = "
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
        context = item.context
        if context is not UNKNOWN and "context" in data:
            try:
                same = _same_json(data["context"], context)
            except RecursionError:
                same = True  # Too deep to compare: not judged.
            if not same:
                self._violation(
                    "ONC-2", f"onComplete of {item.id} gets context {describe(data['context'])}"
                    f", but it was enqueued with {describe(context)}", item.enqueued_seq, seq
                )
        if not self._seed:  # Nothing more may happen to it: keep only its id.
            self._forget(item, seq)

    def _forget(self, item: Item, on_complete_seq: int) -> None:
        """Keep only the id (and pool) of an item nothing more may happen to."""
        del self._items[item.id]
        self._gone[item.id] = on_complete_seq
        self._gone_pool[item.id] = item.pool.name

    # Reads and cancels an adapter recorded --------------------------------------------------

    def _status_read(
        self, t: int, seq: int, name: str, work_id: str, data: dict[str, Any]
    ) -> None:
        """STS-1, STS-3, STS-4, STS-5: the answer of a status read, recorded in trace order."""
        item = self._items.get(work_id)
        owner = item.pool.name if item is not None else self._gone_pool.get(work_id)
        answer = data.get("status")
        refused = "error" in data
        if owner != name:
            whose = "no pool" if owner is None else f"pool {owner!r}"
            finished = {"state": "finished"}
            if refused or (
                "STS-4/foreign-id-finished" in self.options.deviations
                and not self._seed
                and answer == finished
            ):
                return
            self._violation("STS-4", f"status of {work_id} in pool {name!r}, an id {whose} "
                                     f"issued, answers {describe(answer)} instead of refusing",
                            seq)
            return
        rule = "STS-1" if self._seed else "STS-5"
        if item is None:  # Evicted (seed) or finished and forgotten (current).
            allowed = [{"kind": "evicted"} if self._seed else {"state": "finished"}]
        else:
            allowed = [self._status_of(item, item.state)]
            lag = self.options.completion_lag_ms
            if item.moved_at == t or (item.state in TERMINAL and t <= item.finished_at + lag):
                allowed.append(self._status_of(item, item.prev_state, before=True))
        if refused:
            self._violation(rule, f"status of {work_id}, which pool {name!r} issued, is "
                                  f"refused: {describe(data.get('error'))}", seq)
            return
        try:
            if any(_same_json(answer, status) for status in allowed):
                return
        except RecursionError:
            return
        if item is None and self._seed:
            rule = "STS-3"
        shown = " or ".join(describe(status) for status in allowed)
        self._violation(rule, f"status of {work_id} at {t} ms is {describe(answer)}, but its "
                              f"events give {shown}",
                        *((item.last_seq,) if item is not None else ()), seq)

    def _status_of(self, item: Item, state: State, *, before: bool = False) -> Any:
        """The status an item in ``state`` shows in the profile's view; ``before``: the state
        it was in before its last transition (one attempt fewer had ended, if that transition
        ended one)."""
        attempts = item.attempts
        if before and item.state is not RUNNING and state in (RUNNING, CANCELING):
            attempts -= 1
        if self._seed:
            if state is PENDING or state is RETRYING:
                return {"kind": "pending"}
            if state is RUNNING or state is CANCELING:
                return {"kind": "inProgress"}
            if state is State.EVICTED:
                return {"kind": "evicted"}
            if state is State.SUCCEEDED:
                return {"kind": "success", "result": item.outcome[1] if item.outcome else None}
            error = {CANCELED: "Canceled", State.TIMED_OUT: "Timeout"}.get(state)
            if error is None:
                error = item.outcome[1] if item.outcome else None
            return {"kind": "error", "error": error}
        if state is PENDING or state is RETRYING:
            return {"state": "pending", "previousAttempts": attempts}
        if state is RUNNING or state is CANCELING:
            return {"state": "running", "previousAttempts": attempts}
        return {"state": "finished"}

    def _cancel_called(
        self, t: int, seq: int, name: str, work_id: str, data: dict[str, Any]
    ) -> None:
        """A cancel was asked for: waiting work must end canceled, and running work be
        canceled (seed) or canceling (current), within ``completion_lag_ms`` (CAN-1, CAN-2,
        CAN-6). A cancel of another pool's id changes nothing (CAN-5)."""
        item = self._items.get(work_id)
        if item is None or item.pool.name != name:
            return  # Refused, or nothing to do: what it must not change is not traced.
        state = item.state
        if state is PENDING or state is RETRYING or state is RUNNING:
            deadline = t + self.options.completion_lag_ms
            self._owed_cancel.append((deadline, seq, item, state))
            item.cancel_seen = False
            if deadline < self._next_due:
                self._next_due = deadline

    # Deadlines ----------------------------------------------------------------------------

    def _advance(self, t0: int, t1: int) -> None:
        """The instants ``t0`` to ``t1 - 1`` are settled: report what was owed by then."""
        if self._over_limit:
            self._settle_over_limit()
        if self._overtaken:
            self._settle_overtaken()
        for pool in self._pools.values():
            limit = pool.limit
            if pool.waiting_count and limit is not None and pool.running < limit:
                self._unused_slot(pool, t0, t1)
        if t1 > self._next_due:
            self._settle(t1)

    def _settle_over_limit(self) -> None:
        """PAR-1 at the end of an instant: a start over the limit stands unless attempts that
        ended at the same instant brought the pool back within it."""
        for pool, message, seqs in self._over_limit:
            limit = pool.limit
            if limit is not None and pool.running > limit:
                self._violation("PAR-1", message, *seqs)
        self._over_limit.clear()

    def _settle_overtaken(self, *, last: bool = False) -> None:
        """ORD-1 at the end of an instant: each item started before one ahead of it that
        still waits (it did not start at that instant too) jumped the queue. ``last``: the
        trace's last instant, which may be incomplete: only an item whose pool has no free
        slot left to start it at that instant is sure to have been overtaken."""
        for first, order, message, seqs in self._overtaken:
            limit = first.pool.limit
            if first.order == order and (
                not last or (limit is not None and first.pool.running >= limit)
            ):
                self._violation("ORD-1", message, *seqs)
        self._overtaken.clear()

    def _unused_slot(self, pool: Pool, t0: int, t1: int, *, last: bool = False) -> None:
        """WC-1, RTY-3 and LIV-1: a free slot beside due waiting work past the start lag.

        The first waiting item is due at ``since``: the later of its eligibility and the
        instant a slot became free (plus the completion lag when an ending attempt freed it).
        Whether the pool may have been full during the instant ``t0`` is judged from the
        attempts that ended at it, not from the order of its events. An overdue retry is
        reported under LIV-1, other work under WC-1. ``last``: ``t0`` is the trace's last
        instant, which may be incomplete: only LIV-1 judges it, and only work due before it."""
        first = pool.first_waiting()
        if first is None:
            return
        lag = self.options.start_lag_ms
        free_since, free_lag = pool.free_since, pool.free_lag
        if pool.ends_at == t0 and pool.running + pool.ends_count >= (pool.limit or 0):
            free_since, free_lag = t0, self.options.completion_lag_ms
        slot_free = free_since + free_lag
        since = max(first.eligible, slot_free)
        at = max(t0, since + lag)
        if at >= t1 or pool.unused_reported == (first.order, since):
            return
        if last and since + lag >= t0:
            return  # Due only at the last instant, which may not be complete.
        pool.unused_reported = (first.order, since)
        free = (pool.limit or 0) - pool.running
        due = (f"due since {_ms(since)} (eligible at {_ms(first.eligible)}"
               + ("" if first.exact else " at the latest, by its delay bounds")
               + f", a slot free since {_ms(free_since)}"
               + (f" + {free_lag} ms completion lag" if free_lag else "") + ")")
        if (pool.retrying > 0 and free <= pool.retrying and first.state is not RETRYING
                and not last):
            self._violation(
                "RTY-3", f"pool {pool.name!r} has {free} free slot(s) at {_ms(at)} while "
                f"{first.id} waits, {due}, and {pool.retrying} item(s) wait to retry: a "
                "retrying item must not hold a slot", pool.free_seq, first.wait_seq
            )
        elif last or first.state is RETRYING:
            where = "at the trace's last instant" if last else "still"
            self._violation(
                "LIV-1", f"{first.id} has not started {where} at {_ms(at)}: it is {due} and "
                f"pool {pool.name!r} has {free} free slot(s) (start lag allowed: {lag} ms)",
                first.wait_seq
            )
        else:
            self._violation(
                "WC-1", f"pool {pool.name!r} has {free} free slot(s) while {first.id} waits, "
                f"{due}; still at {_ms(at)} (start lag allowed: {lag} ms)",
                pool.free_seq, first.wait_seq
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
        cancels = self._owed_cancel
        while cancels and cancels[0][0] < t1:
            self._settle_cancel(*cancels.popleft())
        if cancels:
            next_due = min(next_due, cancels[0][0])
        self._next_due = next_due

    def _settle_cancel(self, deadline: int, seq: int, item: Item, was: State) -> None:
        """A cancel owed by ``deadline``: report it if the item shows no effect of it."""
        state = item.state
        if item.cancel_seen or state in TERMINAL or state is State.EVICTED:
            return
        lag = self.options.completion_lag_ms
        within = f" within {lag} ms" if lag else ""
        if was is PENDING or was is RETRYING:
            what = "still waits" if state is PENDING or state is RETRYING else (
                f"is {state.value}: it started instead")
            self._violation("CAN-1", f"a cancel of {was.value} {item.id} was not honoured"
                                     f"{within}: it {what}", seq, item.last_seq)
        else:
            rule = "CAN-2" if self._seed else "CAN-6"
            self._violation(rule, f"a cancel of running {item.id} was not recorded{within}: it "
                                  f"is {state.value}", seq, item.last_seq)

    def _timeouts(self, pool: Pool, kind: str, due: MinQueue, t1: int) -> float:
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

    def _evictions(self, pool: Pool, t1: int) -> float:
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


# Rule helpers -----------------------------------------------------------------------------------


def _table(profile: str) -> dict[State, dict[str, State]]:
    """The lifecycle table of ``profile`` as ``state -> event kind -> next state``."""
    return as_profile(profile).lifecycle.events()


def _retry_of(value: Any) -> Retry | None:
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
    return Retry(attempts, initial, base)


def _declared_retry(value: Any, pool: Pool) -> Retry | None:
    """The behaviour an ``enqueued`` ``retry`` field declares (``None``: not known)."""
    if value is None or value is False:
        return NO_RETRY
    if value is True:
        return pool.default_retry
    return _retry_of(value)


def _jitter_bounds(retry: Retry, attempt: int) -> tuple[int, float] | None:
    """The delays RTY-2 allows before retry number ``attempt``
    (:func:`refmodel.constants.retry_delay_window`); ``None`` if the behaviour cannot be
    computed with."""
    try:
        return retry_delay_window(retry.initial_ms, retry.base, attempt)
    except (OverflowError, ValueError, TypeError):
        return None


def _number(value: Any) -> float | None:
    """A JSON number (not a boolean) as it is, else ``None``."""
    if type(value) is int or type(value) is float:
        return value
    return None


def _ms(value: float) -> str:
    """A time or duration for a message: whole ms as ints, others with their fraction."""
    if type(value) is float and not value.is_integer():
        return f"{value:g} ms"
    return f"{int(value)} ms"


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
        return f"has result {describe(result)}, not an object with a kind"
    if result.get("kind") != kind:
        return f"has result kind {result.get('kind')!r}, but the work ended {kind!r}"
    if kind == "success":
        if "returnValue" not in result:
            return "has no returnValue"
        try:
            same = _same_json(result["returnValue"], value)
            shown = "" if same else (f"has returnValue {describe(result['returnValue'])}, but "
                                     f"the work returned {describe(value)}")
        except RecursionError:
            return "has a returnValue nested too deeply to compare"
        if not same:
            return shown
    elif kind == "failed" and result.get("error") != value:
        return f"has error {result.get('error')!r}, but the work failed with {value!r}"
    return None
