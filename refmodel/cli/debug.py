"""``debug SCENARIO.json``: step through a workload in a pdb-like debugger
(:mod:`refmodel.debugger.shell`).

Commands come from the terminal, or from ``--commands FILE`` (or a pipe) as a script whose
transcript is the same byte for byte on every run; a script with a rejected command exits
with status 2. ``--seed K`` plays with another seed than the scenario's. A conformance
fixture works too (its scenario is played), such as a counterexample that
``conformance --explore`` wrote.
"""

from __future__ import annotations

import argparse
import sys

from refmodel.cli.args import Commands, path, seed


def register(commands: Commands) -> None:
    """Add the ``debug`` command."""
    debug = commands.add_parser("debug", help="step through a scenario in a debugger")
    debug.add_argument("scenario", metavar="SCENARIO.json", type=path,
                       help="a scenario, or a conformance fixture (its scenario is played)")
    debug.add_argument("--commands", metavar="FILE", type=path,
                       help="run the debugger commands in FILE instead of reading them")
    debug.add_argument("--seed", type=seed, metavar="K", help="play with seed K")
    debug.set_defaults(run=_debug)


def _debug(args: argparse.Namespace) -> int:
    from refmodel.debugger import DebugError, debug

    script = None
    if args.commands is not None:
        try:
            with open(args.commands, encoding="utf-8") as source:
                script = source.read()
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or "not UTF-8 text"
            raise DebugError(f"cannot read {args.commands}: {reason}") from None
    return debug(args.scenario, commands=script, seed=args.seed, stdin=sys.stdin,
                 stdout=sys.stdout)
