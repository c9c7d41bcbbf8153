"""The command line: ``python -m refmodel <command>`` (also installed as ``refmodel``).

Each command lives in the module of this package named for what it does, which registers its
parser and its handler (``register(commands)``); this module assembles them and owns what is
common to all: one line on stderr and exit status 2 for a user's mistake, never a traceback.

Commands:
- ``example [NAME]``, ``trace NAME``, ``lifecycle``, ``profiles``: :mod:`refmodel.cli.explain`.
- ``bench``: :mod:`refmodel.cli.bench`.
- ``check TRACE.jsonl``: :mod:`refmodel.cli.check`.
- ``fill``, ``conformance``: :mod:`refmodel.cli.conformance`.
- ``run SCENARIO.json``: :mod:`refmodel.cli.run`; ``debug SCENARIO.json``:
  :mod:`refmodel.cli.debug`; ``timeline TRACE.jsonl``: :mod:`refmodel.cli.timeline`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from refmodel.cli import bench, check, conformance, debug, explain, run, timeline
from refmodel.cli.args import Parser
from refmodel.errors import RefmodelError

_COMMANDS = (explain, bench, check, conformance, run, debug, timeline)
"""The command modules, in the order ``--help`` lists their commands."""


def _parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="refmodel", description="The executable reference model of the Convex Workpool."
    )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=Parser
    )
    for module in _COMMANDS:
        module.register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = _parser().parse_args(argv)
    try:
        status: int = args.run(args)
        return status
    except RefmodelError as error:
        print(f"refmodel: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return 0
