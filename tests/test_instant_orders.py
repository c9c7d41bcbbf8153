"""The harness admits the orders a lagging implementation may play one instant in, and only
those (spec §7 and §8): work started before a call of its instant, a cancel that met a start
still lagging, cancelAll sparing work of its millisecond (a named deviation), starts anchored
on the implementation's own slot history, FIFO within the early-start bound, and retries
decided after the failure (protocol 2's ``decidedAt``), which work enqueued meanwhile may
overrun."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs
import pytest

from refmodel.adapter import ModelAdapter
from refmodel.checker import CheckOptions, check
from refmodel.conformance import load_fixture, run_conformance
from refmodel.conformance.expect import make_fixture
from refmodel.conformance.files import Fixture
from refmodel.conformance.instants import divergences_in_either_order
from refmodel.conformance.play import play
from refmodel.conformance.verdicts import divergences
from refmodel.workpool.profiles import CURRENT, Profile
from refmodel.workpool.retries import RetryPolicy
from tests.spec import checks
from tests.test_real_component import FIXTURES

LAG = {"startLagMs": 250, "completionLagMs": 250}
WORK = {"work": {"kind": "action", "attempts": [{"durationMs": 10, "returns": "ok"}]}}


class Lagging(ModelAdapter):
    """The model, declaring latency bounds and deviations; ``eager``: it starts due work
    between two calls of one instant, before the next call."""

    def __init__(self, *, latency: Mapping[str, int], deviations: tuple[str, ...] = (),
                 eager: bool = False, profile: str | Profile = "",
                 longer: Mapping[str, Mapping[int, int]] | None = None) -> None:
        super().__init__(profile, longer=longer)
        self._latency = dict(latency)
        self._deviations = list(deviations)
        self._eager = eager

    def handshake(self) -> dict[str, Any]:
        answer = super().handshake()
        answer["latency"] = dict(self._latency)
        answer["deviations"] = list(self._deviations)
        return answer

    def call(self, step: Mapping[str, Any]) -> dict[str, Any]:
        answer = super().call(step)
        if self._eager and step["op"] in ("enqueue", "enqueueBatch"):
            world = self._require()
            world.run_until(world.now)  # The instant's starts, before the next call.
        return answer


def _fixture(steps: list[dict[str, Any]], name: str = "instant") -> Fixture:
    return make_fixture(name=name, description="An instant's calls and starts.",
                        rules=["CAN-7"], level="MUST",
                        scenario={"profile": "current", "seed": 0,
                                  "pools": {"p": {"maxParallelism": 1}}, "functions": WORK,
                                  "steps": steps})


CANCEL_ALL_AT_ENQUEUE: list[dict[str, Any]] = [
    {"op": "enqueue", "pool": "p", "fn": "work", "args": {}, "ref": "a"},
    {"op": "enqueue", "pool": "p", "fn": "work", "args": {}, "ref": "b"},
    {"op": "cancelAll", "pool": "p"},
    {"op": "advance", "ms": 30},
]


@checks("CAN-7", "CAN-6", "CNF-1")
def test_work_started_before_a_call_of_its_instant_passes_only_with_a_lag() -> None:
    """a starts between its enqueue and the cancelAll: the call finds it running, which a
    lagging implementation may do; without a declared lag it is a divergence."""
    fixture = _fixture(CANCEL_ALL_AT_ENQUEUE)
    assert fixture.expect["items"]["a"]["outcome"] == {"kind": "canceled"}
    lagging = run_conformance(Lagging(latency=LAG, eager=True), [fixture])
    assert lagging.ok, lagging.text()
    assert "before the call" in lagging.verdicts[0].detail
    assert not lagging.verdicts[0].deviation
    strict = run_conformance(Lagging(latency={}, eager=True), [fixture])
    assert not strict.ok
    assert "item a: outcome" in strict.failures()[0].detail


class Spares(Lagging):
    """A cancelAll that misses the work enqueued in its own millisecond (the last one)."""

    def call(self, step: Mapping[str, Any]) -> dict[str, Any]:
        if step["op"] == "cancelAll":
            world = self._require()
            pool = world.pools[step["pool"]]
            for ref_id in self._issued[:-1]:
                pool.cancel(world.client, ref_id)
            return {}
        answer = super().call(step)
        if step["op"] == "enqueue" and "id" in answer:
            self._issued.append(answer["id"])
        return answer

    def reset(self, scenario: Mapping[str, Any]) -> None:
        super().reset(scenario)
        self._issued: list[str] = []


SPARING: list[dict[str, Any]] = [
    {"op": "enqueue", "pool": "p", "fn": "work", "args": {}, "ref": "a"},
    {"op": "advance", "ms": 1},
    {"op": "enqueue", "pool": "p", "fn": "work", "args": {}, "ref": "b"},
    {"op": "enqueue", "pool": "p", "fn": "work", "args": {}, "ref": "c"},
    {"op": "cancelAll", "pool": "p"},
    {"op": "advance", "ms": 30},
]


@checks("CAN-7", "CNF-1")
def test_cancel_all_sparing_its_instant_passes_only_with_its_named_deviation() -> None:
    """a runs; b and c are enqueued at 1 ms with the cancelAll: c, spared, runs after a."""
    fixture = _fixture(SPARING)
    declared = run_conformance(
        Spares(latency=LAG, deviations=("CAN-7/same-instant-enqueue-spared",)), [fixture])
    assert declared.ok, declared.text()
    assert {v.deviation for v in declared.verdicts} == {"CAN-7/same-instant-enqueue-spared"}
    undeclared = run_conformance(Spares(latency=LAG), [fixture])
    assert not undeclared.ok
    assert "item c: outcome" in undeclared.failures()[0].detail


@checks("WC-1", "CNF-1")
def test_a_start_is_anchored_on_the_implementations_own_slot_history() -> None:
    """One slot, three 1 ms items, then work due at 23 ms: the model starts it at 23; an
    implementation whose every start lags 200 ms frees the slot at 403 ms and starts it at
    603. Judged by the model's times alone it would be 330 ms late; judged on its own history
    (the slot was busy until 403) it is within the 250 ms start lag."""
    steps = [
        {"op": "enqueue", "pool": "p", "fn": "quick", "args": {}, "ref": ref}
        for ref in ("a", "b", "c")
    ] + [{"op": "enqueue", "pool": "p", "fn": "quick", "args": {}, "ref": "d",
          "options": {"runAfter": 23}}, {"op": "advance", "ms": 1000}]
    scenario = {"profile": "current", "seed": 0, "pools": {"p": {"maxParallelism": 1}},
                "functions": {"quick": {"kind": "action",
                                        "attempts": [{"durationMs": 1, "returns": "ok"}]}},
                "steps": steps}
    fixture = make_fixture(name="anchored", description="Anchored starts.", rules=["WC-1"],
                           level="MUST", scenario=scenario)
    recording = play(ModelAdapter(), scenario)
    shifted = _shift_starts(recording.events, {"a": 0, "b": 200, "c": 400, "d": 580},
                            recording.refs)
    lagging = divergences(fixture.expect, _with_events(recording, shifted), LAG)
    assert lagging == [], lagging
    # The same start with the slot idle since 203 ms is late.
    idle = _shift_starts(recording.events, {"a": 0, "b": 200, "c": 200, "d": 580},
                         recording.refs)
    found = divergences(fixture.expect, _with_events(recording, idle), LAG)
    assert any("d: attempt 1 started at 603" in d.what and "WC-1" in d.rules for d in found)


def _shift_starts(events: Any, shifts: Mapping[str, int], refs: Any) -> list[dict[str, Any]]:
    """The events with each item's start and end moved ``shifts[ref]`` ms later."""
    by_id = {where["id"]: ref for ref, where in refs.items()}
    out = []
    for event in events:
        moved = dict(event)
        ref = by_id.get(event.get("id"))
        if ref is not None and event["kind"] in ("started", "succeeded"):
            moved["t"] = event["t"] + shifts[ref]
        out.append(moved)
    return sorted(out, key=lambda e: e["t"])


