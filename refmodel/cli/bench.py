"""``bench``: the benchmark workloads (see :mod:`refmodel.bench`)."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from refmodel.cli.args import Commands, bounded, positive
from refmodel.errors import InvalidArgument

MAX_BENCH_JOBS = 10_000_000
"""The most jobs ``bench`` runs (in all, or worlds x jobs per world): ten million jobs take about
2 GB; a larger number is refused instead of growing memory until the machine gives out."""


def register(commands: Commands) -> None:
    """Add the ``bench`` command."""
    bench = commands.add_parser("bench", help="run the benchmark workload")
    bench.add_argument("--jobs", type=bounded(MAX_BENCH_JOBS), default=100_000, metavar="N",
                       help=f"jobs in all (default 100000, at most {MAX_BENCH_JOBS:,}: about "
                       "200 MB a million)")
    bench.add_argument("--parallelism", type=positive, default=10, metavar="P",
                       help="maxParallelism of the one pool (default 10; the profile's bounds "
                       "apply)")
    bench.add_argument("--trace", choices=["off", "memory", "stream"], default="off",
                       help="the trace: off (default), kept in memory, or streamed as JSON "
                       "Lines to a null sink")
    bench.add_argument("--functions", choices=["declared", "coroutine", "both"],
                       default="declared",
                       help="the job declared as data (default), as an async def, or both")
    bench.add_argument("--compare", choices=["simpy"],
                       help="also run the workload in SimPy, in this process, and compare")
    bench.add_argument("--worlds", type=bounded(MAX_BENCH_JOBS), metavar="N",
                       help="small-worlds mode: this many worlds, each built, run and drained")
    bench.add_argument("--jobs-per-world", type=bounded(MAX_BENCH_JOBS), default=10,
                       metavar="N",
                       help="jobs per world in small-worlds mode (default 10)")
    bench.add_argument("--repeat", type=bounded(100), default=1, metavar="K",
                       help="run each contender this many times, interleaved, and report the "
                       "fastest run of each (default 1)")
    bench.set_defaults(run=_bench)


def _bench(args: argparse.Namespace) -> int:
    from refmodel.bench import (
        FUNCTIONS,
        BenchResult,
        compare,
        run_bench,
        run_simpy,
        run_simpy_small_worlds,
        run_small_worlds,
        settle,
        simpy_available,
    )

    if args.worlds is not None and args.worlds * args.jobs_per_world > MAX_BENCH_JOBS:
        raise InvalidArgument(
            f"--worlds {args.worlds} x --jobs-per-world {args.jobs_per_world} is more than "
            f"{MAX_BENCH_JOBS:,} jobs"
        )
    if args.compare == "simpy" and not simpy_available():
        raise InvalidArgument("--compare simpy needs SimPy, an optional extra: pip install simpy")
    functions = FUNCTIONS if args.functions == "both" else (args.functions,)
    labelled = args.compare is not None or len(functions) > 1 or args.worlds is not None

    def ours(kind: str) -> BenchResult:
        if args.worlds is not None:
            return run_small_worlds(
                args.worlds, args.jobs_per_world, args.parallelism, functions=kind
            )
        return run_bench(args.jobs, args.parallelism, trace=args.trace, functions=kind)

    def theirs() -> BenchResult:
        if args.worlds is not None:
            return run_simpy_small_worlds(args.worlds, args.jobs_per_world, args.parallelism)
        return run_simpy(args.jobs, args.parallelism)

    contenders: list[Callable[[], BenchResult]] = [
        lambda kind=kind: ours(kind) for kind in functions  # type: ignore[misc]
    ]
    if args.compare == "simpy":
        contenders.append(theirs)
    best: list[BenchResult | None] = [None] * len(contenders)
    for _ in range(args.repeat):
        for i, run in enumerate(contenders):
            settle()
            result = run()
            fastest = best[i]
            if fastest is None or result.wall_s < fastest.wall_s:
                best[i] = result
    results = [result for result in best if result is not None]
    for result in results:
        print(result.line(labelled=labelled))
    if args.compare == "simpy":
        for result in results[:-1]:
            print(compare(result, results[-1]))
    return 0
