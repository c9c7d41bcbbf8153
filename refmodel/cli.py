"""The command line: ``python -m refmodel <command>`` (also installed as ``refmodel``).

Commands:
- ``example [NAME]``: play one of the seed README's examples (``emails``, ``counter``,
  ``ctx``, or ``all``) and print its summary and timelines.
- ``trace NAME``: play an example and print its first world's trace as JSON Lines.
- ``bench --jobs N --parallelism P``: the benchmark workload (see ``refmodel.bench``).
- ``profiles``: the shortest scenario on which the seed and current profiles disagree about
  cancelling running work, and where they part.
- ``lifecycle``: print (or ``--write``) ``specs/lifecycle.md``, generated from the code.
- ``fill [--out DIR]``: write the conformance fixtures (``refmodel.conformance``).
- ``conformance --adapter COMMAND [--fixtures DIR] [--explore N] [--seed K] [--out DIR]
  [--timeout S]``:
  play the fixtures (and/or explore generated scenarios) against an adapter; ``model`` is the
  in-process model. Exit 0 if no MUST fixture fails, 1 if one does, 2 on bad input.
- ``check TRACE.jsonl``: check a trace an implementation recorded against the spec's rules
  (``refmodel.checker``; ``specs/checker.md``). Exit 0: no violations; 1: violations, one a
  line; 2: the trace cannot be read.

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


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text}")
    return value


def _integer(text: str, minimum: int, wanted: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {wanted}, got {value}")
    return value


def _positive(text: str) -> int:
    return _integer(text, 1, "a positive integer")


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

    check = commands.add_parser(
        "check", help="check a recorded trace (JSON Lines) against the spec's rules"
    )
    check.add_argument("trace", metavar="TRACE.jsonl")
    check.add_argument("--profile", choices=["seed", "current"],
                       help="override the trace's world_started profile")
    for flag in ("start-lag-ms", "completion-lag-ms", "eviction-slack-ms", "timeout-slack-ms"):
        check.add_argument(f"--{flag}", type=_non_negative, default=0, metavar="MS")
    check.add_argument("--end-ms", type=_non_negative, default=None, metavar="MS",
                       help="the trace holds every event up to this instant")
    check.add_argument("--max-parallelism", type=_pool_limit, action="append", default=[],
                       metavar="POOL=N", help="a pool's maxParallelism (overrides the trace)")
    check.add_argument("--no-pool-retry", action="store_true",
                       help="do not assume the pool's defaultRetryBehavior for items whose "
                            "enqueued event gives no retry")

    fill = commands.add_parser("fill", help="write the conformance fixtures from the model")
    fill.add_argument("--out", default="specs/fixtures", metavar="DIR")

    conformance = commands.add_parser(
        "conformance", help="check an implementation against the fixtures through an adapter"
    )
    conformance.add_argument("--adapter", required=True, metavar="COMMAND",
                             help='a program speaking the adapter protocol, or "model"')
    conformance.add_argument("--fixtures", metavar="DIR",
                             help="fixtures directory (default specs/fixtures)")
    conformance.add_argument("--explore", type=_positive, metavar="N",
                             help="also compare N generated scenarios with the model")
    conformance.add_argument("--out", default="conformance-failures", metavar="DIR",
                             help="where --explore writes a minimal failing scenario")
    conformance.add_argument("--seed", type=int, default=0,
                             help="the Hypothesis seed of --explore (another seed, other "
                                  "scenarios)")
    conformance.add_argument("--timeout", type=_seconds, default=10.0, metavar="S",
                             help="seconds one adapter call may take")
    return parser


def _non_negative(text: str) -> int:
    return _integer(text, 0, "an integer >= 0")


def _pool_limit(text: str) -> tuple[str, int]:
    name, sep, number = text.partition("=")
    if not sep or not name:
        raise argparse.ArgumentTypeError(f"expected POOL=N, got {text!r}")
    return name, _non_negative(number)


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
    if args.command == "check":
        from refmodel.checker import CheckOptions, check_file

        options = CheckOptions(
            profile=args.profile,
            start_lag_ms=args.start_lag_ms,
            completion_lag_ms=args.completion_lag_ms,
            eviction_slack_ms=args.eviction_slack_ms,
            timeout_slack_ms=args.timeout_slack_ms,
            end_ms=args.end_ms,
            max_parallelism=dict(args.max_parallelism),
            assume_pool_retry=not args.no_pool_retry,
        )
        report = check_file(args.trace, options)
        print(f"{args.trace}: {report.text()}")
        return 0 if report.ok else 1
    if args.command == "fill":
        from refmodel.conformance import fill_command

        return fill_command(args.out)
    if args.command == "conformance":
        from refmodel.conformance import conformance_command

        return conformance_command(args.adapter, args.fixtures, args.explore, args.out,
                                   args.timeout, seed=args.seed)
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
