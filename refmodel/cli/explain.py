"""Commands that show the model: ``example``, ``trace``, ``lifecycle`` and ``profiles``.

- ``example [NAME]``: play one of the seed README's examples (``emails``, ``counter``,
  ``ctx``, ``retries`` or ``all``) and print its summary and timelines.
- ``trace NAME``: play an example and print its first world's trace as JSON Lines.
- ``lifecycle``: print (or ``--write``) ``specs/lifecycle.md``, generated from the code.
- ``profiles``: the shortest scenario on which the seed and current profiles disagree about
  cancelling running work, and where they part.
"""

from __future__ import annotations

import argparse
import sys

from refmodel.cli.args import Commands, seed
from refmodel.examples import EXAMPLES
from refmodel.workpool import lifecycle


def register(commands: Commands) -> None:
    """Add the commands of this module."""
    example = commands.add_parser("example", help="play a seed example and print its timeline")
    example.add_argument("name", nargs="?", default="emails", choices=[*EXAMPLES, "all"],
                         help="the example to play (default emails; all plays every one)")
    example.add_argument("--seed", type=seed, default=0, metavar="K",
                         help="the worlds' RNG seed (retry jitter; default 0)")
    example.set_defaults(run=_example)

    trace = commands.add_parser("trace", help="print an example's trace as JSON Lines")
    trace.add_argument("name", choices=list(EXAMPLES),
                       help="the example whose trace to print as JSON Lines")
    trace.add_argument("--seed", type=seed, default=0, metavar="K",
                       help="the world's RNG seed (retry jitter; default 0)")
    trace.set_defaults(run=_trace)

    profiles = commands.add_parser(
        "profiles", help="find the shortest scenario where seed and current disagree on cancel"
    )
    profiles.set_defaults(run=_profiles)

    life = commands.add_parser("lifecycle", help="print specs/lifecycle.md from the code")
    life.add_argument("--write", metavar="PATH", help="write it to PATH instead")
    life.set_defaults(run=_lifecycle)


def _example(args: argparse.Namespace) -> int:
    names = list(EXAMPLES) if args.name == "all" else [args.name]
    for name in names:
        print(EXAMPLES[name](args.seed).report())
    return 0


def _trace(args: argparse.Namespace) -> int:
    example = EXAMPLES[args.name](args.seed)
    first = next(iter(example.worlds.values()))
    sys.stdout.write(first.trace_jsonl())
    return 0


def _profiles(args: argparse.Namespace) -> int:
    from refmodel.divergence import shortest_cancel_disagreement

    print(shortest_cancel_disagreement().describe())
    return 0


def _lifecycle(args: argparse.Namespace) -> int:
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
