"""The debugger (:mod:`refmodel.debugger`): moves, breakpoints, rewind by replay, fork, and
the shell's commands, each of which rejects bad input with one line and changes nothing.

The debugger replays runs, so these tests lean on determinism (rule DET-1); the rest is
tooling, not a rule of the spec.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest

from refmodel import ActionCtx, InvalidArgument, RetryBehavior, World
from refmodel.debugger import (
    DebugError,
    Edit,
    NotReplayable,
    Recipe,
    RewindUnavailable,
    Session,
    debug,
    session_for,
)
from refmodel.debugger.session import Player, scenario_from_file
from refmodel.scenario import ScenarioError
from tests.spec import checks

ROOT = Path(__file__).resolve().parent.parent
STUCK = str(ROOT / "examples" / "stuck-email.json")


def run_script(target: Any, script: str) -> tuple[int, str]:
    out = io.StringIO()
    status = debug(target, commands=script, stdout=out)
    return status, out.getvalue()


def retrying_world() -> World:
    """A current-profile pool of 1 whose first job fails twice (jittered retries)."""
    world = World(seed=9, profile="current")
    pool = world.pool("jobs", max_parallelism=1,
                      default_retry_behavior=RetryBehavior(max_attempts=3, initial_backoff_ms=100))
    tries = {"n": 0}

    @world.action("job")
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> str:
        await ctx.sleep(50)
        if args["flaky"]:
            tries["n"] += 1
            if tries["n"] < 3:
                raise RuntimeError("flaky")
        return "ok"

    pool.enqueue_action(world.client, job, {"flaky": True}, retry=True)
    pool.enqueue_action(world.client, job, {"flaky": False})
    return world


@checks("DET-1")
def test_back_replays_to_the_same_state_as_the_first_run() -> None:
    session = session_for(STUCK)
    session.step(10)
    trace_at_4 = None
    replica = session.replay(4)
    trace_at_4 = list(replica.world.trace)
    session.back(6)
    assert session.position == 4
    assert session.world.trace == trace_at_4
    assert session.world.now == 500
    session.step(6)
    assert session.position == 10


@checks("DET-1")
def test_a_build_function_that_makes_another_world_each_time_is_refused() -> None:
    seeds = iter(range(100))

    def build() -> World:
        world = retrying_world()
        world.set_next_draw((next(seeds) % 10) / 10)  # A different jitter each build.
        return world

    session = Session(Recipe(build=build))
    session.step(8)
    with pytest.raises(NotReplayable, match="building the world again gave another run"):
        session.back(1)
    assert session.position == 8


@checks()
def test_a_world_object_can_be_stepped_but_not_rewound() -> None:
    world = retrying_world()
    status, out = run_script(world, "step\nback\nfork limit jobs 2\nwhy jobs/2\n")
    assert status == 2
    assert "*** going back is unavailable: this session steps a World object" in out
    assert "*** forking is unavailable" in out
    assert "jobs/2 pending: pool `jobs` is full (1/1 running: jobs/1), 1st in line\n" in out
    assert world.now == 0 and len([e for e in world.trace if e.kind == "started"]) == 1


@checks("DET-2")
def test_fork_at_a_draw_changes_only_that_retry_and_says_where_runs_part() -> None:
    session = Session(Recipe(build=retrying_world))
    event = None
    while event is None:
        move = session.step()[0]
        event = next((e for e in move.events if e.kind == "rng"), None)
    session.back(1)
    fork = session.fork(Edit(at=0, op="draw", value=0.0))
    original = session.run_to_end().world.trace
    forked = fork.run_to_end().world.trace
    retries = [(e.data["delayMs"]) for e in original if e.kind == "retrying"]
    forked_retries = [(e.data["delayMs"]) for e in forked if e.kind == "retrying"]
    assert forked_retries[0] == 50  # backoff 100 ms × jitter 0.5
    assert forked_retries[1] == retries[1]  # The later draw is the original's.
    assert retries[0] != 50


@checks()
def test_a_rejected_fork_changes_nothing() -> None:
    session = session_for(STUCK)
    session.step(3)
    before = list(session.world.trace)
    for edit in (Edit(at=0, op="limit", pool="background", value=-1),
                 Edit(at=0, op="cancel", work_id="background/99"),
                 Edit(at=0, op="enqueue", pool="nopool", fn="x"),
                 Edit(at=0, op="enqueue", pool="background", fn="nofn"),
                 Edit(at=0, op="draw", value=2.0)):
        with pytest.raises(Exception) as raised:
            session.fork(edit)
        assert "refmodel" in type(raised.value).__module__
    assert (session.position, session.world.trace) == (3, before)


@checks()
def test_every_breakpoint_kind_stops_where_it_should() -> None:
    status, out = run_script(retrying_world, (
        "break event retrying\nbreak rule ONC-1\nbreak pool jobs full\nbreak work jobs/2\n"
        "break\ncontinue\ncontinue\nclear 1\nclear 3\ncontinue\nclear\ncontinue\ncontinue\n"
    ))
    assert status == 0
    hits = [line for line in out.splitlines() if line.startswith("breakpoint ") and " at " in line]
    assert hits == [
        "breakpoint 3 (pool jobs full) at move 1",
        "breakpoint 1 (event retrying) at move 2",
        "breakpoint 4 (work jobs/2) at move 3",
    ]
    assert "the workload is over at 420 ms: no work is pending or running" in out
    assert "1: event retrying\n2: rule ONC-1\n3: pool jobs full\n4: work jobs/2\n" in out
    assert out.endswith("the run is over at 420 ms: nothing is left to run\n"
                        "> move 11 at 420 ms; next: nothing (the run is over)\n")


@checks()
def test_moving_commands_step_next_until_and_where() -> None:
    status, out = run_script(STUCK, "step 2\nnext\nuntil 1,000 ms\nwhere\nstep\n")
    assert status == 0
    assert "> move 2 at 0 ms; next: step 2: enqueue background auth:sendEmailVerification " \
           "ref=email at 500 ms\n" in out
    assert "(refmodel) next\n> move 4 at 500 ms; next: an event at 1,000 ms (resume phase)\n" \
        in out
    assert "(refmodel) until 1,000 ms\n> move 10 at 1,000 ms; next: an event at 2,000 ms " \
           "(resume phase)\n" in out
    assert out.endswith("move 11 at 2,000 ms:\n"
                        "    2,000 ms #31   succeeded        background/6   attempt=1 "
                        'result={"tempC": 20}\n'
                        "> move 11 at 2,000 ms; next: an event at 2,000 ms (resume phase)\n")


@checks()
def test_looking_commands_status_show_trace_timeline() -> None:
    status, out = run_script(STUCK, (
        "until 500\nstatus background/13\nshow background/13\ntrace 2\ntimeline\n"
        "continue\nstatus background/13\n"
    ))
    assert status == 0
    assert ('background/13: status {"state": "pending", "previousAttempts": 0}; lifecycle '
            "state pending, 0 attempt(s) ended, eligible at 500 ms\n") in out
    assert "background/13: 1 event(s)\n      500 ms #20   enqueued         background/13" in out
    assert "legend: . waiting  # running\n" in out
    assert 'background/13: status {"state": "finished"}; no longer held by its pool\n' in out


BAD_COMMANDS = [
    ("bogus", "*** unknown command 'bogus': 'help' lists the commands"),
    ("step 0", "*** step takes a number of moves >= 1, got 0"),
    ("step x", "*** step takes a number of moves, got 'x'"),
    ("back 99", "*** cannot go back 99 move(s): 0 move(s) are done"),
    ("until soon", "*** until takes a time in ms, got 'soon'"),
    ("next now", "*** next takes no argument"),
    ("continue x", "*** continue takes no argument"),
    ("break work nopool/1", "*** 'nopool/1' names no pool of this world (pools: background)"),
    ("break work background/x", "*** a work id is <pool>/<n> with n >= 1, got 'background/x'"),
    ("break event nothing", "*** unknown event kind 'nothing': one of world_started"),
    ("break pool nopool full", "*** no pool named 'nopool' (pools: background)"),
    ("break rule XYZ-1", "*** no transition to stop at for rule 'XYZ-1'"),
    ("break sometimes", "*** break takes: work ID | event KIND | pool NAME full | rule ID"),
    ("clear 7", "*** no breakpoint '7'"),
    ("why", "*** why takes one work id, like pool/1"),
    ("why background/99", "*** unknown work id 'background/99'"),
    ("status 3", "*** a work id is a str like pool/1, got '3'"),
    ("show nopool/1", "*** 'nopool/1' names no pool of this world"),
    ("pools all", "*** pools takes no argument"),
    ("trace -1", "*** trace takes a number of moves >= 1, got -1"),
    ("timeline now", "*** timeline takes no argument"),
    ("fork", "*** fork takes: limit POOL N | cancel ID | enqueue POOL FN [ARGS-JSON] | draw"),
    ("fork limit background many", "*** fork limit takes an integer limit, got 'many'"),
    ("fork limit background 999", "*** max_parallelism must be"),
    ("fork enqueue background weather:scrape [1]", "*** fork enqueue takes a JSON object"),
    ("fork enqueue background weather:scrape {",
     "*** fork enqueue takes a JSON object of args: invalid JSON at line 1 column 2"),
    ("fork draw lots", "*** fork draw takes a number in [0, 1), got 'lots'"),
    ("fork draw 1.5", "*** a draw must be in [0, 1), got 1.5"),
    ("fork cancel 'unclosed", "*** fork: No closing quotation"),
]


@checks("ERR-1")
@pytest.mark.parametrize(("command", "message"), BAD_COMMANDS)
def test_a_bad_command_prints_one_line_and_changes_nothing(command: str, message: str) -> None:
    status, out = run_script(STUCK, f"{command}\nwhere\nbreak\n")
    lines = out.splitlines()
    at = lines.index(f"(refmodel) {command}")
    assert status == 2
    assert lines[at + 1].startswith(message)
    assert lines[at + 2:] == ["(refmodel) where", lines[1], "(refmodel) break", "no breakpoints"]


@checks("DET-1")
def test_a_scripted_session_prints_the_same_bytes_every_time(tmp_path: Path) -> None:
    script = "break rule PAR-1\ncontinue\nwhy background/6\nfork cancel background/6\nquit\n"
    first = run_script(STUCK, script)
    assert first == run_script(STUCK, script)
    assert first[1].count("\n") > 10


@checks()
def test_a_fixture_file_is_debugged_through_its_scenario(tmp_path: Path) -> None:
    fixture = ROOT / "specs" / "fixtures" / "rty-1-retry-until-success.json"
    status, out = run_script(str(fixture), "continue\n")
    assert status == 0 and "the workload is over at" in out
    bad = tmp_path / "bad.json"
    bad.write_text('{"scenario": {"pools": {}, "functions": {}, "steps": [{"op": "x"}]}, '
                   '"expect": {}}', encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"bad.json: fixture.scenario.steps\[0\].op: "):
        scenario_from_file(str(bad))


@checks()
def test_debug_rejects_what_it_cannot_debug() -> None:
    with pytest.raises(TypeError, match="debug takes a World"):
        session_for(42)
    with pytest.raises(ScenarioError,
                       match=r"scenario\.pools\.p\.maxParallelism: expected >= 1, got 0"):
        session_for({"pools": {"p": {"maxParallelism": 0}}, "functions": {}, "steps": []})
    with pytest.raises(DebugError, match="keeps its trace in memory"):
        session_for(World(trace=False))
    with pytest.raises(TypeError, match="must return a World"):
        Session(Recipe(build=lambda: 3))  # type: ignore[arg-type, return-value]
    with pytest.raises(RewindUnavailable):
        list(Session(world=World()).future())
    with pytest.raises(InvalidArgument, match="a player needs a recipe"):
        Player(Recipe())
    with pytest.raises(InvalidArgument, match="give a recipe or a world"):
        Session()


@checks()
def test_the_replay_benchmark_reports_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from refmodel.debugger.replay_bench import main

    assert main(["--jobs", "50"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("moves=") and "back_per_play=" in line and line.count("\n") == 1


def test_a_session_plays_past_the_adapters_stall_cap() -> None:
    """The adapter's cap of events per ``advance`` (CLK-5) is for conformance runs: a session
    that steps a scenario's world itself plays any number of events to the end."""
    from refmodel.adapter import MAX_EVENTS_PER_ADVANCE
    from refmodel.debugger.session import Session
    from refmodel.scenario import load

    jobs = MAX_EVENTS_PER_ADVANCE // 2
    scenario = load({
        "profile": "current", "seed": 1, "pools": {"p": {"maxParallelism": 10}},
        "functions": {"f": {"kind": "action", "attempts": [{"durationMs": 10, "returns": 1}]}},
        "steps": [{"op": "enqueueBatch", "pool": "p", "fn": "f", "argsList": [{}] * jobs,
                   "refs": [f"r{i}" for i in range(jobs)]}],
    })
    session = Session.from_scenario(scenario)
    session.play()
    world = session.world
    assert len(world.trace) > MAX_EVENTS_PER_ADVANCE
    assert sum(1 for e in world.trace if e.kind == "succeeded") == jobs
