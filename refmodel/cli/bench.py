"""``bench``: the benchmark workload (see :mod:`refmodel.bench`)."""

from __future__ import annotations

import argparse

from refmodel.cli.args import Commands, positive


def register(commands: Commands) -> None:
    """Add the ``bench`` command."""
    bench = commands.add_parser("bench", help="run the benchmark workload")
    bench.add_argument("--jobs", type=positive, default=100_000)
    bench.add_argument("--parallelism", type=positive, default=10)
    bench.add_argument("--trace", choices=["off", "memory", "stream"], default="off")
    bench.set_defaults(run=_bench)


def _bench(args: argparse.Namespace) -> int:
    from refmodel.bench import run_bench

    print(run_bench(args.jobs, args.parallelism, trace=args.trace).line())
    return 0
