"""The one lifecycle of a work item: its states, and the table of every allowed transition.

Theory of operation. A work item is in exactly one :class:`State`. Every change of state goes
through :meth:`Lifecycle.advance`, which looks the pair ``(state, trigger)`` up in the table for
the world's semantics profile and refuses anything the table does not list (rule LIF-1).
Everything a user sees of a work item is a projection of this state: the seed API's status
(``pending`` / ``inProgress`` / ``success`` / ``error`` / ``evicted``), the current API's status
(``pending`` / ``running`` with ``previous_attempts`` / ``finished``), trace events, metrics
and pictures. ``specs/lifecycle.md`` is generated from :data:`TRANSITIONS`
(``python -m refmodel lifecycle``), so the picture cannot drift from the code.

The two profiles share one table; a row says which profiles it holds in. Special cases, beside
the table on purpose:
- ``PENDING --cancel--> CANCELED`` skips ``RUNNING``: canceled pending work never starts
  (rule CAN-1), and the same holds between attempts (``RETRYING``).
- ``RUNNING --retry--> RETRYING``: a failed attempt that will be retried waits *without a
  slot* (rule RTY-3) and then starts again from ``RETRYING``.
- ``RUNNING --cancel-->`` differs by profile: the seed profile abandons the attempt
  (``CANCELED``, rule CAN-2); the current one lets it run (``CANCELING``, rule CAN-6), after
  which its real result stands, except that a failure that would have been retried becomes
  ``CANCELED``.
- ``TIMED_OUT`` and ``EVICTED`` exist in the seed profile only: the current component has
  neither timeouts nor retained results.
"""

from __future__ import annotations

import enum

import attrs

from refmodel.errors import RefmodelError


class State(enum.Enum):
    """The states of a work item."""

    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    CANCELING = "canceling"
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
    RETRY = "retry"
    CANCEL = "cancel"
    TIMEOUT = "timeout"
    EVICT = "evict"

    __hash__ = object.__hash__


PENDING = State.PENDING
RUNNING = State.RUNNING
RETRYING = State.RETRYING
CANCELING = State.CANCELING
SUCCEEDED = State.SUCCEEDED
FAILED = State.FAILED
CANCELED = State.CANCELED
TIMED_OUT = State.TIMED_OUT
EVICTED = State.EVICTED

BOTH = ("seed", "current")
SEED = ("seed",)
CURRENT = ("current",)


@attrs.frozen
class Transition:
    """One row of the table: ``source --trigger--> target`` in ``profiles``."""

    source: State
    trigger: Trigger
    target: State
    profiles: tuple[str, ...]


TRANSITIONS: tuple[Transition, ...] = (
    Transition(PENDING, Trigger.START, RUNNING, BOTH),
    Transition(PENDING, Trigger.CANCEL, CANCELED, BOTH),
    Transition(RETRYING, Trigger.START, RUNNING, BOTH),
    Transition(RETRYING, Trigger.CANCEL, CANCELED, BOTH),
    Transition(RUNNING, Trigger.SUCCEED, SUCCEEDED, BOTH),
    Transition(RUNNING, Trigger.FAIL, FAILED, BOTH),
    Transition(RUNNING, Trigger.RETRY, RETRYING, BOTH),
    Transition(RUNNING, Trigger.CANCEL, CANCELED, SEED),
    Transition(RUNNING, Trigger.TIMEOUT, TIMED_OUT, SEED),
    Transition(RUNNING, Trigger.CANCEL, CANCELING, CURRENT),
    Transition(CANCELING, Trigger.SUCCEED, SUCCEEDED, CURRENT),
    Transition(CANCELING, Trigger.FAIL, FAILED, CURRENT),
    Transition(CANCELING, Trigger.RETRY, CANCELED, CURRENT),
    Transition(SUCCEEDED, Trigger.EVICT, EVICTED, SEED),
    Transition(FAILED, Trigger.EVICT, EVICTED, SEED),
    Transition(CANCELED, Trigger.EVICT, EVICTED, SEED),
    Transition(TIMED_OUT, Trigger.EVICT, EVICTED, SEED),
)
"""Every allowed transition. Nothing else may happen (LIF-1)."""

TERMINAL: frozenset[State] = frozenset({SUCCEEDED, FAILED, CANCELED, TIMED_OUT})
"""States in which the work has finished and its outcome is known."""

ACTIVE: frozenset[State] = frozenset({RUNNING, CANCELING})
"""States in which an attempt is running and holds a slot."""

WAITING: frozenset[State] = frozenset({PENDING, RETRYING})
"""States in which the work waits to (re)start and holds no slot."""


class IllegalTransition(RefmodelError, AssertionError):
    """The model tried a transition the lifecycle table does not allow: a bug of the model."""


class Lifecycle:
    """The table folded for one profile, so that the hot path does one small dict lookup."""

    def __init__(self, profile: str) -> None:
        self.profile = profile
        self._next: dict[State, dict[Trigger, State]] = {state: {} for state in State}
        for row in TRANSITIONS:
            if profile in row.profiles:
                self._next[row.source][row.trigger] = row.target

    def advance(self, state: State, trigger: Trigger) -> State:
        """Return the state that ``trigger`` leads to from ``state``.

        Raises:
            IllegalTransition: the table has no such transition in this profile (a bug of
                the model, never a user error; rule EXE-4).
        """
        target = self._next[state].get(trigger)
        if target is None:
            raise IllegalTransition(
                f"no transition from {state.value} on {trigger.value} in the {self.profile} "
                "profile"
            )
        return target

    def allowed(self, state: State, trigger: Trigger) -> bool:
        """Whether ``trigger`` may happen in ``state``."""
        return trigger in self._next[state]


def mermaid(profile: str) -> str:
    """The lifecycle of ``profile`` as a Mermaid state diagram."""
    lines = ["stateDiagram-v2", "    [*] --> pending: enqueue"]
    for row in TRANSITIONS:
        if profile in row.profiles:
            lines.append(f"    {row.source.value} --> {row.target.value}: {row.trigger.value}")
    return "\n".join(lines)


def markdown() -> str:
    """The text of ``specs/lifecycle.md``: the table and a diagram per profile."""
    rows = "\n".join(
        f"| `{row.source.value}` | `{row.trigger.value}` | `{row.target.value}` | "
        f"{', '.join(row.profiles)} |"
        for row in TRANSITIONS
    )
    diagrams = "".join(
        f"\n## Profile `{profile}`\n\n```mermaid\n{mermaid(profile)}\n```\n" for profile in BOTH
    )
    return (
        "# Work item lifecycle\n\n"
        "Generated from `refmodel/lifecycle.py` by `python -m refmodel lifecycle`; do not edit.\n"
        "A test fails when this file and the code disagree (rule LIF-1).\n\n"
        "| from | trigger | to | profiles |\n| --- | --- | --- | --- |\n"
        f"{rows}\n\n"
        f"Terminal states: {', '.join(f'`{s.value}`' for s in State if s in TERMINAL)}. "
        "In the current profile a finished item is forgotten at once (its status reads "
        "`finished`); in the seed profile its result is kept until it is evicted.\n"
        f"{diagrams}"
    )
