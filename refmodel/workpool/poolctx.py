"""``pool.ctx(ctx)``: an action context whose calls and schedules run in the pool.

The seed's ``ctx()`` wrapper (rules CTX-1 to CTX-3): ``run_action`` and ``run_mutation``
enqueue into the pool and wait for the result (a 30 000 ms poll timeout), ``run_query`` passes
straight through, and ``scheduler.run_after`` / ``run_at`` enqueue work of kind ``unknown``
whose ids are the only ones ``scheduler.cancel`` accepts (rule CAN-4).
"""

from __future__ import annotations

from typing import Any, Protocol

from refmodel.constants import CTX_POLL_TIMEOUT_MS
from refmodel.engine.functions import FunctionRef
from refmodel.engine.runtime import ActionCtx, Ctx, Request
from refmodel.errors import ForeignWorkId, UnknownWorkId
from refmodel.values import check_time, short
from refmodel.workpool.items import WorkId, WorkKind


class _Pool(Protocol):
    """What the wrapper needs of its :class:`~refmodel.workpool.pool.Workpool`."""

    name: str

    def enqueue_action(self, ctx: Ctx, fn: FunctionRef | str, args: Any = None) -> WorkId: ...

    def enqueue_mutation(self, ctx: Ctx, fn: FunctionRef | str, args: Any = None) -> WorkId: ...

    def enqueue_unknown(
        self, ctx: Ctx, fn: FunctionRef | str, args: Any, run_at: int
    ) -> WorkId: ...

    def poll_result(
        self, ctx: ActionCtx, work_id: str, timeout_ms: int = CTX_POLL_TIMEOUT_MS
    ) -> Request: ...

    def kind_of(self, work_id: str) -> WorkKind: ...

    def cancel(self, ctx: Ctx, work_id: str) -> None: ...


class PoolCtx:
    """``pool.ctx(ctx)``: an action context whose work runs in the pool (seed ``ctx()``)."""

    __slots__ = ("_ctx", "_pool", "scheduler")

    def __init__(self, pool: _Pool, ctx: ActionCtx) -> None:
        self._pool = pool
        self._ctx = ctx
        self.scheduler = PoolScheduler(pool, ctx)

    @property
    def now(self) -> int:
        """The current virtual time in ms."""
        return self._ctx.now

    def sleep(self, ms: int) -> Request:
        """Await this to let ``ms`` of virtual time pass (passed through)."""
        return self._ctx.sleep(ms)

    async def run_action(self, fn: FunctionRef | str, args: Any = None) -> Any:
        """Run an action in the pool and return its value (rule CTX-1).

        Raises (inside the action): WorkFailed with the stored error, or PollTimeout after
        30 000 ms.
        """
        work_id = self._pool.enqueue_action(self._ctx, fn, args)
        return await self._pool.poll_result(self._ctx, work_id, CTX_POLL_TIMEOUT_MS)

    async def run_mutation(self, fn: FunctionRef | str, args: Any = None) -> Any:
        """Run a mutation in the pool and return its value (rule CTX-1)."""
        work_id = self._pool.enqueue_mutation(self._ctx, fn, args)
        return await self._pool.poll_result(self._ctx, work_id, CTX_POLL_TIMEOUT_MS)

    def run_query(self, fn: FunctionRef | str, args: Any = None) -> Request:
        """Run a query directly, not in the pool (rule CTX-3)."""
        return self._ctx.run_query(fn, args)


class PoolScheduler:
    """``pool.ctx(ctx).scheduler``: schedules into the pool (rules CTX-2, CAN-4)."""

    __slots__ = ("_ctx", "_pool")

    def __init__(self, pool: _Pool, ctx: ActionCtx) -> None:
        self._pool = pool
        self._ctx = ctx

    def run_after(self, delay_ms: int, fn: FunctionRef | str, args: Any = None) -> WorkId:
        """Enqueue ``fn`` in the pool, eligible ``delay_ms`` from now."""
        delay = check_time(delay_ms, "delay_ms")
        return self._pool.enqueue_unknown(self._ctx, fn, args, self._ctx.now + delay)

    def run_at(self, time: int, fn: FunctionRef | str, args: Any = None) -> WorkId:
        """Enqueue ``fn`` in the pool, eligible at ``time`` (a past time means now)."""
        return self._pool.enqueue_unknown(self._ctx, fn, args, check_time(time, "time"))

    def cancel(self, work_id: str) -> None:
        """Cancel work that this scheduler issued.

        Raises:
            ForeignWorkId: ``work_id`` was not issued by ``run_after``/``run_at`` of this
                pool's ctx scheduler; nothing changed.
        """
        pool = self._pool
        try:
            kind = pool.kind_of(work_id)
        except UnknownWorkId as unknown:
            raise ForeignWorkId(
                f"{short(work_id)} was not issued by the scheduler of pool {pool.name!r}: "
                f"{unknown}"
            ) from None
        if kind is not WorkKind.UNKNOWN:
            raise ForeignWorkId(
                f"{short(work_id)} was not issued by the scheduler of pool {pool.name!r}: "
                "ctx(...).scheduler.cancel only takes ids from ctx(...).scheduler.run_at/run_after"
            )
        pool.cancel(self._ctx, work_id)
