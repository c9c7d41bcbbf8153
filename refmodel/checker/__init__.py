"""The trace checker: validate a trace that an implementation recorded on its own (DESIGN §7;
rule CHK-1).

Theory of operation. A trace is JSON Lines in the format of ``specs/trace.schema.json``. The
checker reads it once and keeps only what the rules need: per pool its options, its running
count and its waiting items in start order; per work item its lifecycle state, eligibility,
start and finish instants and terminal outcome. Each event is checked against the rules when it
is read: a start against PAR-1, ORD-1 and ORD-2, every transition against the lifecycle table of
LIF-1 (``refmodel.workpool.lifecycle.TRANSITIONS``, which also tells the cancel rules CAN-1,
CAN-2 and CAN-6 apart), an ``on_complete`` against ONC-1 and ONC-3, and so on. Rules about what
must have happened *by* some instant are deadlines: WC-1 (a free slot is used while work waits),
TMO-1 (a running attempt times out), TTL-1 (a result is evicted), ONC-1 (a declared onComplete
is called). They are settled whenever the trace's clock moves on: once an event of instant
``t1`` is read, every instant before ``t1`` is settled (all its events were recorded), so
anything still owed at such an instant is a violation. The last instant of a trace is not
assumed settled unless the caller says up to when the trace is complete
(:attr:`CheckOptions.end_ms`). Every structure is a queue in time order and each event costs
O(1) amortised time, so a trace of any length streams through in bounded work per event.

The checker is the model's rules seen from outside; it never runs the model. Real
implementations add latency, and the bounds of ``specs/workpool.md`` §8 (``start_lag_ms``,
``completion_lag_ms``, ``eviction_slack_ms``, ``timeout_slack_ms``) relax the timing of the
rules they name and nothing else. The model's own traces pass with every bound at 0.
``specs/checker.md`` lists the rules checked, the options and the exit codes of
``python -m refmodel check``.

Two facts a trace does not carry are read from optional fields of ``enqueued`` when present:
``retry`` (the item's retry behaviour ``{maxAttempts, initialBackoffMs, base}``, ``true`` for the
pool's default, ``null`` or ``false`` for none) and ``onComplete`` (the name of its onComplete
mutation, or ``null``). Without ``retry``, an action is assumed to retry as the pool's
``defaultRetryBehavior`` says (:attr:`CheckOptions.assume_pool_retry`). Without ``onComplete``
the checker cannot know that a call is owed, and checks only that calls come at most once and
only for finished work.

Lines are parsed one at a time (``refmodel.checker.reader``: orjson when installed, json
otherwise); a line that is not an event of the schema makes the trace unreadable
(:class:`TraceUnreadable`, naming the line).
"""

from __future__ import annotations

from collections.abc import Iterable

from refmodel.checker.reader import TraceUnreadable, lines_of
from refmodel.checker.report import CheckOptions, CheckReport, EventRef, Violation
from refmodel.checker.rules import RULES, Checker


def check(lines: Iterable[str], *, options: CheckOptions | None = None) -> CheckReport:
    """Check a trace given as its lines (JSON Lines; each line may end in a newline).

    Returns:
        The report; ``report.ok`` says whether the trace broke no rule.

    Raises:
        TraceUnreadable: a line is not JSON or not an event of ``specs/trace.schema.json``,
            events are out of order, or there is none.
    """
    checker = Checker(options)
    checker.feed(lines)
    return checker.finish()


def check_file(path: str, options: CheckOptions | None = None) -> CheckReport:
    """Check the trace in the file at ``path``.

    Raises:
        TraceUnreadable: the file cannot be read, or the trace is unreadable; the message
            starts with the path.
    """
    try:
        return check(lines_of(path), options=options)
    except TraceUnreadable as error:
        raise TraceUnreadable(f"{path}: {error}") from None


__all__ = [
    "RULES",
    "CheckOptions",
    "CheckReport",
    "Checker",
    "EventRef",
    "TraceUnreadable",
    "Violation",
    "check",
    "check_file",
]
