"""``bench``: the benchmark workloads (see :mod:`refmodel.bench`)."""

from __future__ import annotations

import argparse

from refmodel.cli.args import Commands, positive
from refmodel.errors import InvalidArgument


def register(commands: Commands) -> None:
    """Add the ``bench`` command."""
    bench = commands.add_parser("bench", help="run the benchmark workload")
    bench.add_argument("--jobs", type=positive, default=100_000,
                       help="jobs in all (default 100000)")
    bench.add_argument("--parallelism", type=positive, default=10)
    bench.add_argument("--trace", choices=["off", "memory", "stream"], default="off")
    bench.add_argument("--functions", choices=["declared", "coroutine", "both"],
                       default="declared",
                       help="the job declared as data (default), as an async def, or both")
    bench.add_argument("--compare", choices=["simpy"],
                       help="also run the workload in SimPy, in this process, and compare")
    bench.add_argument("--worlds", type=positive,
                       help="small-worlds mode: this many worlds, each built, run and drained")
    bench.add_argument("--jobs-per-world", type=positive, default=10,
                       help="jobs per world in small-worlds mode (default 10)")
    bench.set_defaults(run=_bench)


def _bench(args: argparse.Namespace) -> int:
    from refmodel.bench import (
        FUNCTIONS,
        compare,
        run_bench,
        run_simpy,
        run_simpy_small_worlds,
        run_small_worlds,
        settle,
        simpy_available,
    )

    if args.compare == "simpy" and not simpy_available():
        raise InvalidArgument("--compare simpy needs SimPy, an optional extra: pip install simpy")
    functions = FUNCTIONS if args.functions == "both" else (args.functions,)
    labelled = args.compare is not None or len(functions) > 1 or args.worlds is not None
    ours = []
    for kind in functions:
        settle()
        if args.worlds is not None:
            result = run_small_worlds(
                args.worlds, args.jobs_per_world, args.parallelism, functions=kind
            )
        else:
            result = run_bench(args.jobs, args.parallelism, trace=args.trace, functions=kind)
        ours.append(result)
        print(result.line(labelled=labelled))
    if args.compare == "simpy":
        settle()
        if args.worlds is not None:
            theirs = run_simpy_small_worlds(args.worlds, args.jobs_per_world, args.parallelism)
        else:
            theirs = run_simpy(args.jobs, args.parallelism)
        print(theirs.line(labelled=True))
        for result in ours:
            print(compare(result, theirs))
    return 0