def _with_events(recording: Any, events: list[dict[str, Any]]) -> Any:
    return attrs.evolve(recording, events=tuple(events))


@checks("ORD-1", "CNF-1")
def test_fifo_may_invert_within_the_early_start_bound_only() -> None:
    """runAt 35 and runAt 24 in one 100 ms segment: the component starts them in enqueue
    order. Within earlyStartMs 99 that is admitted; with no early start it is ORD-1."""
    steps = [
        {"op": "enqueue", "pool": "p", "fn": "quick", "args": {}, "ref": "a"},
        {"op": "enqueue", "pool": "p", "fn": "quick", "args": {}, "ref": "late",
         "options": {"runAt": 35}},
        {"op": "enqueue", "pool": "p", "fn": "quick", "args": {}, "ref": "soon",
         "options": {"runAt": 24}},
        {"op": "advance", "ms": 1000},
    ]
    scenario = {"profile": "current", "seed": 0, "pools": {"p": {"maxParallelism": 1}},
                "functions": {"quick": {"kind": "action",
                                        "attempts": [{"durationMs": 100, "returns": "ok"}]}},
                "steps": steps}
    fixture = make_fixture(name="segment", description="One segment.", rules=["ORD-1"],
                           level="MUST", scenario=scenario)
    recording = play(ModelAdapter(), scenario)
    swapped = _shift_starts(recording.events, {"a": 0, "late": -100, "soon": 100},
                            recording.refs)
    early = divergences(fixture.expect, _with_events(recording, swapped),
                        {**LAG, "earlyStartMs": 99})
    assert not [d for d in early if "still waited" in d.what], early
    strict = divergences(fixture.expect, _with_events(recording, swapped), LAG)
    assert any("still waited" in d.what and "ORD-1" in d.rules for d in strict)


