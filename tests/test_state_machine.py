"""Hypothesis state machines that guard the spec, and broken engines they must catch.

``WorkpoolMachine`` drives one world with one to three pools through random enqueues, cancels
(of issued, foreign and malformed ids), reads, polls and time steps biased toward the instants
where rules bite: exactly at, one before and one after every pending ``run_at``, every running
item's timeout, every finished item's eviction and every poll's deadline.

It keeps a *shadow* of every work item, rebuilt from the trace alone (``enqueued``, ``started``,
``succeeded``, ``failed``, ``canceled``, ``timed_out``, ``evicted``), and checks each trace
event against the rules as it is read (FIFO order, eligibility, parallelism, exact timeout and
eviction instants, lifecycle paths). A broken rule is recorded under its ID; the ``@invariant``
named for that rule then fails with a message that starts with the ID. What the pool says
(``status``, ``try_result``, ``poll_result``, ``statistics``) is compared with the shadow.

The second half runs the machine against deliberately broken engines (``tests/broken.py``)
and asserts that each is caught by the rule it breaks, and keeps regression tests for the
malformed ids the model once accepted as aliases of issued ids.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from refmodel import (
    ActionCtx,
    MutationCtx,
    PollTimeout,
    TraceEvent,
    UnknownWorkId,
    WorkEvicted,
    WorkFailed,
    Workpool,
    World,
)
from refmodel.workpool.lifecycle import TERMINAL, TRANSITIONS, State, Trigger
from tests import broken
from tests.helpers import BROKEN_SETTINGS, failure_of
from tests.spec import checks

FOREVER_MS = 10**6
"""How long ``work:forever`` sleeps: longer than any timeout the machine draws."""

STEP_HORIZON_MS = 1000
"""``step`` is only chosen when the next event is at most this far ahead."""

MAX_STEPS_PER_RULE = 500

POOL_INDEX = st.integers(0, 2)
"""A pool, as an index taken modulo the number of pools the world has."""

FUNCTIONS = ("work:act", "work:forever", "work:write", "work:bad_write")

SEED_TRANSITIONS = {
    (row.source, row.trigger): row.target for row in TRANSITIONS if "seed" in row.profiles
}
"""The lifecycle table of profile ``seed`` (LIF-1): ``(state, trigger) -> state``."""

FINISHED = TERMINAL | {State.EVICTED}

# Configuration ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PoolConfig:
    """The options one pool was created with."""

    name: str
    max_parallelism: int
    action_timeout_ms: int
    mutation_timeout_ms: int
    unknown_timeout_ms: int
    ttl_ms: int | float

    def timeout_for(self, kind: str) -> int:
        """The timeout of work of ``kind`` (``"action"``, ``"mutation"`` or ``"unknown"``)."""
        if kind == "action":
            return self.action_timeout_ms
        if kind == "mutation":
            return self.mutation_timeout_ms
        return self.unknown_timeout_ms


@attrs.frozen(kw_only=True)
class Config:
    """A world to build: its seed, its pools and the durations of its mutations."""

    seed: int
    pools: tuple[PoolConfig, ...]
    write_ms: int
    bad_write_ms: int

    def pool(self, name: str) -> PoolConfig:
        """The options of the pool called ``name``."""
        return next(pool for pool in self.pools if pool.name == name)


@st.composite
def pool_configs(draw: st.DrawFn, name: str) -> PoolConfig:
    """Options of one pool: small timeouts and ttls, so that they happen within a run."""
    timeouts = st.integers(50, 400)
    return PoolConfig(
        name=name,
        max_parallelism=draw(st.integers(1, 4)),
        action_timeout_ms=draw(timeouts),
        mutation_timeout_ms=draw(timeouts),
        unknown_timeout_ms=draw(timeouts),
        ttl_ms=draw(st.one_of(st.integers(100, 1000), st.just(math.inf))),
    )


@st.composite
def configs(draw: st.DrawFn) -> Config:
    """A world of one to three pools named ``p0``, ``p1``, ``p2``."""
    count = draw(st.integers(1, 3))
    return Config(
        seed=draw(st.integers(0, 2**32 - 1)),
        pools=tuple(draw(pool_configs(f"p{i}")) for i in range(count)),
        write_ms=draw(st.sampled_from([0, 1, 20, 150, 300])),
        bad_write_ms=draw(st.sampled_from([0, 10, 100])),
    )


def work_args(pool: str, ms: int, fail: int, value: int) -> dict[str, Any]:
    """The arguments every test function takes (each reads the keys it needs)."""
    return {"ms": ms, "fail": fail, "value": value, "pool": pool, "token": ""}


# The world under test -----------------------------------------------------------------------


@attrs.define(kw_only=True)
class Poll:
    """One ``poll_result`` made by the ``work:poll`` action, and how it resumed."""

    id: str
    called_at: int
    timeout_ms: int
    resolved_at: int | None = None
    outcome: str | None = None
    """``"returned"``, ``"failed"``, ``"timeout"`` or ``"evicted"``."""
    value: Any = None
    """The returned value, or the message of the exception raised."""
    status: dict[str, Any] | None = None
    """``status(id)`` read by the poller the moment it resumed."""


@attrs.frozen(kw_only=True)
class SchedulerCancel:
    """One ``pool.ctx(ctx).scheduler.cancel(id)`` made by the ``work:scheduler_cancel`` action."""

    pool: str
    id: str
    raised: str | None
    """The class name of what the call raised, or ``None``."""
    before: tuple[Any, ...]
    after: tuple[Any, ...]


class Rig:
    """A world built from a :class:`Config`, with the machine's test functions registered.

    - ``work:act`` sleeps ``args["ms"]`` (not at all for 0), then returns ``args["value"]``,
      raises ``RuntimeError("boom<value>")`` (``fail`` 1) or ``ValueError()`` (``fail`` 2).
    - ``work:forever`` sleeps longer than any timeout.
    - ``work:write`` (``write_ms``) increments the counter in table ``count_<pool>``, logs
      ``args["token"]`` in table ``log_<pool>`` and returns the counter's new value;
      ``work:bad_write`` (``bad_write_ms``) logs its token too, then raises.
    - ``work:poll`` and ``work:scheduler_cancel`` record what a poll or a ctx scheduler cancel
      saw, into :attr:`polls` and :attr:`scheduler_cancels`.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self.world = World(seed=config.seed, trace=True, profile="seed")
        self.pools: dict[str, Workpool] = {}
        for options in config.pools:
            self.pools[options.name] = self.world.pool(
                options.name,
                max_parallelism=options.max_parallelism,
                action_timeout_ms=options.action_timeout_ms,
                mutation_timeout_ms=options.mutation_timeout_ms,
                unknown_timeout_ms=options.unknown_timeout_ms,
                ttl_ms=options.ttl_ms,
            )
        self.issued: list[str] = []
        self.polls: list[Poll] = []
        self.scheduler_cancels: list[SchedulerCancel] = []
        self._register()

    def pool_at(self, index: int) -> Workpool:
        """The pool at ``index`` modulo the number of pools."""
        pools = list(self.pools.values())
        return pools[index % len(pools)]

    def owner(self, work_id: str) -> Workpool:
        """The pool that issued ``work_id``."""
        return self.pools[work_id.split("/", 1)[0]]

    def snapshot(self) -> tuple[Any, ...]:
        """Everything a rejected call must leave as it was."""
        world = self.world
        return (
            world.now,
            world.peek(),
            len(world.trace),
            tuple(pool.statistics() for pool in self.pools.values()),
            tuple(self.owner(work_id).status(work_id) for work_id in self.issued),
        )

    def enqueue(self, pool: Workpool, kind: str, fn: str, args: dict[str, Any], run_at: int) -> str:
        """Enqueue from the client: ``kind`` is ``"action"``, ``"mutation"`` or ``"unknown"``
        (eligible at ``run_at``; ``run_at`` is ignored for the other kinds)."""
        client = self.world.client
        if kind == "action":
            work_id = pool.enqueue_action(client, fn, args)
        elif kind == "mutation":
            work_id = pool.enqueue_mutation(client, fn, args)
        else:
            work_id = pool.enqueue_unknown(client, fn, args, run_at)
        self.issued.append(work_id)
        return work_id

    def _register(self) -> None:
        world = self.world

        @world.action("work:act")
        async def act(ctx: ActionCtx, args: dict[str, Any]) -> int:
            if args["ms"]:
                await ctx.sleep(args["ms"])
            if args["fail"] == 1:
                raise RuntimeError(f"boom{args['value']}")
            if args["fail"] == 2:
                raise ValueError()
            return int(args["value"])

        @world.action("work:forever")
        async def forever(ctx: ActionCtx, args: dict[str, Any]) -> None:
            await ctx.sleep(FOREVER_MS)

        @world.mutation("work:write", duration_ms=self.config.write_ms)
        def write(ctx: MutationCtx, args: dict[str, Any]) -> int:
            table = f"count_{args['pool']}"
            ctx.db.insert(f"log_{args['pool']}", {"by": args["token"]})
            rows = ctx.db.query(table)
            if not rows:
                ctx.db.insert(table, {"value": 1})
                return 1
            value = int(rows[0]["value"]) + 1
            ctx.db.patch(rows[0]["_id"], {"value": value})
            return value

        @world.mutation("work:bad_write", duration_ms=self.config.bad_write_ms)
        def bad_write(ctx: MutationCtx, args: dict[str, Any]) -> int:
            ctx.db.insert(f"log_{args['pool']}", {"by": args["token"]})
            raise RuntimeError("bad write")

        @world.action("work:poll")
        async def poll(ctx: ActionCtx, args: dict[str, Any]) -> None:
            work_id = args["id"]
            pool = self.owner(work_id)
            record = Poll(id=work_id, called_at=ctx.now, timeout_ms=args["timeout"])
            self.polls.append(record)
            try:
                record.value = await pool.poll_result(ctx, work_id, args["timeout"])
                record.outcome = "returned"
            except WorkFailed as error:
                record.outcome, record.value = "failed", str(error)
            except PollTimeout as error:
                record.outcome, record.value = "timeout", str(error)
            except WorkEvicted as error:
                record.outcome, record.value = "evicted", str(error)
            record.resolved_at = ctx.now
            record.status = pool.status(work_id).to_json()

        @world.action("work:scheduler_cancel")
        async def scheduler_cancel(ctx: ActionCtx, args: dict[str, Any]) -> None:
            pool = self.pools[args["pool"]]
            before = self.snapshot()
            raised = None
            try:
                pool.ctx(ctx).scheduler.cancel(args["id"])
            except Exception as error:
                raised = type(error).__name__
            self.scheduler_cancels.append(
                SchedulerCancel(
                    pool=pool.name, id=args["id"], raised=raised, before=before,
                    after=self.snapshot(),
                )
            )


