"""The real @convex-dev/workpool through the kit: the deviations it declares admit exactly
their behaviour, the report names them with evidence, ``--adapter convex`` resolves the
repository's adapter, and (where Node and its packages are installed) the published component
passes every current fixture it can play, and a short explore finds no divergence."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from refmodel.adapter import AdapterError, ModelAdapter
from refmodel.checker import CheckOptions, check
from refmodel.conformance import load_fixture, run_conformance
from refmodel.conformance.run import CONVEX_ADAPTER, convex_command
from refmodel.conformance.verdicts import _merge_early
from refmodel.examples import EXAMPLES
from tests.spec import checks

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "specs" / "fixtures"


class AddsErrorData(ModelAdapter):
    """The model, with the component's extra ``errorData`` in failed onComplete results."""

    def __init__(self, *, declare: bool) -> None:
        super().__init__()
        self._declares = declare

    def handshake(self) -> dict[str, Any]:
        answer = super().handshake()
        if self._declares:
            answer["deviations"] = ["ONC-3/non-retryable-error-data"]
        return answer

    def advance(self, ms: int) -> dict[str, Any]:
        answer = super().advance(ms)
        for event in answer["events"]:
            result = event["data"].get("result") if event["kind"] == "on_complete" else None
            if isinstance(result, dict) and result.get("kind") == "failed":
                result["errorData"] = {"__convexWorkpoolNonRetryable": True,
                                       "message": result["error"]}
        return answer


@checks("ONC-3", "CNF-1")
def test_error_data_passes_only_when_its_deviation_is_declared_and_the_report_shows_it() -> None:
    fixture = load_fixture(FIXTURES / "rty-4-non-retryable.json")
    undeclared = run_conformance(AddsErrorData(declare=False), [fixture])
    assert not undeclared.ok
    assert "errorData" in undeclared.failures()[0].detail
    declared = run_conformance(AddsErrorData(declare=True), [fixture])
    assert declared.ok
    assert {v.deviation for v in declared.verdicts} == {"ONC-3/non-retryable-error-data"}
    report = declared.markdown()
    assert "| ONC-3 | `ONC-3/non-retryable-error-data` |" in report
    assert "`rty-4-non-retryable`: item a: onComplete calls" in report
    assert "pass (deviation `ONC-3/non-retryable-error-data`)" in report


def _retry_trace(shift_ms: int) -> list[str]:
    """The retries example's trace, with every retryAt ``shift_ms`` later, as when the
    component's loop draws the delay after the failure."""
    world = EXAMPLES["retries"](0).worlds
    lines = next(iter(world.values())).trace_jsonl().splitlines()
    out = []
    for line in lines:
        event = json.loads(line)
        if event["kind"] == "retrying" and "retryAt" in event["data"]:
            event["data"]["retryAt"] += shift_ms
        out.append(json.dumps(event))
    return out


@checks("RTY-2", "CHK-1")
def test_a_retry_delay_drawn_by_the_loop_is_admitted_by_its_deviation_within_the_lag() -> None:
    lines = _retry_trace(50)
    assert any(e["kind"] == "retrying" for e in map(json.loads, lines))
    strict = check(lines, options=CheckOptions(early_start_ms=99))
    assert "RTY-2" in strict.rules()
    admitted = check(lines, options=CheckOptions(
        early_start_ms=99, completion_lag_ms=100,
        deviations=frozenset({"RTY-2/retry-drawn-by-loop"})))
    assert admitted.ok, admitted.violations
    too_late = check(_retry_trace(150), options=CheckOptions(
        early_start_ms=200, completion_lag_ms=100,
        deviations=frozenset({"RTY-2/retry-drawn-by-loop"})))
    assert "RTY-2" in too_late.rules()


