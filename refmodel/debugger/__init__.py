"""Step-through debugging of a workload: a pdb-like debugger, "why is it waiting?", rewind
and fork.

- :func:`debug` starts the debugger (:mod:`refmodel.debugger.shell`) on a world, a function
  that builds one, or a scenario; ``python -m refmodel debug SCENARIO.json`` does the same
  from the command line.
- :func:`explain` (also ``world.explain(work_id)``) answers why a work item is where it is
  (:mod:`refmodel.debugger.explain`).
- :class:`Session` is the debugger's engine, usable on its own: moves, rewind by replay,
  fork with one change, look-ahead (:mod:`refmodel.debugger.session`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import IO, Any

from refmodel.debugger.explain import explain
from refmodel.debugger.session import (
    DebugError,
    Edit,
    Move,
    NotReplayable,
    Recipe,
    RewindUnavailable,
    Session,
    scenario_from_file,
)
from refmodel.errors import InvalidType
from refmodel.scenario import Scenario, load
from refmodel.values import short
from refmodel.world import World


def session_for(target: Any, *, seed: int | None = None) -> Session:
    """A :class:`Session` for what :func:`debug` accepts.

    Raises:
        InvalidType: ``target`` is none of those; ScenarioError: a bad scenario.
    """
    if isinstance(target, World):
        return Session(world=target)
    if isinstance(target, str):
        return Session.from_scenario(scenario_from_file(target), seed=seed)
    if isinstance(target, Scenario):
        return Session.from_scenario(target, seed=seed)
    if isinstance(target, Mapping):
        return Session.from_scenario(load(target), seed=seed)
    if callable(target):
        return Session(Recipe(build=target))
    raise InvalidType(
        "debug takes a World, a zero-argument function that builds one, a Scenario, a "
        f"scenario's JSON object or the path of a scenario file; got {short(target)}"
    )


def debug(
    target: World | Callable[[], World] | Scenario | Mapping[str, Any] | str,
    *,
    commands: str | None = None,
    seed: int | None = None,
    stdin: IO[str] | None = None,
    stdout: IO[str] | None = None,
) -> int:
    """Debug a workload in the manner of pdb.

    Args:
        target: a :class:`World` (stepping only: a world object cannot be built again), a
            zero-argument function that builds the world (stepping, rewind, fork and
            look-ahead), a :class:`Scenario`, a scenario's JSON object, or the path of a
            scenario or conformance fixture file.
        commands: debugger commands, one a line, run as a script instead of reading them.
        seed: for a scenario, a seed other than its own.
        stdin, stdout: where commands come from (a terminal: interactively) and output goes.

    Returns:
        0, or 2 when a scripted command was rejected.

    Raises:
        InvalidType, ScenarioError, InvalidArgument: the target cannot be debugged.
    """
    import io

    from refmodel.debugger.shell import Debugger

    session = session_for(target, seed=seed)
    source = io.StringIO(commands) if commands is not None else (stdin or sys.stdin)
    script = commands is not None or not source.isatty()
    shell = Debugger(session, stdin=source, stdout=stdout or sys.stdout, script=script)
    return shell.run()


__all__ = [
    "DebugError",
    "Edit",
    "Move",
    "NotReplayable",
    "Recipe",
    "RewindUnavailable",
    "Session",
    "debug",
    "explain",
    "session_for",
]
