"""How fast the trace checker reads: ``python -m refmodel.checker_bench [--jobs N]``.

It records the trace of the benchmark workload (``refmodel.bench``: N actions through one
pool of ``--parallelism`` slots, each eventually evicted; four events a job) as JSON Lines text
in memory, then times :func:`refmodel.checker.check` on those lines on the wall clock, best of
``--repeat`` runs, and in the same run a bare loop that only parses each line with the same
parser (orjson when installed, else json), and prints one line:
``events=E violations=0 wall_s=S events_per_s=R parser=P parse_only_events_per_s=Q ratio=X``
(``ratio``: the checker's rate over the bare parser's). Recording the trace is not timed.

Like ``refmodel.bench`` this measures the model's tools from outside; nothing here is part of
the model.
"""

from __future__ import annotations

import argparse
import io
import sys
import time  # wall-clock ok: the benchmark times the checker from outside
from collections.abc import Sequence
from typing import Any

from refmodel.checker import CheckOptions, check
from refmodel.checker.reader import fast_loads
from refmodel.world import World

__refmodel_user_code__ = True  # The job below is user code (rule EXE-4).


def record_trace(jobs: int, parallelism: int) -> list[str]:
    """The benchmark workload's trace as JSON Lines, one string a line."""
    text = io.StringIO()
    world = World(seed=0, trace=text)
    pool = world.pool("bench", max_parallelism=parallelism)

    @world.action("job")
    async def job(ctx: Any, args: dict[str, Any]) -> None:
        await ctx.sleep(1 + (args["i"] * 7919 % 1000))

    for i in range(jobs):
        pool.enqueue_action(world.client, job, {"i": i})
    world.run()
    return text.getvalue().splitlines(keepends=True)


def measure_parsing(lines: Sequence[str], repeat: int) -> float:
    """The best wall time of ``repeat`` bare loops that parse every line and keep nothing."""
    loads = fast_loads
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()  # wall-clock ok
        for line in lines:
            loads(line)
        best = min(best, time.perf_counter() - started)  # wall-clock ok
    return best


def measure(lines: Sequence[str], repeat: int) -> tuple[float, int]:
    """The best wall time of ``repeat`` checks of ``lines``, and the violations found."""
    best = float("inf")
    found = 0
    for _ in range(repeat):
        started = time.perf_counter()  # wall-clock ok
        report = check(lines, options=CheckOptions(end_ms=None))
        best = min(best, time.perf_counter() - started)  # wall-clock ok
        found = report.total
    return best, found


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark; print its line."""
    parser = argparse.ArgumentParser(prog="python -m refmodel.checker_bench")
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--parallelism", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    lines = record_trace(args.jobs, args.parallelism)
    parsing = measure_parsing(lines, args.repeat)
    wall, found = measure(lines, args.repeat)
    reader = str(getattr(fast_loads, "__module__", "json")).split(".")[0]
    print(
        f"events={len(lines)} violations={found} wall_s={wall:.3f} "
        f"events_per_s={len(lines) / wall:.0f} parser={reader} "
        f"parse_only_events_per_s={len(lines) / parsing:.0f} ratio={parsing / wall:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