@checks("RTY-2", "CHK-1")
def test_a_retry_decided_after_the_failure_is_judged_on_its_decided_at() -> None:
    """Protocol 2: retryAt = decidedAt + delayMs, with decidedAt within completionLagMs of the
    failure; a retry never decided (decidedAt null) is admitted only before a cancel."""
    fixture = load_fixture(FIXTURES / "rty-1-retry-until-success.json")
    recording = play(ModelAdapter(), fixture.scenario)
    late = []
    for event in recording.events:
        moved = dict(event)
        if event["kind"] == "retrying":
            data = dict(event["data"])
            data["decidedAt"] = event["t"] + 100
            data["retryAt"] = data["retryAt"] + 100
            moved["data"] = data
        late.append(moved)
    within = divergences(fixture.expect, _with_events(recording, late), LAG)
    assert not [d for d in within if "decided at" in d.what or "is not the" in d.what], within
    beyond = divergences(fixture.expect, _with_events(recording, late),
                         {**LAG, "completionLagMs": 50})
    assert any("decided at" in d.what for d in beyond)
    undecided = []
    for event in recording.events:
        moved = dict(event)
        if event["kind"] == "retrying":
            moved["data"] = {**event["data"], "delayMs": None, "retryAt": None,
                             "decidedAt": None}
        undecided.append(moved)
    found = divergences(fixture.expect, _with_events(recording, undecided), LAG)
    assert any("never decided" in d.what for d in found)
    # The trace checker reads the same field.
    lines = _trace_lines(late)
    decided = check(lines, options=CheckOptions(completion_lag_ms=250, start_lag_ms=250))
    assert not [v for v in decided.violations if "decided" in v.message], decided.violations
    too_late = check(lines, options=CheckOptions(completion_lag_ms=50, start_lag_ms=250))
    assert any("decided at 110," in v.message and v.rule == "RTY-2"
               for v in too_late.violations), too_late.violations


