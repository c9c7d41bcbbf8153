"""Retries: which failed attempts are retried, and how long the retry waits (rules RTY-1 to
RTY-4).

Theory of operation. When an attempt fails, its slot is already free (rule RTY-3: the pool
ends the attempt before anything else). The profile's :class:`RetryPolicy` then says whether it
is retried (rules RTY-1, RTY-4): the item must have a retry behaviour, the error must not be a
``NonRetryableError``, and fewer than ``max_attempts`` attempts may have ended. What follows is
the lifecycle's row for ``retry`` (:mod:`refmodel.workpool.lifecycle`): the item waits without
a slot, or, in the current profile when a cancel was asked while the attempt ran, ends canceled
(rule CAN-6).

A retry waits a jittered backoff (rule RTY-2): the world draws ``u`` from its RNG (an ``rng``
event), the jitter factor is ``0.5 + u``, and the delay is the nominal backoff times the factor,
floored, at most one year (:func:`refmodel.constants.retry_delay_ms`). The retry is decided
at the failure: ``retryAt`` is the failure's instant plus the delay. A policy may decide it
later (:meth:`RetryPolicy.decided_at`), as an implementation whose loop handles failures on
its next pass does; the conformance harness plays such an implementation's recorded decisions
so (spec section 8).
"""

from __future__ import annotations

import attrs

from refmodel.constants import JITTER_LOW, retry_delay_ms
from refmodel.workpool.options import RetryBehavior


@attrs.frozen
class RetryPolicy:
    """Which failures are retried, and the jittered delay before a retry (RTY-1, RTY-2, RTY-4).

    Subclass it and override a method to try other retry semantics.
    """

    def will_retry(
        self, behavior: RetryBehavior | None, attempts: int, non_retryable: bool
    ) -> bool:
        """Whether an item whose attempt number ``attempts`` just failed is retried.

        Args:
            behavior: the item's retry behaviour (``None``: never retried).
            attempts: how many of its attempts have ended, the failed one included.
            non_retryable: whether the attempt threw a ``NonRetryableError``.
        """
        return behavior is not None and not non_retryable and attempts < behavior.max_attempts

    def jitter(self, u: float) -> float:
        """The jitter factor for a draw ``u`` in [0, 1): in [0.5, 1.5)."""
        return JITTER_LOW + u

    def delay_ms(self, behavior: RetryBehavior, retry: int, jitter: float) -> int:
        """The wait before retry number ``retry`` (1 for the first) for a jitter factor."""
        return retry_delay_ms(behavior.initial_backoff_ms, behavior.base, retry, jitter)

    def decided_at(self, work_id: str, attempt: int, now: int) -> int:
        """The instant the retry of ``work_id``'s failed attempt number ``attempt`` is decided,
        for a failure at ``now`` (no earlier): its ``retryAt`` is this instant plus the delay.
        The standard policy decides at the failure."""
        return now


STANDARD_RETRIES = RetryPolicy()
"""The retries of both built-in profiles."""


@attrs.frozen
class DecidedAt(RetryPolicy):
    """``base``'s retries, each decided at the instant ``instants`` gives for it: per work id,
    per failed attempt number, the instant (later than or at the failure; an earlier or missing
    one is the failure's). The conformance harness plays an implementation's recorded retry
    decisions so (``decidedAt``, spec section 8); ``instants`` may be filled while a world
    runs, as work ids become known.
    """

    base: RetryPolicy = STANDARD_RETRIES
    instants: dict[str, dict[int, int]] = attrs.field(factory=dict)

    def will_retry(
        self, behavior: RetryBehavior | None, attempts: int, non_retryable: bool
    ) -> bool:
        """As ``base`` says."""
        return self.base.will_retry(behavior, attempts, non_retryable)

    def jitter(self, u: float) -> float:
        """As ``base`` says."""
        return self.base.jitter(u)

    def delay_ms(self, behavior: RetryBehavior, retry: int, jitter: float) -> int:
        """As ``base`` says."""
        return self.base.delay_ms(behavior, retry, jitter)

    def decided_at(self, work_id: str, attempt: int, now: int) -> int:
        """The instant given for the attempt, when no earlier than ``now``; else ``now``."""
        return max(now, self.instants.get(work_id, {}).get(attempt, now))
