"""The numbers the spec fixes, and the two formulas built from them (one home, DESIGN §6).

Every default, bound and period that ``specs/workpool.md`` states (section 3, "Defaults and
bounds", and the rules that cite them) is written here once. The model, the trace checker, the
conformance kit and the adapters import them from here, so that a change of the spec is one
change of the code.

The two formulas are those of rule RTY-2, which the model and the tools that judge other
implementations must agree on to the millisecond:

- :func:`retry_delay_ms`: the delay the model waits before a retry, for a jitter factor;
- :func:`retry_delay_window`: the delays a conformant implementation may wait, whatever its
  jitter draw and whether or not it rounds.

Both apply the clamp: no retry waits longer than :data:`MAX_RETRY_DELAY_MS` (one year); a
nominal backoff so large that it overflows a float counts as beyond the clamp.

This module is data: it imports nothing of refmodel, and reading it runs no model.
"""

from __future__ import annotations

import math

SECOND_MS = 1000
MINUTE_MS = 60 * SECOND_MS
DAY_MS = 24 * 60 * MINUTE_MS
YEAR_MS = 365 * DAY_MS
"""A year as the component counts it: 365 days."""

# Pool options (rules CFG-1, CFG-2, CFG-4) ------------------------------------------------------

SEED_MIN_PARALLELISM = 1
SEED_MAX_PARALLELISM = 300
CURRENT_MIN_PARALLELISM = 0
"""A current-profile pool with ``max_parallelism`` 0 is paused (rule PAR-2)."""
CURRENT_MAX_PARALLELISM = 200
CURRENT_WARN_PARALLELISM = 100
"""Above this, the current component warns that it will be an error in a future version."""
CURRENT_DEFAULT_PARALLELISM = 10

DEFAULT_ACTION_TIMEOUT_MS = 15 * MINUTE_MS
DEFAULT_MUTATION_TIMEOUT_MS = 30 * SECOND_MS
DEFAULT_UNKNOWN_TIMEOUT_MS = 15 * MINUTE_MS
DEFAULT_TTL_MS = DAY_MS
"""How long the seed profile keeps a finished item's result (rule TTL-1)."""

SEED_LOG_LEVELS = ("DEBUG", "INFO", "WARN", "ERROR")
CURRENT_LOG_LEVELS = ("DEBUG", "TRACE", "INFO", "REPORT", "WARN", "ERROR")
SEED_DEFAULT_LOG_LEVEL = "WARN"
CURRENT_DEFAULT_LOG_LEVEL = "REPORT"

# Enqueue (rule ENQ-6, current profile) ---------------------------------------------------------

RUN_AT_TOO_OLD_MS = YEAR_MS
"""A requested start older than this before now is warned about (and means now)."""
RUN_AT_TOO_FAR_MS = 4 * YEAR_MS
"""A requested start further than this after now is replaced by :data:`RUN_AT_FALLBACK_MS`."""
RUN_AT_FALLBACK_MS = YEAR_MS
"""Where a too-far start goes: this long after now."""
SEGMENT_MS = 100
"""The current component's segment: work is eligible at the start of the segment its time
falls in (profile ``current-bucketed``; reference F.1)."""

# The ctx wrapper and cancel_all (rules CTX-1, CAN-7) -------------------------------------------

CTX_POLL_TIMEOUT_MS = 30 * SECOND_MS
"""``pool.ctx(ctx).run_action`` / ``run_mutation`` wait this long for the result."""
CANCEL_PAGE_SIZE = 64
"""The page size in which the real component's ``cancelAll`` cancels."""

# Metrics (rule MET-2) --------------------------------------------------------------------------

REPORT_PERIOD_MS = MINUTE_MS
"""The current component logs a ``report`` once a minute while a pool is active."""

# Retries (rules RTY-1, RTY-2) ------------------------------------------------------------------

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_INITIAL_BACKOFF_MS = 250
DEFAULT_BASE = 2
JITTER_LOW = 0.5
JITTER_HIGH = 1.5
"""The jitter factor is ``JITTER_LOW + u`` for a draw ``u`` in [0, 1): it lies in
[``JITTER_LOW``, ``JITTER_HIGH``)."""
MAX_RETRY_DELAY_MS = YEAR_MS
"""The clamp: no retry waits longer than one year (rule RTY-2)."""


