"""The benchmark workloads (:mod:`refmodel.bench`, ``python -m refmodel bench``): the same
makespan whichever way the job is written, in small worlds too, and in SimPy when installed."""

from __future__ import annotations

import heapq
import re

import pytest

from refmodel.bench import (
    compare,
    duration_of,
    run_bench,
    run_simpy,
    run_simpy_small_worlds,
    run_small_worlds,
)
from refmodel.cli import main
from tests.spec import checks


def list_scheduling_makespan(first: int, jobs: int, parallelism: int) -> int:
    """An independent oracle: FIFO list scheduling of jobs ``first..first+jobs-1``."""
    free = [0] * parallelism
    end = 0
    for i in range(first, first + jobs):
        start = heapq.heappop(free)
        heapq.heappush(free, start + duration_of(i))
        end = max(end, start + duration_of(i))
    return end


@checks("WC-1", "ORD-1", "PAR-1")
@pytest.mark.parametrize("functions", ["declared", "coroutine"])
@pytest.mark.parametrize("trace", ["off", "memory", "stream"])
def test_the_workload_has_the_list_scheduling_makespan(functions: str, trace: str) -> None:
    result = run_bench(300, 4, trace=trace, functions=functions)
    assert result.makespan_ms == list_scheduling_makespan(0, 300, 4)
    assert result.label == f"refmodel {functions}"


@checks("WC-1", "PAR-1")
def test_small_worlds_report_the_sum_of_their_makespans_and_worlds_per_second() -> None:
    result = run_small_worlds(7, 5, 2)
    assert result.makespan_ms == sum(list_scheduling_makespan(5 * w, 5, 2) for w in range(7))
    assert (result.worlds, result.jobs) == (7, 35)
    assert re.search(r"worlds=7 jobs=35 .* worlds_per_s=\d+", result.line())


@checks("WC-1")
def test_simpy_runs_the_same_workload_to_the_same_makespan() -> None:
    pytest.importorskip("simpy")
    ours = run_bench(200, 3)
    theirs = run_simpy(200, 3)
    assert theirs.makespan_ms == ours.makespan_ms
    assert "makespan equal" in compare(ours, theirs)
    small = run_simpy_small_worlds(4, 6, 2)
    assert small.makespan_ms == run_small_worlds(4, 6, 2).makespan_ms


@checks()
def test_bench_compare_prints_both_and_the_ratio(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("simpy")
    assert main(["bench", "--jobs", "100", "--functions", "both", "--compare", "simpy"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["refmodel", "refmodel", "simpy", "refmodel",
                                                   "refmodel"]
    assert all("makespan equal" in line for line in lines[3:])


@checks()
def test_bench_compare_without_simpy_is_a_user_mistake(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("refmodel.bench.simpy_available", lambda: False)
    assert main(["bench", "--jobs", "10", "--compare", "simpy"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        "refmodel: error: --compare simpy needs SimPy, an optional extra: pip install simpy\n"
    )
    assert captured.out == ""


@checks()
def test_bench_repeat_reports_the_fastest_run_of_each(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--jobs", "50", "--repeat", "3", "--functions", "both"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["refmodel", "declared"],
                                                     ["refmodel", "coroutine"]]
    assert all(f"makespan_ms={list_scheduling_makespan(0, 50, 10)}" in line for line in lines)