def _trace_lines(events: list[dict[str, Any]]) -> list[str]:
    import json

    return [json.dumps({**event, "seq": seq}) for seq, event in enumerate(events, start=1)]


def _one_slot(functions: dict[str, Any], steps: list[dict[str, Any]]) -> dict[str, Any]:
    return {"profile": "current", "seed": 0, "pools": {"p": {"maxParallelism": 1}},
            "functions": functions, "steps": steps}


FAILS_THEN_HANGS = {"flaky": {"kind": "action",
                               "attempts": [{"durationMs": 1, "throws": "once"},
                                            {"durationMs": 1, "hangs": True}]}, **WORK}


def _fails_then_hangs(max_attempts: int, steps: list[dict[str, Any]]) -> dict[str, Any]:
    """One slot: a fails at 1 ms and is retried at once (then hangs); ``steps``; b (10 ms) is
    enqueued; 300 ms pass."""
    retry = {"maxAttempts": max_attempts, "initialBackoffMs": 0, "base": 2}
    return _one_slot(FAILS_THEN_HANGS, [
        {"op": "enqueue", "pool": "p", "fn": "flaky", "args": {}, "ref": "a",
         "options": {"retry": retry}},
        *steps,
        {"op": "enqueue", "pool": "p", "fn": "work", "args": {}, "ref": "b"},
        {"op": "advance", "ms": 300},
    ])


@checks("PAR-2", "CNF-1")
def test_a_pause_to_the_end_may_hold_an_attempts_end_only_with_a_lag() -> None:
    """a runs 0-10 ms and its pool is paused at 5 ms for good: an implementation whose loop
    handles ends only while the pool runs still shows a running at the end."""
    scenario = _one_slot(WORK, [{"op": "enqueue", "pool": "p", "fn": "work", "args": {},
                                 "ref": "a"}, {"op": "advance", "ms": 5},
                                {"op": "configure", "pool": "p", "maxParallelism": 0},
                                {"op": "advance", "ms": 30}])
    fixture = make_fixture(name="held", description="Held by a pause.", rules=["PAR-2"],
                           level="MUST", scenario=scenario)
    recording = play(ModelAdapter(), scenario)
    held = [dict(event) for event in recording.events if event["kind"] != "succeeded"]
    assert len(held) < len(recording.events)
    assert divergences(fixture.expect, _with_events(recording, held), LAG) == []
    strict = divergences(fixture.expect, _with_events(recording, held), {})
    assert any("outcome" in d.what for d in strict)


@checks("CAN-1", "RTY-3", "CNF-1")
def test_a_retry_whose_start_lagged_past_a_cancel_may_end_canceled() -> None:
    """a fails at 1 ms and is retried at once; the model restarts it at 1 and it succeeds.
    An implementation whose loop had not restarted it when the cancel came at 5 ms cancels it
    while it waits: admitted within L + C, not when the retry was due long before."""
    flaky = {"flaky": {"kind": "action", "attempts": [{"durationMs": 1, "throws": "once"},
                                                      {"durationMs": 1, "returns": "ok"}]}}
    scenario = _one_slot(flaky, [{"op": "enqueue", "pool": "p", "fn": "flaky", "args": {},
                                  "ref": "a", "options": {"retry": {
                                      "maxAttempts": 2, "initialBackoffMs": 0, "base": 2}}},
                                 {"op": "advance", "ms": 5},
                                 {"op": "cancel", "pool": "p", "ref": "a"},
                                 {"op": "advance", "ms": 30}])
    fixture = make_fixture(name="lagged-retry", description="A lagged retry.",
                           rules=["CAN-1"], level="MUST", scenario=scenario)
    recording = play(ModelAdapter(), scenario)
    kept: list[dict[str, Any]] = []
    for event in recording.events:
        if event["kind"] == "retrying":
            kept.append(dict(event))
            kept.append({**event, "kind": "canceled", "t": 6,
                         "data": {"attempt": 1, "wasRunning": False}})
            break
        kept.append(dict(event))
    assert divergences(fixture.expect, _with_events(recording, kept), LAG) == []
    tight = divergences(fixture.expect, _with_events(recording, kept),
                        {"startLagMs": 1, "completionLagMs": 1})
    assert any("outcome" in d.what for d in tight)