@checks("ORD-1")
def test_start_groups_within_the_early_start_bound_merge() -> None:
    expect = {"items": {ref: {"attempts": [{"start": {"modelT": t}}]}
                        for ref, t in (("a", 20), ("b", 40), ("c", 200))}}
    groups = [["a#1"], ["b#1"], ["c#1"]]
    assert _merge_early(expect, groups, 0) == groups
    assert _merge_early(expect, groups, 99) == [["a#1", "b#1"], ["c#1"]]


@checks("CNF-1", "ERR-1")
def test_adapter_convex_says_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(AdapterError, match="needs Node 20 or newer"):
        convex_command()


NODE_READY = shutil.which("node") is not None and (
    CONVEX_ADAPTER / "node_modules" / "@convex-dev" / "workpool").is_dir()

@checks("CNF-1", "CNF-2")
@pytest.mark.skipif(not NODE_READY, reason="the real component needs Node and `npm ci` in "
                    "adapters/convex (.ci/run does both where Node is installed)")
def test_the_published_component_passes_every_current_fixture_it_can_play(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from refmodel.cli import main

    report = tmp_path / "deviations.md"
    code = main(["conformance", "--adapter", "convex", "--fixtures", str(FIXTURES),
                 "--report", str(report), "--explore", "60", "--seed", "0",
                 "--out", str(tmp_path / "found")])
    out = capsys.readouterr().out
    failed = {line.split()[1] for line in out.splitlines() if line.startswith("FAIL ")}
    assert failed == set(), out
    assert "explore: no divergence in 60 scenarios" in out, out
    assert code == 0
    text = report.read_text(encoding="utf-8")
    for name in ("ONC-3/non-retryable-error-data", "STS-4/foreign-id-finished",
                 "CAN-7/paged-cancel-all", "CAN-7/same-instant-enqueue-spared",
                 "STS-5/canceled-reads-running"):
        assert f"`{name}`" in text
    # Protocol 2 reports when each retry was decided: no deviation is needed for it.
    assert "RTY-2/retry-drawn-by-loop" not in text
    assert "pass (deviation `CAN-7/paged-cancel-all`)" in text
    assert " 0 failed" in out


@checks("ENQ-6", "RTY-2", "PRF-1")
def test_the_bucketed_profile_plays_the_components_segments_and_its_trace_checks() -> None:
    """runAt 40 enqueued at 5 starts at 5 (its segment began at 0); a retry due at 258 starts
    at 200; items due in one segment start in enqueue order, so a later-due item may start
    first. The checker reads the profile from the trace and admits the early starts."""
    from refmodel import ActionCtx, RetryBehavior, World
    from refmodel.workpool.profiles import CURRENT_BUCKETED, as_profile

    assert as_profile("current-bucketed") is CURRENT_BUCKETED
    world = World(seed=1, profile="current-bucketed")
    pool = world.pool("p", max_parallelism=1)

    @world.action()
    async def quick(ctx: ActionCtx, args: dict[str, Any]) -> None:
        return None

    attempts: list[int] = []

    @world.action()
    async def flaky(ctx: ActionCtx, args: dict[str, Any]) -> None:
        attempts.append(ctx.now)
        if len(attempts) == 1:
            raise RuntimeError("once")

    world.run_until(5)
    late = pool.enqueue_action(world.client, quick, {}, run_at=40)
    soon = pool.enqueue_action(world.client, quick, {}, run_at=25)
    world.run_until(300)
    starts = {e.id: e.time for e in world.trace if e.kind == "started"}
    assert starts[late] == 5 and starts[soon] == 5
    assert [e.id for e in world.trace if e.kind == "started"][:2] == [late, soon]
    world.set_next_draw(0.5)  # jitter 1.0: the retry is due 258 ms after a failure at 300
    pool.enqueue_action(world.client, flaky, {}, retry=RetryBehavior(
        max_attempts=2, initial_backoff_ms=258, base=2))
    world.run()
    assert attempts == [300, 500]
    report = check(world.trace_jsonl().splitlines())
    assert report.ok, report.violations
    strict = check(world.trace_jsonl().replace('"current-bucketed"', '"current"').splitlines())
    assert not strict.ok
