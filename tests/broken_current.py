"""Deliberately broken engines for the current profile's features, to prove that
``CurrentMachine`` (``tests/test_state_machine_current.py``) catches what it claims to.

Each function here is a context manager that breaks exactly one rule about retries,
``on_complete``, cancel, ``cancel_all``, runtime configuration or the current status while it is
active, by patching the model from the outside (``unittest.mock.patch.object``); no file under
``refmodel/`` is touched. The test module runs the machine inside each one and asserts that it
fails with a message that starts with the broken rule's ID.

Like ``tests/broken.py``, the patches reach into private names (``Workpool._on_done``,
``Workpool._call_on_complete``, ...): they are test doubles of the engine's internals, and a
refactoring of those internals may need them rewritten. Where possible a variant wraps the
original method instead of copying its body.

Patch before the world is built: pools bind ``_has_room`` and ``_start`` when they are created.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any
from unittest.mock import patch

import attrs

from refmodel.engine.runtime import Run
from refmodel.engine.startqueue import StartQueue
from refmodel.workpool.lifecycle import State
from refmodel.workpool.pool import Workpool, WorkRecord
from refmodel.workpool.status import CurrentStatus
from refmodel.world import World

Breakage = Callable[[], contextlib.AbstractContextManager[None]]

OnCompletePayload = tuple[Any, str, Any, dict[str, Any]]


@contextlib.contextmanager
def on_complete_called_twice() -> Iterator[None]:
    """ONC-1: every ``on_complete`` mutation is called twice at the terminal instant."""
    original = Workpool._call_on_complete

    def call_on_complete(self: Workpool, payload: OnCompletePayload) -> None:
        original(self, payload)
        self.world._busy += 1  # The second call ends too; keep the busy count balanced.
        original(self, payload)

    with patch.object(Workpool, "_call_on_complete", call_on_complete):
        yield


@contextlib.contextmanager
def on_complete_skipped_for_canceled_work() -> Iterator[None]:
    """ONC-1: work that ends canceled never has its ``on_complete`` called."""
    original = Workpool._finish_terminal

    def finish_terminal(
        self: Workpool, record: WorkRecord, outcome: Any, event: str, data: dict[str, Any]
    ) -> None:
        if event != "canceled":
            original(self, record, outcome, event, data)
            return
        callback = record.on_complete
        record.on_complete = None
        try:
            original(self, record, outcome, event, data)
        finally:
            record.on_complete = callback

    with patch.object(Workpool, "_finish_terminal", finish_terminal):
        yield


@contextlib.contextmanager
def one_attempt_too_many() -> Iterator[None]:
    """RTY-4: a failed attempt is retried while ``attempts < max_attempts + 1``."""
    original = Workpool._on_done

    def on_done(self: Workpool, run: Run) -> None:
        record: WorkRecord = run.token
        behavior = record.retry
        if behavior is not None:
            record.retry = attrs.evolve(behavior, max_attempts=behavior.max_attempts + 1)
        try:
            original(self, run)
        finally:
            record.retry = behavior

    with patch.object(Workpool, "_on_done", on_done):
        yield


@contextlib.contextmanager
def non_retryable_error_retried() -> Iterator[None]:
    """RTY-4: an attempt that raised NonRetryableError is retried like any other failure."""
    original = Workpool._on_done

    def on_done(self: Workpool, run: Run) -> None:
        run.non_retryable = False
        original(self, run)

    with patch.object(Workpool, "_on_done", on_done):
        yield


@contextlib.contextmanager
def jitter_outside_range() -> Iterator[None]:
    """RTY-2: the retry jitter factor is ``0.5 + 1.5 * u``, in [0.5, 2.0) instead of
    [0.5, 1.5); the trace still records the draw ``u``."""
    original = World.draw

    def draw(self: World, purpose: str) -> float:
        value = original(self, purpose)
        return value * 1.5 if purpose.startswith("retry jitter") else value

    with patch.object(World, "draw", draw):
        yield


@contextlib.contextmanager
def retry_starts_one_ms_early() -> Iterator[None]:
    """RTY-2: a retry becomes startable 1 ms before the ``retryAt`` its event announced."""
    original = StartQueue.add

    def add(self: StartQueue[Any], item: Any) -> None:
        if (
            isinstance(item, WorkRecord)
            and item.state is State.RETRYING
            and item.eligible_at > self._clock.now
        ):
            item.eligible_at -= 1
        original(self, item)

    with patch.object(StartQueue, "add", add):
        yield


@contextlib.contextmanager
def retry_holds_its_slot() -> Iterator[None]:
    """RTY-3: work waiting to retry keeps the slot of its failed attempt until it restarts
    (or is canceled)."""
    original_retry = Workpool._retry
    original_start = Workpool._start
    original_cancel = Workpool._cancel

    def retry(self: Workpool, record: WorkRecord, error: str) -> None:
        original_retry(self, record, error)
        if record.state is State.RETRYING:
            self._running += 1

    def start(self: Workpool, record: WorkRecord) -> None:
        if record.state is State.RETRYING:
            self._running -= 1
        original_start(self, record)

    def cancel(self: Workpool, n: int) -> None:
        record = self._records.get(n)
        if record is not None and record.state is State.RETRYING:
            self._running -= 1
        original_cancel(self, n)

    with (
        patch.object(Workpool, "_retry", retry),
        patch.object(Workpool, "_start", start),
        patch.object(Workpool, "_cancel", cancel),
    ):
        yield


@contextlib.contextmanager
def paused_pool_still_starts() -> Iterator[None]:
    """PAR-2: a pool whose ``max_parallelism`` is 0 still runs one attempt at a time."""

    def has_room(self: Workpool) -> bool:
        return self._running < max(self.options.max_parallelism, 1)

    with patch.object(Workpool, "_has_room", has_room):
        yield


@contextlib.contextmanager
def cancel_stops_running_work() -> Iterator[None]:
    """CAN-6: in the current profile, cancel of running work abandons the attempt and ends the
    work canceled at once (as the seed profile does)."""
    original = Workpool._cancel

    def cancel(self: Workpool, n: int) -> None:
        record = self._records.get(n)
        if self.profile != "current" or record is None or record.state is not State.RUNNING:
            original(self, n)
            return
        run = record.run
        assert run is not None
        self._runtime.abandon(run)
        self._end_attempt(record)
        record.state = State.CANCELED
        data = {"attempt": record.attempts, "wasRunning": True}
        self._finish_terminal(record, "Canceled", "canceled", data)

    with patch.object(Workpool, "_cancel", cancel):
        yield


@contextlib.contextmanager
def retried_after_cancel_requested() -> Iterator[None]:
    """CAN-6: a failed attempt of work asked to cancel while it ran is retried as if no cancel
    had been asked."""
    original = Workpool._on_done

    def on_done(self: Workpool, run: Run) -> None:
        record: WorkRecord = run.token
        if record.state is State.CANCELING and not run.ok:
            record.state = State.RUNNING
        original(self, run)

    with patch.object(Workpool, "_on_done", on_done):
        yield


@contextlib.contextmanager
def on_complete_sees_canceled_as_failed() -> Iterator[None]:
    """ONC-3: ``on_complete`` of canceled work is given ``{kind: failed, error: Canceled}``
    (the seed's way of reporting it) instead of ``{kind: canceled}``."""
    original = Workpool._call_on_complete

    def call_on_complete(self: Workpool, payload: OnCompletePayload) -> None:
        fdef, work_id, context, result = payload
        if result["kind"] == "canceled":
            result = {"kind": "failed", "error": "Canceled"}
        original(self, (fdef, work_id, context, result))

    with patch.object(Workpool, "_call_on_complete", call_on_complete):
        yield


@contextlib.contextmanager
def status_forgets_attempts_while_retrying() -> Iterator[None]:
    """STS-5: work waiting to retry reads ``pending`` with ``previousAttempts`` 0."""
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

    def cancel_all(self: Workpool) -> None:
        for n in sorted(self._records, reverse=True):
            record = self._records.get(n)
            if record is not None and record.state in (State.PENDING, State.RUNNING):
                self._cancel(n)

    with patch.object(Workpool, "_cancel_all", cancel_all):
        yield