# The shadow ---------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class Item:
    """What the trace says about one work item."""

    id: str
    pool: str
    kind: str
    fn: str
    args: dict[str, Any]
    eligible_at: int
    order: int
    state: State = State.PENDING
    started_at: int = -1
    started_seq: int = -1
    finished_at: int = -1
    outcome: dict[str, Any] | None = None
    """The terminal status, once terminal."""

    def status(self) -> dict[str, Any]:
        """The status ``pool.status`` must report (STS-1, STS-3)."""
        if self.state is State.PENDING:
            return {"kind": "pending"}
        if self.state is State.RUNNING:
            return {"kind": "inProgress"}
        if self.state is State.EVICTED:
            return {"kind": "evicted"}
        assert self.outcome is not None
        return self.outcome


TRIGGERS = {
    "started": Trigger.START,
    "succeeded": Trigger.SUCCEED,
    "failed": Trigger.FAIL,
    "canceled": Trigger.CANCEL,
    "timed_out": Trigger.TIMEOUT,
    "evicted": Trigger.EVICT,
}

RANK = {"pending": 0, "inProgress": 1, "success": 2, "error": 2, "evicted": 3}


def try_result_problem(pool: Workpool, work_id: str, status: dict[str, Any]) -> str | None:
    """How ``try_result(work_id)`` disagrees with ``status`` read at the same moment (RES-1)."""
    try:
        value = pool.try_result(work_id)
    except WorkFailed as error:
        if status.get("kind") == "error" and str(error) == status["error"]:
            return None
        return f"try_result({work_id!r}) raised WorkFailed({error}) while status is {status}"
    except WorkEvicted:
        if status == {"kind": "evicted"}:
            return None
        return f"try_result({work_id!r}) raised WorkEvicted while status is {status}"
    if status.get("kind") in ("pending", "inProgress") and value is None:
        return None
    if status.get("kind") == "success" and value == status["result"]:
        return None
    return f"try_result({work_id!r}) returned {value!r} while status is {status}"


# The machine --------------------------------------------------------------------------------


