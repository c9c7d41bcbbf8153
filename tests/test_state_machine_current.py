"""A Hypothesis state machine over retries, on_complete, cancel, cancel_all and runtime config,
and broken engines it must catch.

``CurrentMachine`` drives a world of profile ``current`` with one or two pools through action
enqueues (single and batched) with per-call retry behaviours, ``on_complete`` callbacks with a
context, cancels, ``cancel_all``, ``update_config(max_parallelism=0..4)`` and time steps biased
toward the instants where rules bite: exactly at, one before and one after every ``retryAt``,
every running attempt's natural end and every terminal instant still owed an ``on_complete``.
``SeedProfileMachine`` runs the same machine in profile ``seed``, where the rules that hold in
both profiles are checked and the ones that differ (cancel of running work, a paused pool) are
checked as the seed states them.

Every action is ``work:plan``. Its args carry a per-item ``token`` and a plan: attempt ``k``
(counted by the machine's invocation counter for that token) sleeps ``ms[k]`` and then returns
``{"token", "attempt"}`` (``"ok"``), raises ``RuntimeError`` (``"fail"``) or raises
``NonRetryableError`` (``"fatal"``); past the end of the plan its last entry repeats. So the
machine knows what every attempt does and when it ends. ``work:on_complete`` is a mutation
that records its args (and the instant it ran) into the table ``completions``.

The machine keeps a *shadow* of every work item, rebuilt from the trace alone, and checks each
trace event as it is read; a broken rule is recorded under its ID and the ``@invariant`` named
for that rule fails with a message that starts with the ID. What the pool says
(``current_status``, ``statistics``) and what ``on_complete`` wrote into the store are compared
with the shadow. Beyond the rules the invariants are named for, the reading also checks that a
retry rejoins the start order with a fresh key (ORD-1) and that each ``enqueued`` event carries
the retry behaviour and ``on_complete`` the machine asked for (RTY-1, ONC-1).

The second half runs the machine against the broken engines of ``tests/broken_current.py`` and
asserts that each is caught by the rule it breaks.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import attrs
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)

from refmodel import (
    ActionCtx,
    InvalidArgument,
    MutationCtx,
    NonRetryableError,
    RetryBehavior,
    TraceEvent,
    Workpool,
    World,
)
from refmodel.workpool.lifecycle import State
from tests import broken_current as broken
from tests.helpers import BROKEN_SETTINGS, failure_of
from tests.spec import checks

FN = "work:plan"
ON_COMPLETE = "work:on_complete"
COMPLETIONS = "completions"
"""The table ``work:on_complete`` writes one document into per call."""

STEP_HORIZON_MS = 1000
"""``step`` is only chosen when the next event is at most this far ahead."""

MAX_STEPS_PER_RULE = 500

POOL_INDEX = st.integers(0, 1)
"""A pool, as an index taken modulo the number of pools the world has."""

WAITING = frozenset({State.PENDING, State.RETRYING})
ACTIVE = frozenset({State.RUNNING, State.CANCELING})
TERMINAL = frozenset({State.SUCCEEDED, State.FAILED, State.CANCELED, State.TIMED_OUT})
FINISHED = TERMINAL | {State.EVICTED}
BUSY = frozenset({State.RUNNING, State.RETRYING})
"""Where ``cancel_all`` has the most to get right."""
ATTEMPT_ENDS = ("succeeded", "failed", "retrying")
CANCEL_KINDS = ("canceled", "cancel_requested", "cancel_ignored")

# Configuration ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class PoolConfig:
    """The options one pool was created with."""

    name: str
    max_parallelism: int
    retry_actions_by_default: bool
    default_retry_behavior: RetryBehavior


@attrs.frozen(kw_only=True)
class Config:
    """A world to build: its seed and its pools."""

    seed: int
    pools: tuple[PoolConfig, ...]


RETRY_BEHAVIORS = st.builds(
    RetryBehavior,
    max_attempts=st.integers(1, 4),
    initial_backoff_ms=st.one_of(st.sampled_from([0, 1, 2, 50, 100, 200]), st.integers(0, 200)),
    base=st.one_of(st.integers(1, 3), st.sampled_from([1.5, 2.5]), st.floats(1, 3)),
)

RETRY_OPTIONS = st.one_of(
    st.none(),
    st.booleans(),
    RETRY_BEHAVIORS,
    RETRY_BEHAVIORS.map(
        lambda b: {
            "max_attempts": b.max_attempts,
            "initial_backoff_ms": b.initial_backoff_ms,
            "base": b.base,
        }
    ),
)
"""What ``enqueue_action(retry=...)`` is given: ``None``, ``True``, ``False``, a
:class:`RetryBehavior` or a dict of its fields."""

PLANS = st.lists(
    st.tuples(
        st.sampled_from(["fail", "fail", "ok", "fatal"]),
        st.sampled_from([0, 1, 5, 20, 60, 150]),
    ),
    min_size=1,
    max_size=4,
)
"""Per attempt: what it does, and how long it sleeps first."""

CONTEXTS = st.one_of(
    st.none(),
    st.integers(-5, 5),
    st.fixed_dictionaries({"n": st.integers(0, 9), "tag": st.sampled_from(["a", "b"])}),
)


@st.composite
def pool_configs(draw: st.DrawFn, name: str) -> PoolConfig:
    """Options of one pool: few slots, and a short default retry behaviour."""
    return PoolConfig(
        name=name,
        max_parallelism=draw(st.integers(1, 4)),
        retry_actions_by_default=draw(st.booleans()),
        default_retry_behavior=draw(RETRY_BEHAVIORS),
    )


@st.composite
def configs(draw: st.DrawFn) -> Config:
    """A world of one or two pools named ``p0``, ``p1``."""
    count = draw(st.integers(1, 2))
    return Config(
        seed=draw(st.integers(0, 2**32 - 1)),
        pools=tuple(draw(pool_configs(f"p{i}")) for i in range(count)),
    )


# The world under test -----------------------------------------------------------------------


class Rig:
    """A world of ``profile`` built from a :class:`Config`, with the machine's functions.

    ``invocations`` counts, per token, how many attempts of ``work:plan`` have begun.
    """

    def __init__(self, config: Config, profile: str) -> None:
        self.config = config
        self.world = World(seed=config.seed, trace=True, profile=profile)
        self.pools: dict[str, Workpool] = {}
        for options in config.pools:
            self.pools[options.name] = self.world.pool(
                options.name,
                max_parallelism=options.max_parallelism,
                retry_actions_by_default=options.retry_actions_by_default,
                default_retry_behavior=options.default_retry_behavior,
            )
        self.invocations: dict[str, int] = {}
        self._register()

    def pool_at(self, index: int) -> Workpool:
        """The pool at ``index`` modulo the number of pools."""
        pools = list(self.pools.values())
        return pools[index % len(pools)]

    def owner(self, work_id: str) -> Workpool:
        """The pool that issued ``work_id``."""
        return self.pools[work_id.split("/", 1)[0]]

    def _register(self) -> None:
        world = self.world
        invocations = self.invocations

        @world.action(FN)
        async def plan(ctx: ActionCtx, args: dict[str, Any]) -> dict[str, Any]:
            token = str(args["token"])
            k = invocations.get(token, 0)
            invocations[token] = k + 1
            last = len(args["plan"]) - 1
            step, ms = args["plan"][min(k, last)], args["ms"][min(k, last)]
            if ms:
                await ctx.sleep(ms)
            if step == "fatal":
                raise NonRetryableError(f"fatal {token}#{k + 1}")
            if step == "fail":
                raise RuntimeError(f"fail {token}#{k + 1}")
            return {"token": token, "attempt": k + 1}

        @world.mutation(ON_COMPLETE)
        def on_complete(ctx: MutationCtx, args: dict[str, Any]) -> None:
            ctx.db.insert(COMPLETIONS, {**args, "at": ctx.now})


# The shadow ---------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Spec:
    """What the machine asked for when it enqueued one item."""

    token: str
    steps: tuple[str, ...]
    ms: tuple[int, ...]
    retry: RetryBehavior | None
    """The behaviour the item should be retried with (the pool's default resolved)."""
    on_complete: bool
    context: Any

    def args(self) -> dict[str, Any]:
        """The args of ``work:plan`` for this item."""
        return {"token": self.token, "plan": list(self.steps), "ms": list(self.ms)}


@attrs.define(kw_only=True)
class Item:
    """What the trace says about one work item."""

    id: str
    pool: str
    spec: Spec
    enqueued_at: int
    enqueued_seq: int
    state: State = State.PENDING
    eligible_at: int = 0
    """When it may (re)start: its enqueue instant, or the ``retryAt`` of its last retry."""
    order: int = 0
    """Its place in the pool's start order among items of equal eligibility (ORD-1): taken at
    its enqueue, and again when it starts waiting to retry (RTY-2)."""
    starts: list[int] = attrs.Factory(list)
    """The start instant of every attempt."""
    cancel_asked: bool = False
    """Whether the driver asked to cancel it (``cancel``, or ``cancel_all`` after its enqueue)."""
    cancel_requested_at: int = -1
    """When ``cancel_requested`` was traced for it (current profile), or -1."""
    finished_at: int = -1
    terminal: tuple[str, dict[str, Any]] = ("", {})
    """The terminal event's kind and data, once terminal."""
    on_complete_calls: int = 0

    def plan_at(self, k: int) -> tuple[str, int]:
        """What attempt ``k`` (from 0) does and how long it sleeps first."""
        i = min(k, len(self.spec.steps) - 1)
        return self.spec.steps[i], self.spec.ms[i]

    def natural_end(self) -> int:
        """When the running attempt ends on its own."""
        return self.starts[-1] + self.plan_at(len(self.starts) - 1)[1]

    def max_attempts(self) -> int:
        """Attempts allowed in all (RTY-1): one without a retry behaviour."""
        return 1 if self.spec.retry is None else self.spec.retry.max_attempts

    def attempts_ended(self) -> int:
        """Attempts that have ended; the running one, if any, has not."""
        return len(self.starts) - (1 if self.state in ACTIVE else 0)

    def current_status(self) -> dict[str, Any]:
        """The status ``pool.current_status`` must report (STS-5)."""
        if self.state in WAITING:
            return {"state": "pending", "previousAttempts": self.attempts_ended()}
        if self.state in ACTIVE:
            return {"state": "running", "previousAttempts": self.attempts_ended()}
        return {"state": "finished"}

    def on_complete_result(self) -> dict[str, Any]:
        """The ``result`` argument ``on_complete`` must see for the terminal event (ONC-3)."""
        kind, data = self.terminal
        if kind == "succeeded":
            return {"kind": "success", "return_value": data.get("result")}
        if kind == "canceled":
            return {"kind": "canceled"}
        if kind == "timed_out":
            return {"kind": "failed", "error": "Timeout"}
        return {"kind": "failed", "error": data.get("error")}

    def on_complete_json(self) -> dict[str, Any]:
        """The same result in the component's JSON spelling, as the trace shows it."""
        result = self.on_complete_result()
        if result["kind"] == "success":
            return {"kind": "success", "returnValue": result["return_value"]}
        return result


@attrs.define(kw_only=True)
class PoolShadow:
    """What the trace says about one pool."""

    name: str
    limit: int
    """``max_parallelism`` as last traced (``pool_created`` or ``config_updated``)."""
    running: int = 0
    """Attempts started and not ended."""
    waiting: int = 0
    """Items pending or waiting to retry."""
    cancel_alls: int = 0
    orders: int = 0
    """Orders taken so far (ORD-1)."""


def retry_behavior(option: Any, pool: PoolConfig) -> RetryBehavior | None:
    """The behaviour an ``enqueue_action(retry=option)`` in ``pool`` retries with (RTY-1)."""
    if option is None:
        return pool.default_retry_behavior if pool.retry_actions_by_default else None
    if option is True:
        return pool.default_retry_behavior
    if option is False:
        return None
    if isinstance(option, dict):
        return RetryBehavior(**option)
    assert isinstance(option, RetryBehavior)
    return option


def enqueue_options(retry: Any, on_complete: bool, context: Any) -> dict[str, Any]:
    """The keyword arguments of one enqueue; options the machine leaves out are not given."""
    options: dict[str, Any] = {}
    if retry is not None:
        options["retry"] = retry
    if on_complete:
        options["on_complete"] = ON_COMPLETE
        if context is not None:
            options["context"] = context
    return options


# The machine --------------------------------------------------------------------------------


class CurrentMachine(RuleBasedStateMachine):
    """Random enqueues, cancels, config changes and time steps, checked against a shadow."""

    profile: ClassVar[str] = "current"
    work_ids = Bundle("work_ids")
    rig: Rig

    def __init__(self) -> None:
        super().__init__()
        self.items: dict[str, Item] = {}
        self.specs: dict[str, Spec] = {}
        self.shadows: dict[str, PoolShadow] = {}
        self.violations: dict[str, list[str]] = {}
        self.tokens = 0
        self.seen = 0
        self.instant_checked: tuple[int, float, int] | None = None
        self.store_checked = -1

    # Set-up ---------------------------------------------------------------------------------

    @initialize(config=configs())
    def build_world(self, config: Config) -> None:
        self.rig = Rig(config, self.profile)
        for options in config.pools:
            self.shadows[options.name] = PoolShadow(
                name=options.name, limit=options.max_parallelism
            )

    # Rules: enqueue -------------------------------------------------------------------------

    @rule(
        target=work_ids,
        pool_index=POOL_INDEX,
        plan=PLANS,
        retry=RETRY_OPTIONS,
        on_complete=st.booleans(),
        context=CONTEXTS,
    )
    def enqueue_action(
        self,
        pool_index: int,
        plan: list[tuple[str, int]],
        retry: Any,
        on_complete: bool,
        context: Any,
    ) -> str:
        pool = self.rig.pool_at(pool_index)
        spec = self._spec(pool, plan, retry, on_complete, context)
        options = enqueue_options(retry, on_complete, context)
        work_id = pool.enqueue_action(self.rig.world.client, FN, spec.args(), **options)
        self._enqueued(pool, [work_id], [spec])
        return work_id

    @checks("ENQ-5")
    @rule(
        target=work_ids,
        pool_index=POOL_INDEX,
        plans=st.lists(PLANS, min_size=1, max_size=3),
        retry=RETRY_OPTIONS,
        on_complete=st.booleans(),
        context=CONTEXTS,
    )
    def enqueue_action_batch(
        self,
        pool_index: int,
        plans: list[list[tuple[str, int]]],
        retry: Any,
        on_complete: bool,
        context: Any,
    ) -> Any:
        pool = self.rig.pool_at(pool_index)
        specs = [self._spec(pool, plan, retry, on_complete, context) for plan in plans]
        options = enqueue_options(retry, on_complete, context)
        args_list = [spec.args() for spec in specs]
        issued = pool.statistics().issued
        work_ids = pool.enqueue_action_batch(self.rig.world.client, FN, args_list, **options)
        expected = [f"{pool.name}/{issued + i + 1}" for i in range(len(specs))]
        assert work_ids == expected, f"ENQ-5: a batch of {len(specs)} returned {work_ids}"
        self._enqueued(pool, work_ids, specs)
        return multiple(*work_ids)

    def _spec(
        self,
        pool: Workpool,
        plan: list[tuple[str, int]],
        retry: Any,
        on_complete: bool,
        context: Any,
    ) -> Spec:
        self.tokens += 1
        options = next(p for p in self.rig.config.pools if p.name == pool.name)
        return Spec(
            token=f"t{self.tokens}",
            steps=tuple(step for step, _ in plan),
            ms=tuple(ms for _, ms in plan),
            retry=retry_behavior(retry, options),
            on_complete=on_complete,
            context=context if on_complete else None,
        )

    def _enqueued(self, pool: Workpool, work_ids: list[str], specs: list[Spec]) -> None:
        for work_id, spec in zip(work_ids, specs, strict=True):
            self.specs[work_id] = spec
        self._sync()
        for work_id in work_ids:
            item = self.items.get(work_id)
            assert item is not None, f"ENQ-1: no 'enqueued' trace event for {work_id}"
            status = pool.current_status(work_id).to_json()
            if item.state is State.PENDING:
                expected = {"state": "pending", "previousAttempts": 0}
                assert status == expected, f"STS-5: {work_id} reads {status} right after enqueue"

    # Rules: cancel --------------------------------------------------------------------------

    @checks("CAN-1", "CAN-2", "CAN-3", "CAN-6")
    @rule(work_id=work_ids)
    def cancel(self, work_id: str) -> None:
        self._cancel(work_id)

    @checks("CAN-1")
    @precondition(lambda self: any(i.state in WAITING for i in self.items.values()))
    @rule(pick=st.integers(0, 255))
    def cancel_waiting(self, pick: int) -> None:
        """Cancel work that is pending or waiting to retry."""
        self._cancel(self._pick(WAITING, pick))

    @checks("CAN-2", "CAN-6")
    @precondition(lambda self: any(i.state in ACTIVE for i in self.items.values()))
    @rule(pick=st.integers(0, 255))
    def cancel_running(self, pick: int) -> None:
        """Cancel work whose attempt runs (or, current profile, is canceling): where the
        profiles differ."""
        self._cancel(self._pick(ACTIVE, pick))

    def _pick(self, states: frozenset[State], pick: int) -> str:
        ids = [item.id for item in self.items.values() if item.state in states]
        return ids[pick % len(ids)]

    def _cancel(self, work_id: str) -> None:
        """Cancel ``work_id`` and check what happened at once (CAN-1, CAN-2, CAN-3, CAN-6)."""
        world = self.rig.world
        pool = self.rig.owner(work_id)
        self._sync()
        item = self.items[work_id]
        state = item.state
        start = len(world.trace)
        item.cancel_asked = True
        pool.cancel(world.client, work_id)
        now = world.now
        happened = [
            (e.kind, dict(e.data), e.time)
            for e in world.trace[start:]
            if e.id == work_id and (e.kind in CANCEL_KINDS or e.kind in ATTEMPT_ENDS)
        ]
        self._sync()
        attempts = len(item.starts)
        expected: list[tuple[str, dict[str, Any], int]]
        if state in WAITING:
            rule_id = "CAN-1"
            expected = [("canceled", {"attempt": attempts, "wasRunning": False}, now)]
        elif state is State.RUNNING and self.profile == "seed":
            rule_id = "CAN-2"
            expected = [("canceled", {"attempt": attempts, "wasRunning": True}, now)]
        elif state is State.RUNNING:
            rule_id, expected = "CAN-6", [("cancel_requested", {"attempt": attempts}, now)]
        elif state is State.CANCELING:
            rule_id, expected = "CAN-6", [("cancel_ignored", {"state": "canceling"}, now)]
        else:
            shown = "finished" if self.profile == "current" else state.value
            rule_id, expected = "CAN-3", [("cancel_ignored", {"state": shown}, now)]
        assert happened == expected, (
            f"{rule_id}: cancel of {state.value} {work_id} at {now} ms traced {happened}, "
            f"not {expected}"
        )
        if rule_id == "CAN-6" and state is State.RUNNING:
            status = pool.current_status(work_id).to_json()
            assert status["state"] == "running", (
                f"{rule_id}: {work_id} reads {status} right after a cancel of its running "
                "attempt, which must go on"
            )

    @checks("CAN-7")
    @rule(pool_index=POOL_INDEX, limit=st.one_of(st.none(), st.integers(1, 3)))
    def cancel_all(self, pool_index: int, limit: int | None) -> None:
        self._cancel_all(self.rig.pool_at(pool_index), limit)

    @checks("CAN-7")
    @precondition(lambda self: any(i.state in BUSY for i in self.items.values()))
    @rule(
        pick=st.integers(0, 255),
        retrying=st.booleans(),
        limit=st.one_of(st.none(), st.integers(1, 3)),
    )
    def cancel_all_of_a_busy_pool(self, pick: int, retrying: bool, limit: int | None) -> None:
        """``cancel_all`` of a pool with work running or waiting to retry (with ``retrying``,
        one with work waiting to retry if there is one: the rarest state to meet)."""
        states = BUSY
        if retrying and any(i.state is State.RETRYING for i in self.items.values()):
            states = frozenset({State.RETRYING})
        self._cancel_all(self.rig.pools[self.items[self._pick(states, pick)].pool], limit)

    def _cancel_all(self, pool: Workpool, limit: int | None) -> None:
        """Cancel all of ``pool`` and check what happened at once (CAN-7)."""
        world = self.rig.world
        self._sync()
        earlier = [item for item in self.items.values() if item.pool == pool.name]
        before = {item.id: item.state for item in earlier}
        for item in earlier:
            item.cancel_asked = True
        start = len(world.trace)
        pool.cancel_all(world.client, limit=limit)
        self.shadows[pool.name].cancel_alls += 1
        # Each item is canceled exactly as pool.cancel would: report that rule first.
        self._assert_clean("CAN-6", "CAN-1", "CAN-2")
        for item in earlier:
            allowed = item.state in FINISHED or (
                self.profile == "current" and item.state is State.CANCELING
            )
            assert allowed, (
                f"CAN-7: after cancel_all of pool {pool.name} at {world.now} ms, {item.id} "
                f"(enqueued at {item.enqueued_at} ms, {before[item.id].value} before) is "
                f"{item.state.value}"
            )
        foreign = [str(e) for e in world.trace[start:] if e.id is not None and e.pool != pool.name]
        assert foreign == [], f"CAN-7: cancel_all of pool {pool.name} traced {foreign}"
        running = "cancel_requested" if self.profile == "current" else "canceled"
        expected = [
            (running if before[item.id] is State.RUNNING else "canceled", item.id)
            for item in sorted(earlier, key=lambda item: -int(item.id.split("/")[1]))
            if before[item.id] in WAITING or before[item.id] is State.RUNNING
        ]
        happened = [(e.kind, e.id) for e in world.trace[start:] if e.kind in CANCEL_KINDS]
        assert happened == expected, (
            f"CAN-7: cancel_all of pool {pool.name} at {world.now} ms traced {happened}, not "
            f"{expected} (newest first; finished and canceling work skipped)"
        )

    # Rules: configuration -------------------------------------------------------------------

    @checks("PAR-2", "ERR-1")
    @rule(pool_index=POOL_INDEX, max_parallelism=st.integers(0, 4))
    def update_config(self, pool_index: int, max_parallelism: int) -> None:
        world = self.rig.world
        pool = self.rig.pool_at(pool_index)
        start = len(world.trace)
        if self.profile == "seed" and max_parallelism == 0:
            with pytest.raises(InvalidArgument):
                pool.update_config(world.client, max_parallelism=0)
            after = world.trace[start:]
            assert after == [], f"ERR-1: a rejected update_config traced {after}"
            return
        pool.update_config(world.client, max_parallelism=max_parallelism)
        self._sync()
        limit = self.shadows[pool.name].limit
        assert limit == max_parallelism, (
            f"PAR-2: update_config(max_parallelism={max_parallelism}) of {pool.name} left the "
            f"traced limit at {limit}"
        )

    # Rules: time ----------------------------------------------------------------------------

    @rule(pick=st.integers(0, 255), inclusive=st.booleans())
    def run_until_interesting_time(self, pick: int, inclusive: bool) -> None:
        times = self._interesting_times()
        self.rig.world.run_until(times[pick % len(times)], inclusive=inclusive)

    @checks("WC-1", "ONC-1", "CAN-6")
    @rule(pick=st.integers(0, 255))
    def step_to_interesting_time(self, pick: int) -> None:
        times = self._interesting_times()
        self._step_to(times[pick % len(times)])

    @checks("RTY-2", "RTY-3", "CAN-6")
    @precondition(lambda self: any(i.state in ACTIVE for i in self.items.values()))
    @rule(pick=st.integers(0, 255), delta=st.sampled_from([-1, 0, 1]))
    def step_to_an_attempt_end(self, pick: int, delta: int) -> None:
        """Step to one before, at or one after the natural end of a running attempt."""
        end = self.items[self._pick(ACTIVE, pick)].natural_end()
        self._step_to(max(self.rig.world.now, end + delta))

    @checks("RTY-2", "WC-1")
    @precondition(lambda self: any(i.state is State.RETRYING for i in self.items.values()))
    @rule(pick=st.integers(0, 255), delta=st.sampled_from([-1, 0, 1]))
    def step_to_a_retry_at(self, pick: int, delta: int) -> None:
        """Step to one before, at or one after the ``retryAt`` of work waiting to retry."""
        retry_at = self.items[self._pick(frozenset({State.RETRYING}), pick)].eligible_at
        self._step_to(max(self.rig.world.now, retry_at + delta))

    def _step_to(self, target: int) -> None:
        """Step event by event up to ``target``, checking every instant as it settles."""
        world = self.rig.world
        for _ in range(MAX_STEPS_PER_RULE):
            if world.peek() > target:
                break
            world.step()
            if world.peek() > world.now:
                self._check_instant()
        world.run_until(target)

    @precondition(lambda self: self.rig.world.peek() <= self.rig.world.now + STEP_HORIZON_MS)
    @rule()
    def step(self) -> None:
        self.rig.world.step()

    @checks("WC-1")
    @rule()
    def run_until_idle(self) -> None:
        world = self.rig.world
        world.run_until_idle(max_steps=10_000)
        if any(shadow.limit == 0 for shadow in self.shadows.values()):
            return  # A paused pool keeps its waiting work: the world is not idle.
        if not world.idle:
            # Every attempt ends on its own, so work left over is a broken rule: report the
            # first one the shadow saw, if any, before blaming run_until_idle.
            self._sync()
            self._check_instant_once()
            self._assert_clean(*sorted(self.violations))
        assert world.idle, f"WC-1: run_until_idle returned at {world.now} ms with work left"

    def _interesting_times(self) -> list[int]:
        """Now, now + 1, and the instants around every retryAt, natural end of a running
        attempt, and terminal instant still owed an on_complete."""
        now = self.rig.world.now
        deadlines = [now, now + 1]
        for item in self.items.values():
            if item.state in WAITING:
                deadlines.append(item.eligible_at)
            elif item.state in ACTIVE:
                deadlines.append(item.natural_end())
            elif item.spec.on_complete and item.on_complete_calls == 0:
                deadlines.append(item.finished_at)
        times = {t + delta for t in deadlines for delta in (-1, 0, 1)}
        return sorted(t for t in times if t >= now)

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
        for i in range(self.seen, len(trace)):
            self._read(trace[i], trace[i - 1] if i else None)
        self.seen = len(trace)

    def _read(self, event: TraceEvent, previous: TraceEvent | None) -> None:
        if event.pool is None or event.pool not in self.shadows:
            return
        if event.kind == "config_updated":
            self.shadows[event.pool].limit = int(event.data["maxParallelism"])
            return
        if event.id is None:
            return
        if event.kind == "enqueued":
            self._read_enqueued(event)
            return
        item = self.items.get(event.id)
        if item is None:
            self._flag("LIF-1", f"{event} concerns an id that was never enqueued")
            return
        kind = event.kind
        if kind == "started":
            self._read_started(item, event)
        elif kind in ATTEMPT_ENDS:
            if item.state not in ACTIVE:
                self._flag("LIF-1", f"{event}: {item.id} is {item.state.value}, not running")
                return
            self._read_attempt_end(item, event, previous)
        elif kind == "canceled":
            self._read_canceled(item, event, previous)
        elif kind == "cancel_requested":
            self._read_cancel_requested(item, event)
        elif kind == "on_complete":
            self._read_on_complete(item, event)
        elif kind == "timed_out":
            self.shadows[item.pool].running -= 1
            self._finish(item, event, State.TIMED_OUT)
        elif kind == "evicted":
            item.state = State.EVICTED

    def _read_enqueued(self, event: TraceEvent) -> None:
        work_id = event.id
        assert work_id is not None and event.pool is not None
        spec = self.specs.get(work_id)
        if spec is None or work_id in self.items:
            self._flag("ENQ-1", f"{event}: no enqueue call returned {work_id}, or it is twice")
            return
        retry = spec.retry
        retry_json = None
        if retry is not None:
            retry_json = {
                "maxAttempts": retry.max_attempts,
                "initialBackoffMs": retry.initial_backoff_ms,
                "base": retry.base,
            }
        if event.data.get("retry") != retry_json:
            self._flag("RTY-1", f"{event}: {work_id} should be retried with {retry_json}")
        if event.data.get("onComplete") != (ON_COMPLETE if spec.on_complete else None):
            self._flag("ONC-1", f"{event}: on_complete {spec.on_complete} was asked for")
        shadow = self.shadows[event.pool]
        shadow.orders += 1
        self.items[work_id] = Item(
            id=work_id,
            pool=event.pool,
            spec=spec,
            enqueued_at=event.time,
            enqueued_seq=event.seq,
            eligible_at=int(event.data["runAt"]),
            order=shadow.orders,
        )
        shadow.waiting += 1

    def _read_started(self, item: Item, event: TraceEvent) -> None:
        shadow = self.shadows[item.pool]
        t = event.time
        if item.state not in WAITING:
            self._flag("LIF-1", f"{event}: {item.id} started while {item.state.value}")
            return
        if item.cancel_requested_at >= 0:
            self._flag(
                "CAN-6",
                f"{event}: {item.id} started a new attempt after cancel_requested at "
                f"{item.cancel_requested_at} ms",
            )
        if shadow.limit == 0:
            self._flag("PAR-2", f"{event}: pool {item.pool} is paused (max_parallelism 0)")
        elif shadow.running + 1 > shadow.limit:
            self._flag(
                "PAR-1",
                f"{event}: {shadow.running + 1} attempts of pool {item.pool} run at once, "
                f"max_parallelism is {shadow.limit}",
            )
        if item.state is State.RETRYING and t < item.eligible_at:
            self._flag("RTY-2", f"{event}: {item.id} restarted before retryAt {item.eligible_at}")
        if item.state is State.RETRYING and event.data.get("lagMs") != t - item.eligible_at:
            self._flag("RTY-2", f"{event}: lagMs is not {t} - retryAt {item.eligible_at}")
        key = (item.eligible_at, item.order)
        ahead = [
            other.id
            for other in self.items.values()
            if other.pool == item.pool
            and other.state in WAITING
            and other is not item
            and other.eligible_at <= t
            and (other.eligible_at, other.order) < key
        ]
        if ahead and t >= item.eligible_at:  # An early start is RTY-2's to report.
            self._flag(
                "ORD-1",
                f"{event}: {ahead} of pool {item.pool} waited with a smaller key (eligibility, "
                f"order) than {item.id}'s {key}",
            )
        attempt = len(item.starts) + 1
        if attempt > item.max_attempts():
            self._flag(
                "RTY-4",
                f"{event}: attempt {attempt} of {item.id}, whose max_attempts is "
                f"{item.max_attempts()} (retry {item.spec.retry})",
            )
        if event.data.get("attempt") != attempt:
            self._flag("RTY-4", f"{event}: the trace has {len(item.starts)} earlier starts")
        shadow.running += 1
        shadow.waiting -= 1
        item.starts.append(t)
        item.state = State.RUNNING

    def _expected_end(self, item: Item) -> tuple[str, dict[str, Any]]:
        """How the running attempt of ``item`` must end: the event kind and data it carries."""
        k = len(item.starts) - 1
        step, _ = item.plan_at(k)
        token = item.spec.token
        if step == "ok":
            return "succeeded", {"attempt": k + 1, "result": {"token": token, "attempt": k + 1}}
        if step == "fatal":
            return "failed", {"attempt": k + 1, "error": f"fatal {token}#{k + 1}"}
        error = f"fail {token}#{k + 1}"
        if len(item.starts) >= item.max_attempts():
            return "failed", {"attempt": k + 1, "error": error}
        if item.state is State.CANCELING:
            return "canceled", {"attempt": k + 1, "wasRunning": True, "error": error}
        return "retrying", {"attempt": k + 1, "error": error}

    def _read_attempt_end(self, item: Item, event: TraceEvent, previous: TraceEvent | None) -> None:
        """An attempt ended on its own: succeeded, failed, retrying, or (current profile)
        canceled after cancel_requested."""
        canceling = item.state is State.CANCELING
        end = item.natural_end()
        if event.time != end:
            self._flag(
                "CAN-6" if canceling else "EXE-1",
                f"{event}: attempt {len(item.starts)} of {item.id} started at "
                f"{item.starts[-1]} ms ended at {event.time} ms, not at its natural end {end} ms",
            )
        kind, data = self._expected_end(item)
        if event.kind != kind:
            self._flag(
                self._wrong_end_rule(item, event.kind, kind),
                f"{event}: attempt {len(item.starts)} of {item.id} (plan "
                f"{item.plan_at(len(item.starts) - 1)[0]!r}, max_attempts {item.max_attempts()}"
                f"{', canceling' if canceling else ''}) should have ended {kind}",
            )
        else:
            if event.data.get("attempt") != data["attempt"]:
                self._flag("RTY-4", f"{event}: this is attempt {data['attempt']} of {item.id}")
            wrong = {key: event.data.get(key) for key in data if event.data.get(key) != data[key]}
            if wrong:
                self._flag("EXE-1", f"{event}: expected {data}")
        if canceling and previous is not None and previous.kind == "rng":
            self._flag("CAN-6", f"{event}: a jitter was drawn for canceling work ({previous})")
        shadow = self.shadows[item.pool]
        shadow.running -= 1
        if event.kind == "retrying":
            self._read_retrying(item, event, previous)
            shadow.waiting += 1
            shadow.orders += 1
            item.state = State.RETRYING
            item.eligible_at = int(event.data["retryAt"])
            item.order = shadow.orders
        elif event.kind == "succeeded":
            self._finish(item, event, State.SUCCEEDED)
        elif event.kind == "failed":
            self._finish(item, event, State.FAILED)
        else:
            self._finish(item, event, State.CANCELED)

    @staticmethod
    def _wrong_end_rule(item: Item, actual: str, expected: str) -> str:
        """The rule an attempt that ended ``actual`` instead of ``expected`` breaks."""
        step = item.plan_at(len(item.starts) - 1)[0]
        if expected == "failed" and actual in ("retrying", "canceled") and step != "ok":
            return "RTY-4"  # Treated as retryable after NonRetryableError or the last attempt.
        if item.state is State.CANCELING:
            return "CAN-6"  # After cancel_requested: never retried, and a success stands.
        if actual == "failed" and expected == "retrying":
            return "RTY-1"  # Not retried although attempts were left.
        return "EXE-1"

    def _read_retrying(self, item: Item, event: TraceEvent, previous: TraceEvent | None) -> None:
        """The delay of a retry: ``floor(backoff * (0.5 + u))`` for the draw u just before it."""
        behavior = item.spec.retry
        if behavior is None:
            return  # Already reported: work without a retry behaviour was retried (RTY-4).
        retry = len(item.starts)
        purpose = f"retry jitter {item.id} attempt {retry}"
        if previous is None or previous.kind != "rng" or previous.data.get("purpose") != purpose:
            self._flag("RTY-2", f"{event}: the event before it is {previous}, not {purpose!r}")
            return
        u = float(previous.data["value"])
        backoff = behavior.initial_backoff_ms * behavior.base ** (retry - 1)
        expected = math.floor(backoff * (0.5 + u))
        low, high = math.floor(0.5 * backoff), math.floor(1.5 * backoff)
        delay = event.data.get("delayMs")
        if not 0 <= u < 1 or delay != expected or not low <= expected <= high:
            self._flag(
                "RTY-2",
                f"{event}: retry {retry} of {item.id} with {behavior} and draw u={u} should wait "
                f"floor({backoff} * (0.5 + u)) = {expected} ms, within [{low}, {high}]",
            )
        if event.data.get("retryAt") != event.time + (delay if isinstance(delay, int) else 0):
            self._flag("RTY-2", f"{event}: retryAt is not {event.time} + delayMs")

    def _read_canceled(self, item: Item, event: TraceEvent, previous: TraceEvent | None) -> None:
        shadow = self.shadows[item.pool]
        if not item.cancel_asked:
            self._flag(
                "CAN-7" if shadow.cancel_alls else "CAN-1",
                f"{event}: {item.id} (enqueued at {item.enqueued_at} ms) was canceled, but no "
                "cancel or earlier cancel_all asked for it",
            )
        if item.state in WAITING:
            if event.data.get("wasRunning") is not False:
                self._flag("CAN-1", f"{event}: wasRunning must be false for waiting work")
            if event.data.get("attempt") != len(item.starts):
                self._flag("RTY-4", f"{event}: {item.id} has had {len(item.starts)} attempts")
            shadow.waiting -= 1
            self._finish(item, event, State.CANCELED)
        elif item.state is State.CANCELING:
            self._read_attempt_end(item, event, previous)
        elif item.state is State.RUNNING and self.profile == "seed":
            if event.data.get("wasRunning") is not True:
                self._flag("CAN-2", f"{event}: wasRunning must be true for running work")
            shadow.running -= 1
            self._finish(item, event, State.CANCELED)
        elif item.state is State.RUNNING:
            self._flag(
                "CAN-6",
                f"{event}: the running attempt {len(item.starts)} of {item.id} was stopped at "
                f"{event.time} ms; it must run to its natural end at {item.natural_end()} ms",
            )
            shadow.running -= 1
            self._finish(item, event, State.CANCELED)
        else:
            self._flag("LIF-1", f"{event}: {item.id} is already {item.state.value}")

    def _read_cancel_requested(self, item: Item, event: TraceEvent) -> None:
        if self.profile != "current" or item.state is not State.RUNNING:
            self._flag(
                "LIF-1", f"{event}: cancel_requested for {item.state.value} work in {self.profile}"
            )
            return
        if not item.cancel_asked:
            self._flag(
                "CAN-7" if self.shadows[item.pool].cancel_alls else "CAN-1",
                f"{event}: no cancel or earlier cancel_all asked for {item.id}",
            )
        item.state = State.CANCELING
        item.cancel_requested_at = event.time

    def _finish(self, item: Item, event: TraceEvent, state: State) -> None:
        item.state = state
        item.finished_at = event.time
        item.terminal = (event.kind, dict(event.data))

    def _read_on_complete(self, item: Item, event: TraceEvent) -> None:
        where = f"{event}: on_complete of {item.id}"
        if not item.spec.on_complete:
            self._flag("ONC-1", f"{where}, which was enqueued without one")
            return
        if item.state not in FINISHED:
            self._flag("ONC-1", f"{where} while {item.state.value}, before its terminal event")
            return
        item.on_complete_calls += 1
        if item.on_complete_calls > 1:
            self._flag("ONC-1", f"{where}: call number {item.on_complete_calls}")
        if event.time != item.finished_at:
            self._flag("ONC-1", f"{where}, which became terminal at {item.finished_at} ms")
        called = {"fn": event.data.get("fn"), "context": event.data.get("context")}
        if called != {"fn": ON_COMPLETE, "context": item.spec.context}:
            self._flag("ONC-1", f"{where}: enqueued with context {item.spec.context!r}")
        if event.data.get("result") != item.on_complete_json():
            self._flag(
                "ONC-3",
                f"{where}: the terminal event was {item.terminal}, so {item.on_complete_json()}",
            )

    # Checks of the current instant ----------------------------------------------------------

    def _check_instant_once(self) -> None:
        world = self.rig.world
        key = (world.now, world.peek(), len(world.trace))
        if key != self.instant_checked:
            self.instant_checked = key
            self._check_instant()

    def _check_instant(self) -> None:
        """What must hold now: slots held only by running attempts (RTY-3), starts into free
        slots at a settled instant (WC-1), natural ends, owed on_complete calls, statuses."""
        self._sync()
        world = self.rig.world
        now = world.now
        settled = world.peek() > now

        def overdue(deadline: int) -> bool:
            return deadline < now or (deadline == now and settled)

        holding: set[str] = set()
        for name, shadow in self.shadows.items():
            stats = self.rig.pools[name].statistics()
            if (stats.running, stats.pending) != (shadow.running, shadow.waiting):
                holding.add(name)
                self._flag(
                    "RTY-3",
                    f"at {now} ms pool {name} counts {stats.running} running and {stats.pending} "
                    f"waiting; the trace has {shadow.running} attempts started and not ended and "
                    f"{shadow.waiting} items waiting (pending or retrying)",
                )
        if settled:
            for name, shadow in self.shadows.items():
                free = shadow.limit - shadow.running
                eligible = [
                    item.id
                    for item in self.items.values()
                    if item.pool == name and item.state in WAITING and item.eligible_at <= now
                ]
                if free > 0 and eligible and name not in holding:
                    self._flag(
                        "WC-1",
                        f"at settled instant {now} ms pool {name} has {free} free slots and "
                        f"waiting work whose (re)start time has come: {eligible}",
                    )
        for item in self.items.values():
            if item.state in ACTIVE and overdue(item.natural_end()):
                canceling = item.state is State.CANCELING
                self._flag(
                    "CAN-6" if canceling else "EXE-1",
                    f"at {now} ms attempt {len(item.starts)} of {item.id} is still running; it "
                    f"should have ended at {item.natural_end()} ms",
                )
            elif (
                item.state in FINISHED
                and item.spec.on_complete
                and item.on_complete_calls == 0
                and overdue(item.finished_at)
            ):
                self._flag(
                    "ONC-1",
                    f"at {now} ms {item.id} ended {item.terminal[0]} at {item.finished_at} ms "
                    "and its on_complete was never called",
                )
            status = self.rig.owner(item.id).current_status(item.id).to_json()
            if status != item.current_status():
                self._flag(
                    "STS-5",
                    f"at {now} ms {item.id} reads {status}; the trace says {item.state.value} "
                    f"after {len(item.starts)} starts, so {item.current_status()}",
                )
            begun = self.rig.invocations.get(item.spec.token, 0)
            if begun != len(item.starts):
                self._flag(
                    "RTY-4", f"{item.id} ran {begun} attempts; the trace has {len(item.starts)}"
                )

    def _check_store(self) -> None:
        """What ``work:on_complete`` wrote: one document per call, with the item's id, context
        and terminal result (ONC-1, ONC-3)."""
        self._sync()
        store = self.rig.world.store
        if store.version == self.store_checked:
            return
        self.store_checked = store.version
        calls: dict[str, list[dict[str, Any]]] = {}
        for doc in store.all(COMPLETIONS):
            calls.setdefault(str(doc["work_id"]), []).append(doc)
        for work_id, docs in calls.items():
            item = self.items.get(work_id)
            if item is None or not item.spec.on_complete:
                self._flag("ONC-1", f"on_complete was called for {work_id}, which has none")
                continue
            if len(docs) != 1:
                self._flag("ONC-1", f"on_complete of {work_id} was called {len(docs)} times")
            for doc in docs:
                if doc["at"] != item.finished_at or doc["context"] != item.spec.context:
                    self._flag(
                        "ONC-1",
                        f"on_complete of {work_id} ran at {doc['at']} ms with context "
                        f"{doc['context']!r}; the item ended at {item.finished_at} ms and its "
                        f"context is {item.spec.context!r}",
                    )
                if doc["result"] != item.on_complete_result():
                    self._flag(
                        "ONC-3",
                        f"on_complete of {work_id} saw {doc['result']}; the terminal event was "
                        f"{item.terminal}, so {item.on_complete_result()}",
                    )

    # Invariants -----------------------------------------------------------------------------

    @checks("ONC-1")
    @invariant()
    def on_complete_called_once_at_the_terminal_instant(self) -> None:
        self._check_store()
        self._assert_clean("ONC-1")

    @checks("ONC-3")
    @invariant()
    def on_complete_sees_the_terminal_result(self) -> None:
        self._check_store()
        self._assert_clean("ONC-3")

    @checks("RTY-1", "RTY-4")
    @invariant()
    def attempts_stop_at_max_attempts_and_non_retryable_errors(self) -> None:
        self._assert_clean("RTY-4", "RTY-1")

    @checks("RTY-2")
    @invariant()
    def retry_delays_follow_the_recorded_jitter(self) -> None:
        self._assert_clean("RTY-2")

    @checks("RTY-3", "PAR-1", "WC-1")
    @invariant()
    def slots_are_held_by_running_attempts_only(self) -> None:
        """A slot held by work waiting to retry is reported as RTY-3 even when it also left
        eligible work waiting beside a slot the trace says is free (WC-1)."""
        self._assert_clean("RTY-3", "PAR-1", "WC-1")

    @checks("PAR-2")
    @invariant()
    def paused_pool_starts_nothing(self) -> None:
        self._assert_clean("PAR-2")

    @checks("ORD-1")
    @invariant()
    def retries_rejoin_the_start_order(self) -> None:
        self._assert_clean("ORD-1")

    @checks("CAN-1", "CAN-2", "CAN-6", "CAN-7")
    @invariant()
    def cancel_ends_work_as_the_profile_says(self) -> None:
        self._assert_clean("CAN-6", "CAN-7", "CAN-1", "CAN-2")

    @checks("STS-5")
    @invariant()
    def current_status_matches_trace(self) -> None:
        self._assert_clean("STS-5")

    @checks("LIF-1", "EXE-1", "ENQ-1")
    @invariant()
    def trace_paths_follow_the_lifecycle(self) -> None:
        self._assert_clean("LIF-1", "ENQ-1", "EXE-1")


class SeedProfileMachine(CurrentMachine):
    """``CurrentMachine`` in profile ``seed``: cancel of running work ends it canceled at once
    (CAN-2), and ``max_parallelism`` 0 is refused."""

    profile: ClassVar[str] = "seed"


TestCurrentMachine = CurrentMachine.TestCase
TestSeedProfileMachine = SeedProfileMachine.TestCase


# Broken engines -----------------------------------------------------------------------------



def machine_failure(breakage: broken.Breakage, machine: type[CurrentMachine]) -> str:
    """Run ``machine`` against a broken engine and return how it failed."""
    with breakage():
        return failure_of(lambda: run_state_machine_as_test(machine, settings=BROKEN_SETTINGS))


BOTH_PROFILES = pytest.mark.parametrize(
    "machine", [CurrentMachine, SeedProfileMachine], ids=["current", "seed"]
)
"""For engines that break a rule both profiles share."""


@checks("ONC-1")
@BOTH_PROFILES
def test_machine_catches_on_complete_called_twice(machine: type[CurrentMachine]) -> None:
    failure = machine_failure(broken.on_complete_called_twice, machine)
    assert failure.startswith("AssertionError: ONC-1:"), failure


@checks("ONC-1")
@BOTH_PROFILES
def test_machine_catches_on_complete_missing_for_canceled_work(
    machine: type[CurrentMachine],
) -> None:
    failure = machine_failure(broken.on_complete_skipped_for_canceled_work, machine)
    assert failure.startswith("AssertionError: ONC-1:"), failure


@checks("ONC-3")
@BOTH_PROFILES
def test_machine_catches_on_complete_seeing_canceled_work_as_failed(
    machine: type[CurrentMachine],
) -> None:
    failure = machine_failure(broken.on_complete_sees_canceled_as_failed, machine)
    assert failure.startswith("AssertionError: ONC-3:"), failure


@checks("RTY-4")
@BOTH_PROFILES
def test_machine_catches_a_retry_beyond_max_attempts(machine: type[CurrentMachine]) -> None:
    failure = machine_failure(broken.one_attempt_too_many, machine)
    assert failure.startswith("AssertionError: RTY-4:"), failure


@checks("RTY-4")
@BOTH_PROFILES
def test_machine_catches_a_retried_non_retryable_error(machine: type[CurrentMachine]) -> None:
    failure = machine_failure(broken.non_retryable_error_retried, machine)
    assert failure.startswith("AssertionError: RTY-4:"), failure


@checks("RTY-2")
@BOTH_PROFILES
def test_machine_catches_jitter_outside_half_to_one_and_a_half(
    machine: type[CurrentMachine],
) -> None:
    failure = machine_failure(broken.jitter_outside_range, machine)
    assert failure.startswith("AssertionError: RTY-2:"), failure


@checks("RTY-2")
@BOTH_PROFILES
def test_machine_catches_a_retry_starting_one_ms_before_retry_at(
    machine: type[CurrentMachine],
) -> None:
    failure = machine_failure(broken.retry_starts_one_ms_early, machine)
    assert failure.startswith("AssertionError: RTY-2:"), failure


@checks("RTY-3")
@BOTH_PROFILES
def test_machine_catches_a_retry_that_holds_its_slot(machine: type[CurrentMachine]) -> None:
    failure = machine_failure(broken.retry_holds_its_slot, machine)
    assert failure.startswith("AssertionError: RTY-3:"), failure


@checks("STS-5")
@BOTH_PROFILES
def test_machine_catches_a_status_that_forgets_attempts_while_retrying(
    machine: type[CurrentMachine],
) -> None:
    failure = machine_failure(broken.status_forgets_attempts_while_retrying, machine)
    assert failure.startswith("AssertionError: STS-5:"), failure


@checks("CAN-7")
@BOTH_PROFILES
def test_machine_catches_cancel_all_skipping_work_between_attempts(
    machine: type[CurrentMachine],
) -> None:
    failure = machine_failure(broken.cancel_all_skips_retrying_work, machine)
    assert failure.startswith("AssertionError: CAN-7:"), failure


@checks("PAR-2")
def test_machine_catches_a_paused_pool_that_still_starts_work() -> None:
    failure = machine_failure(broken.paused_pool_still_starts, CurrentMachine)
    assert failure.startswith("AssertionError: PAR-2:"), failure


@checks("CAN-6")
def test_machine_catches_cancel_stopping_running_work() -> None:
    failure = machine_failure(broken.cancel_stops_running_work, CurrentMachine)
    assert failure.startswith("AssertionError: CAN-6:"), failure


@checks("CAN-6")
def test_machine_catches_a_retry_after_cancel_requested() -> None:
    failure = machine_failure(broken.retried_after_cancel_requested, CurrentMachine)
    assert failure.startswith("AssertionError: CAN-6:"), failure
