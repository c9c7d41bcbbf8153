"""``fill`` and ``conformance``: the conformance kit on the command line
(:mod:`refmodel.conformance`).

- ``fill [--out DIR]``: write the conformance fixtures.
- ``conformance --adapter COMMAND [--fixtures DIR] [--explore N] [--seed K] [--out DIR]
  [--witnesses DIR] [--timeout S]``: play the fixtures (and/or explore generated scenarios)
  against an adapter; ``model`` is the in-process model. Exploring prints a coverage report
  (per rule, how many scenarios reached it). Exit 0 if no MUST fixture fails, 1 if one does,
  2 on bad input.
"""

from __future__ import annotations

import argparse

from refmodel.cli.args import Commands, bounded, path, seconds, seed


def register(commands: Commands) -> None:
    """Add the ``fill`` and ``conformance`` commands."""
    fill = commands.add_parser("fill", help="write the conformance fixtures from the model")
    fill.add_argument("--out", default="specs/fixtures", metavar="DIR", type=path,
                      help="where to write the fixtures and index.json (default "
                      "specs/fixtures)")
    fill.set_defaults(run=_fill)

    conformance = commands.add_parser(
        "conformance", help="check an implementation against the fixtures through an adapter"
    )
    conformance.add_argument("--adapter", required=True, metavar="COMMAND",
                             help='a program speaking the adapter protocol, "model" (the '
                             'model in process) or "convex" (the published '
                             '@convex-dev/workpool through adapters/convex)')
    conformance.add_argument("--workers", type=bounded(256), metavar="K",
                             help="share --explore out among K adapter processes on this "
                             "machine (the scenarios are the same whatever K)")
    conformance.add_argument("--cluster", metavar="ADDRESS",
                             help="share --explore out on a Dask distributed cluster: local, or "
                             "a scheduler address such as tcp://host:8786 (extra: cluster)")
    conformance.add_argument("--report", metavar="FILE.md", type=path,
                             help="also write a Markdown report: every declared deviation "
                             "with its rule and evidence, and every fixture's outcome")
    conformance.add_argument("--fixtures", metavar="DIR", type=path,
                             help="fixtures directory (default specs/fixtures)")
    conformance.add_argument("--explore", type=bounded(1_000_000), metavar="N",
                             help="also compare N generated scenarios with the model")
    conformance.add_argument("--out", default="conformance-failures", metavar="DIR", type=path,
                             help="where --explore writes a minimal failing scenario")
    conformance.add_argument("--seed", type=seed, default=0, metavar="K",
                             help="the Hypothesis seed of --explore (another seed, other "
                                  "scenarios)")
    conformance.add_argument("--witnesses", metavar="DIR", type=path,
                             help="where --explore writes each rule's smallest witness "
                                  "scenario, as a fixture")
    conformance.add_argument("--timeout", type=seconds, default=10.0, metavar="S",
                             help="seconds one adapter call may take")
    conformance.set_defaults(run=_conformance)


def _fill(args: argparse.Namespace) -> int:
    from refmodel.conformance import fill_command

    return fill_command(args.out)


def _conformance(args: argparse.Namespace) -> int:
    from refmodel.conformance import conformance_command

    return conformance_command(args.adapter, args.fixtures, args.explore, args.out,
                               args.timeout, seed=args.seed, witnesses=args.witnesses,
                               report=args.report, workers=args.workers,
                               cluster=args.cluster)
