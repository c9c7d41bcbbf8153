"""The command line of the debugging tools: ``run``, ``debug`` and ``timeline``
(:mod:`refmodel.cli.run`, :mod:`refmodel.cli.debug`, :mod:`refmodel.cli.timeline`).

Every command rejects bad input with one line on stderr, exit status 2, and writes nothing.
"""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest

from refmodel.cli import main
from refmodel.timeline import read_trace
from tests.spec import checks

ROOT = Path(__file__).resolve().parent.parent
STUCK = str(ROOT / "examples" / "stuck-email.json")


def cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own errors
        status = int(exit_.code or 0)
    out = capsys.readouterr()
    return status, out.out, out.err


@checks()
def test_run_prints_a_summary_per_pool(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["run", STUCK], capsys) == (0, (
        "stuck-email: profile current, seed 1; 20 moves; the workload was over at 3,000 ms\n"
        "pool background (max_parallelism 5): 13 enqueued; 13 succeeded\n"
        "  start lag: max 2,000 ms (background/11), mean 808 ms over 13 start(s)\n"
    ), "")


@checks()
def test_run_until_stops_at_that_instant(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = cli(["run", STUCK, "--until", "1200", "--seed", "7"], capsys)
    assert status == 0
    assert out.splitlines()[:2] == [
        "stuck-email: profile current, seed 7; 10 moves; stopped at 1,200 ms (--until)",
        "pool background (max_parallelism 5): 13 enqueued; 5 succeeded; 5 running, 3 waiting",
    ]


@checks("DET-1")
def test_run_writes_the_trace_as_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    cli(["run", STUCK, "--trace", str(first)], capsys)
    cli(["run", STUCK, "--trace", str(second)], capsys)
    assert first.read_bytes() == second.read_bytes()
    events = read_trace(str(first))
    assert [e.kind for e in events].count("succeeded") == 13
    assert events[-1].time == 3000


@checks()
def test_run_reports_rejected_steps_and_plays_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(Path(STUCK).read_text(encoding="utf-8"))
    data["steps"].insert(1, {"op": "configure", "pool": "background", "maxParallelism": 999})
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    status, out, _ = cli(["run", str(path)], capsys)
    assert status == 0
    assert out.endswith("rejected steps[1]: InvalidArgument: max_parallelism must be <= 200, "
                        "got 999\n")


@checks("ERR-1")
@pytest.mark.parametrize(("content", "message"), [
    ("{", "s.json: invalid JSON at line 1 column 2"),
    ("[]", r"s.json: scenario: expected object, got \[\]"),
    ('{"pools": {"p": {"maxParallelism": 1}}, "functions": {}, "steps": [{"op": "enqueue", '
     '"pool": "q", "fn": "f", "ref": "a"}]}', r"s.json: scenario.steps\[0\].pool: no pool"),
    ('{"pools": {"p": {"maxParallelism": 500}}, "functions": {}, "steps": []}',
     "s.json: scenario.pools.p.maxParallelism: expected <= 300, got 500"),
])
def test_run_rejects_a_bad_scenario_with_one_line_naming_the_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "s.json"
    path.write_text(content, encoding="utf-8")
    trace = tmp_path / "t.jsonl"
    status, out, err = cli(["run", str(path), "--trace", str(trace)], capsys)
    assert (status, out) == (2, "")
    assert err.count("\n") == 1 and err.startswith("refmodel: error: ")
    assert __import__("re").search(message, err)
    assert not trace.exists()


@checks("ERR-1")
def test_run_rejects_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for argv, message in (
        (["run", str(tmp_path / "none.json")], "cannot read"),
        (["run", STUCK, "--until", "-3"], "expected an integer >= 0"),
        (["run", STUCK, "--seed", "x"], "argument --seed: expected an integer seed, got 'x'"),
        (["run", STUCK, "--trace", str(tmp_path / "no" / "t.jsonl")], "cannot write"),
    ):
        status, out, err = cli(argv, capsys)
        assert (status, out, err.count("\n")) == (2, "", 1), argv
        assert message in err


@checks()
def test_debug_runs_a_commands_file_and_exits_2_if_one_was_rejected(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    commands = tmp_path / "cmds"
    commands.write_text("# a comment\n\nuntil 500\nwhy background/13\n", encoding="utf-8")
    status, out, err = cli(["debug", STUCK, "--commands", str(commands)], capsys)
    assert (status, err) == (0, "")
    assert out.splitlines()[-1].startswith("background/13 pending: pool `background` is full")
    commands.write_text("step\nstep 0\n", encoding="utf-8")
    status, out, _ = cli(["debug", STUCK, "--commands", str(commands)], capsys)
    assert status == 2 and out.count("***") == 1
    status, out, err = cli(["debug", STUCK, "--commands", str(tmp_path / "none")], capsys)
    assert (status, out) == (2, "") and "cannot read" in err


@checks()
def test_debug_reads_a_pipe_as_a_script(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("step\nquit\nstep\n"))
    status, out, _ = cli(["debug", STUCK, "--seed", "3"], capsys)
    assert status == 0
    assert out.count("(refmodel) ") == 2 and "seed 3" in out.splitlines()[0]


@checks()
def test_timeline_draws_a_trace_file_in_every_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "t.jsonl"
    cli(["run", STUCK, "--trace", str(trace)], capsys)
    status, text, _ = cli(["timeline", str(trace), "--scale", "250"], capsys)
    assert status == 0
    assert text.splitlines()[-1] == "legend: . waiting  # running  ✓ succeeded"
    assert text.splitlines()[0].endswith("|0 ms         | 3250 ms")
    for fmt, check in (("perfetto", '{"traceEvents": ['), ("svg", "<?xml")):
        out = tmp_path / f"t.{fmt}"
        assert cli(["timeline", str(trace), "--format", fmt, "-o", str(out)], capsys)[:2] == (0, "")
        assert out.read_text(encoding="utf-8").startswith(check)


@checks("ERR-1")
def test_timeline_rejects_a_bad_trace_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"t": 0}\n', encoding="utf-8")
    out = tmp_path / "t.svg"
    for argv, message in (
        (["timeline", str(trace), "--format", "svg", "-o", str(out)], "line 1: not a trace event"),
        (["timeline", str(tmp_path / "none.jsonl")], "cannot read"),
        (["timeline", str(trace), "--format", "png"], "invalid choice: 'png'"),
        (["timeline", str(trace), "--width", "0"], "expected a positive integer"),
    ):
        status, stdout, err = cli(argv, capsys)
        assert (status, stdout, err.count("\n")) == (2, "", 1), argv
        assert message in err
    assert not out.exists()
    good = tmp_path / "good.jsonl"
    cli(["run", STUCK, "--trace", str(good)], capsys)
    status, _, err = cli(["timeline", str(good), "-o", str(tmp_path / "no" / "x")], capsys)
    assert status == 2 and "cannot write" in err