@attrs.frozen
class _OnNextPass(RetryPolicy):
    """Retries decided on a loop's next pass, every ``every`` ms (as the current component's
    loop does)."""

    every: int = 200

    def decided_at(self, work_id: str, attempt: int, now: int) -> int:
        return (now // self.every + 1) * self.every


@checks("RTY-2", "ORD-1", "CNF-1")
def test_work_enqueued_before_a_late_retry_decision_may_start_first() -> None:
    """a fails at 1 ms and is retried at once, then hangs; b is enqueued at 9 ms. The model
    restarts a at 1 ms, so b waits forever. An implementation that decides the retry on its
    loop's pass at 200 ms (reporting decidedAt) makes a due at 200 and b, due at 9, runs
    first: admitted when the decision is within the completion lag, not beyond it."""
    scenario = _fails_then_hangs(2, [{"op": "advance", "ms": 9}])
    fixture = make_fixture(name="late-decision", description="A retry decided late.",
                           rules=["RTY-2"], level="MUST", scenario=scenario)
    assert fixture.expect["items"]["b"]["outcome"] == {"kind": "pending"}

    def looping(every: int) -> Lagging:
        return Lagging(latency=LAG, profile=CURRENT.evolve(name="current-loop",
                                                           retries=_OnNextPass(every)))

    within = run_conformance(looping(200), [fixture])
    assert within.ok, within.text()
    assert "decidedAt" in within.verdicts[0].detail
    row = next(line for line in within.markdown().splitlines() if "`late-decision`" in line)
    assert row.endswith("| pass | retries decided when the implementation decided them "
                        "(decidedAt; one never decided, after the cancel that came first), so "
                        "other work may start first (spec §8) |"), row
    beyond = run_conformance(looping(1000), [fixture])
    assert not beyond.ok
    assert "item b: outcome" in beyond.failures()[0].detail, beyond.text()


class SparesByItsClock(Spares):
    """Spares, with a clock 1 ms ahead of the recorded one for the last enqueue (its
    ``enqueued`` event says ``runAt`` 1 ms later), as the current component under convex-test
    can be."""

    def __init__(self, *, ahead: bool, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ahead = ahead

    def advance(self, ms: int) -> dict[str, Any]:
        answer = super().advance(ms)
        for event in answer["events"]:
            if self._ahead and event["kind"] == "enqueued" and event["id"] == self._issued[-1]:
                event["data"]["runAt"] += 1
        return answer


@checks("CAN-7", "CNF-1")
def test_a_cancel_all_may_spare_work_of_its_millisecond_by_the_implementations_clock() -> None:
    """The pool is paused; a is enqueued at 0 ms, b at 0 ms by the recorded clock but at 1 ms
    by the implementation's (its enqueued runAt); the cancelAll at 1 ms spares b: admitted
    with the named deviation only when b's own clock puts it in the call's millisecond."""
    fixture = _fixture([{"op": "enqueue", "pool": "p", "fn": "work", "args": {}, "ref": "a"},
                        {"op": "configure", "pool": "p", "maxParallelism": 0},
                        {"op": "enqueue", "pool": "p", "fn": "work", "args": {}, "ref": "b"},
                        {"op": "advance", "ms": 1},
                        {"op": "cancelAll", "pool": "p"},
                        {"op": "advance", "ms": 30}])
    assert fixture.expect["items"]["b"]["outcome"] == {"kind": "canceled"}
    declared = ("CAN-7/same-instant-enqueue-spared",)
    ahead = run_conformance(SparesByItsClock(ahead=True, latency=LAG, deviations=declared),
                            [fixture])
    assert ahead.ok, ahead.text()
    assert {v.deviation for v in ahead.verdicts} == set(declared)
    on_time = run_conformance(SparesByItsClock(ahead=False, latency=LAG, deviations=declared),
                              [fixture])
    assert not on_time.ok
    assert "item b: outcome" in on_time.failures()[0].detail


@pytest.mark.parametrize("also", [[], [{"op": "cancelAll", "pool": "p"}]],
                         ids=["cancel", "cancel-then-cancel-all"])
@checks("CAN-6", "CAN-1", "CNF-1")
def test_an_attempt_whose_end_lagged_past_a_cancel_may_meet_it_running(
    also: list[dict[str, Any]],
) -> None:
    """a fails at 1 ms and would be retried at once (then hang); a cancel at 1 ms (and maybe a
    cancelAll) and b's enqueue follow. The model ends a's attempt before the call, retries it,
    and b waits for good. An implementation whose attempt ended 1 ms late meets the cancel
    with it running, ends a canceled at its failure and runs b: admitted within the
    completion lag only (once: a second call meeting it does not make it later still)."""
    scenario = _fails_then_hangs(3, [{"op": "advance", "ms": 1},
                                     {"op": "cancel", "pool": "p", "ref": "a"}, *also])
    fixture = make_fixture(name="late-end", description="An attempt's end lagged.",
                           rules=["CAN-6"], level="MUST", scenario=scenario)
    assert fixture.expect["items"]["b"]["outcome"] == {"kind": "pending"}
    late = {"a": {1: 1}}
    within = run_conformance(Lagging(latency=LAG, longer=late), [fixture])
    assert within.ok, within.text()
    assert "an attempt whose end lagged past a cancel met it running" in \
        within.verdicts[0].detail
    strict = run_conformance(Lagging(latency={"startLagMs": 250}, longer=late), [fixture])
    assert not strict.ok


@checks("STS-5", "PAR-2", "CNF-1")
def test_a_failure_never_reported_may_read_as_awaiting_its_retry() -> None:
    """a fails at 1 ms with a retry to come; a cancel at 10 ms, a status read, then a pause to
    the end. The model cancels a and reads finished. An implementation that reports a failure
    only with its retry decision, which the pause holds for good, reports neither the failure
    nor the cancel, and reads a as failed once, awaiting its retry: admitted with a lag; a
    wrong attempt count is not."""
    flaky = {"flaky": {"kind": "action", "attempts": [{"durationMs": 1, "throws": "once"}]}}
    scenario = _one_slot(flaky, [{"op": "enqueue", "pool": "p", "fn": "flaky", "args": {},
                                  "ref": "a", "options": {"retry": True}},
                                 {"op": "advance", "ms": 10},
                                 {"op": "cancel", "pool": "p", "ref": "a"},
                                 {"op": "status", "pool": "p", "ref": "a"},
                                 {"op": "configure", "pool": "p", "maxParallelism": 0},
                                 {"op": "advance", "ms": 30}])
    fixture = make_fixture(name="unreported", description="A failure never reported.",
                           rules=["STS-5"], level="MUST", scenario=scenario)
    assert fixture.expect["calls"][2]["status"]["anyOf"] == [{"state": "finished"}]
    recording = play(ModelAdapter(), scenario)
    held = [dict(event) for event in recording.events
            if event["kind"] not in ("retrying", "canceled", "cancel_called")]

    def reading(status: dict[str, Any]) -> Any:
        calls = [dict(call) for call in recording.calls]
        calls[3] = {**calls[3], "result": {"status": status}}
        return attrs.evolve(_with_events(recording, held), calls=tuple(calls))

    awaiting = reading({"state": "pending", "previousAttempts": 1})
    assert divergences(fixture.expect, awaiting, LAG) == []
    assert any("status" in d.what for d in divergences(fixture.expect, awaiting, {}))
    miscounted = reading({"state": "pending", "previousAttempts": 2})
    assert any("status" in d.what for d in divergences(fixture.expect, miscounted, LAG))


class StartsAfterTheInstant(Lagging):
    """Lagging, whose starts of an instant wait for the next advance that moves the clock:
    ``advance 0`` does nothing."""

    def advance(self, ms: int) -> dict[str, Any]:
        if ms == 0:
            return {"now": self._require().now, "events": []}
        return super().advance(ms)


@checks("CFG-5", "PAR-1", "CNF-1")
def test_a_start_that_lagged_past_a_new_limit_may_meet_it() -> None:
    """Two slots: a (it hangs) and b start at 0 ms in the model, before the limit becomes 1.
    An implementation whose starts lagged past that call starts a alone and b waits for good:
    admitted with a lag, not without one."""
    functions = {"stuck": {"kind": "action", "attempts": [{"hangs": True}]}, **WORK}
    scenario = {"profile": "current", "seed": 0, "pools": {"p": {"maxParallelism": 2}},
                "functions": functions,
                "steps": [{"op": "enqueue", "pool": "p", "fn": "stuck", "args": {}, "ref": "a"},
                          {"op": "enqueue", "pool": "p", "fn": "work", "args": {}, "ref": "b"},
                          {"op": "advance", "ms": 0},
                          {"op": "configure", "pool": "p", "maxParallelism": 1},
                          {"op": "advance", "ms": 30}]}
    fixture = make_fixture(name="new-limit", description="A start lagged past a new limit.",
                           rules=["CFG-5"], level="MUST", scenario=scenario)
    assert fixture.expect["items"]["b"]["outcome"] == {"kind": "succeeded", "result": "ok"}
    lagging = run_conformance(StartsAfterTheInstant(latency=LAG), [fixture])
    assert lagging.ok, lagging.text()
    assert "start lagged past a call" in lagging.verdicts[0].detail
    strict = run_conformance(StartsAfterTheInstant(latency={}), [fixture])
    assert not strict.ok
    assert "item b: outcome" in strict.failures()[0].detail


@checks("RTY-2", "CAN-1", "CNF-1")
def test_a_retry_never_decided_before_a_cancel_lets_later_work_start() -> None:
    """a fails at 1 ms and is retried at once, then hangs; at 9 ms a is canceled and b
    enqueued. The model restarts a at 1 ms, so the cancel finds it running and b waits for
    good. An implementation that decides retries on its loop's next pass handles the cancel
    first: the retry is never decided (decidedAt null), a ends canceled and b runs. Admitted
    when the cancel came within the completion lag of the failure."""
    def judged(lag: Mapping[str, int]) -> list[Any]:
        scenario = _fails_then_hangs(3, [{"op": "advance", "ms": 9},
                                         {"op": "cancel", "pool": "p", "ref": "a"}])
        fixture = make_fixture(name="undecided", description="A retry never decided.",
                               rules=["RTY-2"], level="MUST", scenario=scenario)
        assert fixture.expect["items"]["b"]["outcome"] == {"kind": "pending"}
        looping = ModelAdapter(CURRENT.evolve(name="current-loop", retries=_OnNextPass(200)))
        recording = play(looping, scenario)
        events: list[dict[str, Any]] = []
        for event in recording.events:
            events.append(dict(event))
            if event["kind"] == "retrying":
                events[-1]["data"] = {**event["data"], "delayMs": None, "retryAt": None,
                                      "decidedAt": None}
        return divergences_in_either_order(fixture.expect, _with_events(recording, events), lag)

    assert judged(LAG) == []
    assert any("item b: outcome" in d.what for d in judged({**LAG, "completionLagMs": 5}))
