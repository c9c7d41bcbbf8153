"""refmodel's pytest plugin, registered as the ``pytest11`` entry point ``refmodel`` (it is
active wherever refmodel is installed).

- The ``world`` fixture: a fresh :class:`~refmodel.World` per test, seeded with
  ``--refmodel-seed`` (default 0), its trace kept in memory. Mark a test with
  ``@pytest.mark.refmodel(profile="current", seed=3)`` to give its world other arguments.
- When a test that used ``world`` fails, its report gets the world's text timeline and the
  end of its trace (``--refmodel-trace-lines``, default 40), and with
  ``--refmodel-trace-dir DIR`` the whole trace is written to ``DIR/<test>.jsonl`` (for
  ``python -m refmodel timeline`` or ``check``).

refmodel itself is imported only when a test asks for ``world``, so the plugin costs
nothing to test runs that do not use it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

_WORLD = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line options."""
    group = parser.getgroup("refmodel", "refmodel (the Convex Workpool model)")
    group.addoption("--refmodel-seed", type=int, default=0, metavar="K",
                    help="the seed of the world fixture (default 0)")
    group.addoption("--refmodel-trace-lines", type=int, default=40, metavar="N",
                    help="trace events shown in a failing test's report (default 40)")
    group.addoption("--refmodel-trace-dir", default=None, metavar="DIR",
                    help="write each failing test's world trace to DIR/<test>.jsonl")


def pytest_configure(config: pytest.Config) -> None:
    """Declare the ``refmodel`` marker."""
    config.addinivalue_line(
        "markers",
        "refmodel(**options): arguments of the world fixture's World (profile, seed, ...)",
    )


@pytest.fixture
def world(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A fresh, seeded :class:`refmodel.World` with its trace in memory."""
    from refmodel import World

    marker = request.node.get_closest_marker("refmodel")
    options = dict(marker.kwargs) if marker is not None else {}
    options.setdefault("seed", request.config.getoption("refmodel_seed"))
    made = World(**options)
    request.node.stash[_WORLD] = made
    yield made


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the world's timeline and trace to the report of a failing test."""
    report = yield
    made = item.stash.get(_WORLD, None)
    if made is None or not report.failed or report.when == "teardown":
        return report
    from refmodel.timeline import render

    config = item.config
    lines = max(0, int(config.getoption("refmodel_trace_lines")))
    events = made.trace
    shown = events[-lines:] if lines else []
    head = f"seed {made.seed}, profile {made.profile.name}, {len(events)} event(s) at {made.now} ms"
    report.sections.append(("refmodel timeline", f"{head}\n{render(events, end=made.now)}"))
    body = "".join(event.to_line() + "\n" for event in shown)
    report.sections.append((f"refmodel trace (last {len(shown)} events)", body))
    directory = config.getoption("refmodel_trace_dir")
    if directory:
        path = Path(directory) / (re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid) + ".jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(made.trace_jsonl(), encoding="utf-8")
        report.sections.append(("refmodel trace file", str(path)))
    return report
