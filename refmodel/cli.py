"""The command line: ``python -m refmodel <command>`` (also installed as ``refmodel``).

Commands:
- ``example [NAME]``: play one of the seed README's examples (``emails``, ``counter``,
  ``ctx``, or ``all``) and print its summary and timelines.
- ``trace NAME``: play an example and print its first world's trace as JSON Lines.
- ``bench --jobs N --parallelism P``: the benchmark workload (see ``refmodel.bench``).
- ``profiles``: the shortest scenario on which the seed and current profiles disagree about
  cancelling running work, and where they part.
- ``lifecycle``: print (or ``--write``) ``specs/lifecycle.md``, generated from the code.

A user's mistake (an unknown name, a bad number) gets one line on stderr and exit status 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from refmodel import lifecycle
from refmodel.errors import RefmodelError
from refmodel.examples import EXAMPLES


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog.split()[0]} --help)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="refmodel", description="The executable reference model of the Convex Workpool."
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    example = commands.add_parser("example", help="play a seed example and print its timeline")
    example.add_argument("name", nargs="?", default="emails", choices=[*EXAMPLES, "all"])
    example.add_argument("--seed", type=int, default=0)

    trace = commands.add_parser("trace", help="print an example's trace as JSON Lines")
    trace.add_argument("name", choices=list(EXAMPLES))
    trace.add_argument("--seed", type=int, default=0)

    bench = commands.add_parser("bench", help="run the benchmark workload")
    bench.add_argument("--jobs", type=_positive, default=100_000)
    bench.add_argument("--parallelism", type=_positive, default=10)
    bench.add_argument("--trace", choices=["off", "memory", "stream"], default="off")

    commands.add_parser(
        "profiles", help="find the shortest scenario where seed and current disagree on cancel"
    )

    life = commands.add_parser("lifecycle", help="print specs/lifecycle.md from the code")
    life.add_argument("--write", metavar="PATH", help="write it to PATH instead")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        return _dispatch(args)
    except RefmodelError as error:
        print(f"refmodel: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return 0


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "example":
        names = list(EXAMPLES) if args.name == "all" else [args.name]
        for name in names:
            print(EXAMPLES[name](args.seed).report())
        return 0
    if args.command == "trace":
        example = EXAMPLES[args.name](args.seed)
        first = next(iter(example.worlds.values()))
        sys.stdout.write(first.trace_jsonl())
        return 0
    if args.command == "bench":
        from refmodel.bench import run_bench

        print(run_bench(args.jobs, args.parallelism, trace=args.trace).line())
        return 0
    if args.command == "profiles":
        from refmodel.profiles import shortest_cancel_disagreement

        print(shortest_cancel_disagreement().describe())
        return 0
    assert args.command == "lifecycle"
    text = lifecycle.markdown()
    if args.write:
        try:
            with open(args.write, "w", encoding="utf-8") as out:
                out.write(text)
        except OSError as error:
            print(f"refmodel: error: cannot write {args.write}: {error.strerror}", file=sys.stderr)
            return 2
    else:
        sys.stdout.write(text)
    return 0
