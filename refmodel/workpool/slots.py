"""Slots: when a pool may start another attempt (rules PAR-1, PAR-2).

Theory of operation. A pool runs at most ``max_parallelism`` attempts at once (rule PAR-1); in
the current profile ``max_parallelism`` 0 pauses it (rule PAR-2). So a pool of one runs its
mutations one after the other, and they never conflict with each other (rule EXE-3). A running
attempt holds its slot until it ends, and work waiting to retry holds none (rule RTY-3). Which
waiting item takes a free slot, and when, is the start queue's
(:mod:`refmodel.engine.startqueue`: rules ORD-1, ORD-2, WC-1).

That is the built-in :class:`SlotPolicy`, :data:`OWN_SLOTS`, and the pool counts its own slots
itself. A profile can bring another policy: its :meth:`SlotPolicy.gate` gives each pool a
:class:`Gate`, which the pool asks before every start and tells of every start and end. The
example profile of ``refmodel.proposals.borrowing`` lets idle pools lend their slots this way.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class Gate(Protocol):
    """A pool's slots under a profile's own :class:`SlotPolicy`."""

    def has_room(self) -> bool:
        """Whether the pool may start another attempt now."""
        ...

    def started(self, n: int) -> None:
        """The pool started an attempt of its item ``n``."""
        ...

    def ended(self, n: int) -> None:
        """The running attempt of item ``n`` ended (whichever way); its slot is free."""
        ...


class SlotPolicy:
    """Who may start when: the built-in policy counts each pool's own slots (PAR-1, PAR-2).

    Subclass it and override :meth:`gate` to give pools other slots.
    """

    def gate(self, pool: Any, wake: Callable[[], None]) -> Gate | None:
        """The gate of ``pool`` (a :class:`~refmodel.workpool.pool.Workpool` just made), or
        ``None`` for the pool's own ``max_parallelism`` slots.

        ``wake()`` makes the pool try to start waiting work in this instant's START phase; a
        gate calls it when room appears for a reason the pool cannot see (another pool's
        attempt ended).
        """
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


OWN_SLOTS = SlotPolicy()
"""Each pool runs at most its own ``max_parallelism`` attempts at once."""
