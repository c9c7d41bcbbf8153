"""What the checker is told and what it tells: its options, violations and report."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from refmodel.constants import DEVIATIONS
from refmodel.errors import InvalidArgument
from refmodel.workpool.options import PROFILES


def _non_negative(instance: Any, attribute: Any, value: Any) -> None:
    if type(value) is not int:
        raise InvalidArgument(
            f"{attribute.name} must be an int number of ms, got {value!r} "
            f"({type(value).__name__})"
        )
    if value < 0:
        raise InvalidArgument(f"{attribute.name} must be >= 0, got {value}")


def _optional_non_negative(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None:
        _non_negative(instance, attribute, value)


def _profile_or_none(instance: Any, attribute: Any, value: Any) -> None:
    if value is not None and value not in PROFILES:
        raise InvalidArgument(f"profile must be one of {list(PROFILES)}, got {value!r}")


def _parallelisms(instance: Any, attribute: Any, value: Any) -> None:
    for pool, limit in value.items():
        if type(pool) is not str or type(limit) is not int or limit < 0:
            raise InvalidArgument(
                f"max_parallelism must map pool names to ints >= 0, got {pool!r}: {limit!r}"
            )


def _deviations(instance: Any, attribute: Any, value: Any) -> None:
    if not isinstance(value, frozenset):
        raise InvalidArgument(f"deviations must be a frozenset of names, got {value!r}")
    for name in sorted(value, key=str):
        if name not in DEVIATIONS:
            raise InvalidArgument(
                f"unknown deviation {name!r}; known: {', '.join(sorted(DEVIATIONS))}"
            )


@attrs.frozen(kw_only=True)
class CheckOptions:
    """What the checker assumes beyond the trace.

    Attributes:
        profile: the semantics profile; ``None`` takes the trace's ``world_started`` (else
            ``seed``). Given, it overrides the trace.
        start_lag_ms: L of spec §8: a start may come up to L ms after the instant WC-1 gives,
            and starts may leave FIFO order only among items eligible for less than L ms.
        completion_lag_ms: C of spec §8: a terminal event may be recorded up to C ms late, so
            a running attempt may outlive its timeout by C ms; a declared onComplete is owed
            within C ms of the terminal event; a slot freed by an ending attempt may be refilled
            up to L + C ms later (WC-1, LIV-1); a cancel takes effect within C ms; a status
            read up to C ms after a transition may still show the state before it.
        early_start_ms: A of spec §8: a start may come up to A ms *before* its ``runAt`` or
            ``retryAt`` (ORD-2, RTY-2), and starts may leave FIFO order among items whose
            eligibility times differ by less than A ms (ORD-1).
        eviction_slack_ms: V of spec §8: eviction in ``[finish + ttl, finish + ttl + V]``.
        timeout_slack_ms: T of spec §8: ``timed_out`` in ``[start + timeout, ... + T]``.
        max_parallelism: per pool name, a ``maxParallelism`` that overrides the trace's
            ``pool_created`` (later ``config_updated`` events still apply).
        end_ms: the trace holds every event up to and including this instant; ``None``: the
            last event's instant may be incomplete, so only earlier instants are settled.
        assume_pool_retry: without an ``enqueued`` ``retry`` field, take the pool's
            ``defaultRetryBehavior`` for an action (and no retries for other work), for RTY-2
            and RTY-4; ``False`` skips those checks for such items.
        max_violations: keep at most this many violations (all are counted).
        deviations: names of documented deviations (``DEVIATIONS``, spec §7) the implementation
            declares; each admits one behaviour its rule otherwise forbids.

    Raises:
        InvalidArgument: a value out of its bounds, named with the value.
    """

    profile: str | None = attrs.field(default=None, validator=_profile_or_none)
    start_lag_ms: int = attrs.field(default=0, validator=_non_negative)
    completion_lag_ms: int = attrs.field(default=0, validator=_non_negative)
    eviction_slack_ms: int = attrs.field(default=0, validator=_non_negative)
    timeout_slack_ms: int = attrs.field(default=0, validator=_non_negative)
    early_start_ms: int = attrs.field(default=0, validator=_non_negative)
    max_parallelism: Mapping[str, int] = attrs.field(factory=dict, validator=_parallelisms)
    end_ms: int | None = attrs.field(default=None, validator=_optional_non_negative)
    assume_pool_retry: bool = True
    max_violations: int = attrs.field(default=1000, validator=_non_negative)
    deviations: frozenset[str] = attrs.field(default=frozenset(), validator=_deviations)


@attrs.frozen
class EventRef:
    """One event of the trace: its line number (from 1) and its ``seq`` (always equal, since
    the schema makes ``seq`` count the events from 1, one a line)."""

    line: int
    seq: int

    def __str__(self) -> str:
        return f"line {self.line} (seq {self.seq})"


@attrs.frozen(kw_only=True)
class Violation:
    """A broken rule: its ID, what happened, and the events involved (in trace order)."""

    rule: str
    message: str
    events: tuple[EventRef, ...]

    def __str__(self) -> str:
        where = ", ".join(str(event) for event in self.events)
        return f"{self.rule}: {self.message} [{where}]"


@attrs.frozen(kw_only=True)
class CheckReport:
    """What the checker found.

    Attributes:
        events: how many events were read.
        profile: the profile the trace was checked against.
        violations: the violations, in the order found (at most ``max_violations``).
        total: how many violations were found, kept or not.
        notes: checks that could not be made, and why (never a failure).
    """

    events: int
    profile: str
    violations: tuple[Violation, ...]
    total: int
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """Whether the trace broke no rule."""
        return self.total == 0

    def rules(self) -> list[str]:
        """The IDs of the rules broken, sorted, each once."""
        return sorted({violation.rule for violation in self.violations})

    def text(self) -> str:
        """The report as text: a summary line, then a line per violation and per note."""
        head = f"{self.events} events, profile {self.profile}: "
        if self.ok:
            head += "no violations"
        else:
            head += f"{self.total} violation{'s' if self.total != 1 else ''}"
            if self.total > len(self.violations):
                head += f" (the first {len(self.violations)} shown)"
        lines = [head, *(str(violation) for violation in self.violations)]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