class WorkpoolMachine(RuleBasedStateMachine):
    """Random driver calls and time steps against one world, checked against a shadow."""

    work_ids = Bundle("work_ids")
    rig: Rig

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, Item] = {}
        self.expected: dict[str, tuple[str, dict[str, Any]]] = {}
        self.issued: dict[str, list[str]] = {}
        self.enqueues: dict[str, int] = {}
        self.running: dict[str, int] = {}
        self.commits: dict[str, list[tuple[int, str]]] = {}
        """Per pool, the successful ``work:write`` items as (trace seq, id), in commit order."""
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.violations: dict[str, list[str]] = {}
        self.checked_polls = 0
        self.seen = 0
        self.instant_checked: tuple[int, float, int] | None = None

    # Set-up ---------------------------------------------------------------------------------

    @initialize(config=configs())
    def build_world(self, config: Config) -> None:
        self.rig = Rig(config)
        for options in config.pools:
            self.issued[options.name] = []
            self.enqueues[options.name] = 0
            self.running[options.name] = 0
            self.commits[options.name] = []

    # Rules: enqueue -------------------------------------------------------------------------

    @checks("ENQ-1", "ENQ-4")
    @rule(
        target=work_ids,
        pool_index=POOL_INDEX,
        ms=st.integers(0, 500),
        fail=st.integers(0, 2),
        value=st.integers(0, 3),
    )
    def enqueue_action(self, pool_index: int, ms: int, fail: int, value: int) -> str:
        pool = self.rig.pool_at(pool_index)
        return self._enqueue(pool, "action", "work:act", work_args(pool.name, ms, fail, value))

    @checks("ENQ-1", "ENQ-4")
    @rule(target=work_ids, pool_index=POOL_INDEX)
    def enqueue_forever(self, pool_index: int) -> str:
        pool = self.rig.pool_at(pool_index)
        return self._enqueue(pool, "action", "work:forever", work_args(pool.name, 0, 0, 0))

    @checks("ENQ-1", "ENQ-4")
    @rule(target=work_ids, pool_index=POOL_INDEX, bad=st.booleans())
    def enqueue_mutation(self, pool_index: int, bad: bool) -> str:
        pool = self.rig.pool_at(pool_index)
        fn = "work:bad_write" if bad else "work:write"
        return self._enqueue(pool, "mutation", fn, work_args(pool.name, 0, 0, 0))

    @checks("ENQ-1", "ENQ-4")
    @rule(
        target=work_ids,
        pool_index=POOL_INDEX,
        fn=st.sampled_from(FUNCTIONS),
        offset=st.integers(-100, 500),
        ms=st.integers(0, 500),
        fail=st.integers(0, 2),
    )
    def enqueue_unknown(self, pool_index: int, fn: str, offset: int, ms: int, fail: int) -> str:
        pool = self.rig.pool_at(pool_index)
        run_at = max(0, self.rig.world.now + offset)
        return self._enqueue(pool, "unknown", fn, work_args(pool.name, ms, fail, 1), run_at)

    def _enqueue(
        self, pool: Workpool, kind: str, fn: str, args: dict[str, Any], run_at: int | None = None
    ) -> str:
        now = self.rig.world.now
        expected_id = f"{pool.name}/{len(self.issued[pool.name]) + 1}"
        args = {**args, "token": expected_id}
        work_id = self.rig.enqueue(pool, kind, fn, args, now if run_at is None else run_at)
        self.issued[pool.name].append(work_id)
        self.expected[work_id] = (fn, args)
        self._sync()
        assert work_id == expected_id, f"ENQ-1: enqueue returned {work_id!r}, not {expected_id!r}"
        item = self.items.get(work_id)
        assert item is not None, f"ENQ-1: no 'enqueued' trace event for {work_id}"
        eligible = now if run_at is None else max(run_at, now)
        assert item.eligible_at == eligible, (
            f"ENQ-4: {work_id} enqueued at {now} ms with run_at {run_at} is eligible at "
            f"{item.eligible_at} ms, not {eligible} ms"
        )
        status = pool.status(work_id).to_json()
        assert status == {"kind": "pending"}, f"ENQ-1: {work_id} reads {status} right after enqueue"
        return work_id

    # Rules: cancel --------------------------------------------------------------------------

    @checks("CAN-1", "CAN-2", "CAN-3")
    @rule(work_id=work_ids)
    def cancel(self, work_id: str) -> None:
        pool = self.rig.owner(work_id)
        self._sync()
        state = self.items[work_id].state
        status = pool.status(work_id).to_json()
        running = pool.statistics().running
        start = len(self.rig.world.trace)
        returned = pool.cancel(self.rig.world.client, work_id)  # type: ignore[func-returns-value]
        assert returned is None, f"CAN-1: cancel returned {returned!r}"
        self._expect_cancel_effect(pool, work_id, state, status, running, start)

    def _expect_cancel_effect(
        self,
        pool: Workpool,
        work_id: str,
        state: State,
        status: dict[str, Any],
        running: int,
        start: int,
    ) -> None:
        """Check what an accepted cancel of ``work_id`` did (CAN-1, CAN-2, CAN-3)."""
        world = self.rig.world
        events = [e for e in world.trace[start:] if e.id == work_id and e.pool == pool.name]
        transitions = [
            (e.kind, e.data.get("wasRunning"), e.time) for e in events if e.kind in TRIGGERS
        ]
        after = pool.status(work_id).to_json()
        if state in (State.PENDING, State.RUNNING):
            rule_id = "CAN-1" if state is State.PENDING else "CAN-2"
            was_running = state is State.RUNNING
            expected = [("canceled", was_running, world.now)]
            assert transitions == expected, (
                f"{rule_id}: cancel of {state.value} {work_id} at {world.now} ms traced "
                f"{transitions}, not {expected}"
            )
            assert after == {"kind": "error", "error": "Canceled"}, (
                f"{rule_id}: {work_id} reads {after} after a cancel of {state.value} work"
            )
            freed = running - pool.statistics().running
            assert freed == (1 if was_running else 0), (
                f"{rule_id}: cancel of {state.value} {work_id} freed {freed} slots"
            )
        else:
            assert transitions == [], (
                f"CAN-3: cancel of {state.value} {work_id} traced {transitions}"
            )
            assert after == status, (
                f"CAN-3: cancel of {state.value} {work_id} changed {status} to {after}"
            )

    @checks("CAN-5", "STS-4")
    @rule(
        pool_index=POOL_INDEX,
        call=st.sampled_from(["cancel", "status", "try_result"]),
        pick=st.integers(0, 1000),
    )
    def use_foreign_id(self, pool_index: int, call: str, pick: int) -> None:
        pool = self.rig.pool_at(pool_index)
        candidates = self._foreign_ids(pool)
        foreign = candidates[pick % len(candidates)]
        rule_id = "CAN-5" if call == "cancel" else "STS-4"
        before = self.rig.snapshot()
        calls: dict[str, Callable[[], object]] = {
            "cancel": lambda: pool.cancel(self.rig.world.client, foreign),
            "status": lambda: pool.status(foreign),
            "try_result": lambda: pool.try_result(foreign),
        }
        try:
            calls[call]()
        except UnknownWorkId as error:
            message = str(error)
        else:
            raise AssertionError(
                f"{rule_id}: pool {pool.name!r} accepted {foreign!r}, which it did not issue, "
                f"in {call}"
            )
        after = self.rig.snapshot()
        assert after == before, (
            f"{rule_id}: {call}({foreign!r}) raised but changed {before} to {after}"
        )
        owner = foreign.split("/", 1)[0]
        if owner != pool.name and owner in self.rig.pools and foreign in self.issued[owner]:
            expected = f"{foreign!r} was not issued by pool {pool.name!r}"
            assert message == expected, f"STS-4: message {message!r}, not {expected!r}"
        issued = len(self.issued[pool.name])
        if issued and foreign == f"{pool.name}/{issued + 1}":
            expected = (
                f"unknown work id {foreign!r}: pool {pool.name!r} has issued ids up to "
                f"{pool.name}/{issued}"
            )
            assert message == expected, f"STS-4: message {message!r}, not {expected!r}"

    def _foreign_ids(self, pool: Workpool) -> list[str]:
        """Strings that are not ids of existing work items of ``pool`` (STS-4)."""
        name = pool.name
        issued = len(self.issued[name])
        ids = [
            f"{name}/{issued + 1}",
            f"{name}/{issued + 7}",
            f"{name}/0",
            f"{name}/-1",
            f"{name}/+1",
            f"{name}/1.0",
            f"{name}/ 1",
            f"{name}/1 ",
            f" {name}/1",
            f"{name}//1",
            f"{name}/1/1",
            f"{name}/x",
            f"{name}/0{issued}",
            f"{name}/\u0661",
            f"{name}/\u00b2",
            f"{name}/",
            f"{name.upper()}/1",
            name,
            "/1",
            "",
        ]
        for other, other_ids in self.issued.items():
            if other != name:
                ids += other_ids[:3] or [f"{other}/1"]
        return ids

    @checks("CAN-4")
    @rule(work_id=work_ids, pool_index=POOL_INDEX)
    def cancel_through_ctx_scheduler(self, work_id: str, pool_index: int) -> None:
        pool = self.rig.pool_at(pool_index)
        owner = self.rig.owner(work_id)
        self._sync()
        state = self.items[work_id].state
        status = owner.status(work_id).to_json()
        running = owner.statistics().running
        start = len(self.rig.world.trace)
        self.rig.world.run_action(
            "work:scheduler_cancel", {"pool": pool.name, "id": work_id}
        )
        record = self.rig.scheduler_cancels[-1]
        assert record.id == work_id, "CAN-4: the ctx scheduler cancel did not run at once"
        if owner is pool and self.items[work_id].kind == "unknown":
            assert record.raised is None, (
                f"CAN-4: ctx scheduler of {pool.name!r} refused its own id {work_id!r} "
                f"with {record.raised}"
            )
            self._expect_cancel_effect(owner, work_id, state, status, running, start)
        else:
            kind = self.items[work_id].kind
            assert record.raised == "ForeignWorkId", (
                f"CAN-4: ctx scheduler of {pool.name!r} given {kind} id {work_id!r} raised "
                f"{record.raised}, not ForeignWorkId"
            )
            assert record.after == record.before, (
                f"CAN-4: the refused cancel of {work_id!r} changed {record.before} to "
                f"{record.after}"
            )

    # Rules: reads ---------------------------------------------------------------------------

    @checks("RES-1", "STS-2")
    @rule(work_id=work_ids)
    def read_status_and_result(self, work_id: str) -> None:
        pool = self.rig.owner(work_id)
        status = pool.status(work_id).to_json()
        self._record_status(work_id, status)
        problem = try_result_problem(pool, work_id, status)
        assert problem is None, f"RES-1: {problem}"

    @checks("RES-2", "RES-3")
    @rule(work_id=work_ids, timeout=st.integers(0, 600))
    def poll_result(self, work_id: str, timeout: int) -> None:
        self.rig.world.run_action("work:poll", {"id": work_id, "timeout": timeout})

    # Rules: time ----------------------------------------------------------------------------

    @checks("CLK-4")
    @rule(pick=st.integers(0, 255), inclusive=st.booleans())
    def run_until_interesting_time(self, pick: int, inclusive: bool) -> None:
        world = self.rig.world
        times = self._interesting_times()
        target = times[pick % len(times)]
        world.run_until(target, inclusive=inclusive)
        assert world.now == target, f"CLK-4: run_until({target}) left the clock at {world.now}"
        next_time = world.peek()
        settled = next_time > target if inclusive else next_time >= target
        assert settled, (
            f"CLK-4: run_until({target}, inclusive={inclusive}) left an event at {next_time} ms"
        )

    @checks("WC-1", "TMO-1", "TTL-1")
    @rule(pick=st.integers(0, 255))
    def step_to_interesting_time(self, pick: int) -> None:
        """Step event by event, checking every instant on the way as it settles."""
        world = self.rig.world
        times = self._interesting_times()
        target = times[pick % len(times)]
        for _ in range(MAX_STEPS_PER_RULE):
            if world.peek() > target:
                break
            world.step()
            if world.peek() > world.now:
                self._check_instant()
        world.run_until(target)

    @checks("CLK-1", "CLK-4")
    @precondition(lambda self: self.rig.world.peek() <= self.rig.world.now + STEP_HORIZON_MS)
    @rule()
    def step(self) -> None:
        world = self.rig.world
        entry = world.clock.peek_entry()
        assert entry is not None
        before = world.now
        start = len(world.trace)
        done = world.step()
        assert (done.time, int(done.phase)) == entry[:2], (
            f"CLK-4: step processed {(done.time, int(done.phase))}, not the least key {entry[:3]}"
        )
        assert world.now == done.time >= before, (
            f"CLK-1: step moved the clock from {before} to {world.now} for an event at {done.time}"
        )
        assert list(done.events) == world.trace[start:], "CLK-4: step() misreported its events"

    @checks("CLK-4")
    @rule()
    def run_until_idle(self) -> None:
        world = self.rig.world
        world.run_until_idle(max_steps=10_000)
        if not world.idle:
            # Every function here ends or times out, so work left over is a broken rule:
            # report the first one the shadow saw, if any, before blaming run_until_idle.
            self._check_instant()
            self._assert_clean(*self.violations)
        assert world.idle, f"CLK-4: run_until_idle returned at {world.now} ms with work left"

    def _interesting_times(self) -> list[int]:
        """Now, now + 1, and the instants around every deadline the shadow knows of."""
        now = self.rig.world.now
        config = self.rig.config
        deadlines = [now, now + 1]
        for item in self.items.values():
            options = config.pool(item.pool)
            if item.state is State.PENDING:
                deadlines.append(item.eligible_at)
            elif item.state is State.RUNNING:
                deadlines.append(item.started_at + options.timeout_for(item.kind))
                end = self._natural_end(item)
                if end is not None:
                    deadlines.append(end)
            elif item.state in TERMINAL and options.ttl_ms != math.inf:
                deadlines.append(item.finished_at + int(options.ttl_ms))
        for poll in self.rig.polls:
            if poll.resolved_at is None:
                deadlines.append(poll.called_at + poll.timeout_ms)
        times = {t + delta for t in deadlines for delta in (-1, 0, 1)}
        return sorted(t for t in times if t >= now)

    def _natural_end(self, item: Item) -> int | None:
        """When a running item's function ends on its own, if it ever does (EXE-1, EXE-2)."""
        if item.fn == "work:act":
            return item.started_at + int(item.args["ms"])
        if item.fn == "work:write":
            return item.started_at + self.rig.config.write_ms
        if item.fn == "work:bad_write":
            return item.started_at + self.rig.config.bad_write_ms
        return None

    # Reading the trace ----------------------------------------------------------------------

    def _flag(self, rule_id: str, message: str) -> None:
        self.violations.setdefault(rule_id, []).append(message)

    def _assert_clean(self, *rule_ids: str) -> None:
        self._sync()
        self._check_instant_once()
        for rule_id in rule_ids:
            found = self.violations.get(rule_id, [])
            assert not found, f"{rule_id}: {found[0]}"

    def _sync(self) -> None:
        trace = self.rig.world.trace
        for event in trace[self.seen :]:
            self._read(event)
        self.seen = len(trace)

    def _read(self, event: TraceEvent) -> None:
        if event.pool is None or event.id is None or event.pool not in self.rig.pools:
            return
        if event.kind == "enqueued":
            self._read_enqueued(event)
            return
        item = self.items.get(event.id)
        if item is None:
            self._flag("LIF-1", f"{event} concerns an id that was never enqueued")
            if event.kind == "canceled":
                self._flag("CAN-5", f"{event} cancels an id the pool never issued")
            return
        if event.kind == "cancel_ignored":
            if item.state not in FINISHED:
                self._flag(
                    "CAN-1" if item.state is State.PENDING else "CAN-2",
                    f"{event}: a cancel of {item.state.value} work was ignored",
                )
            return
        trigger = TRIGGERS.get(event.kind)
        if trigger is None:
            return
        target = SEED_TRANSITIONS.get((item.state, trigger))
        if target is None:
            self._flag(
                "LIF-1", f"{event}: no transition from {item.state.value} on {trigger.value}"
            )
            return
        if trigger is Trigger.START:
            self._read_started(item, event)
        elif trigger is Trigger.EVICT:
            self._read_evicted(item, event)
        else:
            self._read_finished(item, event, trigger)
        item.state = target

    def _read_enqueued(self, event: TraceEvent) -> None:
        work_id = event.id
        assert work_id is not None and event.pool is not None
        if work_id in self.items:
            self._flag("LIF-1", f"{event}: {work_id} was enqueued twice")
            return
        expected = self.expected.get(work_id)
        if expected is None:
            self._flag("ENQ-1", f"{event}: no enqueue call returned {work_id}")
            expected = (str(event.data["fn"]), {})
        self.enqueues[event.pool] += 1
        self.items[work_id] = Item(
            id=work_id,
            pool=event.pool,
            kind=str(event.data["kind"]),
            fn=expected[0],
            args=expected[1],
            eligible_at=int(event.data["runAt"]),
            order=self.enqueues[event.pool],
        )

    def _read_started(self, item: Item, event: TraceEvent) -> None:
        t = event.time
        if t < item.eligible_at:
            self._flag("ORD-2", f"{event}: started before its eligibility time {item.eligible_at}")
        key = (item.eligible_at, item.order)
        for other in self.items.values():
            if (
                other.pool == item.pool
                and other.state is State.PENDING
                and other is not item
                and other.eligible_at <= t
                and (other.eligible_at, other.order) < key
            ):
                self._flag(
                    "ORD-1",
                    f"{event}: {other.id} (eligible at {other.eligible_at}, enqueued "
                    f"#{other.order}) is pending and ahead of it (eligible at "
                    f"{item.eligible_at}, enqueued #{item.order})",
                )
        self.running[item.pool] += 1
        limit = self.rig.config.pool(item.pool).max_parallelism
        if self.running[item.pool] > limit:
            self._flag(
                "PAR-1",
                f"{event}: {self.running[item.pool]} items of pool {item.pool} run at once, "
                f"max_parallelism is {limit}",
            )
        item.started_at = t
        item.started_seq = event.seq

    def _read_finished(self, item: Item, event: TraceEvent, trigger: Trigger) -> None:
        was = item.state
        if was is State.RUNNING:
            self.running[item.pool] -= 1
        item.finished_at = event.time
        if trigger is Trigger.SUCCEED:
            item.outcome = {"kind": "success", "result": event.data.get("result")}
        elif trigger is Trigger.FAIL:
            item.outcome = {"kind": "error", "error": event.data.get("error")}
        elif trigger is Trigger.CANCEL:
            item.outcome = {"kind": "error", "error": "Canceled"}
            if event.id not in self.issued.get(item.pool, []):
                self._flag("CAN-5", f"{event}: canceled an id the pool did not issue")
            if event.data.get("wasRunning") != (was is State.RUNNING):
                self._flag("CAN-2", f"{event}: wasRunning disagrees with {was.value}")
        else:
            item.outcome = {"kind": "error", "error": "Timeout"}
            timeout = self.rig.config.pool(item.pool).timeout_for(item.kind)
            if event.time != item.started_at + timeout:
                self._flag(
                    "TMO-1",
                    f"{event}: timed out at {event.time} ms, not at started_at "
                    f"{item.started_at} + {item.kind} timeout {timeout}",
                )
        if trigger in (Trigger.SUCCEED, Trigger.FAIL):
            self._read_end(item, event)

    def _read_end(self, item: Item, event: TraceEvent) -> None:
        """Check how a function ended against what it was registered to do."""
        args = item.args
        outcome = item.outcome
        if item.fn == "work:forever":
            self._flag("EXE-1", f"{event}: work:forever ended on its own")
            return
        if item.fn == "work:act":
            rule_id = "EXE-1"
            if args["fail"] == 1:
                expected: dict[str, Any] = {"kind": "error", "error": f"boom{args['value']}"}
            elif args["fail"] == 2:
                expected = {"kind": "error", "error": "ValueError"}
            else:
                expected = {"kind": "success", "result": args["value"]}
        elif item.fn == "work:bad_write":
            rule_id = "EXE-2"
            expected = {"kind": "error", "error": "bad write"}
        else:
            rule_id = "EXE-2"
            commits = self.commits[item.pool]
            if any(seq > item.started_seq for seq, _ in commits):
                assert outcome is not None
                error = str(outcome.get("error"))
                if not error.startswith("OCC conflict"):
                    self._flag("OCC-2", f"{event}: a write that raced a commit did not conflict")
                if self.rig.config.pool(item.pool).max_parallelism == 1:
                    self._flag("EXE-3", f"{event}: a pool of one produced a conflict")
                expected = outcome
            else:
                expected = {"kind": "success", "result": len(commits) + 1}
                commits.append((event.seq, item.id))
        end = self._natural_end(item)
        if event.time != end:
            self._flag(rule_id, f"{event}: {item.fn} ended at {event.time} ms, not at {end} ms")
        if outcome != expected:
            self._flag(rule_id, f"{event}: {item.fn} ended with {outcome}, not {expected}")

    def _read_evicted(self, item: Item, event: TraceEvent) -> None:
        ttl = self.rig.config.pool(item.pool).ttl_ms
        if ttl == math.inf:
            self._flag("TTL-1", f"{event}: evicted although ttl_ms is math.inf")
        elif event.time != item.finished_at + ttl:
            self._flag(
                "TTL-1",
                f"{event}: evicted at {event.time} ms, not at finished_at {item.finished_at} + "
                f"ttl_ms {ttl}",
            )

    # Checks of the current instant ----------------------------------------------------------

    def _check_instant_once(self) -> None:
        world = self.rig.world
        key = (world.now, world.peek(), len(world.trace))
        if key != self.instant_checked:
            self.instant_checked = key
            self._check_instant()

    def _check_instant(self) -> None:
        """What must already have happened by now: starts into free slots at a settled instant
        (WC-1), timeouts, evictions, natural ends, poll wake-ups and deadlines."""
        self._sync()
        world = self.rig.world
        now = world.now
        settled = world.peek() > now
        config = self.rig.config

        def overdue(deadline: int) -> bool:
            return deadline < now or (deadline == now and settled)

        if settled:
            for options in config.pools:
                free = options.max_parallelism - self.running[options.name]
                eligible = [
                    item.id
                    for item in self.items.values()
                    if item.pool == options.name
                    and item.state is State.PENDING
                    and item.eligible_at <= now
                ]
                if free > 0 and eligible:
                    self._flag(
                        "WC-1",
                        f"at settled instant {now} ms pool {options.name} has {free} free "
                        f"slots and eligible pending work {eligible}",
                    )
        for item in self.items.values():
            options = config.pool(item.pool)
            if item.state is State.RUNNING:
                timeout_at = item.started_at + options.timeout_for(item.kind)
                if overdue(timeout_at):
                    self._flag(
                        "TMO-1",
                        f"at {now} ms {item.id} is still running; it started at "
                        f"{item.started_at} ms and its timeout was due at {timeout_at} ms",
                    )
                end = self._natural_end(item)
                if end is not None and end <= timeout_at and overdue(end):
                    self._flag(
                        "EXE-1" if item.fn == "work:act" else "EXE-2",
                        f"at {now} ms {item.id} ({item.fn}) is still running; it should "
                        f"have ended at {end} ms",
                    )
            elif item.state in TERMINAL and options.ttl_ms != math.inf:
                evict_at = item.finished_at + int(options.ttl_ms)
                if overdue(evict_at):
                    self._flag(
                        "TTL-1",
                        f"at {now} ms {item.id} is not evicted; it finished at "
                        f"{item.finished_at} ms and was due for eviction at {evict_at} ms",
                    )
        for poll in self.rig.polls:
            if poll.resolved_at is not None:
                continue
            item = self.items[poll.id]
            if item.state in FINISHED:
                self._flag(
                    "RES-2",
                    f"at {now} ms a poll of {poll.id} made at {poll.called_at} ms still waits, "
                    f"though the item is {item.state.value} since {item.finished_at} ms",
                )
            if overdue(poll.called_at + poll.timeout_ms):
                self._flag(
                    "RES-3",
                    f"at {now} ms a poll of {poll.id} made at {poll.called_at} ms with timeout "
                    f"{poll.timeout_ms} ms has not given up",
                )

    def _record_status(self, work_id: str, status: dict[str, Any]) -> None:
        """Add a status read to ``work_id``'s history, checking that it moved forward (STS-2)."""
        history = self.history.setdefault(work_id, [])
        if history and history[-1] == status:
            return
        if history:
            last = history[-1]
            if RANK[status["kind"]] < RANK[last["kind"]] or RANK[last["kind"]] == RANK[
                status["kind"]
            ] == 2:
                self._flag("STS-2", f"{work_id} read {last}, then {status}")
        ttl = self.rig.config.pool(work_id.split("/", 1)[0]).ttl_ms
        if status["kind"] == "evicted" and ttl == math.inf:
            self._flag("STS-2", f"{work_id} reads evicted although ttl_ms is math.inf")
        history.append(status)

    # Invariants -----------------------------------------------------------------------------

    @checks("PAR-1")
    @invariant()
    def running_count_within_max_parallelism(self) -> None:
        self._assert_clean("PAR-1")
        for name, pool in self.rig.pools.items():
            stats = pool.statistics()
            limit = self.rig.config.pool(name).max_parallelism
            assert stats.running <= limit, f"PAR-1: {name} reports {stats.running} running"
            assert stats.running == self.running[name], (
                f"PAR-1: {name} reports {stats.running} running, the trace says "
                f"{self.running[name]}"
            )

    @checks("ORD-1", "ORD-2")
    @invariant()
    def starts_follow_eligibility_then_fifo_order(self) -> None:
        """A start before its eligibility time is reported as ORD-2 even when it also jumps
        the FIFO queue (ORD-1)."""
        self._assert_clean("ORD-2", "ORD-1")

    @checks("WC-1")
    @invariant()
    def no_free_slot_beside_eligible_work(self) -> None:
        self._assert_clean("WC-1")

    @checks("TMO-1")
    @invariant()
    def timeouts_fire_exactly_at_deadline(self) -> None:
        self._assert_clean("TMO-1")

    @checks("TTL-1")
    @invariant()
    def evictions_happen_exactly_at_ttl(self) -> None:
        self._assert_clean("TTL-1")

    @checks("LIF-1")
    @invariant()
    def trace_paths_follow_lifecycle_table(self) -> None:
        self._assert_clean("LIF-1", "ENQ-1")

    @checks("CAN-1", "CAN-2", "CAN-5")
    @invariant()
    def only_issued_ids_are_canceled(self) -> None:
        self._assert_clean("CAN-5", "CAN-1", "CAN-2")

    @checks("EXE-1", "EXE-2", "EXE-3", "OCC-2")
    @invariant()
    def functions_end_as_registered(self) -> None:
        # A write that conflicts with no commit the trace shows is explained by stray writes
        # in the store (an abandoned or failed mutation's), so those are reported first.
        self._check_store()
        self._assert_clean("EXE-1", "EXE-2", "EXE-3", "OCC-2")

    @checks("EXE-2", "OCC-1", "OCC-2", "TMO-2", "CAN-2")
    @invariant()
    def only_committed_mutations_leave_writes(self) -> None:
        self._check_store()

    def _check_store(self) -> None:
        """Every write and bad_write logs its token; only successful writes may have."""
        self._sync()
        store = self.rig.world.store
        for name, commits in self.commits.items():
            logged = [str(doc["by"]) for doc in store.all(f"log_{name}")]
            committed = [work_id for _, work_id in commits]
            for work_id in logged:
                if work_id in committed:
                    continue
                item = self.items[work_id]
                if item.outcome == {"kind": "error", "error": "Timeout"}:
                    rule_id = "TMO-2"
                elif item.outcome == {"kind": "error", "error": "Canceled"}:
                    rule_id = "CAN-2"
                elif item.fn == "work:write":
                    rule_id = "OCC-2"
                else:
                    rule_id = "EXE-2"
                raise AssertionError(
                    f"{rule_id}: {work_id} ({item.fn}, {item.state.value}) left its writes in "
                    f"the store; only {committed} committed"
                )
            assert logged == committed, (
                f"OCC-1: pool {name}'s log reads {logged}, but {committed} committed"
            )
            counters = store.all(f"count_{name}")
            value = int(counters[0]["value"]) if counters else 0
            assert value == len(commits), (
                f"OCC-1: pool {name}'s counter reads {value} after {len(commits)} commits"
            )

    @checks("STS-1", "STS-2", "STS-3")
    @invariant()
    def status_matches_trace(self) -> None:
        self._assert_clean("STS-2")
        for work_id, item in self.items.items():
            status = self.rig.owner(work_id).status(work_id).to_json()
            expected = item.status()
            rule_id = "STS-3" if expected["kind"] == "evicted" else "STS-1"
            assert status == expected, (
                f"{rule_id}: {work_id} reads {status}; the trace says {item.state.value}, "
                f"so {expected}"
            )
            self._record_status(work_id, status)
        self._assert_clean("STS-2")

    @checks("RES-1", "TTL-2")
    @invariant()
    def try_result_agrees_with_status(self) -> None:
        for work_id in self.items:
            pool = self.rig.owner(work_id)
            status = pool.status(work_id).to_json()
            problem = try_result_problem(pool, work_id, status)
            assert problem is None, f"RES-1: {problem}"

    @checks("RES-2", "RES-3", "RES-4", "TTL-2")
    @invariant()
    def poll_results_agree_with_status(self) -> None:
        self._assert_clean("RES-2", "RES-3")
        polls = self.rig.polls
        for poll in polls[self.checked_polls :]:
            if poll.resolved_at is None:
                break
            self._check_poll(poll)
            self.checked_polls += 1
        for poll in polls[self.checked_polls :]:
            if poll.resolved_at is not None:
                self._check_poll(poll)

    def _check_poll(self, poll: Poll) -> None:
        item = self.items[poll.id]
        status = poll.status
        assert status is not None
        where = f"poll of {poll.id} made at {poll.called_at} ms resumed at {poll.resolved_at} ms"
        if poll.outcome == "returned":
            assert status == {"kind": "success", "result": poll.value}, (
                f"RES-4: {where} returning {poll.value!r} while the status read {status}"
            )
        elif poll.outcome == "failed":
            assert status == {"kind": "error", "error": poll.value}, (
                f"RES-4: {where} raising WorkFailed({poll.value}) while the status read {status}"
            )
        elif poll.outcome == "timeout":
            assert status["kind"] in ("pending", "inProgress"), (
                f"RES-2: {where} raising PollTimeout while the status read {status} (RES-4); "
                f"it should have resumed when the item became terminal at {item.finished_at} ms"
            )
            deadline = poll.called_at + poll.timeout_ms
            assert poll.resolved_at == deadline, f"RES-3: {where}, not at its deadline {deadline}"
            message = f"Timeout waiting for result of work {poll.id}"
            assert poll.value == message, f"RES-3: {where} with {poll.value!r}, not {message!r}"
            return
        else:
            assert status == {"kind": "evicted"}, (
                f"TTL-2: {where} raising WorkEvicted while the status read {status}"
            )
            assert poll.resolved_at == poll.called_at, f"TTL-2: {where}, not at its call"
            return
        expected_at = max(poll.called_at, item.finished_at)
        assert poll.resolved_at == expected_at, (
            f"RES-2: {where}; the item became terminal at {item.finished_at} ms"
        )


