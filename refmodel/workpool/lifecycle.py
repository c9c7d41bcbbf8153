"""The one lifecycle of a work item: its states, and the table that decides every change.

Theory of operation. A work item is in exactly one :class:`State`. A row of the table
(:class:`Transition`) says, for a state and a :class:`Trigger`, the state the item goes to,
the trace event that records it, and the :class:`Effect` that follows; the pool
(:mod:`refmodel.workpool.pool`) looks the row up and applies it, and refuses a pair the table
does not list (rule LIF-1). Nothing about what a transition does is decided beside the table:
whether a cancel stops running work or lets it finish, whether a failure that would have been
retried ends canceled, is a row.

A :class:`Lifecycle` is the table of one semantics profile. The built-in rows
(:data:`TRANSITIONS`) name the profiles they hold in; a profile of one's own
(:class:`~refmodel.workpool.profiles.Profile`) can take them and change a row.
``specs/lifecycle.md`` is generated from :data:`TRANSITIONS` (``python -m refmodel lifecycle``),
so the picture cannot drift from the code.

Everything a user sees of a work item is a projection of its state: the seed API's status
(``pending`` / ``inProgress`` / ``success`` / ``error`` / ``evicted``), the current API's status
(``pending`` / ``running`` with ``previous_attempts`` / ``finished``), trace events, metrics
and pictures. Special cases, beside the table on purpose:

- ``PENDING --cancel--> CANCELED`` skips ``RUNNING``: canceled pending work never starts
  (rule CAN-1), and the same holds between attempts (``RETRYING``).
- ``RUNNING --retry--> RETRYING``: a failed attempt that will be retried waits *without a
  slot* (rule RTY-3) and then starts again from ``RETRYING``. Whether it is retried is the
  profile's retry policy (RTY-1); the row says what happens then.
- ``RUNNING --cancel-->`` differs by profile: the seed profile abandons the attempt
  (``CANCELED``, rule CAN-2); the current one lets it run (``CANCELING``, rule CAN-6), after
  which its real result stands, except that a failure that would have been retried becomes
  ``CANCELED``.
- ``TIMED_OUT`` and ``EVICTED`` exist in the seed profile only: the current component has
  neither timeouts nor retained results. In the current profile a finished item is forgotten at
  its terminal transition; that is retention (:mod:`refmodel.workpool.retention`), not a row.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

import attrs

from refmodel.engine.runtime import ModelFault
from refmodel.errors import InvalidArgument


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


class Effect(enum.Enum):
    """What the pool does once a row has moved an item to its target state."""

    LAUNCH = "launch"
    """Take a slot and start an attempt (the ``started`` event)."""
    WAIT = "wait"
    """The attempt ended and will be retried: wait a jittered backoff without a slot, then
    compete for a slot again (``retrying``; rules RTY-2, RTY-3)."""
    FINISH = "finish"
    """The item ended: record its outcome, call its onComplete, keep or forget its result,
    wake whoever polls it (``succeeded``, ``failed``, ``canceled``, ``timed_out``)."""
    ABANDON = "abandon"
    """Stop the running attempt now (no later effect of it), free its slot, then FINISH
    (rules CAN-2, TMO-2)."""
    NOTE = "note"
    """Only record the event (``cancel_requested``: the attempt runs on; rule CAN-6)."""
    FORGET = "forget"
    """Drop the retained result (``evicted``; rule TTL-1)."""

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


@attrs.frozen(kw_only=True)
class Transition:
    """One row of the table: ``source --trigger--> target``, recorded as ``event``, followed by
    ``effect``, in the profiles named by ``profiles``."""

    source: State
    trigger: Trigger
    target: State
    event: str
    effect: Effect
    profiles: tuple[str, ...] = BOTH


def _row(
    source: State, trigger: Trigger, target: State, event: str, effect: Effect,
    profiles: tuple[str, ...],
) -> Transition:
    return Transition(
        source=source, trigger=trigger, target=target, event=event, effect=effect,
        profiles=profiles,
    )


_L, _W, _F, _A, _N, _X = (
    Effect.LAUNCH, Effect.WAIT, Effect.FINISH, Effect.ABANDON, Effect.NOTE, Effect.FORGET,
)

TRANSITIONS: tuple[Transition, ...] = (
    _row(PENDING, Trigger.START, RUNNING, "started", _L, BOTH),
    _row(PENDING, Trigger.CANCEL, CANCELED, "canceled", _F, BOTH),
    _row(RETRYING, Trigger.START, RUNNING, "started", _L, BOTH),
    _row(RETRYING, Trigger.CANCEL, CANCELED, "canceled", _F, BOTH),
    _row(RUNNING, Trigger.SUCCEED, SUCCEEDED, "succeeded", _F, BOTH),
    _row(RUNNING, Trigger.FAIL, FAILED, "failed", _F, BOTH),
    _row(RUNNING, Trigger.RETRY, RETRYING, "retrying", _W, BOTH),
    _row(RUNNING, Trigger.CANCEL, CANCELED, "canceled", _A, SEED),
    _row(RUNNING, Trigger.TIMEOUT, TIMED_OUT, "timed_out", _A, SEED),
    _row(RUNNING, Trigger.CANCEL, CANCELING, "cancel_requested", _N, CURRENT),
    _row(CANCELING, Trigger.SUCCEED, SUCCEEDED, "succeeded", _F, CURRENT),
    _row(CANCELING, Trigger.FAIL, FAILED, "failed", _F, CURRENT),
    _row(CANCELING, Trigger.RETRY, CANCELED, "canceled", _F, CURRENT),
    _row(SUCCEEDED, Trigger.EVICT, EVICTED, "evicted", _X, SEED),
    _row(FAILED, Trigger.EVICT, EVICTED, "evicted", _X, SEED),
    _row(CANCELED, Trigger.EVICT, EVICTED, "evicted", _X, SEED),
    _row(TIMED_OUT, Trigger.EVICT, EVICTED, "evicted", _X, SEED),
)
"""Every allowed transition of the built-in profiles. Nothing else may happen (LIF-1)."""

TERMINAL: frozenset[State] = frozenset({SUCCEEDED, FAILED, CANCELED, TIMED_OUT})
"""States in which the work has finished and its outcome is known."""

ACTIVE: frozenset[State] = frozenset({RUNNING, CANCELING})
"""States in which an attempt is running and holds a slot."""

WAITING: frozenset[State] = frozenset({PENDING, RETRYING})
"""States in which the work waits to (re)start and holds no slot."""

_EFFECT_SOURCES = {
    Effect.LAUNCH: WAITING,
    Effect.WAIT: ACTIVE,
    Effect.ABANDON: ACTIVE,
    Effect.NOTE: ACTIVE,
    Effect.FORGET: TERMINAL,
}
_EFFECT_TARGETS = {
    Effect.LAUNCH: ACTIVE,
    Effect.WAIT: WAITING,
    Effect.FINISH: TERMINAL,
    Effect.ABANDON: TERMINAL,
    Effect.NOTE: ACTIVE,
    Effect.FORGET: frozenset({EVICTED}),
}


class IllegalTransition(ModelFault):
    """The model tried a transition the lifecycle table does not allow: a bug of the model."""


class Lifecycle:
    """The table of one profile, folded so that the hot path does one small dict lookup.

    Args:
        name: the profile's name (for messages).
        rows: its rows; by default the built-in rows that name ``name``.

    Raises:
        InvalidArgument: two rows for one state and trigger, or a row whose effect does not
            fit its states (a LAUNCH that does not start waiting work, a FINISH that does not
            end in a terminal state, ...).
    """

    def __init__(self, name: str, rows: Iterable[Transition] | None = None) -> None:
        chosen = (
            tuple(row for row in TRANSITIONS if name in row.profiles)
            if rows is None
            else tuple(rows)
        )
        self.name = name
        self.rows = chosen
        self._next: dict[State, dict[Trigger, Transition]] = {state: {} for state in State}
        for row in chosen:
            if row.trigger in self._next[row.source]:
                raise InvalidArgument(
                    f"two rows for {row.source.value} on {row.trigger.value} in the lifecycle "
                    f"of {name!r}"
                )
            sources = _EFFECT_SOURCES.get(row.effect)
            if (sources is not None and row.source not in sources) or (
                row.target not in _EFFECT_TARGETS[row.effect]
            ):
                raise InvalidArgument(
                    f"the row {row.source.value} --{row.trigger.value}--> {row.target.value} "
                    f"of {name!r} cannot have the effect {row.effect.value}"
                )
            self._next[row.source][row.trigger] = row

    @property
    def profile(self) -> str:
        """The profile's name."""
        return self.name

    @property
    def table(self) -> dict[State, dict[Trigger, Transition]]:
        """The rows as ``state -> trigger -> row`` (read it, do not change it)."""
        return self._next

    def row(self, state: State, trigger: Trigger) -> Transition:
        """The row for ``trigger`` in ``state``.

        Raises:
            IllegalTransition: the table has no such row (a bug of the model, never a user
                error; rule EXE-4).
        """
        found = self._next[state].get(trigger)
        if found is None:
            raise self.refusal(state, trigger)
        return found

    def refusal(self, state: State, trigger: Trigger) -> IllegalTransition:
        """The error for a transition this table does not have."""
        return IllegalTransition(
            f"no transition from {state.value} on {trigger.value} in the {self.name} profile"
        )

    def advance(self, state: State, trigger: Trigger) -> State:
        """Return the state that ``trigger`` leads to from ``state``.

        Raises:
            IllegalTransition: the table has no such transition in this profile.
        """
        return self.row(state, trigger).target

    def allowed(self, state: State, trigger: Trigger) -> bool:
        """Whether ``trigger`` may happen in ``state``."""
        return trigger in self._next[state]

    def events(self) -> dict[State, dict[str, State]]:
        """The table as ``state -> event kind -> next state``: what a trace checker follows."""
        table: dict[State, dict[str, State]] = {state: {} for state in State}
        for row in self.rows:
            table[row.source][row.event] = row.target
        return table


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
        f"`{row.event}` | {row.effect.value} | {', '.join(row.profiles)} |"
        for row in TRANSITIONS
    )
    effects = "\n".join(f"- **{effect.value}**: {_doc_of(effect)}" for effect in Effect)
    diagrams = "".join(
        f"\n## Profile `{profile}`\n\n```mermaid\n{mermaid(profile)}\n```\n" for profile in BOTH
    )
    return (
        "# Work item lifecycle\n\n"
        "Generated from `refmodel/workpool/lifecycle.py` by `python -m refmodel lifecycle`; do "
        "not edit.\nA test fails when this file and the code disagree (rule LIF-1). The pool "
        "applies these rows: each names the trace event that records the transition and the "
        "effect that follows it.\n\n"
        "| from | trigger | to | event | effect | profiles |\n"
        "| --- | --- | --- | --- | --- | --- |\n"
        f"{rows}\n\n"
        f"Effects:\n\n{effects}\n\n"
        f"Terminal states: {', '.join(f'`{s.value}`' for s in State if s in TERMINAL)}. "
        "In the current profile a finished item is forgotten at once (its status reads "
        "`finished`); in the seed profile its result is kept until it is evicted.\n"
        f"{diagrams}"
    )


_EFFECT_DOCS = {
    Effect.LAUNCH: "take a slot and start an attempt.",
    Effect.WAIT: "the attempt ended and is retried: wait a jittered backoff without a slot "
    "(RTY-2, RTY-3), then compete for a slot again.",
    Effect.FINISH: "the item ended: record its outcome, call its onComplete (ONC-1), keep its "
    "result for the ttl or forget it (TTL-1), wake whoever polls it (RES-2).",
    Effect.ABANDON: "stop the running attempt now, with no later effect of it, free its slot, "
    "then finish (CAN-2, TMO-2).",
    Effect.NOTE: "only record the event: the attempt runs on (CAN-6).",
    Effect.FORGET: "drop the retained result (TTL-1).",
}


def _doc_of(effect: Effect) -> str:
    return _EFFECT_DOCS[effect]
