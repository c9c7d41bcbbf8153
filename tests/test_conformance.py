"""The conformance kit (:mod:`refmodel.conformance`): fill, play, check, explore.

The model must pass every fixture, in-process and through the JSON Lines protocol; fixtures
must regenerate byte for byte; deliberately broken adapters (a pool that starts work LIFO, one
that ignores cancels of pending work) must fail with the rule they break, both on the fixtures
and under exploration; adapters that crash, hang or print garbage must give a clear error
quickly, never a hang or a traceback.

The broken adapters break one model instance each (they swap a pool's start queue or filter
calls), never a class, because exploring runs the model and the broken adapter side by side.
"""

from __future__ import annotations

import heapq
import json
import runpy
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from refmodel.adapter import AdapterError, ModelAdapter, SubprocessAdapter
from refmodel.cli import main
from refmodel.conformance import (
    ConformanceError,
    Fixture,
    Recording,
    build_fixtures,
    check_recording,
    divergences,
    explore,
    fill,
    load_fixture,
    load_fixtures,
    make_fixture,
    play,
    run_conformance,
)
from refmodel.engine.startqueue import StartQueue
from refmodel.errors import RefmodelError
from refmodel.fixtures_src import FIXTURES, action, advance, enqueue, returns, scenario, status
from refmodel.fixtures_src import throws as throws_attempt
from refmodel.scenario import FEATURES, ScenarioError
from refmodel.workpool.lifecycle import State
from tests.spec import checks

ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = ROOT / "specs" / "fixtures"
MODEL_PROGRAM = f"{sys.executable} -m refmodel.adapter"


@pytest.fixture(scope="module")
def fixtures() -> list[Fixture]:
    return load_fixtures(FIXTURES_DIR)


def fixture_named(fixtures: list[Fixture], name: str) -> Fixture:
    return next(f for f in fixtures if f.name == name)


# Broken adapters --------------------------------------------------------------------------


class LifoQueue(StartQueue[Any]):
    """A start queue that hands out the most recently queued eligible item first."""

    __slots__ = ()

    def _pop(self) -> Any:
        while True:
            if self._ready:
                item = self._ready.pop()
            elif self._delayed and self._delayed[0][0] <= self._clock.now:
                item = heapq.heappop(self._delayed)[2]
            else:
                return None
            if self._is_live(item):
                return item


class LifoAdapter(ModelAdapter):
    """The model, except that its pools start work last-in first-out (breaks ORD-1)."""

    def reset(self, scenario: Mapping[str, Any]) -> None:
        super().reset(scenario)
        world = self._world
        assert world is not None
        for pool in world.pools.values():
            queue = pool._queue
            pool._queue = LifoQueue(queue._clock, queue._is_live, queue._has_room, queue._start)


class IgnoresCancelOfPending(ModelAdapter):
    """The model, except that a cancel of pending work is dropped (breaks CAN-1)."""

    def call(self, step: Mapping[str, Any]) -> dict[str, Any]:
        world = self._world
        if step.get("op") == "cancel" and world is not None:
            pool = world.pools[str(step["pool"])]
            try:
                state = pool.info(str(step["id"])).state
            except RefmodelError:  # Evicted or unknown: not pending.
                state = None
            if state is State.PENDING:
                return {}
        return super().call(step)


class FewerFeatures(ModelAdapter):
    """The model declaring fewer features; it refuses scenarios that need the others."""

    def __init__(self, missing: set[str]) -> None:
        super().__init__()
        self.missing = missing
        self.played: list[str] = []

    def handshake(self) -> dict[str, Any]:
        shake = super().handshake()
        shake["features"] = [f for f in shake["features"] if f not in self.missing]
        return shake

    def reset(self, scenario: Mapping[str, Any]) -> None:
        self.played.append(str(scenario.get("name")))
        super().reset(scenario)