TestWorkpoolMachine = WorkpoolMachine.TestCase


# DET-1 --------------------------------------------------------------------------------------

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("action"), POOL_INDEX, st.integers(0, 400), st.integers(0, 2)),
        st.tuples(st.just("forever"), POOL_INDEX),
        st.tuples(st.just("mutation"), POOL_INDEX, st.booleans()),
        st.tuples(
            st.just("unknown"), POOL_INDEX, st.sampled_from(FUNCTIONS), st.integers(-100, 400)
        ),
        st.tuples(st.just("cancel"), st.integers(0, 50)),
        st.tuples(st.just("poll"), st.integers(0, 50), st.integers(0, 600)),
        st.tuples(st.just("advance"), st.integers(0, 500), st.booleans()),
        st.tuples(st.just("step")),
    ),
    min_size=10,
    max_size=40,
)


def play(config: Config, operations: list[tuple[Any, ...]]) -> str:
    """Build a fresh world from ``config``, apply ``operations`` and return its JSONL trace."""
    rig = Rig(config)
    world = rig.world
    for operation in operations:
        name = operation[0]
        if name in ("action", "forever", "mutation", "unknown"):
            pool = rig.pool_at(operation[1])
            if name == "action":
                args = work_args(pool.name, operation[2], operation[3], 1)
                rig.enqueue(pool, "action", "work:act", args, world.now)
            elif name == "forever":
                args = work_args(pool.name, 0, 0, 0)
                rig.enqueue(pool, "action", "work:forever", args, world.now)
            elif name == "mutation":
                fn = "work:bad_write" if operation[2] else "work:write"
                rig.enqueue(pool, "mutation", fn, work_args(pool.name, 0, 0, 0), world.now)
            else:
                run_at = max(0, world.now + operation[3])
                rig.enqueue(pool, "unknown", operation[2], work_args(pool.name, 50, 0, 2), run_at)
        elif name in ("cancel", "poll") and rig.issued:
            work_id = rig.issued[operation[1] % len(rig.issued)]
            if name == "cancel":
                rig.owner(work_id).cancel(world.client, work_id)
            else:
                world.run_action("work:poll", {"id": work_id, "timeout": operation[2]})
        elif name == "advance":
            world.run_until(world.now + operation[1], inclusive=operation[2])
        elif name == "step" and world.peek() <= world.now + STEP_HORIZON_MS:
            world.step()
    world.run_until(world.now + 2000)
    return world.trace_jsonl()


