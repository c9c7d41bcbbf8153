"""Cancel: what a cancel does to work in each state (rules CAN-1 to CAN-3, CAN-6, CAN-7).

Theory of operation. A cancel is a trigger of the lifecycle table
(:mod:`refmodel.workpool.lifecycle`), so what it does is a row of the profile's table:

- waiting work (pending, or between attempts) ends ``canceled`` at once and never (re)starts
  (rule CAN-1);
- running work, in the seed profile, is abandoned and ends ``canceled`` at once (rule CAN-2);
  in the current profile it runs on (``cancel_requested``), its real result stands, and a
  failure that would have been retried ends ``canceled`` instead (rule CAN-6);
- work the table has no cancel row for (finished, evicted, or already canceling) is left as it
  is, and the trace says so with ``cancel_ignored`` (rule CAN-3).

``cancel_all`` cancels every unfinished item enqueued up to now, newest first (rule CAN-7).
The entry points, which validate and defer a cancel made from a mutation to its commit, are the
pool's (:meth:`~refmodel.workpool.pool.Workpool.cancel`).
"""

from __future__ import annotations

from collections.abc import Callable

from refmodel.workpool.items import WorkItems, WorkRecord
from refmodel.workpool.lifecycle import Lifecycle, Trigger

_CANCEL = Trigger.CANCEL


class Cancels:
    """Carries out one pool's cancels.

    Args:
        items: the pool's items.
        lifecycle: the profile's table.
        apply: applies a trigger's row to a record (the pool's one way to change state).
        ignored: records a cancel that changed nothing: ``(n, state shown)``.
        forgotten_state: the state shown for an item no longer held (``"evicted"``,
            ``"finished"``).
    """

    __slots__ = ("_apply", "_forgotten", "_ignored", "_items", "_lifecycle")

    def __init__(
        self,
        items: WorkItems,
        lifecycle: Lifecycle,
        apply: Callable[[WorkRecord, Trigger], None],
        ignored: Callable[[int, str], None],
        forgotten_state: str,
    ) -> None:
        self._items = items
        self._lifecycle = lifecycle
        self._apply = apply
        self._ignored = ignored
        self._forgotten = forgotten_state

    def cancel(self, n: int) -> None:
        """Cancel item ``n`` now (CAN-1 to CAN-3, CAN-6)."""
        record = self._items.get(n)
        if record is None:  # No longer held: evicted (seed) or forgotten (current).
            self._ignored(n, self._forgotten)
        elif self._lifecycle.allowed(record.state, _CANCEL):
            self._apply(record, _CANCEL)
        else:
            self._ignored(n, record.state.value)

    def cancel_all(self) -> None:
        """Cancel every item the table lets a cancel change, newest first (CAN-7)."""
        allowed = self._lifecycle.allowed
        for record in self._items.newest_first():
            if allowed(record.state, _CANCEL):
                self._apply(record, _CANCEL)
