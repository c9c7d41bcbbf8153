"""Progress on long work, on a terminal only.

:func:`progress` is a context manager that gives a :class:`Progress` to report to. It draws a
bar on standard error with `rich <https://rich.readthedocs.io>`_ (the optional extra
``refmodel[progress]``) when that stream is a terminal, and is a silent no-op otherwise: when
the output is piped or captured (tests, CI), when rich is not installed, or when the
environment sets ``REFMODEL_PROGRESS=0``. Progress never goes to standard output, so results
and traces stay byte for byte the same with and without it.

The bar is redrawn when the work has moved by a hundredth of its total (or every
:data:`REDRAW_EVERY` steps when the total is unknown), never on a timer: refmodel starts no
thread, and rich's own refresh thread stays off.

Long runs of a world report through :meth:`Progress.follow`, which looks at a pool's
counters every so many ms of *virtual* time with :meth:`World.call_at` (a driver call that
changes nothing in the model and records no trace event), only while a bar is drawn.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

REDRAW_EVERY = 1000
"""Steps between redraws when the total is unknown."""


class Progress:
    """Where long work reports how far it is. Does nothing unless a bar is drawn."""

    def __init__(self, bar: Any = None, task: Any = None, total: int | None = None) -> None:
        self._bar = bar
        self._task = task
        self.total = total
        self.completed = 0
        self._drawn = -1

    @property
    def shown(self) -> bool:
        """Whether a bar is drawn."""
        return self._bar is not None

    def advance(self, steps: int = 1) -> None:
        """The work moved by ``steps``."""
        self.update(self.completed + steps)

    def update(self, completed: int) -> None:
        """The work is ``completed`` far (out of the total; the bar stops at the total)."""
        self.completed = completed
        if self.total is not None:
            completed = min(completed, self.total)
        if self._bar is None:
            return
        mark = completed * 100 // self.total if self.total else completed // REDRAW_EVERY
        if mark != self._drawn:
            self._drawn = mark
            self._bar.update(self._task, completed=completed, refresh=True)

    def follow(self, world: Any, pool: Any, every_ms: int) -> None:
        """Report ``pool``'s finished items (issued minus running minus waiting) every
        ``every_ms`` of virtual time while ``world`` is busy; nothing unless a bar is
        drawn. The last look is up to ``every_ms`` before the world becomes idle: report
        the final count with :meth:`update`."""
        if self._bar is None:
            return

        def tick() -> None:
            stats = pool.statistics()
            self.update(stats.issued - stats.running - stats.pending)
            if not world.idle:
                world.call_at(world.now + every_ms, tick)

        world.call_at(world.now + every_ms, tick)


def wanted(stream: TextIO) -> bool:
    """Whether a bar should be drawn on ``stream``: a terminal, and not turned off by
    ``REFMODEL_PROGRESS=0``."""
    if os.environ.get("REFMODEL_PROGRESS", "") in ("0", "off", "no"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


@contextmanager
def progress(
    description: str,
    total: int | None,
    *,
    stream: TextIO | None = None,
    enabled: bool | None = None,
) -> Iterator[Progress]:
    """Show progress of ``total`` steps (``None``: unknown) on ``stream`` (standard error).

    Args:
        description: what the work is, shown beside the bar.
        total: how many steps the work has, if known.
        stream: where to draw (default: standard error, never standard output).
        enabled: force the bar on or off; by default it is on when :func:`wanted` says so.

    Yields:
        A :class:`Progress`; a no-op one when no bar is drawn (or rich is missing).
    """
    target = stream if stream is not None else sys.stderr
    if not (wanted(target) if enabled is None else enabled):
        yield Progress(total=total)
        return
    try:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
        from rich.progress import Progress as RichProgress
    except ImportError:
        yield Progress(total=total)
        return
    console = Console(file=target, force_terminal=True)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
    with RichProgress(*columns, console=console, auto_refresh=False, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield Progress(bar, task, total)