def same_trace_twice(config: Config, operations: list[tuple[Any, ...]]) -> None:
    first = play(config, operations)
    second = play(config, operations)
    assert first == second, "DET-1: two runs with the same seed and calls gave different traces"


@checks("DET-1")
@given(config=configs(), operations=OPERATIONS)
def test_same_seed_and_calls_give_byte_identical_traces(
    config: Config, operations: list[tuple[Any, ...]]
) -> None:
    same_trace_twice(config, operations)


# Regressions: ids that once named issued work -------------------------------------------------


def _pool_with_two_items() -> tuple[World, Workpool]:
    world = World(seed=0)
    pool = world.pool("p", max_parallelism=1)

    @world.action("wait")
    async def wait(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(100)

    pool.enqueue_action(world.client, "wait")
    pool.enqueue_action(world.client, "wait")
    return world, pool


@checks("CAN-5", "STS-4")
def test_cancel_refuses_an_id_written_with_a_leading_zero() -> None:
    world, pool = _pool_with_two_items()
    before = len(world.trace)
    try:
        pool.cancel(world.client, "p/02")
        refused = False
    except UnknownWorkId:
        refused = True
    actual = (refused, pool.status("p/2").to_json(), len(world.trace))
    assert actual == (True, {"kind": "pending"}, before), f"CAN-5: {actual}"


@checks("STS-4")
def test_status_refuses_an_id_written_with_arabic_indic_digits() -> None:
    _, pool = _pool_with_two_items()
    try:
        status: object = pool.status("p/\u0661")
    except UnknownWorkId:
        status = "refused"
    assert status == "refused", f"STS-4: status('p/\\u0661') returned {status}"


@checks("STS-4")
def test_status_refuses_an_id_with_a_superscript_digit() -> None:
    _, pool = _pool_with_two_items()
    with pytest.raises(UnknownWorkId):
        pool.status("p/\u00b2")


# Broken engines -----------------------------------------------------------------------------



def machine_failure(breakage: broken.Breakage) -> str:
    """Run ``WorkpoolMachine`` against a broken engine and return how it failed."""
    with breakage():
        return failure_of(
            lambda: run_state_machine_as_test(WorkpoolMachine, settings=BROKEN_SETTINGS)
        )


@checks("PAR-1")
def test_machine_catches_a_pool_running_one_item_too_many() -> None:
    assert machine_failure(broken.one_slot_too_many).startswith("AssertionError: PAR-1:")


@checks("ORD-1")
def test_machine_catches_a_lifo_start_queue() -> None:
    assert machine_failure(broken.lifo_start_queue).startswith("AssertionError: ORD-1:")


@checks("ORD-2")
def test_machine_catches_work_starting_one_ms_before_run_at() -> None:
    assert machine_failure(broken.starts_one_ms_early).startswith("AssertionError: ORD-2:")


@checks("ORD-2")
def test_machine_catches_work_ignoring_run_at() -> None:
    assert machine_failure(broken.ignores_run_at).startswith("AssertionError: ORD-2:")


@checks("ENQ-4")
def test_machine_catches_a_profile_whose_eligibility_ignores_run_at() -> None:
    failure = machine_failure(broken.eligibility_ignores_run_at)
    assert failure.startswith("AssertionError: ENQ-4:"), failure


@checks("CAN-1")
def test_machine_catches_a_dropped_cancel_of_pending_work() -> None:
    assert machine_failure(broken.cancel_of_pending_ignored).startswith("AssertionError: CAN-1:")


@checks("TMO-1")
def test_machine_catches_a_timeout_one_ms_late() -> None:
    assert machine_failure(broken.timeout_one_ms_late).startswith("AssertionError: TMO-1:")


@checks("TTL-1")
def test_machine_catches_an_eviction_one_ms_early() -> None:
    assert machine_failure(broken.eviction_one_ms_early).startswith("AssertionError: TTL-1:")


@checks("STS-3")
def test_machine_catches_evicted_work_reading_success() -> None:
    assert machine_failure(broken.evicted_reads_success).startswith("AssertionError: STS-3:")


@checks("WC-1")
def test_machine_catches_a_slot_left_free_after_a_completion() -> None:
    assert machine_failure(broken.no_start_after_completion).startswith("AssertionError: WC-1:")


@checks("CAN-5")
def test_machine_catches_cancel_accepting_a_foreign_id() -> None:
    assert machine_failure(broken.cancel_swallows_foreign_ids).startswith("AssertionError: CAN-5:")


@checks("CAN-4")
def test_machine_catches_ctx_scheduler_cancel_accepting_any_id() -> None:
    failure = machine_failure(broken.scheduler_cancel_accepts_any_id)
    assert failure.startswith("AssertionError: CAN-4:")


@checks("RES-2")
def test_machine_catches_a_poll_not_woken_by_completion() -> None:
    assert machine_failure(broken.poll_never_woken).startswith("AssertionError: RES-2:")


@checks("RES-1")
def test_machine_catches_try_result_of_evicted_work_returning_none() -> None:
    failure = machine_failure(broken.try_result_of_evicted_returns_none)
    assert failure.startswith("AssertionError: RES-1:")


@checks("LIF-1")
def test_machine_catches_a_transition_outside_the_lifecycle_table() -> None:
    assert machine_failure(broken.evicted_twice).startswith("AssertionError: LIF-1:")


@checks("TMO-2")
def test_machine_catches_a_timed_out_mutation_that_still_commits() -> None:
    assert machine_failure(broken.abandoned_mutation_commits).startswith("AssertionError: TMO-2:")


@checks("EXE-2")
def test_machine_catches_a_failed_mutation_that_still_commits() -> None:
    assert machine_failure(broken.failed_mutation_commits).startswith("AssertionError: EXE-2:")


@checks("DET-1")
def test_determinism_property_catches_global_random_in_the_trace() -> None:
    prop = given(config=configs(), operations=OPERATIONS)(same_trace_twice)
    with broken.global_random_in_trace():
        failure = failure_of(settings(BROKEN_SETTINGS)(prop))
    assert failure.startswith("AssertionError: DET-1:")
