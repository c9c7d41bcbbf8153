"""The trace checker (:mod:`refmodel.checker`, ``python -m refmodel check``).

Three kinds of evidence:
- the model's own traces pass with every latency bound at 0: every example's worlds, and many
  Hypothesis-generated scenarios in both profiles (no false alarms);
- each deliberately broken workpool of ``tests/broken_adapters.py``, in-process and as a
  protocol program, is caught on its scenario (``tests/broken_scenarios.py``) by exactly the
  rule it breaks, while the model's trace of the same scenario is clean;
- hand-written traces pin each rule's edges and each latency bound, and bad input gives a
  one-line error naming the line, never a traceback.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refmodel import PROFILES, ActionCtx, MutationCtx, UnknownWorkId, World
from refmodel.adapter import ModelAdapter, SubprocessAdapter
from refmodel.checker import (
    RULES,
    CheckOptions,
    CheckReport,
    EventRef,
    TraceUnreadable,
    Violation,
    check,
    check_file,
)
from refmodel.checker_bench import main as bench_main
from refmodel.cli import main
from refmodel.conformance import scenario_strategy
from refmodel.errors import InvalidArgument
from refmodel.examples import EXAMPLES
from refmodel.scenario import FEATURES
from refmodel.trace import KINDS
from tests.broken_adapters import BROKEN, PROGRAMS, program_command
from tests.broken_scenarios import SCENARIOS, played_trace
from tests.spec import checks

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "specs" / "trace.schema.json").read_text(encoding="utf-8"))


class Trace:
    """A hand-written trace: events are added in order; ``seq`` counts them from 1."""

    def __init__(self, profile: str = "seed", version: int = 1) -> None:
        self.events: list[dict[str, Any]] = []
        data = {"traceVersion": version, "seed": 0, "epoch": 0, "profile": profile}
        self.add(0, "world_started", None, None, **data)

    def add(
        self, t: int, event: str, pool: str | None, work_id: str | None, /, **data: Any
    ) -> int:
        self.events.append({"t": t, "seq": len(self.events) + 1, "kind": event, "pool": pool,
                            "id": work_id, "data": data})
        return len(self.events)

    def pool(self, t: int, name: str = "p", **options: Any) -> int:
        return self.add(t, "pool_created", name, None, **options)

    def work(self, t: int, event: str, n: int, /, **data: Any) -> int:
        return self.add(t, event, "p", f"p/{n}", **data)

    def enqueue(self, t: int, n: int, run_at: int | None = None, **extra: Any) -> int:
        data = {"fn": "f", "kind": "action", "runAt": t if run_at is None else run_at, **extra}
        return self.work(t, "enqueued", n, **data)

    def start(self, t: int, n: int, attempt: int = 1, lag: int = 0) -> int:
        return self.work(t, "started", n, attempt=attempt, lagMs=lag)

    def succeed(self, t: int, n: int, result: Any = None, attempt: int = 1) -> int:
        return self.work(t, "succeeded", n, attempt=attempt, result=result)

    def lines(self) -> list[str]:
        return [json.dumps(event, separators=(",", ":")) for event in self.events]

    def check(self, **options: Any) -> CheckReport:
        return check(self.lines(), options=CheckOptions(**options))


def seed_pool(trace: Trace, **options: Any) -> None:
    defaults = {"maxParallelism": 1, "actionTimeoutMs": 900000, "mutationTimeoutMs": 30000,
                "unknownTimeoutMs": 900000, "ttl": 86400000, "logLevel": "WARN",
                "retryActionsByDefault": False,
                "defaultRetryBehavior": {"maxAttempts": 5, "initialBackoffMs": 250, "base": 2}}
    trace.pool(0, **{**defaults, **options})


def current_pool(trace: Trace, **options: Any) -> None:
    defaults = {"maxParallelism": 1, "logLevel": "REPORT", "retryActionsByDefault": False,
                "defaultRetryBehavior": {"maxAttempts": 5, "initialBackoffMs": 250, "base": 2}}
    trace.pool(0, **{**defaults, **options})


def rules_of(report: CheckReport) -> list[str]:
    return [violation.rule for violation in report.violations]


# The model's traces pass -------------------------------------------------------------------


@checks("PAR-1", "ORD-1", "ORD-2", "WC-1", "TMO-1", "TTL-1", "LIF-1", "CHK-1")
@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_world_of_every_example_passes(name: str) -> None:
    for label, world in EXAMPLES[name](0).worlds.items():
        if world.profile.name not in PROFILES:
            continue  # A proposal's profile: tests/test_borrowing.py checks what check says.
        report = check(world.trace_jsonl().splitlines(), options=CheckOptions(end_ms=world.now))
        assert report.text().endswith("no violations"), f"{name}/{label}: {report.text()}"


def _with_retention(scenario: dict[str, Any], ttl: int, timeout: int) -> dict[str, Any]:
    """The scenario with a short ttl and mutation timeout in its seed-profile pools."""
    if scenario["profile"] == "seed":
        for options in scenario["pools"].values():
            options["ttl"] = ttl
            options["mutationTimeoutMs"] = timeout
    return scenario


SCENARIOS_OF_BOTH_PROFILES = st.builds(
    _with_retention, scenario_strategy(FEATURES), st.integers(1, 60), st.integers(1, 60)
)


@checks("PAR-1", "ORD-1", "ORD-2", "WC-1", "TMO-1", "TTL-1", "LIF-1", "CAN-1", "CAN-2",
        "CAN-3", "CAN-6", "RTY-2", "RTY-3", "RTY-4", "ONC-1", "ONC-3", "CHK-1")
@given(scenario=SCENARIOS_OF_BOTH_PROFILES)
def test_the_models_traces_of_generated_scenarios_pass(scenario: dict[str, Any]) -> None:
    played = played_trace(ModelAdapter(), scenario)
    report = check(played.lines, options=CheckOptions(end_ms=played.end_ms))
    assert report.ok, report.text() + "\n" + "\n".join(played.lines)


@checks("RTY-2", "RTY-4", "ONC-1", "CHK-1")
@given(scenario=SCENARIOS_OF_BOTH_PROFILES)
def test_the_models_traces_pass_without_the_declared_facts(scenario: dict[str, Any]) -> None:
    # As a foreign log would be: no retry or onComplete fields, and no known end.
    played = played_trace(ModelAdapter(), scenario)
    bare = []
    for line in played.lines:
        event = json.loads(line)
        event["data"].pop("retry", None)
        event["data"].pop("onComplete", None)
        bare.append(json.dumps(event, separators=(",", ":")))
    report = check(bare, options=CheckOptions(assume_pool_retry=False))
    assert report.ok, report.text()


DIRECT_OPS = st.lists(
    st.tuples(
        st.sampled_from(["action", "mutation", "enqueuer", "scheduler", "cancel", "advance"]),
        st.integers(0, 30),
        st.integers(0, 3),
    ),
    max_size=12,
)


@checks("PAR-1", "ORD-1", "ORD-2", "WC-1", "TMO-1", "TTL-1", "LIF-1", "CAN-1", "CAN-6",
        "ENQ-3", "CTX-2", "CHK-1")
@given(profile=st.sampled_from(["seed", "current"]), ops=DIRECT_OPS,
       parallelism=st.integers(1, 3), short=st.integers(5, 40))
def test_the_models_traces_of_the_direct_api_pass(
    profile: str, ops: list[tuple[str, int, int]], parallelism: int, short: int
) -> None:
    # What scenarios cannot say: enqueues and cancels at a mutation's commit, unknown-kind
    # work from pool.ctx(ctx).scheduler, mutation and action timeouts, evictions.
    world = World(seed=0, profile=profile)
    options: dict[str, Any] = {"max_parallelism": parallelism}
    if profile == "seed":
        options.update(action_timeout_ms=short, mutation_timeout_ms=short,
                       unknown_timeout_ms=short, ttl_ms=short)
    pool = world.pool("p", **options)
    issued: list[str] = []

    @world.action("act")
    async def act(ctx: ActionCtx, args: dict[str, Any]) -> int:
        await ctx.sleep(args["ms"])
        if args["n"] == 3:
            raise RuntimeError("three")
        return int(args["n"])

    @world.mutation("enqueue_later", duration_ms=7)
    def enqueue_later(ctx: MutationCtx, args: dict[str, Any]) -> None:
        issued.append(pool.enqueue_action(ctx, "act", {"ms": args["ms"], "n": args["n"]}))
        if issued[:-1]:
            pool.cancel(ctx, issued[0])

    @world.mutation("write", duration_ms=4)
    def write(ctx: MutationCtx, args: dict[str, Any]) -> None:
        ctx.db.insert("rows", {"n": args["n"]})

    @world.action("schedule")
    async def schedule(ctx: ActionCtx, args: dict[str, Any]) -> None:
        pool.ctx(ctx).scheduler.run_after(args["ms"], "act", {"ms": args["n"], "n": 1})

    client = world.client
    for op, ms, n in ops:
        if op == "action":
            issued.append(pool.enqueue_action(client, "act", {"ms": ms, "n": n}))
        elif op == "mutation":
            issued.append(pool.enqueue_mutation(client, "write", {"n": n}))
        elif op == "enqueuer":
            world.run_mutation("enqueue_later", {"ms": ms, "n": n})
        elif op == "scheduler":
            issued.append(pool.enqueue_action(client, "schedule", {"ms": ms, "n": n}))
        elif op == "cancel" and issued:
            with contextlib.suppress(UnknownWorkId):  # Its mutation has not committed (yet).
                pool.cancel(client, issued[n % len(issued)])
        else:
            world.run_until(world.now + ms)
    world.run_until(world.now + 200)
    report = check(world.trace_jsonl().splitlines(), options=CheckOptions(end_ms=world.now))
    assert report.ok, report.text() + "\n" + world.trace_jsonl()


# Broken workpools are caught -----------------------------------------------------------------


@checks("PAR-1", "ORD-1", "ORD-2", "WC-1", "TMO-1", "TTL-1", "LIF-1", "CAN-1", "CAN-6",
        "RTY-2", "RTY-3", "ONC-1", "ONC-3", "CHK-1")
@pytest.mark.parametrize("name", sorted(BROKEN))
def test_each_broken_workpool_is_caught_by_the_rule_it_breaks(name: str) -> None:
    factory, rule, profile = BROKEN[name]
    scenario = SCENARIOS[name]
    assert scenario["profile"] == profile
    model = played_trace(ModelAdapter(), scenario)
    assert check(model.lines, options=CheckOptions(end_ms=model.end_ms)).ok
    broken = played_trace(factory(), scenario)
    report = check(broken.lines, options=CheckOptions(end_ms=broken.end_ms))
    assert report.rules() == [rule], report.text()


@checks("PAR-1", "ORD-1", "CAN-1", "CAN-6", "CHK-1")
@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_each_broken_program_is_caught_through_the_protocol(name: str) -> None:
    rule = BROKEN[name][1]
    adapter = SubprocessAdapter(program_command(name), timeout_s=30)
    try:
        played = played_trace(adapter, SCENARIOS[name])
    finally:
        adapter.close()
    report = check(played.lines, options=CheckOptions(end_ms=played.end_ms))
    assert report.rules() == [rule], report.text()


@checks("LIF-1")
def test_every_broken_workpool_has_a_scenario_and_a_known_rule() -> None:
    assert sorted(SCENARIOS) == sorted(BROKEN)
    assert len(BROKEN) >= 12
    assert {rule for _, rule, _ in BROKEN.values()} <= set(RULES)
    assert all(path.exists() for path in PROGRAMS.values())


# PAR-1, ORD-1, ORD-2, WC-1 -----------------------------------------------------------------


@checks("PAR-1")
def test_a_start_beyond_max_parallelism_is_a_violation() -> None:
    trace = Trace()
    seed_pool(trace, maxParallelism=1)
    trace.enqueue(0, 1)
    trace.enqueue(0, 2)
    trace.start(0, 1)
    second = trace.start(0, 2)
    report = trace.check()
    assert report.violations == (
        Violation(
            rule="PAR-1",
            message="p/2 starts while 1 items run in pool 'p' (maxParallelism 1)",
            events=(EventRef(2, 2), EventRef(second, second)),
        ),
    )


@checks("PAR-1", "CHK-1")
def test_after_lowering_max_parallelism_only_a_new_start_is_a_violation() -> None:
    trace = Trace("current")
    current_pool(trace, maxParallelism=2)
    for n in (1, 2, 3):
        trace.enqueue(0, n)
    trace.start(0, 1)
    trace.start(0, 2)
    trace.add(5, "config_updated", "p", None, maxParallelism=1)
    trace.succeed(10, 1)
    ok = trace.check(end_ms=10)
    assert ok.ok, ok.text()
    trace.start(10, 3)  # p/2 still runs: the limit is 1.
    assert rules_of(trace.check(end_ms=10)) == ["PAR-1"]


@checks("PAR-1", "CHK-1")
def test_max_parallelism_option_overrides_the_trace() -> None:
    trace = Trace()
    seed_pool(trace, maxParallelism=2)
    trace.enqueue(0, 1)
    trace.enqueue(0, 2)
    trace.start(0, 1)
    trace.start(0, 2)
    assert trace.check().ok
    assert rules_of(trace.check(max_parallelism={"p": 1})) == ["PAR-1"]


@checks("ORD-2", "RTY-2")
def test_a_start_before_run_at_or_retry_at_is_a_violation() -> None:
    trace = Trace()
    seed_pool(trace, maxParallelism=2, retryActionsByDefault=True)
    trace.enqueue(0, 1, run_at=50)
    trace.start(49, 1)
    trace.enqueue(49, 2)
    trace.start(49, 2)
    trace.work(60, "retrying", 2, attempt=1, error="e", delayMs=200, retryAt=260)
    trace.start(259, 2, attempt=2)
    report = trace.check()
    assert rules_of(report) == ["ORD-2", "RTY-2"]
    assert "p/1 starts at 49 ms, 1 ms before its runAt 50 ms" in report.violations[0].message
    assert "p/2 starts at 259 ms, 1 ms before its retryAt 260 ms" in report.violations[1].message


@checks("ORD-1")
def test_overtaking_an_earlier_eligible_item_is_a_violation() -> None:
    trace = Trace()
    seed_pool(trace, maxParallelism=1)
    trace.enqueue(0, 1)
    trace.enqueue(0, 2)
    trace.start(0, 2)
    report = trace.check()
    assert rules_of(report) == ["ORD-1"]


@checks("ORD-1", "ENQ-4")
def test_fifo_is_by_eligibility_time_then_enqueue_order() -> None:
    # p/1 is eligible at 7, p/2 at once: p/2 goes first. p/3 asks for 5 at 10 ms: its runAt
    # is clamped to 10 (ENQ-4), so when the slot frees at 40, p/1 goes first.
    def started_at_40(n: int) -> Trace:
        trace = Trace()
        seed_pool(trace, maxParallelism=1)
        trace.enqueue(0, 1, run_at=7)
        trace.enqueue(0, 2)
        trace.start(0, 2)
        trace.enqueue(10, 3, run_at=5)
        trace.succeed(40, 2)
        trace.start(40, n)
        return trace

    assert started_at_40(1).check().ok
    assert rules_of(started_at_40(3).check()) == ["ORD-1"]


@checks("ORD-1", "CHK-1")
def test_start_lag_tolerates_reordering_among_recently_eligible_items() -> None:
    trace = Trace()
    seed_pool(trace, maxParallelism=2)
    trace.enqueue(0, 1)
    trace.enqueue(0, 2)
    trace.start(40, 2)
    trace.start(41, 1)
    assert rules_of(trace.check()) == ["WC-1", "ORD-1", "WC-1"]
    assert trace.check(start_lag_ms=41).ok
    assert rules_of(trace.check(start_lag_ms=40)) == ["ORD-1", "WC-1"]


@checks("WC-1", "CHK-1")
def test_a_free_slot_beside_eligible_work_at_a_settled_instant_is_a_violation() -> None:
    trace = Trace()
    seed_pool(trace, maxParallelism=1)
    trace.enqueue(0, 1)
    trace.start(0, 1)
    trace.enqueue(0, 2)
    freed = trace.succeed(100, 1)
    assert trace.check().ok  # The trace may end in the middle of instant 100.
    report = trace.check(end_ms=100)
    assert report.violations == (
        Violation(
            rule="WC-1",
            message="pool 'p' has 1 free slot(s) while p/2 waits, due since 100 ms (eligible "
            "at 0 ms, a slot free since 100 ms); still at 100 ms (start lag allowed: 0 ms)",
            events=(EventRef(5, 5), EventRef(freed, freed)),
        ),
    )
    trace.start(130, 2)
    assert rules_of(trace.check()) == ["WC-1"]
    assert trace.check(start_lag_ms=30).ok
    assert rules_of(trace.check(start_lag_ms=29)) == ["WC-1"]


@checks("WC-1")
def test_work_coming_due_in_an_idle_pool_must_start_then() -> None:
    trace = Trace()
    seed_pool(trace, maxParallelism=1)
    trace.enqueue(0, 1, run_at=50)
    trace.start(50, 1)
    assert trace.check().ok
    late = Trace()
    seed_pool(late, maxParallelism=1)
    late.enqueue(0, 1, run_at=50)
    late.start(51, 1)
    assert rules_of(late.check()) == ["WC-1"]


@checks("WC-1", "RTY-3")
def test_a_slot_left_unused_while_work_waits_to_retry_is_reported_as_rty_3() -> None:
    trace = Trace("current")
    current_pool(trace, maxParallelism=1, retryActionsByDefault=True)
    trace.enqueue(0, 1)
    trace.enqueue(0, 2)
    trace.start(0, 1)
    trace.work(10, "retrying", 1, attempt=1, error="e", delayMs=300, retryAt=310)
    trace.start(20, 2)
    assert rules_of(trace.check()) == ["RTY-3"]


@checks("WC-1", "PAR-2")
def test_a_paused_pool_has_no_free_slot() -> None:
    trace = Trace("current")
    current_pool(trace, maxParallelism=0)
    trace.enqueue(0, 1)
    trace.add(100, "config_updated", "p", None, maxParallelism=1)
    trace.start(100, 1)
    assert trace.check().ok


# TMO-1, TTL-1 --------------------------------------------------------------------------------


@checks("TMO-1", "CHK-1")
def test_timeouts_at_start_plus_timeout_within_the_slack() -> None:
    def timed_out_at(t: int) -> Trace:
        trace = Trace()
        seed_pool(trace, actionTimeoutMs=100)
        trace.enqueue(10, 1)
        trace.start(10, 1)
        trace.work(t, "timed_out", 1, attempt=1, timeoutMs=100)
        return trace

    assert timed_out_at(110).check().ok
    assert rules_of(timed_out_at(109).check()) == ["TMO-1"]
    assert rules_of(timed_out_at(111).check()) == ["TMO-1"]
    assert timed_out_at(115).check(timeout_slack_ms=5).ok
    assert rules_of(timed_out_at(116).check(timeout_slack_ms=5)) == ["TMO-1"]
    assert rules_of(timed_out_at(112).check(completion_lag_ms=5)) == ["TMO-1"]


@checks("TMO-1", "CHK-1")
def test_running_past_the_timeout_is_a_violation_unless_the_completion_lags() -> None:
    trace = Trace()
    seed_pool(trace, actionTimeoutMs=100)
    trace.enqueue(0, 1)
    trace.start(0, 1)
    trace.succeed(105, 1)
    report = trace.check()
    assert rules_of(report) == ["TMO-1"]
    assert report.violations[0].message == (
        "p/1 started at 0 ms is still running at 100 ms, past started + timeout (100 ms) + 0 ms "
        "slack"
    )
    assert trace.check(completion_lag_ms=5).ok
    still = Trace()
    seed_pool(still, actionTimeoutMs=100)
    still.enqueue(0, 1)
    still.start(0, 1)
    assert still.check(end_ms=99).ok
    assert rules_of(still.check(end_ms=100)) == ["TMO-1"]


@checks("TMO-1")
def test_timed_out_must_name_the_pools_timeout() -> None:
    trace = Trace()
    seed_pool(trace, mutationTimeoutMs=100)
    trace.work(0, "enqueued", 1, fn="m", kind="mutation", runAt=0)
    trace.start(0, 1)
    trace.work(100, "timed_out", 1, attempt=1, timeoutMs=900000)
    assert rules_of(trace.check()) == ["TMO-1"]


@checks("TTL-1", "CHK-1")
def test_eviction_at_finish_plus_ttl_within_the_slack() -> None:
    def evicted_at(t: int | None, ttl: int | None = 1000) -> Trace:
        trace = Trace()
        seed_pool(trace, ttl=ttl)
        trace.enqueue(0, 1)
        trace.start(0, 1)
        trace.succeed(10, 1)
        if t is not None:
            trace.work(t, "evicted", 1)
        return trace

    assert evicted_at(1010).check().ok
    assert rules_of(evicted_at(1009).check()) == ["TTL-1"]
    assert rules_of(evicted_at(1011).check()) == ["TTL-1"]
    assert evicted_at(1015).check(eviction_slack_ms=5).ok
    assert rules_of(evicted_at(1016).check(eviction_slack_ms=5)) == ["TTL-1"]
    assert rules_of(evicted_at(None).check(end_ms=1010)) == ["TTL-1"]
    assert evicted_at(None).check(end_ms=1009).ok
    assert rules_of(evicted_at(5000, ttl=None).check()) == ["TTL-1"]


# LIF-1 and the cancel rules ----------------------------------------------------------------


@checks("LIF-1")
def test_events_off_the_lifecycle_table_are_violations() -> None:
    trace = Trace()
    seed_pool(trace)
    trace.enqueue(0, 1)
    trace.succeed(0, 1)  # Never started.
    trace.start(6, 9)  # Never enqueued.
    trace.enqueue(7, 1)  # Enqueued twice.
    report = trace.check()
    assert rules_of(report) == ["LIF-1", "LIF-1", "LIF-1"]
    assert report.violations[0].message == (
        "p/1: succeeded in state pending is not a transition of the seed lifecycle"
    )
    assert report.violations[1].message == "p/9: started of an item never enqueued"


@checks("LIF-1")
def test_the_current_profile_has_no_timeouts_and_no_evictions() -> None:
    trace = Trace("current")
    current_pool(trace)
    trace.enqueue(0, 1)
    trace.start(0, 1)
    trace.work(5, "timed_out", 1, attempt=1, timeoutMs=5)
    trace.work(6, "evicted", 1)
    assert rules_of(trace.check()) == ["LIF-1", "LIF-1"]
    assert rules_of(trace.check(profile="seed")) == []


@checks("LIF-1", "RTY-4")
def test_attempt_numbers_count_without_gaps() -> None:
    trace = Trace()
    seed_pool(trace, retryActionsByDefault=True)
    trace.enqueue(0, 1)
    trace.start(0, 1, attempt=2)
    assert rules_of(trace.check()) == ["LIF-1"]


@checks("CAN-1")
def test_canceled_waiting_work_never_starts_and_its_cancel_is_not_ignored() -> None:
    trace = Trace()
    seed_pool(trace)
    trace.enqueue(0, 1)
    trace.work(0, "canceled", 1, attempt=0, wasRunning=False)
    trace.start(5, 1)
    assert rules_of(trace.check()) == ["CAN-1"]
    ignored = Trace()
    seed_pool(ignored)
    ignored.enqueue(0, 1)
    ignored.work(0, "cancel_ignored", 1, state="pending")
    assert rules_of(ignored.check()) == ["CAN-1"]


@checks("CAN-2")
def test_seed_cancel_of_running_work_ends_it_at_the_cancel() -> None:
    trace = Trace()
    seed_pool(trace)
    trace.enqueue(0, 1)
    trace.start(0, 1)
    trace.work(5, "canceled", 1, attempt=1, wasRunning=True)
    assert trace.check().ok
    trace.succeed(10, 1)  # The canceled attempt ran on.
    assert rules_of(trace.check()) == ["CAN-2"]
    requested = Trace()
    seed_pool(requested)
    requested.enqueue(0, 1)
    requested.start(0, 1)
    requested.work(5, "cancel_requested", 1, attempt=1)
    requested.succeed(10, 1)
    assert rules_of(requested.check()) == ["CAN-2"]


@checks("CAN-3")
def test_cancel_ignored_names_the_state_of_finished_work() -> None:
    trace = Trace()
    seed_pool(trace, ttl=100)
    trace.enqueue(0, 1)
    trace.start(0, 1)
    trace.succeed(0, 1)
    trace.work(1, "cancel_ignored", 1, state="succeeded")
    trace.work(2, "cancel_ignored", 1, state="failed")
    trace.work(100, "evicted", 1)
    trace.work(101, "cancel_ignored", 1, state="evicted")
    trace.work(102, "cancel_ignored", 1, state="finished")
    assert rules_of(trace.check()) == ["CAN-3", "CAN-3"]


@checks("CAN-6", "CHK-1")
def test_current_cancel_of_running_work_lets_it_finish_and_never_retry() -> None:
    good = Trace("current")
    current_pool(good, retryActionsByDefault=True)
    good.enqueue(0, 1)
    good.start(0, 1)
    good.work(5, "cancel_requested", 1, attempt=1)
    good.work(5, "cancel_ignored", 1, state="canceling")
    good.work(10, "canceled", 1, attempt=1, wasRunning=True, error="e")
    assert good.check().ok
    # A failure at the very instant of the cancel is fine too: it carries its error.
    same_instant = Trace("current")
    current_pool(same_instant, retryActionsByDefault=True)
    same_instant.enqueue(0, 1)
    same_instant.start(0, 1)
    same_instant.work(5, "cancel_requested", 1, attempt=1)
    same_instant.work(5, "canceled", 1, attempt=1, wasRunning=True, error="e")
    assert same_instant.check().ok

    stopped = Trace("current")
    current_pool(stopped)
    stopped.enqueue(0, 1)
    stopped.start(0, 1)
    stopped.work(5, "canceled", 1, attempt=1, wasRunning=True)
    assert rules_of(stopped.check()) == ["CAN-6"]
    stopped_after_request = Trace("current")
    current_pool(stopped_after_request)
    stopped_after_request.enqueue(0, 1)
    stopped_after_request.start(0, 1)
    stopped_after_request.work(5, "cancel_requested", 1, attempt=1)
    stopped_after_request.work(5, "canceled", 1, attempt=1, wasRunning=True)
    assert rules_of(stopped_after_request.check()) == ["CAN-6"]
    retried = Trace("current")
    current_pool(retried, retryActionsByDefault=True)
    retried.enqueue(0, 1)
    retried.start(0, 1)
    retried.work(5, "cancel_requested", 1, attempt=1)
    retried.work(10, "retrying", 1, attempt=1, error="e", delayMs=250, retryAt=260)
    assert rules_of(retried.check()) == ["CAN-6"]


# Retries -----------------------------------------------------------------------------------


def _retried(delay: int, retry_at: int | None = None, **enqueued: Any) -> Trace:
    trace = Trace("current")
    current_pool(trace, retryActionsByDefault=True,
                 defaultRetryBehavior={"maxAttempts": 3, "initialBackoffMs": 100, "base": 1.5})
    trace.enqueue(0, 1, **enqueued)
    trace.start(0, 1)
    trace.work(10, "retrying", 1, attempt=1, error="e", delayMs=delay,
               retryAt=10 + delay if retry_at is None else retry_at)
    trace.start(10 + delay, 1, attempt=2)
    trace.work(20 + delay, "retrying", 1, attempt=2, error="e", delayMs=75,
               retryAt=95 + delay)
    return trace


@checks("RTY-2", "CHK-1")
def test_retry_delays_lie_within_the_jitter_bounds() -> None:
    # Retry 1: b = 100, [50, 150]; retry 2: b = 150, [75, 225].
    assert _retried(50).check().ok
    assert _retried(150).check().ok
    assert rules_of(_retried(49).check()) == ["RTY-2"]
    report = _retried(151).check()
    assert [v.message for v in report.violations] == [
        "p/1: retry 1 waits 151 ms, outside [50, 150] (backoff 100 ms x 1.5^0, jitter 0.5 to 1.5)"
    ]
    assert _retried(151).check(assume_pool_retry=False).ok
    # retryAt is not the failure time + delayMs, and the restart comes before it.
    assert rules_of(_retried(50, retry_at=61).check()) == ["RTY-2", "RTY-2"]


@checks("RTY-2", "RTY-4")
def test_a_declared_retry_behaviour_overrides_the_pools() -> None:
    own = {"maxAttempts": 2, "initialBackoffMs": 1000, "base": 2}
    assert rules_of(_retried(50, retry=own).check()) == ["RTY-2", "RTY-4"]
    assert _retried(50, retry=True).check().ok
    assert rules_of(_retried(50, retry=None).check()) == ["RTY-4", "RTY-4", "RTY-4"]


@checks("RTY-4")
def test_no_attempt_beyond_max_attempts() -> None:
    trace = _retried(50)
    trace.start(145, 1, attempt=3)
    trace.work(155, "retrying", 1, attempt=3, error="e", delayMs=100, retryAt=255)
    trace.start(255, 1, attempt=4)
    assert rules_of(trace.check()) == ["RTY-4", "RTY-4"]


# onComplete ----------------------------------------------------------------------------------


def _completed(reported: Any, *, declared: Any = "done", **terminal: Any) -> Trace:
    trace = Trace("current")
    current_pool(trace)
    trace.enqueue(0, 1, onComplete=declared)
    trace.start(0, 1)
    kind = terminal.pop("kind", "succeeded")
    trace.work(10, kind, 1, attempt=1, **terminal)
    if reported is not None:
        trace.work(10, "on_complete", 1, fn="done", context=None, result=reported)
    return trace


@checks("ONC-1", "ONC-3")
def test_on_complete_matches_the_terminal_event() -> None:
    assert _completed({"kind": "success", "returnValue": 1.0}, result=1).check().ok
    assert _completed({"kind": "failed", "error": "x"}, kind="failed", error="x").check().ok
    assert rules_of(_completed({"kind": "success", "returnValue": True}, result=1).check()) == [
        "ONC-3"]
    assert rules_of(_completed({"kind": "failed", "error": "y"}, kind="failed",
                               error="x").check()) == ["ONC-3"]
    assert rules_of(_completed({"kind": "success", "returnValue": None}, kind="failed",
                               error="x").check()) == ["ONC-3"]


@checks("ONC-3")
def test_a_timed_out_item_reports_failed_timeout() -> None:
    trace = Trace()
    seed_pool(trace, actionTimeoutMs=10)
    trace.enqueue(0, 1)
    trace.start(0, 1)
    trace.work(10, "timed_out", 1, attempt=1, timeoutMs=10)
    trace.work(10, "on_complete", 1, fn="done", context=None,
               result={"kind": "failed", "error": "Timeout"})
    assert trace.check().ok


@checks("ONC-1", "CHK-1")
def test_on_complete_once_only_when_finished_and_when_declared() -> None:
    twice = _completed({"kind": "success", "returnValue": 1}, result=1)
    twice.work(10, "on_complete", 1, fn="done", context=None,
               result={"kind": "success", "returnValue": 1})
    assert rules_of(twice.check()) == ["ONC-1"]
    missing = _completed(None, result=1)
    assert missing.check().ok  # Instant 10 may be incomplete.
    assert rules_of(missing.check(end_ms=10)) == ["ONC-1"]
    missing.add(15, "warning", "p", None, message="late")
    assert rules_of(missing.check()) == ["ONC-1"]
    assert missing.check(completion_lag_ms=5).ok
    assert rules_of(missing.check(completion_lag_ms=4)) == ["ONC-1"]
    undeclared = _completed({"kind": "success", "returnValue": 1}, declared=None, result=1)
    assert rules_of(undeclared.check()) == ["ONC-1"]
    other = _completed({"kind": "success", "returnValue": 1}, declared="other", result=1)
    assert rules_of(other.check()) == ["ONC-1"]
    early = Trace("current")
    current_pool(early, retryActionsByDefault=True)
    early.enqueue(0, 1)
    early.start(0, 1)
    early.work(10, "retrying", 1, attempt=1, error="e", delayMs=250, retryAt=260)
    early.work(10, "on_complete", 1, fn="done", context=None, result={"kind": "canceled"})
    assert rules_of(early.check()) == ["ONC-1"]


# Other rules and options -------------------------------------------------------------------


@checks("CFG-3")
def test_a_pool_created_twice_is_a_violation() -> None:
    trace = Trace()
    seed_pool(trace)
    seed_pool(trace)
    assert rules_of(trace.check()) == ["CFG-3"]


@checks("CHK-1")
def test_unknown_pools_are_not_checked_for_parallelism_and_say_so() -> None:
    trace = Trace()
    trace.enqueue(0, 1)
    trace.enqueue(0, 2)
    trace.start(0, 2)
    trace.start(0, 1)
    trace.start(1, 3)  # Never enqueued: still reported.
    report = trace.check()
    assert rules_of(report) == ["LIF-1"]  # Starts of one instant may come in any order.
    assert report.notes == (
        "pool 'p' has no pool_created event and no max_parallelism option: PAR-1 and WC-1 "
        "are not checked for it",
    )


@checks("CHK-1")
def test_violations_beyond_the_limit_are_counted_not_kept() -> None:
    trace = Trace()
    seed_pool(trace)
    for n in range(1, 6):
        trace.start(0, n)
    report = trace.check(max_violations=2)
    assert (len(report.violations), report.total) == (2, 5)
    assert report.text().splitlines()[0] == (
        "7 events, profile seed: 5 violations (the first 2 shown)"
    )


@checks("CHK-1")
def test_options_are_validated() -> None:
    with pytest.raises(InvalidArgument, match="start_lag_ms must be >= 0, got -1"):
        CheckOptions(start_lag_ms=-1)
    with pytest.raises(InvalidArgument, match="profile must be one of"):
        CheckOptions(profile="old")
    with pytest.raises(InvalidArgument, match="max_parallelism must map"):
        CheckOptions(max_parallelism={"p": -1})


@checks("CHK-1")
def test_the_fast_reader_and_the_full_parser_agree() -> None:
    example = EXAMPLES["retries"](0)
    world = next(iter(example.worlds.values()))
    lines = world.trace_jsonl().splitlines()
    loose = [json.dumps(json.loads(line)) for line in lines]  # Spaces: the full parser reads.
    assert check(lines) == check(loose)
    broken = _retried(151).lines()
    assert check(broken) == check([json.dumps(json.loads(line)) for line in broken])


@checks("CHK-1")
def test_the_json_module_reads_what_orjson_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    import refmodel.checker.rules as rules

    traces = [real_component_trace().lines(), _retried(151).lines(),
              EXAMPLES["retries"](0).worlds[next(iter(EXAMPLES["retries"](0).worlds))]
              .trace_jsonl().splitlines()]
    fast = [check(lines) for lines in traces]
    monkeypatch.setattr(rules, "fast_loads", json.loads)
    assert [check(lines) for lines in traces] == fast
    nan = START.replace('"seed":0', '"seed":NaN')  # orjson refuses it; json and JSON Schema
    assert check([nan]).ok  # read it (as the full parser always did).


@checks("CHK-1")
def test_a_trace_streams_through_in_chunks() -> None:
    trace = Trace()
    seed_pool(trace, maxParallelism=1, ttl=None)
    for n in range(1, 5000):
        trace.enqueue(n, n)
        trace.start(n, n)
        trace.succeed(n, n)

    def lines() -> Iterator[str]:
        yield from (line + "\n" for line in trace.lines())

    report = check(lines())
    assert (report.ok, report.events) == (True, len(trace.events))


@checks("CHK-1")
def test_the_benchmark_reports_a_rate(capsys: pytest.CaptureFixture[str]) -> None:
    assert bench_main(["--jobs", "200", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("events=802 violations=0 wall_s=")
    assert " events_per_s=" in out


# Unreadable input --------------------------------------------------------------------------


def _event(kind: str = "evicted", **changes: Any) -> dict[str, Any]:
    event = {"t": 0, "seq": 2, "kind": kind, "pool": "p", "id": "p/1", "data": {}}
    event.update(changes)
    return event


START = json.dumps({"t": 0, "seq": 1, "kind": "world_started", "pool": None, "id": None,
                    "data": {"traceVersion": 1, "seed": 0, "epoch": 0, "profile": "seed"}},
                   separators=(",", ":"))


@checks("CHK-1")
@pytest.mark.parametrize(
    ("second", "problem"),
    [
        ("{",
         "line 2: invalid JSON: Expecting property name enclosed in double quotes at column 2"),
        ("", "line 2: invalid JSON: empty line (each line holds one event)"),
        ('{"t":0} x', "line 2: invalid JSON: extra data at column 9"),
        ("[1]", "line 2: an event is a JSON object, got [1]"),
        (json.dumps({"t": 0}), "line 2: the event has no 'seq'"),
        (json.dumps({**_event(), "x": 1}),
         "line 2: unknown field 'x': an event has exactly t, seq, kind, pool, id, data"),
        (json.dumps(_event(t=-1)), "line 2: t must be an integer >= 0, got -1"),
        (json.dumps(_event(t="0")), 'line 2: t must be an integer >= 0, got "0"'),
        (json.dumps(_event(seq=3)),
         "line 2: seq is 3, expected 2: seq counts the events from 1, one a line"),
        (json.dumps(_event(kind="exploded")), 'line 2: unknown kind "exploded"'),
        (json.dumps(_event(pool=None)), "line 2: evicted events need a string pool, got null"),
        (json.dumps(_event(id=5)), "line 2: evicted events need a string id, got 5"),
        (json.dumps(_event(data=[])), "line 2: data must be an object, got []"),
        (json.dumps(_event("started", data={"attempt": 1})),
         "line 2: a started event's data needs 'lagMs'"),
        (json.dumps(_event("started", data={"attempt": 0, "lagMs": 0})),
         "line 2: started data.attempt must be an integer >= 1, got 0"),
        (json.dumps(_event("enqueued", data={"fn": "f", "kind": "job", "runAt": 0})),
         'line 2: enqueued data.kind must be one of action, mutation, unknown, query, got "job"'),
        (json.dumps(_event("canceled", data={"wasRunning": 1})),
         "line 2: canceled data.wasRunning must be a boolean, got 1"),
        (json.dumps(_event("rng", pool=None, id=None, data={"purpose": "x", "value": 1})),
         "line 2: rng data.value must be a number in [0, 1), got 1"),
        (json.dumps(_event("world_started", pool=None, id=None, data={"traceVersion": 1})),
         "line 2: world_started must be the first event (one world a trace)"),
    ],
)
def test_a_line_that_is_not_an_event_makes_the_trace_unreadable(
    second: str, problem: str
) -> None:
    with pytest.raises(TraceUnreadable) as raised:
        check([START, second])
    assert str(raised.value) == problem


@checks("CHK-1")
def test_time_going_back_and_an_unknown_version_are_unreadable() -> None:
    trace = Trace()
    seed_pool(trace)
    trace.add(5, "warning", "p", None, message="a")
    trace.add(4, "warning", "p", None, message="b")
    with pytest.raises(TraceUnreadable, match=r"^line 4: t goes back from 5 to 4 ms$"):
        trace.check()
    with pytest.raises(TraceUnreadable, match=r"^line 1: traceVersion is 3; this checker reads "
                                              r"versions 1, 2$"):
        check([START.replace('"traceVersion":1', '"traceVersion":3')])
    with pytest.raises(TraceUnreadable, match=r"^the trace is empty: no events$"):
        check([])
    with pytest.raises(TraceUnreadable, match="end_ms is 4 ms, but the trace has events up to"):
        trace.events.pop()
        trace.check(end_ms=4)


_MUTATIONS = st.sampled_from(["drop", "null", "string", "negative", "float", "list", "extra"])


@checks("CHK-1")
@given(
    kind=st.sampled_from(sorted(KINDS)),
    where=st.sampled_from(["t", "seq", "kind", "pool", "id", "data", "field"]),
    how=_MUTATIONS,
)
def test_the_reader_accepts_exactly_what_the_schema_accepts(
    kind: str, where: str, how: str
) -> None:
    samples: dict[str, dict[str, Any]] = {
        "enqueued": {"fn": "f", "kind": "action", "runAt": 0},
        "started": {"attempt": 1, "lagMs": 0},
        "succeeded": {"attempt": 1, "result": None},
        "failed": {"attempt": 1, "error": "e"},
        "canceled": {"attempt": 0, "wasRunning": False},
        "timed_out": {"attempt": 1, "timeoutMs": 5},
        "rng": {"purpose": "x", "value": 0.5},
    }
    data = samples.get(kind, {})
    event: dict[str, Any] = {"t": 0, "seq": 2, "kind": kind, "pool": "p", "id": "p/1",
                             "data": copy.deepcopy(data)}
    target: dict[str, Any] = event
    key = where
    if where == "field":
        if not data:
            return
        target = event["data"]
        key = sorted(data)[0]
    value: Any = {"drop": None, "null": None, "string": "x", "negative": -1, "float": 1.5,
                  "list": [], "extra": 1}[how]
    if how == "drop":
        target.pop(key)
    elif how == "extra":
        target["extra"] = value
    else:
        target[key] = value
    valid = jsonschema.Draft202012Validator(SCHEMA).is_valid(event)
    if event.get("kind") == "world_started" or event.get("seq") != 2 or event.get("t") != 0:
        return  # Order and the first event are checked beyond the schema.
    line = json.dumps(event, separators=(",", ":"))
    try:
        check([START, line])
        readable = True
    except TraceUnreadable:
        readable = False
    assert readable == valid, line


# The command line ----------------------------------------------------------------------------


def run_check(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "refmodel", "check", *args],
        capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=60, check=False,
    )


@checks("CHK-1")
def test_cli_check_of_a_valid_trace_exits_0(tmp_path: Path) -> None:
    world = EXAMPLES["emails"](0).worlds["pools"]
    path = tmp_path / "emails.jsonl"
    path.write_text(world.trace_jsonl(), encoding="utf-8")
    done = run_check(str(path), "--end-ms", str(world.now))
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout == f"{path}: 60 events, profile seed: no violations\n"


@checks("CHK-1", "PAR-1", "ORD-1")
def test_cli_check_of_a_violating_trace_exits_1_with_a_line_per_violation(tmp_path: Path) -> None:
    trace = Trace()
    seed_pool(trace, maxParallelism=2)
    trace.enqueue(0, 1)
    trace.enqueue(0, 2)
    trace.start(0, 2)
    trace.start(0, 1)
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(trace.lines()) + "\n", encoding="utf-8")
    done = run_check(str(path), "--max-parallelism", "p=1")
    assert (done.returncode, done.stderr) == (1, "")
    assert done.stdout == (
        f"{path}: 6 events, profile seed: 1 violation\n"
        "PAR-1: p/1 starts while 1 items run in pool 'p' (maxParallelism 1) [line 2 (seq 2), "
        "line 6 (seq 6)]\n"
    )
    assert run_check(str(path), "--max-parallelism", "p=2").returncode == 0


@checks("CHK-1")
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read the file: No such file or directory"),
        (b"", "the trace is empty: no events"),
        (START.encode() + b"\n{nope\n", "line 2: invalid JSON: Expecting property name"),
        (START.encode() + b'\n{"t":0,"seq":2,"kind":"started","pool":"p","id":"p/1","data":{}}\n',
         "line 2: a started event's data needs 'attempt'"),
        (START.encode() + b"\n\xff\xfe\n", "line 2: not UTF-8 text"),
    ],
)
def test_cli_check_of_unreadable_input_exits_2_with_one_line(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "t.jsonl"
    if content is not None:
        path.write_bytes(content)
    done = run_check(str(path))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith(f"refmodel: error: {path}: {message}")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stderr


@checks("CHK-1")
def test_cli_check_rejects_bad_options_with_exit_2() -> None:
    done = run_check("t.jsonl", "--max-parallelism", "p")
    assert done.returncode == 2
    assert "expected POOL=N, got 'p'" in done.stderr
    assert "Traceback" not in done.stderr


@checks("CHK-1")
def test_check_file_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text(START + "\n[]\n", encoding="utf-8")
    with pytest.raises(TraceUnreadable) as raised:
        check_file(str(path))
    assert str(raised.value) == f"{path}: line 2: an event is a JSON object, got []"
    stream = io.StringIO(START + "\n")
    assert check(stream).ok


# Real implementations: early starts, fractional delays, order within an instant, liveness -----


def real_component_trace() -> Trace:
    """A trace as the current component records it under convex-test: a retry of backoff 5 ms
    with a fractional delay restarting before its retryAt (segments of 100 ms), run_at work
    starting 99 ms early, and a mutation that starts and ends in one transaction."""
    trace = Trace("current", version=2)
    current_pool(trace, maxParallelism=2)
    retry = {"maxAttempts": 3, "initialBackoffMs": 5, "base": 2}
    trace.enqueue(0, 1, retry=retry, onComplete=None)
    trace.enqueue(0, 2, run_at=140, retry=None, onComplete=None)
    trace.start(0, 1)
    trace.work(10, "retrying", 1, attempt=1, error="flaky", delayMs=7.3125, retryAt=17.3125)
    trace.start(17, 1, attempt=2, lag=0)
    trace.succeed(20, 1, result=1, attempt=2)
    trace.start(41, 2, lag=-99)
    trace.succeed(50, 2, result=2)
    trace.work(60, "enqueued", 3, fn="m", kind="mutation", runAt=60, retry=None,
               onComplete=None)
    trace.start(60, 3)
    trace.succeed(60, 3, result=None)
    slow = {"maxAttempts": 2, "initialBackoffMs": 200, "base": 2}
    trace.enqueue(70, 4, retry=slow, onComplete=None)
    trace.start(70, 4)
    trace.work(80, "retrying", 4, attempt=1, error="flaky", delayMs=250.7, retryAt=330.7)
    trace.start(232, 4, attempt=2, lag=-98)  # The start of its 100 ms segment, 98.7 ms early.
    trace.succeed(240, 4, result=4, attempt=2)
    return trace


@checks("ORD-2", "RTY-2", "CHK-1")
def test_a_real_trace_with_early_starts_and_fractional_delays_passes_with_its_bounds() -> None:
    trace = real_component_trace()
    assert trace.check(early_start_ms=99).ok
    report = trace.check()  # Without the bound: rule verdicts, never unreadable input.
    assert rules_of(report) == ["RTY-2", "ORD-2", "RTY-2"]
    assert report.violations[0].message == "p/1 starts at 17 ms, 0.3125 ms before its retryAt " \
                                           "17.3125 ms"
    assert report.violations[1].message == "p/2 starts at 41 ms, 99 ms before its runAt 140 ms"
    assert report.violations[2].message == "p/4 starts at 232 ms, 98.7 ms before its retryAt " \
                                           "330.7 ms"
    assert rules_of(trace.check(early_start_ms=98)) == ["ORD-2", "RTY-2"]


@checks("RTY-2")
def test_retry_delays_need_not_be_whole_ms_but_stay_within_the_jitter_bounds() -> None:
    for delay, ok in ((2.5, True), (7.5, True), (2.4999, True), (7.5001, False), (1.9, False)):
        trace = Trace("current", version=2)
        current_pool(trace)
        trace.enqueue(0, 1, retry={"maxAttempts": 2, "initialBackoffMs": 5, "base": 2})
        trace.start(0, 1)
        trace.work(10, "retrying", 1, attempt=1, error="e", delayMs=delay, retryAt=10 + delay)
        # floor(0.5 * 5) = 2 is the low end (the model rounds down); 7.5 the high end.
        assert trace.check().ok is ok, delay
    off = Trace("current", version=2)
    current_pool(off)
    off.enqueue(0, 1, retry={"maxAttempts": 2, "initialBackoffMs": 5, "base": 2})
    off.start(0, 1)
    off.work(10, "retrying", 1, attempt=1, error="e", delayMs=3.5, retryAt=14.6)
    assert rules_of(off.check()) == ["RTY-2"]


def transactional_trace(first_the_long_one: bool) -> Trace:
    """Pool of 2: p/1 runs from 0; p/2 is due at 950; at 1000 the mutation p/3 starts and
    ends in one transaction and p/1 ends too, in either order; p/2 starts at 1280."""
    trace = Trace()
    seed_pool(trace, maxParallelism=2)
    trace.enqueue(0, 1)
    trace.start(0, 1)
    trace.enqueue(0, 2, run_at=950)
    trace.work(0, "enqueued", 3, fn="m", kind="mutation", runAt=1000)
    if first_the_long_one:
        trace.succeed(1000, 1)
    trace.start(1000, 3)
    trace.succeed(1000, 3)
    if not first_the_long_one:
        trace.succeed(1000, 1)
    trace.work(1280, "started", 2, attempt=1, lagMs=330)
    trace.succeed(1290, 2)
    return trace


@checks("WC-1")
def test_work_conservation_does_not_depend_on_the_order_of_events_within_an_instant() -> None:
    for order in (True, False):
        trace = transactional_trace(order)
        assert trace.check(start_lag_ms=280).ok, order
        assert rules_of(trace.check(start_lag_ms=279)) == ["WC-1"], order
        # The completion lag relaxes it too: the slot freed at 1000 may be seen up to C late.
        assert trace.check(start_lag_ms=200, completion_lag_ms=80).ok, order


@checks("WC-1")
def test_a_wc_1_message_says_when_the_work_became_due() -> None:
    trace = Trace()
    seed_pool(trace)
    trace.enqueue(0, 1, run_at=500)
    trace.work(900, "started", 1, attempt=1, lagMs=400)
    message = trace.check().violations[0].message
    assert message == ("pool 'p' has 1 free slot(s) while p/1 waits, due since 500 ms (eligible "
                       "at 500 ms, a slot free since 0 ms); still at 500 ms (start lag allowed: "
                       "0 ms)")


def late_retry_trace(*, retry_at: bool, then: str) -> Trace:
    """workpool#198: an action fails at 2200 ms; its retry is due by 2575 ms at the latest but
    comes about 60 s late. ``then``: ``"nothing"`` (the trace ends at the retrying event),
    ``"other"`` (another pool records work at 30 s) or ``"late"`` (the retry at 60 s)."""
    trace = Trace("current", version=2)
    current_pool(trace)
    trace.pool(0, "q", maxParallelism=1)
    trace.enqueue(0, 1, retry=True, onComplete=None)
    trace.start(0, 1)
    timing = {"delayMs": 300.5, "retryAt": 2500.5} if retry_at else {}
    trace.work(2200, "retrying", 1, attempt=1, error="provider down", **timing)
    if then == "other":
        trace.add(30000, "enqueued", "q", "q/1", fn="f", kind="action", runAt=30000)
        trace.add(30000, "started", "q", "q/1", attempt=1, lagMs=0)
    elif then == "late":
        trace.work(60050, "started", 1, attempt=2, lagMs=57549)
    return trace


@checks("LIV-1")
@pytest.mark.parametrize("retry_at", [True, False], ids=["with-retryAt", "without-retryAt"])
@pytest.mark.parametrize("then", ["nothing", "other", "late"])
def test_a_retry_60_s_late_is_flagged_by_the_liveness_rule_naming_the_item(
    retry_at: bool, then: str
) -> None:
    trace = late_retry_trace(retry_at=retry_at, then=then)
    with_end = trace.check(start_lag_ms=1000, end_ms=61000 if then == "late" else 59000)
    assert rules_of(with_end) == ["LIV-1"]
    assert with_end.violations[0].message.startswith("p/1 has not started ")
    without = trace.check(start_lag_ms=1000)
    if then == "nothing":  # Nothing after 2200 ms says how late it is: not judged.
        assert without.ok
    else:
        assert rules_of(without) == ["LIV-1"]
        message = without.violations[0].message
        assert message.startswith("p/1 has not started ")
        due = "due since 2500.5 ms" if retry_at else "due since 2575 ms"
        assert due in message, message


@checks("LIV-1")
def test_work_due_before_the_last_instant_must_have_started_by_its_end() -> None:
    trace = Trace()
    seed_pool(trace, maxParallelism=1)
    trace.enqueue(0, 1, run_at=50)
    trace.pool(80, "q", maxParallelism=1)  # Something else happens at 80 ms; p/1 waits.
    assert rules_of(trace.check()) == ["WC-1"]
    edge = Trace()
    seed_pool(edge, maxParallelism=1)
    edge.enqueue(0, 1, run_at=50)
    edge.pool(50, "q", maxParallelism=1)  # The trace ends at the instant it is due.
    assert edge.check().ok
    assert rules_of(edge.check(end_ms=50)) == ["WC-1"]
    ended = Trace()
    seed_pool(ended, maxParallelism=1)
    ended.enqueue(0, 1, run_at=50)
    ended.enqueue(80, 2)  # An event at the last instant: p/1 was due 30 ms before it.
    assert rules_of(ended.check()) == ["WC-1"]


# What version 2 adds: context, non-retryable errors, status reads, cancels -----------------------


@checks("ONC-2")
def test_on_complete_gets_the_context_it_was_enqueued_with() -> None:
    for context, ok in (({"user": 1}, True), ({"user": 2}, False)):
        trace = Trace("current", version=2)
        current_pool(trace)
        trace.enqueue(0, 1, onComplete="done", context={"user": 1}, retry=None)
        trace.start(0, 1)
        trace.succeed(5, 1, result=3)
        trace.work(5, "on_complete", 1, fn="done", context=context,
                   result={"kind": "success", "returnValue": 3})
        report = trace.check()
        assert report.ok is ok
        if not ok:
            assert rules_of(report) == ["ONC-2"]


@checks("RTY-1", "RTY-4")
def test_a_retryable_failure_with_attempts_left_must_be_retried() -> None:
    for extra, rules in (({"nonRetryable": True}, []), ({}, ["RTY-1"])):
        trace = Trace("current", version=2)
        current_pool(trace)
        trace.enqueue(0, 1, retry={"maxAttempts": 3, "initialBackoffMs": 10, "base": 2})
        trace.start(0, 1)
        trace.work(5, "failed", 1, attempt=1, error="no", **extra)
        assert rules_of(trace.check()) == rules
    old = Trace("current", version=1)  # Version 1 traces do not say: not judged.
    current_pool(old)
    old.enqueue(0, 1, retry={"maxAttempts": 3, "initialBackoffMs": 10, "base": 2})
    old.start(0, 1)
    old.work(5, "failed", 1, attempt=1, error="no")
    assert old.check().ok


@checks("RTY-1")
def test_only_actions_retry() -> None:
    trace = Trace("current", version=2)
    current_pool(trace)
    trace.work(0, "enqueued", 1, fn="m", kind="mutation", runAt=0,
               retry={"maxAttempts": 3, "initialBackoffMs": 10, "base": 2})
    assert rules_of(trace.check()) == ["RTY-1"]


@checks("STS-5", "STS-1", "STS-3")
def test_a_status_read_shows_the_state_the_events_give() -> None:
    trace = Trace("current", version=2)
    current_pool(trace)
    trace.enqueue(0, 1, run_at=5, retry=None, onComplete=None)
    trace.work(0, "status_read", 1, status={"state": "pending", "previousAttempts": 0})
    trace.start(5, 1)
    trace.work(5, "status_read", 1, status={"state": "pending", "previousAttempts": 0})
    trace.work(6, "status_read", 1, status={"state": "running", "previousAttempts": 0})
    trace.succeed(9, 1, result=1)
    trace.work(9, "status_read", 1, status={"state": "running", "previousAttempts": 0})
    assert trace.check().ok  # At an instant with a transition, either side of it.
    trace.work(10, "status_read", 1, status={"state": "running", "previousAttempts": 0})
    assert rules_of(trace.check()) == ["STS-5"]
    assert trace.check(completion_lag_ms=1).ok
    seed = Trace()
    seed_pool(seed, ttl=10)
    seed.enqueue(0, 1)
    seed.start(0, 1)
    seed.succeed(5, 1, result=7)
    seed.work(6, "status_read", 1, status={"kind": "success", "result": 7})
    seed.work(15, "evicted", 1)
    seed.work(16, "status_read", 1, status={"kind": "evicted"})
    assert seed.check().ok
    seed.work(17, "status_read", 1, status={"kind": "success", "result": 7})
    assert rules_of(seed.check()) == ["STS-3"]


@checks("STS-4")
def test_a_status_of_another_pools_id_is_refused_unless_the_deviation_is_declared() -> None:
    trace = Trace("current", version=2)
    current_pool(trace)
    trace.pool(0, "q", maxParallelism=1)
    trace.enqueue(0, 1, run_at=100, retry=None, onComplete=None)
    trace.add(0, "status_read", "q", "p/1", error="UnknownWorkId")
    assert trace.check().ok
    trace.add(1, "status_read", "q", "p/1", status={"state": "finished"})
    assert rules_of(trace.check()) == ["STS-4"]
    assert trace.check(deviations=frozenset({"STS-4/foreign-id-finished"})).ok
    with pytest.raises(InvalidArgument, match="unknown deviation 'STS-4/nope'"):
        CheckOptions(deviations=frozenset({"STS-4/nope"}))


@checks("CAN-1", "CAN-6")
def test_a_cancel_that_did_nothing_is_a_violation() -> None:
    dropped = Trace("current", version=2)
    current_pool(dropped)
    dropped.enqueue(0, 1, run_at=100, retry=None, onComplete=None)
    dropped.work(10, "cancel_called", 1)
    dropped.start(100, 1)
    assert rules_of(dropped.check()) == ["CAN-1"]
    assert rules_of(dropped.check(completion_lag_ms=200, end_ms=300)) == ["CAN-1"]
    honoured = Trace("current", version=2)
    current_pool(honoured)
    honoured.enqueue(0, 1, run_at=100, retry=None, onComplete=None)
    honoured.work(10, "cancel_called", 1)
    honoured.work(30, "canceled", 1, attempt=0, wasRunning=False)
    assert rules_of(honoured.check()) == ["CAN-1"]  # 20 ms late, with no lag declared.
    assert honoured.check(completion_lag_ms=20, end_ms=100).ok
    running = Trace("current", version=2)
    current_pool(running)
    running.enqueue(0, 1, retry=None, onComplete=None)
    running.start(0, 1)
    running.work(10, "cancel_called", 1)
    running.succeed(50, 1, result=None)
    assert rules_of(running.check()) == ["CAN-6"]


@checks("CHK-1")
def test_check_reads_negative_lags_and_version_1_traces(tmp_path: Path) -> None:
    path = tmp_path / "real.jsonl"
    path.write_text("\n".join(real_component_trace().lines()) + "\n", encoding="utf-8")
    assert main(["check", str(path), "--early-start-ms", "99"]) == 0
    assert main(["check", str(path)]) == 1
    assert main(["check", str(path), "--deviation", "STS-4/foreign-id-finished",
                 "--early-start-ms", "99"]) == 0
