"""``timeline TRACE.jsonl``: draw a trace file (:mod:`refmodel.timeline`).

``--format text`` (the default) is the terminal picture with its legend; ``perfetto`` is
Chrome trace-event JSON for ui.perfetto.dev and ``chrome://tracing``; ``svg`` is a
self-contained picture for READMEs and CI artifacts. ``-o FILE`` writes to FILE instead of
standard output. An unreadable trace gets one line naming the file and line, and nothing
is written.
"""

from __future__ import annotations

import argparse
import os
import sys

from refmodel.cli.args import Commands, bounded, path, positive


def register(commands: Commands) -> None:
    """Add the ``timeline`` command."""
    timeline = commands.add_parser("timeline", help="draw a trace file: text, Perfetto or SVG")
    timeline.add_argument("trace", metavar="TRACE.jsonl", type=path,
                          help="a trace in JSON Lines")
    timeline.add_argument("--format", choices=["text", "perfetto", "svg"], default="text",
                          help="text (default, with a legend), perfetto (Chrome trace-event "
                          "JSON) or svg")
    timeline.add_argument("-o", "--output", metavar="FILE", type=path, help="write to FILE")
    timeline.add_argument("--scale", type=positive, metavar="MS",
                          help="text: ms per column (default: fit --width)")
    timeline.add_argument("--width", type=bounded(10_000), default=60, metavar="N",
                          help="text: columns when --scale is not given (default 60)")
    timeline.set_defaults(run=_timeline)


def _timeline(args: argparse.Namespace) -> int:
    from refmodel.timeline import TraceFileError, perfetto_json, read_trace, render, to_svg

    events = read_trace(args.trace)
    title = os.path.basename(args.trace)
    if args.format == "perfetto":
        text = perfetto_json(events, title=title)
    elif args.format == "svg":
        text = to_svg(events, title=title)
    else:
        text = render(events, scale=args.scale, width=args.width)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as out:
            out.write(text)
    except OSError as error:
        raise TraceFileError(f"cannot write {args.output}: {error.strerror}") from None
    return 0
