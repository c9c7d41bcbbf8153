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
import os
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


EXIT_CODES = {
    0: "success: the command did its work; check and conformance found nothing wrong",
    1: "a verdict, and only a verdict: check found violations, conformance a failed MUST "
       "fixture or a divergence",
    2: "the command could not run: bad arguments or input, an unreadable file, an adapter "
       "that cannot start or breaks the protocol (one line on stderr)",
    130: "interrupted (Ctrl-C)",
}
"""What each exit status of every command means (the README's table)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status (:data:`EXIT_CODES`).

    Whatever happens, the status keeps its meaning: a command returns 1 only for a verdict, and
    anything that keeps it from running is 2 with one line on stderr, never a traceback
    (``REFMODEL_TRACEBACK=1`` shows one for an error that is refmodel's own bug).
    """
    args = _parser().parse_args(argv)
    try:
        status: int = args.run(args)
        return status
    except RefmodelError as error:
        print(f"refmodel: error: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # pragma: no cover - e.g. piped into head
        return 0
    except OSError as error:  # A file that cannot be read or written.
        where = f" {error.filename}" if error.filename else ""
        print(f"refmodel: error: cannot use{where}: {error.strerror or error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("refmodel: interrupted", file=sys.stderr)
        return 130
    except (Exception, RecursionError) as error:  # A bug of refmodel: still one line, still 2.
        if os.environ.get("REFMODEL_TRACEBACK"):
            raise
        text = " ".join(str(error).split())[:200]
        print(f"refmodel: internal error: {type(error).__name__}: {text} (a bug of refmodel, "
              "please report it; REFMODEL_TRACEBACK=1 shows where)", file=sys.stderr)
        return 2
