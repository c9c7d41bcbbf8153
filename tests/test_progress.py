"""Progress on long work (:mod:`refmodel.progress`): drawn on a terminal's standard error
only, never into results or traces, and silent everywhere else.

Progress is tooling, not a rule of the spec: these tests cite no rule.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

from refmodel import ActionCtx, World
from refmodel.cli import main
from refmodel.progress import Progress, progress, wanted
from tests.spec import checks

ROOT = Path(__file__).resolve().parent.parent


class Terminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def jobs(n: int) -> World:
    world = World(seed=1)
    pool = world.pool("p", max_parallelism=3)

    @world.action("job")
    async def job(ctx: ActionCtx, args: dict[str, Any]) -> None:
        await ctx.sleep(10 + args["i"] % 7)

    for i in range(n):
        pool.enqueue_action(world.client, job, {"i": i})
    return world


@checks()
def test_no_bar_off_a_terminal_or_when_turned_off(monkeypatch: pytest.MonkeyPatch) -> None:
    quiet = io.StringIO()
    with progress("work", 10, stream=quiet) as bar:
        bar.advance(5)
        assert not bar.shown and bar.completed == 5
    assert quiet.getvalue() == ""
    assert wanted(Terminal())
    monkeypatch.setenv("REFMODEL_PROGRESS", "0")
    assert not wanted(Terminal())
    with progress("work", 10, stream=Terminal()) as bar:
        assert not bar.shown


@checks()
def test_a_bar_is_drawn_on_a_terminal_and_only_there(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("rich")
    screen = Terminal()
    with progress("crunch", 200, stream=screen) as bar:
        for _ in range(200):
            bar.advance()
        assert bar.shown
    assert "crunch" in screen.getvalue() and "200/200" in screen.getvalue()
    assert capsys.readouterr() == ("", "")


@checks("DET-1")
def test_following_a_pool_reports_finished_items_and_leaves_the_trace_alone() -> None:
    pytest.importorskip("rich")
    plain, followed = jobs(60), jobs(60)
    plain.run_until_idle()
    seen: list[int] = []
    with progress("jobs", 60, stream=Terminal()) as bar:
        bar.follow(followed, followed.pools["p"], every_ms=25)
        original = bar.update

        def spy(completed: int) -> None:
            seen.append(completed)
            original(completed)

        bar.update = spy  # type: ignore[method-assign]
        followed.run_until_idle()
    assert followed.trace_jsonl() == plain.trace_jsonl()
    assert followed.now == plain.now
    stats = followed.pools["p"].statistics()
    assert seen == sorted(seen) and len(seen) > 5 and seen[-1] <= stats.issued
    assert seen[-1] >= 60 - stats.max_parallelism  # The last look is within a tick of the end.
    Progress().follow(followed, followed.pools["p"], every_ms=25)  # Without a bar: nothing.
    assert followed.next_step() is None or followed.idle


@checks()
def test_run_draws_progress_on_stderr_and_prints_the_same_summary(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("rich")
    scenario = str(ROOT / "examples" / "stuck-email.json")
    main(["run", scenario])
    quiet = capsys.readouterr()
    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    main(["run", scenario])
    shown = capsys.readouterr()
    assert shown.out == quiet.out
    assert "run stuck-email" in screen.getvalue()


@checks()
def test_bench_and_explore_report_progress_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("rich")
    from refmodel.adapter import ModelAdapter
    from refmodel.bench import run_bench
    from refmodel.conformance import explore

    screen = Terminal()
    monkeypatch.setattr(sys, "stderr", screen)
    quiet = run_bench(300, 10)
    assert "bench 300 jobs" in screen.getvalue()
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert run_bench(300, 10).makespan_ms == quiet.makespan_ms
    tried: list[int] = []
    assert explore(ModelAdapter(), 3, on_example=lambda: tried.append(1)) is None
    assert len(tried) >= 3
    assert capsys.readouterr().out == ""
