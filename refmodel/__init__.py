"""refmodel: the executable reference model of the Convex Workpool.

A deterministic, single-threaded, event-stepped simulator with a virtual clock in which the
Workpool's API works completely, checked against a numbered spec (``specs/``). Start with
:class:`World`::

    world = World(seed=1)
    pool = world.pool("emails", max_parallelism=5)

    @world.action()
    async def send(ctx, args):
        await ctx.sleep(200)
        return "sent"

    work_id = pool.enqueue_action(world.client, send, {"to": "a@example.com"})
    world.run_until_idle()
    assert pool.status(work_id).to_json() == {"kind": "success", "result": "sent"}

``refmodel.debug(make_world)`` steps through a world in a pdb-like debugger.
"""

from typing import Any as _Any

from refmodel.engine.clock import Phase
from refmodel.engine.functions import Ending, FunctionKind, FunctionRef
from refmodel.engine.runtime import ActionCtx, CallFailed, ClientCtx, MutationCtx, QueryCtx
from refmodel.engine.scheduler import SchedState, ScheduledFunction
from refmodel.errors import (
    ConflictError,
    EmptySchedule,
    ForeignWorkId,
    InvalidArgument,
    InvalidType,
    NonRetryableError,
    NotInAction,
    PollTimeout,
    ReentrantCall,
    RefmodelError,
    StepLimitExceeded,
    UnknownFunction,
    UnknownScheduledId,
    UnknownWorkId,
    WorkEvicted,
    WorkFailed,
)
from refmodel.trace import JsonlWriter, MemoryTrace, TraceEvent
from refmodel.workpool.items import WorkId, WorkKind
from refmodel.workpool.lifecycle import State
from refmodel.workpool.options import PROFILES, PoolOptions, RetryBehavior
from refmodel.workpool.pool import Workpool
from refmodel.workpool.poolctx import PoolCtx, PoolScheduler
from refmodel.workpool.profiles import CURRENT as CURRENT_PROFILE
from refmodel.workpool.profiles import SEED as SEED_PROFILE
from refmodel.workpool.profiles import Profile
from refmodel.workpool.status import CurrentStatus, PoolStatistics, SeedStatus, WorkInfo
from refmodel.world import CallHandle, Step, World


def debug(target: _Any, **options: _Any) -> int:
    """Debug a world, a function that builds one, or a scenario in a pdb-like debugger; see
    :func:`refmodel.debugger.debug` (imported on first use, so ``import refmodel`` stays
    light)."""
    from refmodel.debugger import debug as start

    return start(target, **options)


__all__ = [
    "CURRENT_PROFILE",
    "PROFILES",
    "SEED_PROFILE",
    "ActionCtx",
    "CallFailed",
    "CallHandle",
    "ClientCtx",
    "ConflictError",
    "CurrentStatus",
    "EmptySchedule",
    "Ending",
    "ForeignWorkId",
    "FunctionKind",
    "FunctionRef",
    "InvalidArgument",
    "InvalidType",
    "JsonlWriter",
    "MemoryTrace",
    "MutationCtx",
    "NonRetryableError",
    "NotInAction",
    "Phase",
    "PollTimeout",
    "PoolCtx",
    "PoolOptions",
    "PoolScheduler",
    "PoolStatistics",
    "Profile",
    "QueryCtx",
    "ReentrantCall",
    "RefmodelError",
    "RetryBehavior",
    "SchedState",
    "ScheduledFunction",
    "SeedStatus",
    "State",
    "Step",
    "StepLimitExceeded",
    "TraceEvent",
    "UnknownFunction",
    "UnknownScheduledId",
    "UnknownWorkId",
    "WorkEvicted",
    "WorkFailed",
    "WorkId",
    "WorkInfo",
    "WorkKind",
    "Workpool",
    "World",
    "debug",
]