DEFAULT_RETRY_JSON = {
    "maxAttempts": DEFAULT_MAX_ATTEMPTS,
    "initialBackoffMs": DEFAULT_INITIAL_BACKOFF_MS,
    "base": DEFAULT_BASE,
}
"""The default retry behaviour in its JSON spelling, as traces and scenarios write it (RTY-1)."""

DEVIATIONS: dict[str, str] = {
    "STS-4/foreign-id-finished": "the status of an id another pool issued reads "
    '{"state": "finished"} instead of being refused (the current component under '
    "convex-test checks ids only by table name)",
    "ENQ-5/retry-on-mutation-ignored": "a retry option on a mutation or query enqueue (or "
    "batch) is accepted and ignored instead of refused (the current component forbids it only "
    "in its TypeScript types)",
    "RTY-2/retry-drawn-by-loop": "the retry delay is drawn when the component's loop handles "
    "the failure, up to completionLagMs after it, so retryAt is that instant + delayMs rather "
    "than the failure + delayMs (and no delay is drawn when a cancel is handled first)",
    "ONC-3/non-retryable-error-data": "the onComplete result of work a NonRetryableError ended "
    'carries an extra errorData field ({"__convexWorkpoolNonRetryable": true, "message": ...})',
    "CAN-5/foreign-id-cancel-ignored": "a cancel of an id another pool issued is accepted and "
    "does nothing instead of being refused (the current component under convex-test checks "
    "ids only by table name)",
    "CAN-7/paged-cancel-all": "cancelAll with a limit cancels its first page (the newest "
    "waiting items) at the call and each further page in a later transaction, so work the "
    "loop starts before its page lands runs on",
    "STS-5/canceled-reads-running": "from a cancel of waiting work until the component "
    "finishes it, its status may read running (the component marks it canceled and schedules "
    "its completion, during which the work is neither pending nor gone)",
    "CAN-7/same-instant-enqueue-spared": "cancelAll may leave some of the work enqueued in "
    "the millisecond of the call (by the implementation's clock), which then runs as if "
    "enqueued after it (the component selects work by creation time, which has a "
    "sub-millisecond part, against its clock)",
}
"""The documented deviations of spec section 7 an implementation may declare, by name
(``<rule>/<what>``): each admits one behaviour its rule otherwise forbids. The model declares
none."""


def nominal_backoff_ms(initial_backoff_ms: float, base: float, retry: int) -> float:
    """The nominal wait before retry number ``retry`` (1 for the first retry):
    ``initial_backoff_ms * base ** (retry - 1)``, or ``inf`` where that is beyond a float.

    It is computed as written (with an ``int`` base it stays exact until the jitter multiplies
    it), so that every tool gets the model's number of milliseconds.
    """
    if initial_backoff_ms == 0:
        return 0
    try:
        nominal = initial_backoff_ms * base ** (retry - 1)
        float(nominal)  # An int beyond the largest float overflows here, not later.
    except OverflowError:
        return math.inf
    return nominal


def retry_delay_ms(initial_backoff_ms: float, base: float, retry: int, jitter: float) -> int:
    """The delay before retry ``retry`` for a jitter factor in [0.5, 1.5) (rule RTY-2):
    ``floor(nominal * jitter)``, at most :data:`MAX_RETRY_DELAY_MS`."""
    delay = nominal_backoff_ms(initial_backoff_ms, base, retry) * jitter
    return MAX_RETRY_DELAY_MS if delay >= MAX_RETRY_DELAY_MS else int(delay)


def retry_delay_window(
    initial_backoff_ms: float, base: float, retry: int
) -> tuple[int, float]:
    """The delays before retry ``retry`` that conform, whatever the jitter draw (rule RTY-2):
    ``[floor(0.5 b), 1.5 b]`` for the nominal backoff ``b``, each at most the clamp.

    The low end is rounded down because the model rounds its delays down; the high end is not,
    because another implementation need not round (the current component waits
    ``b * (0.5 + u)`` ms). The high end is an ``int`` when it is a whole number.
    """
    low = retry_delay_ms(initial_backoff_ms, base, retry, JITTER_LOW)
    high = nominal_backoff_ms(initial_backoff_ms, base, retry) * JITTER_HIGH
    if high >= MAX_RETRY_DELAY_MS:
        return low, MAX_RETRY_DELAY_MS
    return low, int(high) if float(high).is_integer() else high
