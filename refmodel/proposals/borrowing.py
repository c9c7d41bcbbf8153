"""Borrowed slots: pools use the concurrency of pools that have nothing to do (workpool#144).

The proposal (get-convex/workpool issue 144): a pool's ``maxParallelism`` pins concurrency to
one kind of work even while other pools sit idle. Let a pool with more work than slots borrow
the slots of pools that have no active jobs; work queued directly in a pool keeps priority
there, so a lender that gets work of its own takes its slots back as the borrowed attempts end
(by attrition: nothing running is stopped).

As a profile, :data:`BORROWING` is the current profile with another slot policy
(:class:`BorrowIdleSlots`, a :class:`~refmodel.workpool.slots.SlotPolicy`); the lifecycle,
retries, status and everything else are the current profile's. Each pool of a world gets a
:class:`_Gate` on a ledger the world's pools share:

- a pool may start an attempt in one of its own slots (its running attempts in own slots, plus
  the slots it lent, stay below its ``max_parallelism``);
- otherwise it may borrow a free slot of a lender: another pool of the world, in creation
  order, with nothing running and nothing waiting;
- when a borrowed attempt ends its slot returns to its lender, which then starts its own
  waiting work first (its start comes first in the instant); every pool is woken when any
  attempt ends, since a pool that became idle may now lend.

So two rules no longer hold per pool: PAR-1 (a borrower runs more than its
``max_parallelism``) and WC-1 (a lender's own work waits for its lent slots while none of its
own attempts runs); what holds is that the world runs at most the sum of its pools'
``max_parallelism`` at once, and the trace checker reports exactly those two rules.
``python -m refmodel example borrowing`` plays the seed README's emails and scrapes both ways.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from refmodel.workpool.profiles import CURRENT, Profile
from refmodel.workpool.slots import Gate, SlotPolicy


class _Gate:
    """One pool's slots on the ledger its world's pools share."""

    def __init__(self, pool: Any, wake: Callable[[], None], ledger: list[_Gate]) -> None:
        self.pool = pool
        self.wake = wake
        self.ledger = ledger
        self.own = 0
        """Attempts of this pool running in its own slots."""
        self.lent = 0
        """Slots of this pool that attempts of other pools run in."""
        self.borrowed: dict[int, _Gate] = {}
        """This pool's attempts running in borrowed slots: item number -> lender."""

    def _limit(self) -> int:
        limit: int = self.pool.options.max_parallelism
        return limit

    def _own_slot_free(self) -> bool:
        return self.own + self.lent < self._limit()

    def _idle(self) -> bool:
        counts = self.pool.statistics()
        return bool(counts.running == 0 and counts.pending == 0)

    def _lender(self) -> _Gate | None:
        for gate in self.ledger:
            if gate is not self and gate._own_slot_free() and gate._idle():
                return gate
        return None

    def has_room(self) -> bool:
        return self._own_slot_free() or self._lender() is not None

    def started(self, n: int) -> None:
        if self._own_slot_free():
            self.own += 1
            return
        lender = self._lender()
        assert lender is not None, "the pool asked has_room first"
        lender.lent += 1
        self.borrowed[n] = lender

    def ended(self, n: int) -> None:
        lender = self.borrowed.pop(n, None)
        if lender is None:
            self.own -= 1
        else:
            lender.lent -= 1
            lender.wake()  # The slot is back: the lender's own work starts first.
        for gate in self.ledger:
            if gate is not self and gate is not lender:
                gate.wake()  # A pool that became idle may lend now.


class BorrowIdleSlots(SlotPolicy):
    """The slot policy of workpool#144: pools borrow the slots of idle pools."""

    def __init__(self) -> None:
        self._ledgers: weakref.WeakKeyDictionary[Any, list[_Gate]] = weakref.WeakKeyDictionary()

    def gate(self, pool: Any, wake: Callable[[], None]) -> Gate | None:
        ledger = self._ledgers.setdefault(pool.world, [])
        gate = _Gate(pool, wake, ledger)
        ledger.append(gate)
        return gate


BORROWING: Profile = CURRENT.evolve(
    name="borrowing",
    summary="the current profile, with pools that borrow the slots of idle pools (workpool#144)",
    slots=BorrowIdleSlots(),
)
"""The current component, with workpool#144's borrowed slots."""
