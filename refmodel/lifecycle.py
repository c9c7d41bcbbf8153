"""The one lifecycle of a work item: its states, and the table of every allowed transition.

Theory of operation. A work item is in exactly one :class:`State`. Every change of state goes
through :func:`advance`, which looks the pair ``(state, trigger)`` up in :data:`TRANSITIONS`
and refuses anything the table does not list (rule LIF-1). Everything a user sees of a work
item is a projection of this state: the seed API's status (``pending`` / ``inProgress`` /
``success`` / ``error`` / ``evicted``), trace events, metrics and pictures. The diagram in
``specs/lifecycle.md`` is generated from the table (``python -m refmodel lifecycle``), so the
picture cannot drift from the code.

Special cases, beside the table on purpose:
- ``PENDING --cancel--> CANCELED`` skips ``RUNNING``: canceled pending work never starts
  (rule CAN-1).
- ``RUNNING --cancel--> CANCELED`` and ``RUNNING --timeout--> TIMED_OUT`` abandon the running
  attempt: its later effects never happen (rules CAN-2, TMO-2).
- Eviction is a state of its own so that a status read after the TTL has a defined answer
  (rule STS-3) rather than looking like an unknown id.
"""

from __future__ import annotations

import enum

from refmodel.errors import RefmodelError


class State(enum.Enum):
    """The states of a work item."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    TIMED_OUT = "timed_out"
    EVICTED = "evicted"

    # Members are singletons: identity hashing is exact, and much cheaper than Enum's
    # name-based hash on the per-event path.
    __hash__ = object.__hash__


class Trigger(enum.Enum):
    """What makes a work item change state."""

    START = "start"
    SUCCEED = "succeed"
    FAIL = "fail"
    CANCEL = "cancel"
    TIMEOUT = "timeout"
    EVICT = "evict"

    __hash__ = object.__hash__


PENDING = State.PENDING
RUNNING = State.RUNNING
SUCCEEDED = State.SUCCEEDED
FAILED = State.FAILED
CANCELED = State.CANCELED
TIMED_OUT = State.TIMED_OUT
EVICTED = State.EVICTED

TRANSITIONS: dict[tuple[State, Trigger], State] = {
    (PENDING, Trigger.START): RUNNING,
    (PENDING, Trigger.CANCEL): CANCELED,
    (RUNNING, Trigger.SUCCEED): SUCCEEDED,
    (RUNNING, Trigger.FAIL): FAILED,
    (RUNNING, Trigger.CANCEL): CANCELED,
    (RUNNING, Trigger.TIMEOUT): TIMED_OUT,
    (SUCCEEDED, Trigger.EVICT): EVICTED,
    (FAILED, Trigger.EVICT): EVICTED,
    (CANCELED, Trigger.EVICT): EVICTED,
    (TIMED_OUT, Trigger.EVICT): EVICTED,
}
"""Every allowed transition: ``(from, trigger) -> to``. Nothing else may happen (LIF-1)."""

TERMINAL: frozenset[State] = frozenset({SUCCEEDED, FAILED, CANCELED, TIMED_OUT})
"""States in which the work has finished and its outcome is readable."""

FINISHED: frozenset[State] = TERMINAL | {EVICTED}
"""States from which the work will never run again."""

# The table folded by state, so that the hot path does one small dict lookup.
_NEXT: dict[State, dict[Trigger, State]] = {state: {} for state in State}
for (_source, _trigger), _target in TRANSITIONS.items():
    _NEXT[_source][_trigger] = _target


class IllegalTransition(RefmodelError, AssertionError):
    """The model tried a transition the lifecycle table does not allow: a bug of the model."""


def advance(state: State, trigger: Trigger) -> State:
    """Return the state that ``trigger`` leads to from ``state``.

    Raises:
        IllegalTransition: the table has no such transition (a bug of the model, never a user
            error; rule EXE-4).
    """
    target = _NEXT[state].get(trigger)
    if target is None:
        raise IllegalTransition(f"no transition from {state.value} on {trigger.value}")
    return target


def allowed(state: State, trigger: Trigger) -> bool:
    """Whether ``trigger`` may happen in ``state``."""
    return trigger in _NEXT[state]


def mermaid() -> str:
    """The lifecycle table as a Mermaid state diagram."""
    lines = ["stateDiagram-v2", "    [*] --> pending: enqueue"]
    for (source, trigger), target in TRANSITIONS.items():
        lines.append(f"    {source.value} --> {target.value}: {trigger.value}")
    lines.append("    evicted --> [*]")
    return "\n".join(lines)


def markdown() -> str:
    """The text of ``specs/lifecycle.md``: the table and the diagram."""
    rows = "\n".join(
        f"| `{source.value}` | `{trigger.value}` | `{target.value}` |"
        for (source, trigger), target in TRANSITIONS.items()
    )
    return (
        "# Work item lifecycle\n\n"
        "Generated from `refmodel/lifecycle.py` by `python -m refmodel lifecycle`; do not edit.\n"
        "A test fails when this file and the code disagree (rule LIF-1).\n\n"
        "| from | trigger | to |\n| --- | --- | --- |\n"
        f"{rows}\n\n"
        f"Terminal states: {', '.join(f'`{s.value}`' for s in State if s in TERMINAL)}.\n\n"
        "```mermaid\n"
        f"{mermaid()}\n"
        "```\n"
    )
