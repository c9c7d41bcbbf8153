"""The command line, ``python -m refmodel`` (:mod:`refmodel.cli`).

The happy paths run ``main`` in-process; the user mistakes run ``python -m refmodel`` in a
subprocess, to see exactly what a user sees: exit status 2, a one-line message, no traceback.
"""

from __future__ import annotations

import heapq
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from refmodel.bench import duration_of
from refmodel.cli import main
from refmodel.examples import EXAMPLES, ctx_interface
from refmodel.workpool import lifecycle
from tests.spec import checks

ROOT = Path(__file__).resolve().parent.parent


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "refmodel", *args],
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=60,
        check=False,
    )


@checks("PAR-1")
def test_example_emails_prints_its_summary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["example", "emails"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("== example: emails ==\n")
    assert (
        "with pools (emails 5, scrapes 1): the last email is sent 300 ms after sign-up; "
        "the scrapes finish at 12000 ms.\n"
    ) in out
    assert (
        "plain scheduler, 4 at a time: the last email is sent 2800 ms after sign-up, "
        "stuck behind the scrapes.\n"
    ) in out
    assert "-- timeline: pools --\n" in out
    assert "-- timeline: plain scheduler (4 at a time) --\n" in out


@checks("EXE-3", "CAN-4")
def test_example_all_prints_every_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["example", "all"]) == 0
    out = capsys.readouterr().out
    headings = [line for line in out.splitlines() if line.startswith("== example: ")]
    assert headings[:3] == ["== example: emails ==", "== example: counter ==", "== example: ctx =="]
    assert headings == [f"== example: {name} ==" for name in EXAMPLES]
    assert "through counterWorkpool (max_parallelism 1): 0 OCC conflicts, counter = 20" in out


@checks("DET-1")
def test_trace_ctx_prints_the_example_trace_as_json_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["trace", "ctx"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    events = [json.loads(line) for line in lines]
    assert events[0]["kind"] == "world_started"
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert all(list(e) == ["t", "seq", "kind", "pool", "id", "data"] for e in events)
    assert out == ctx_interface(0).worlds["world"].trace_jsonl()


def list_scheduling_makespan(jobs: int, parallelism: int) -> int:
    """An independent oracle: FIFO list scheduling of the benchmark jobs into free slots."""
    free = [0] * parallelism
    end = 0
    for i in range(jobs):
        start = heapq.heappop(free)
        heapq.heappush(free, start + duration_of(i))
        end = max(end, start + duration_of(i))
    return end


@checks("WC-1", "ORD-1", "PAR-1")
def test_bench_prints_one_line_with_the_makespan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--jobs", "200", "--parallelism", "3"]) == 0
    out = capsys.readouterr().out
    match = re.fullmatch(
        r"jobs=200 makespan_ms=(\d+) wall_s=\d+\.\d{3} jobs_per_s=\d+( peak_rss_mb=\d+)?\n", out
    )
    assert match is not None, out
    assert int(match.group(1)) == list_scheduling_makespan(200, 3)


@checks("LIF-1")
def test_lifecycle_prints_the_generated_markdown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lifecycle"]) == 0
    assert capsys.readouterr().out == lifecycle.markdown()


@checks("LIF-1")
def test_lifecycle_write_writes_the_generated_markdown(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "lifecycle.md"
    assert main(["lifecycle", "--write", str(target)]) == 0
    assert capsys.readouterr().out == ""
    assert target.read_bytes() == lifecycle.markdown().encode("utf-8")


USER_MISTAKES = [
    (("bench", "--jobs", "x"), "argument --jobs: expected a positive integer, got 'x'"),
    (("bench", "--jobs", "0"),
     "argument --jobs: expected a positive integer (at most 10,000,000), got '0'"),
    (("example", "nope"), "argument name: invalid choice: 'nope'"),
    (("trace",), "the following arguments are required: name"),
    ((), "the following arguments are required: COMMAND"),
]


@checks()
@pytest.mark.parametrize(("args", "message"), USER_MISTAKES)
def test_a_user_mistake_exits_2_with_an_error_line_and_no_traceback(
    args: tuple[str, ...], message: str
) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    last = result.stderr.splitlines()[-1]
    assert last.startswith("refmodel") and ": error: " in last
    assert message in last


@checks("CFG-1")
def test_a_refused_option_exits_2_with_the_model_message_only() -> None:
    result = run_cli("bench", "--jobs", "3", "--parallelism", "301")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == "refmodel: error: max_parallelism must be <= 300, got 301\n"


@checks()
def test_a_user_mistake_is_one_line_on_stderr() -> None:
    result = run_cli("bench", "--jobs", "x")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1


@checks()
def test_lifecycle_write_to_a_missing_directory_is_a_user_mistake(tmp_path: Path) -> None:
    result = run_cli("lifecycle", "--write", str(tmp_path / "missing" / "lifecycle.md"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1


@checks("CNF-2")
def test_conformance_explore_takes_a_seed_and_finds_nothing_on_the_model(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    out = tmp_path / "failures"
    status = main(["conformance", "--adapter", "model", "--explore", "5", "--seed", "7",
                   "--out", str(out)])
    assert status == 0
    assert capsys.readouterr().out.splitlines()[-1] == "explore: no divergence in 5 scenarios"
    assert not out.exists()


@checks("CNF-2")
def test_conformance_explore_with_another_seed_still_catches_a_lifo_program(
    tmp_path: Path,
) -> None:
    program = Path(__file__).resolve().parent / "broken_programs" / "lifo.py"
    status = main(["conformance", "--adapter", f"{sys.executable} {program}", "--explore",
                   "200", "--seed", "5", "--out", str(tmp_path)])
    assert status == 1
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", ".py"]