class Recorder(ModelAdapter):
    """The model, remembering every call it was sent."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []

    def call(self, step: Mapping[str, Any]) -> dict[str, Any]:
        self.sent.append(dict(step))
        return super().call(step)


class BadEvents(ModelAdapter):
    """The model, reporting one malformed trace event."""

    def advance(self, ms: int) -> dict[str, Any]:
        answer = super().advance(ms)
        answer["events"].append({"t": "soon", "kind": "started"})
        return answer


# The model passes ---------------------------------------------------------------------------


@checks("ENQ-1", "STS-1", "STS-2", "CLK-1", "PAR-1", "WC-1", "ORD-1", "ORD-2", "EXE-1",
        "EXE-2", "TMO-1", "TMO-2", "CAN-1", "CAN-2", "CAN-3", "TTL-1", "TTL-2", "STS-3",
        "RTY-1", "RTY-2", "RTY-3", "RTY-4", "ONC-1", "ONC-2", "ONC-3", "CAN-6", "CAN-7",
        "ENQ-5", "ENQ-6", "ENQ-7", "CFG-5", "PAR-2", "STS-5")
def test_the_model_passes_every_fixture_in_process(fixtures: list[Fixture]) -> None:
    report = run_conformance(ModelAdapter(), fixtures)
    assert report.failures() == []
    assert {v.outcome for v in report.verdicts} == {"pass"}
    assert report.ok


@checks("ENQ-1", "ORD-1", "CAN-6", "RTY-2")
def test_the_model_passes_every_fixture_as_a_subprocess(fixtures: list[Fixture]) -> None:
    adapter = SubprocessAdapter(MODEL_PROGRAM, timeout_s=20)
    try:
        report = run_conformance(adapter, fixtures)
    finally:
        adapter.close()
    assert report.failures() == []
    assert report.ok
    assert report.adapter.startswith("refmodel")


@checks("RTY-2", "RTY-3", "STS-5")
def test_fixtures_hold_for_any_jitter_draw(fixtures: list[Fixture]) -> None:
    retried = [f for f in fixtures if "retries" in f.features]
    assert len(retried) >= 5
    for fixture in retried:
        for seed in (11, 12, 13):
            recording = play(ModelAdapter(), {**fixture.scenario, "seed": seed})
            assert divergences(fixture.expect, recording, {}) == [], (fixture.name, seed)


@checks("CNF-1")
def test_the_fixture_sources_cover_the_seed_and_current_rules() -> None:
    covered = {rule for source in FIXTURES for rule in source["rules"]}
    families = {rule.split("-")[0] for rule in covered}
    assert len(FIXTURES) >= 20
    assert {"CLK", "ENQ", "PAR", "ORD", "WC", "EXE", "STS", "TMO", "CAN", "TTL"} <= families
    current = {"RTY-1", "RTY-2", "RTY-3", "RTY-4", "ONC-1", "ONC-2", "ONC-3", "CAN-6",
               "CAN-7", "ENQ-5", "ENQ-6", "CFG-5", "STS-5"}
    assert current <= covered
    assert {source["level"] for source in FIXTURES} == {"MUST", "SHOULD"}


# Fill -------------------------------------------------------------------------------------


@checks("CNF-1")
def test_fixtures_regenerate_byte_identically(tmp_path: Path) -> None:
    fill(tmp_path)
    generated = sorted(p.name for p in tmp_path.iterdir())
    committed = sorted(p.name for p in FIXTURES_DIR.iterdir() if p.name != "README.md")
    assert generated == committed
    changed = [
        name for name in generated
        if (tmp_path / name).read_bytes() != (FIXTURES_DIR / name).read_bytes()
    ]
    assert changed == []


@checks("CNF-1")
def test_a_fixture_file_is_sorted_two_space_json_with_a_trailing_newline() -> None:
    path = FIXTURES_DIR / "par-1-two-slots.json"
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert data["fixtureVersion"] == 1
    assert data["rules"] == ["PAR-1", "WC-1"]
    assert data["level"] == "MUST"
    assert data["features"] == ["seed-api"]
    index = json.loads((FIXTURES_DIR / "index.json").read_text(encoding="utf-8"))
    assert [e["file"] for e in index["fixtures"]] == [
        f"{name}.json" for name in sorted(s["name"] for s in FIXTURES)
    ]


@checks("CNF-1")
def test_fill_removes_only_fixtures_it_no_longer_writes(tmp_path: Path) -> None:
    fill(tmp_path, FIXTURES[:3])
    (tmp_path / "notes.json").write_text("{}", encoding="utf-8")
    fill(tmp_path, FIXTURES[1:3])
    names = sorted(p.name for p in tmp_path.iterdir())
    expected = sorted([f"{s['name']}.json" for s in FIXTURES[1:3]] + ["index.json",
                                                                       "notes.json"])
    assert names == expected


@checks("CNF-1", "RTY-2")
def test_fill_refuses_expectations_that_depend_on_the_jitter_draw() -> None:
    source = scenario(
        "current", {"p": {"maxParallelism": 1}},
        {"flaky": action(throws_attempt(10, "once"), returns(5, "ok"))},
        [enqueue("a", "flaky", retry={"maxAttempts": 2, "initialBackoffMs": 1000, "base": 2}),
         advance(1000), status("a")],
    )
    with pytest.raises(ConformanceError, match="depend on the jitter draw"):
        make_fixture(name="racy", description="", rules=["STS-5"], level="MUST",
                     scenario=source)


@checks("RTY-2")
def test_retry_delays_are_jitter_bounds_not_the_model_draw(fixtures: list[Fixture]) -> None:
    fixture = fixture_named(fixtures, "rty-1-retry-until-success")
    retries = fixture.expect["items"]["a"]["retries"]
    assert [r["delayMs"] for r in retries] == [[50, 150], [100, 300]]
    recording = play(ModelAdapter(), fixture.scenario)
    events = [dict(e) for e in recording.events]
    first = next(e for e in events if e["kind"] == "retrying")
    first["data"] = {**first["data"], "delayMs": 151, "retryAt": first["t"] + 151}
    found = divergences(fixture.expect, attrs.evolve(recording, events=tuple(events)), {})
    assert found[0].rules == ("RTY-2",)
    assert "outside the jitter bounds [50, 150]" in found[0].what


# Latency --------------------------------------------------------------------------------


def shifted(recording: Recording, work_id: str, ms: int) -> Recording:
    """The recording with every event of one work item moved by ``ms``."""
    events = [
        {**e, "t": e["t"] + ms} if e.get("id") == work_id else dict(e) for e in recording.events
    ]
    return attrs.evolve(recording, events=tuple(events))


@checks("WC-1", "ORD-2")
def test_a_declared_start_lag_widens_start_windows_and_nothing_else(
    fixtures: list[Fixture],
) -> None:
    fixture = fixture_named(fixtures, "par-1-two-slots")
    recording = play(ModelAdapter(), fixture.scenario)
    late = shifted(recording, recording.refs["d"]["id"], 3)
    found = divergences(fixture.expect, late, {})
    assert found[0].rules == ("WC-1",)
    assert found[0].what == (
        "item d: attempt 1 started at 13 ms, expected at 10 ms (the latest of at 0 ms, the "
        "second of when a attempt 1 ended, when b attempt 1 ended) [WC-1]"
    )
    assert divergences(fixture.expect, late, {"startLagMs": 3}) == []
    assert divergences(fixture.expect, late, {"startLagMs": 2}) != []
    early = shifted(recording, recording.refs["d"]["id"], -1)
    found = divergences(fixture.expect, early, {"startLagMs": 50})
    # d starts before c, which is ahead of it, and before a slot frees for it.
    assert {rule for d in found for rule in d.rules} == {"ORD-1", "PAR-1"}


@checks("STS-1")
def test_with_a_declared_lag_a_status_may_trail_its_own_history(fixtures: list[Fixture]) -> None:
    fixture = fixture_named(fixtures, "enq-1-pending-until-start")
    recording = play(ModelAdapter(), fixture.scenario)
    calls = [dict(c) for c in recording.calls]
    calls[3] = {**calls[3], "result": {"status": {"kind": "pending"}}}  # At 0, before its start.
    lagging = attrs.evolve(recording, calls=tuple(calls))
    assert divergences(fixture.expect, lagging, {})[0].rules == ("STS-1",)
    assert divergences(fixture.expect, lagging, {"startLagMs": 5}) == []


# Features ----------------------------------------------------------------------------------


@checks("CNF-2")
def test_an_adapter_missing_a_feature_gets_skipped_and_the_report_says_so(
    fixtures: list[Fixture],
) -> None:
    adapter = FewerFeatures({"ttl", "retries"})
    report = run_conformance(adapter, fixtures)
    skipped = sorted({v.fixture for v in report.verdicts if v.outcome == "skipped"})
    needing = sorted(f.name for f in fixtures if {"ttl", "retries"} & set(f.features))
    assert skipped == needing
    assert "ttl-1-eviction" in skipped
    assert not set(skipped) & set(adapter.played)
    assert report.failures() == []
    assert report.ok
    text = report.text()
    assert "SKIP ttl-1-eviction [MUST] TTL-1,TTL-2,STS-3: adapter lacks feature(s) ttl\n" in text
    assert f"{len(needing)} skipped\n" in text


@checks("CNF-2")
def test_a_skipped_verdict_needs_no_recording(fixtures: list[Fixture]) -> None:
    fixture = fixture_named(fixtures, "can-7-cancel-all")
    verdicts = check_recording(fixture, None, {"features": ["current-api", "cancel"]})
    assert [(v.rule, v.outcome, v.detail) for v in verdicts] == [
        ("CAN-7", "skipped", "adapter lacks feature(s) cancelAll"),
        ("CAN-6", "skipped", "adapter lacks feature(s) cancelAll"),
    ]


@checks("CNF-2")
def test_every_fixture_declares_the_features_it_needs(fixtures: list[Fixture]) -> None:
    for fixture in fixtures:
        assert set(fixture.features) <= set(FEATURES)
        profile = fixture.scenario.get("profile", "seed")
        assert ("seed-api" if profile == "seed" else "current-api") in fixture.features


# Broken implementations fail ---------------------------------------------------------------


@checks("ORD-1")
def test_a_lifo_pool_fails_the_ordering_fixtures(fixtures: list[Fixture]) -> None:
    report = run_conformance(LifoAdapter(), fixtures)
    failed = {(v.fixture, v.rule) for v in report.failures()}
    assert ("ord-1-fifo-one-slot", "ORD-1") in failed
    assert ("enq-5-batch", "ORD-1") in failed
    assert not report.ok
    assert "FAIL ord-1-fifo-one-slot [MUST] ORD-1,WC-1: pool p: d started at 0 ms while a, " \
           "ahead of it in FIFO order and eligible since 0 ms, still waited [ORD-1]" \
           in report.text()


@checks("CAN-1")
def test_an_adapter_ignoring_cancel_of_pending_work_fails_can_1(fixtures: list[Fixture]) -> None:
    report = run_conformance(IgnoresCancelOfPending(), fixtures)
    failed = sorted({v.fixture for v in report.failures()})
    assert failed == ["can-1-cancel-pending", "can-1-cancel-waiting-for-run-at",
                      "onc-2-canceled-pending"]
    detail = next(v.detail for v in report.failures() if v.fixture == "can-1-cancel-pending")
    assert detail.startswith('item b: outcome {"kind": "succeeded", "result": "ok"}, expected '
                             '{"kind": "canceled"} [CAN-1]')


@checks("ORD-1")
def test_exploring_a_lifo_pool_finds_and_shrinks_an_ord_1_divergence(tmp_path: Path) -> None:
    found = explore(LifoAdapter(), 200, out=tmp_path, command="model")
    assert found is not None
    assert "ORD-1" in found.rules
    assert len(found.fixture.scenario["steps"]) <= 4
    assert found.fixture_path is not None and found.test_path is not None
    saved = load_fixture(found.fixture_path)
    assert saved == found.fixture
    used = {step["fn"] for step in saved.scenario["steps"] if "fn" in step}
    used |= {step.get("options", {}).get("onComplete") for step in saved.scenario["steps"]}
    assert set(saved.scenario["functions"]) <= used  # Functions no step uses are dropped.
    again = explore(LifoAdapter(), 200)
    assert again is not None and again.fixture == found.fixture  # Deterministic for a seed.
    assert run_conformance(ModelAdapter(), [saved]).ok
    assert not run_conformance(LifoAdapter(), [saved]).ok
    source = found.test_path.read_text(encoding="utf-8")
    compile(source, str(found.test_path), "exec")
    namespace = runpy.run_path(str(found.test_path))
    namespace[f"test_{saved.name.replace('-', '_')}"]()  # The model passes the saved test.


@checks("CAN-1")
def test_exploring_an_adapter_ignoring_cancel_of_pending_work_finds_can_1(
    tmp_path: Path,
) -> None:
    found = explore(IgnoresCancelOfPending(), 80, out=tmp_path)
    assert found is not None
    assert "CAN-1" in found.rules
    assert any(step["op"] == "cancel" for step in found.fixture.scenario["steps"])


@checks("LIF-1")
def test_exploring_the_model_against_itself_finds_nothing(tmp_path: Path) -> None:
    assert explore(ModelAdapter(), 40, out=tmp_path) is None
    assert list(tmp_path.iterdir()) == []


# Playing ------------------------------------------------------------------------------------


@checks("ENQ-5")
def test_play_tags_args_with_refs_and_translates_refs_to_ids() -> None:
    adapter = Recorder()
    recording = play(adapter, scenario(
        "current", {"p": {"maxParallelism": 1}}, {"work": action(returns(5))},
        [enqueue("a", "work"),
         {"op": "enqueueBatch", "pool": "p", "fn": "work", "argsList": [{"x": 1}, {}],
          "refs": ["b", "c"]},
         {"op": "cancel", "pool": "p", "ref": "b"}, status("c")],
    ))
    assert adapter.sent == [
        {"op": "enqueue", "pool": "p", "fn": "work", "args": {"_ref": "a"}, "ref": "a"},
        {"op": "enqueueBatch", "pool": "p", "fn": "work",
         "argsList": [{"x": 1, "_ref": "b"}, {"_ref": "c"}], "refs": ["b", "c"]},
        {"op": "cancel", "pool": "p", "id": "p/2"},
        {"op": "status", "pool": "p", "id": "p/3"},
    ]
    assert recording.refs == {"a": {"pool": "p", "id": "p/1"}, "b": {"pool": "p", "id": "p/2"},
                              "c": {"pool": "p", "id": "p/3"}}
    assert [c["result"] for c in recording.calls] == [
        {"id": "p/1"}, {"ids": ["p/2", "p/3"]}, {},
        {"status": {"state": "pending", "previousAttempts": 0}},
    ]


@checks("ERR-1")
def test_steps_on_a_rejected_enqueue_are_skipped_not_sent() -> None:
    adapter = Recorder()
    recording = play(adapter, scenario(
        "current", {"p": {"maxParallelism": 1}}, {"work": action(returns(5))},
        [enqueue("a", "work", runAt=5, runAfter=5), status("a")],
    ))
    assert [step["op"] for step in adapter.sent] == ["enqueue"]
    assert "error" in recording.calls[0]["result"]
    assert recording.calls[1]["result"] == {"skipped": "ref 'a' has no id: its enqueue failed"}


@checks("EXE-1")
def test_play_settles_until_every_item_ends_or_the_bound() -> None:
    done = play(ModelAdapter(), scenario(
        "current", {"p": {"maxParallelism": 1}}, {"work": action(returns(1500))},
        [enqueue("a", "work"), advance(10)],
    ))
    assert done.end == 2010
    hung = play(ModelAdapter(), scenario(
        "current", {"p": {"maxParallelism": 1}}, {"stuck": action({"hangs": True})},
        [enqueue("a", "stuck")],
    ))
    assert hung.end == 60_000
    fixture = make_fixture(name="hang", description="", rules=["EXE-1"], level="MUST",
                           scenario=hung.scenario)
    assert fixture.expect["items"]["a"]["outcome"] == {"kind": "running"}


# Protocol errors ---------------------------------------------------------------------------

BAD_PROGRAMS = {
    "crash": "import sys\nsys.exit(3)\n",
    "hang": "import time\ntime.sleep(60)\n",
    "garbage": "import sys\nprint('hello, world')\nsys.stdout.flush()\nsys.stdin.read()\n",
    "wrong-id": "import sys, json\nfor line in sys.stdin:\n"
                "    print(json.dumps({'id': 999, 'result': {}}), flush=True)\n",
}


@pytest.mark.parametrize("name", sorted(BAD_PROGRAMS))
@checks("CNF-3")
def test_a_misbehaving_adapter_raises_adapter_error_quickly(
    name: str, tmp_path: Path, fixtures: list[Fixture]
) -> None:
    program = tmp_path / f"{name}.py"
    program.write_text(BAD_PROGRAMS[name], encoding="utf-8")
    began = time.monotonic()  # wall-clock ok: the point is that nothing hangs
    adapter = SubprocessAdapter(f"{sys.executable} {program}", timeout_s=0.5)
    try:
        with pytest.raises(AdapterError):
            run_conformance(adapter, fixtures[:1])
    finally:
        adapter.kill()
    assert time.monotonic() - began < 5  # wall-clock ok


@pytest.mark.parametrize("name", ["crash", "hang", "garbage"])
@checks("CNF-3")
def test_a_misbehaving_adapter_exits_2_with_one_line(name: str, tmp_path: Path) -> None:
    program = tmp_path / f"{name}.py"
    program.write_text(BAD_PROGRAMS[name], encoding="utf-8")
    began = time.monotonic()  # wall-clock ok
    result = run_cli("conformance", "--adapter", f"{sys.executable} {program}",
                     "--fixtures", str(FIXTURES_DIR), "--timeout", "0.5")
    assert time.monotonic() - began < 10  # wall-clock ok
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"refmodel: error: adapter '{sys.executable} {program}' ")


@checks("CNF-3")
def test_a_malformed_trace_event_is_an_adapter_error(fixtures: list[Fixture]) -> None:
    with pytest.raises(AdapterError, match="malformed trace event"):
        run_conformance(BadEvents(), fixtures[:1])


# The command line -------------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "refmodel", *args],
        capture_output=True, text=True, encoding="utf-8", cwd=ROOT, timeout=60, check=False,
    )


@checks("CNF-1")
def test_cli_fill_writes_the_fixtures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fill", "--out", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"wrote {len(FIXTURES)} fixtures and index.json to " \
                                      f"{tmp_path}\n"
    assert (tmp_path / "index.json").read_bytes() == (FIXTURES_DIR / "index.json").read_bytes()


@checks("CNF-2")
def test_cli_conformance_of_the_model_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["conformance", "--adapter", "model", "--fixtures", str(FIXTURES_DIR)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("conformance of refmodel ")
    assert f"{len(FIXTURES)} fixtures: {len(FIXTURES)} passed, 0 failed (0 MUST), 0 skipped\n" \
           in out


def tampered(directory: Path, name: str) -> Path:
    """A fixtures directory holding one fixture, whose expected outcome is wrong."""
    directory.mkdir()
    data = json.loads((FIXTURES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    first = next(iter(data["expect"]["items"].values()))
    first["outcome"] = {"kind": "failed", "error": "not what the model does"}
    (directory / f"{name}.json").write_text(json.dumps(data), encoding="utf-8")
    return directory


@checks("CNF-2")
def test_cli_exits_1_only_when_a_must_fixture_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    must = tampered(tmp_path / "must", "par-1-two-slots")
    should = tampered(tmp_path / "should", "cfg-5-log-level-update")
    assert main(["conformance", "--adapter", "model", "--fixtures", str(must)]) == 1
    assert "1 fixtures: 0 passed, 1 failed (1 MUST), 0 skipped" in capsys.readouterr().out
    assert main(["conformance", "--adapter", "model", "--fixtures", str(should)]) == 0
    assert "1 fixtures: 0 passed, 1 failed (0 MUST), 0 skipped" in capsys.readouterr().out


@checks("CNF-3")
def test_cli_bad_fixtures_exit_2_naming_the_file_and_place(tmp_path: Path) -> None:
    missing = run_cli("conformance", "--adapter", "model", "--fixtures", str(tmp_path / "no"))
    assert missing.returncode == 2
    assert missing.stderr == f"refmodel: error: fixtures directory '{tmp_path / 'no'}' does " \
                             "not exist\n"
    broken = tmp_path / "broken.json"
    broken.write_text('{"fixtureVersion": 1,\n  "name": }\n', encoding="utf-8")
    result = run_cli("conformance", "--adapter", "model", "--fixtures", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == f"refmodel: error: {broken}: invalid JSON at line 2 column 11: " \
                            "Expecting value\n"
    data = json.loads((FIXTURES_DIR / "enq-5-batch.json").read_text(encoding="utf-8"))
    data["expect"]["items"]["a"]["attempts"][0]["start"]["from"] = {"at": "soon"}
    broken.write_text(json.dumps(data), encoding="utf-8")
    result = run_cli("conformance", "--adapter", "model", "--fixtures", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr == f"refmodel: error: {broken}: $.expect.items.a.attempts[0].start." \
                            'from.at: expected a time in ms, got "soon"\n'


@checks("CNF-3")
def test_cli_bad_scenario_in_a_fixture_names_its_json_path(tmp_path: Path) -> None:
    data = json.loads((FIXTURES_DIR / "enq-5-batch.json").read_text(encoding="utf-8"))
    data["scenario"]["steps"][1]["ref"] = "nobody"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"\$\.scenario\.steps\[1\]\.ref: "):
        load_fixture(path)


@checks("CNF-3")
def test_cli_explore_writes_nothing_when_the_model_meets_itself(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "failures"
    assert main(["conformance", "--adapter", "model", "--explore", "10", "--out",
                 str(out)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "coverage of 10 scenarios (rule: scenarios reaching it, smallest witness):"
    assert lines[-2].startswith("never reached: ")
    assert lines[-1] == "explore: no divergence in 10 scenarios"
    assert not out.exists()


@checks("CNF-2")
def test_cli_explore_reports_coverage_and_writes_each_rules_witness(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    witnesses = tmp_path / "witnesses"
    assert main(["conformance", "--adapter", "model", "--explore", "60", "--witnesses",
                 str(witnesses)]) == 0
    text = capsys.readouterr().out
    reached = {line.split()[0] for line in text.splitlines() if line.startswith("  ")}
    never = text.split("never reached: ")[1].splitlines()[0]
    assert {"PAR-1", "ORD-1", "RTY-1", "ONC-2", "CAN-1"} <= reached
    assert never == "none" or set(never.split(", ")).isdisjoint(reached)
    saved = load_fixtures(witnesses)
    assert {fixture.rules[0] for fixture in saved} == reached
    assert all(len(f.scenario["steps"]) <= 8 for f in saved)
    assert run_conformance(ModelAdapter(), saved).failures() == []


@checks("CNF-2", "ORD-1")
def test_cli_explore_prints_where_the_failing_test_is_not_the_test(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    program = Path(__file__).resolve().parent / "broken_programs" / "lifo.py"
    assert main(["conformance", "--adapter", f"{sys.executable} {program}", "--explore",
                 "100", "--out", str(tmp_path)]) == 1
    text = capsys.readouterr().out
    assert "def test_" not in text
    test_path = text.split("explore: replay it with: pytest ")[1].strip()
    assert Path(test_path).exists() and Path(test_path).parent == tmp_path


@checks("CNF-1")
def test_fixture_sources_with_a_repeated_name_are_refused() -> None:
    with pytest.raises(ConformanceError, match="name 'par-1-two-slots' is used twice"):
        build_fixtures([FIXTURES[1], FIXTURES[1]])


class DeclaresEarlyStarts(ModelAdapter):
    """The model, except that work with a future runAt starts ``early`` ms before it, and
    says so in its handshake with ``declared`` (``earlyStartMs``)."""

    def __init__(self, early: int, declared: int) -> None:
        super().__init__()
        self.early = early
        self.declared = declared

    def handshake(self) -> dict[str, Any]:
        return {**super().handshake(), "latency": {"earlyStartMs": self.declared}}

    def reset(self, scenario: Mapping[str, Any]) -> None:
        super().reset(scenario)
        world = self._require()
        early = self.early

        class EarlyQueue(StartQueue[Any]):
            def add(self, item: Any) -> None:
                now = self._clock.now
                if item.eligible_at > now:
                    item.eligible_at = max(now, item.eligible_at - early)
                super().add(item)

        for pool in world.pools.values():
            pool._queue = EarlyQueue(world.clock, lambda r: r.state in (
                State.PENDING, State.RETRYING), pool._has_room, pool._start)


@checks("ORD-2", "CNF-2")
def test_a_declared_early_start_bound_admits_early_starts_and_nothing_more(
    fixtures: list[Fixture],
) -> None:
    assert run_conformance(DeclaresEarlyStarts(10, 10), fixtures).failures() == []
    short = run_conformance(DeclaresEarlyStarts(10, 9), fixtures)
    assert "ORD-2" in {v.rule for v in short.failures()}


@checks("CNF-3")
def test_a_handshake_with_an_unknown_deviation_is_refused() -> None:
    class Unknown(ModelAdapter):
        def handshake(self) -> dict[str, Any]:
            return {**super().handshake(), "deviations": ["STS-4/nope"]}

    with pytest.raises(AdapterError, match="handshake deviations must be a list of names"):
        run_conformance(Unknown(), [])
