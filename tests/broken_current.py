"""Deliberately broken engines for the current profile's features, to prove that
``CurrentMachine`` (``tests/test_state_machine_current.py``) catches what it claims to.

Each function here is a context manager that breaks exactly one rule about retries,
``on_complete``, cancel, ``cancel_all``, runtime configuration or the current status while it is
active; no file under ``refmodel/`` is touched. The test module runs the machine inside each one
and asserts that it fails with a message that starts with the broken rule's ID.

Like ``tests/broken.py``, most are profiles that break one rule (a lifecycle row, the retry
policy, the eligibility of retries, the slot policy, the completion policy, the status view),
installed under the built-in names by :func:`tests.broken.profiles_changed`. The rest patch
what no profile decides (calling onComplete twice, a retry that keeps its slot, which items
``cancel_all`` picks); those patches are test doubles of the engine's internals.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

import attrs

from refmodel.constants import JITTER_LOW
from refmodel.workpool.cancel import Cancels
from refmodel.workpool.completion import CompletionPolicy, OnCompleteCalls
from refmodel.workpool.enqueue import Eligibility
from refmodel.workpool.lifecycle import (
    CANCELED,
    CANCELING,
    PENDING,
    RETRYING,
    RUNNING,
    TRANSITIONS,
    Effect,
    State,
    Transition,
    Trigger,
)
from refmodel.workpool.options import RetryBehavior
from refmodel.workpool.pool import Workpool, WorkRecord
from refmodel.workpool.retries import RetryPolicy
from refmodel.workpool.status import CurrentStatus
from tests.broken import Breakage, RoomRule, profiles_changed, with_rows

__all__ = ["Breakage"]


@contextlib.contextmanager
def on_complete_called_twice() -> Iterator[None]:
    """ONC-1: every ``on_complete`` mutation is called twice at the terminal instant."""
    original = OnCompleteCalls.schedule

    def schedule(self: OnCompleteCalls, *args: Any) -> None:
        original(self, *args)
        original(self, *args)

    with patch.object(OnCompleteCalls, "schedule", schedule):
        yield


@attrs.frozen
class _NotForCanceled(CompletionPolicy):
    def calls(self, result: dict[str, Any]) -> bool:
        return bool(result["kind"] != "canceled")


def on_complete_skipped_for_canceled_work() -> contextlib.AbstractContextManager[None]:
    """ONC-1: work that ends canceled never has its ``on_complete`` called (a profile's
    completion policy)."""
    return profiles_changed(lambda profile: profile.evolve(completion=_NotForCanceled()))


@attrs.frozen
class _CanceledAsFailed(CompletionPolicy):
    def result(self, state: State, outcome: Any) -> dict[str, Any]:
        if state is CANCELED:
            return {"kind": "failed", "error": "Canceled"}
        return super().result(state, outcome)


def on_complete_sees_canceled_as_failed() -> contextlib.AbstractContextManager[None]:
    """ONC-3: ``on_complete`` of canceled work is given ``{kind: failed, error: Canceled}``
    (the seed's way of reporting it) instead of ``{kind: canceled}`` (a profile's completion
    policy)."""
    return profiles_changed(lambda profile: profile.evolve(completion=_CanceledAsFailed()))


@attrs.frozen
class _OneMoreAttempt(RetryPolicy):
    def will_retry(
        self, behavior: RetryBehavior | None, attempts: int, non_retryable: bool
    ) -> bool:
        return behavior is not None and not non_retryable and attempts < behavior.max_attempts + 1


def one_attempt_too_many() -> contextlib.AbstractContextManager[None]:
    """RTY-4: a failed attempt is retried while ``attempts < max_attempts + 1`` (a profile's
    retry policy)."""
    return profiles_changed(lambda profile: profile.evolve(retries=_OneMoreAttempt()))


@attrs.frozen
class _RetriesAnyError(RetryPolicy):
    def will_retry(
        self, behavior: RetryBehavior | None, attempts: int, non_retryable: bool
    ) -> bool:
        return super().will_retry(behavior, attempts, False)


def non_retryable_error_retried() -> contextlib.AbstractContextManager[None]:
    """RTY-4: an attempt that raised NonRetryableError is retried like any other failure (a
    profile's retry policy)."""
    return profiles_changed(lambda profile: profile.evolve(retries=_RetriesAnyError()))


@attrs.frozen
class _WideJitter(RetryPolicy):
    def jitter(self, u: float) -> float:
        return JITTER_LOW + 1.5 * u


def jitter_outside_range() -> contextlib.AbstractContextManager[None]:
    """RTY-2: the retry jitter factor is ``0.5 + 1.5 * u``, in [0.5, 2.0) instead of
    [0.5, 1.5); the trace still records the draw ``u`` (a profile's retry policy)."""
    return profiles_changed(lambda profile: profile.evolve(retries=_WideJitter()))


@attrs.frozen
class _EarlyRetries(Eligibility):
    base: Eligibility = attrs.field(factory=Eligibility)

    def eligible_at(self, requested: int | None, now: int) -> tuple[int, str | None]:
        return self.base.eligible_at(requested, now)

    def retry_eligible_at(self, decided_at: int, delay_ms: int) -> int:
        return decided_at + delay_ms - 1 if delay_ms > 0 else decided_at


def retry_starts_one_ms_early() -> contextlib.AbstractContextManager[None]:
    """RTY-2: a retry becomes startable 1 ms before the ``retryAt`` its event announced (a
    profile's eligibility)."""
    return profiles_changed(
        lambda profile: profile.evolve(eligibility=_EarlyRetries(base=profile.eligibility))
    )


@contextlib.contextmanager
def retry_holds_its_slot() -> Iterator[None]:
    """RTY-3: work waiting to retry keeps the slot of its failed attempt until it restarts
    (or is canceled)."""
    original_wait = Workpool._wait_to_retry
    original_launch = Workpool._launch
    original_finish = Workpool._finish

    def wait(self: Workpool, record: WorkRecord, source: State, event: str, run: Any) -> None:
        original_wait(self, record, source, event, run)
        self._running += 1

    def launch(self: Workpool, record: WorkRecord, source: State, event: str, run: Any) -> None:
        if source is RETRYING:
            self._running -= 1
        original_launch(self, record, source, event, run)

    def finish(self: Workpool, record: WorkRecord, source: State, event: str, run: Any) -> None:
        if source is RETRYING:
            self._running -= 1
        original_finish(self, record, source, event, run)

    with (
        patch.object(Workpool, "_wait_to_retry", wait),
        patch.object(Workpool, "_launch", launch),
        patch.object(Workpool, "_finish", finish),
    ):
        yield


def paused_pool_still_starts() -> contextlib.AbstractContextManager[None]:
    """PAR-2: a pool whose ``max_parallelism`` is 0 still runs one attempt at a time (a
    profile's slot policy)."""
    rule = RoomRule(lambda running, limit: running < max(limit, 1))
    return profiles_changed(lambda profile: profile.evolve(slots=rule))


def cancel_stops_running_work() -> contextlib.AbstractContextManager[None]:
    """CAN-6: in the current profile, cancel of running work abandons the attempt and ends the
    work canceled at once, as the seed profile does (the seed's row in the current table)."""
    abandon = next(
        row for row in TRANSITIONS
        if (row.source, row.trigger) == (RUNNING, Trigger.CANCEL) and row.effect is Effect.ABANDON
    )
    return profiles_changed(lambda profile: with_rows(profile, abandon))


def retried_after_cancel_requested() -> contextlib.AbstractContextManager[None]:
    """CAN-6: a failed attempt of work asked to cancel while it ran is retried as if no cancel
    had been asked (a row of the current table)."""
    row = Transition(
        source=CANCELING, trigger=Trigger.RETRY, target=RETRYING, event="retrying",
        effect=Effect.WAIT,
    )

    def change(profile: Any) -> Any:
        allowed = profile.lifecycle.allowed(CANCELING, Trigger.RETRY)
        return with_rows(profile, row) if allowed else profile

    return profiles_changed(change)


@contextlib.contextmanager
def status_forgets_attempts_while_retrying() -> Iterator[None]:
    """STS-5: work waiting to retry reads ``pending`` with ``previousAttempts`` 0 in
    ``current_status``, the current API's view (which is not the profile's to choose)."""
    original = Workpool.current_status

    def current_status(self: Workpool, work_id: str) -> CurrentStatus:
        status = original(self, work_id)
        if status.state == "pending" and status.previous_attempts > 0:
            return CurrentStatus(state="pending", previous_attempts=0)
        return status

    with patch.object(Workpool, "current_status", current_status):
        yield


@contextlib.contextmanager
def cancel_all_skips_retrying_work() -> Iterator[None]:
    """CAN-7: ``cancel_all`` cancels pending and running work but not work between attempts."""

    def cancel_all(self: Cancels) -> None:
        for record in self._items.newest_first():
            if record.state in (PENDING, RUNNING):
                self._apply(record, Trigger.CANCEL)

    with patch.object(Cancels, "cancel_all", cancel_all):
        yield
